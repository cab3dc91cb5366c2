"""Limits on user-given exposure values, shared by the core checks, the CLI and the GUI strip.

Imports nothing heavy: the CLI reads them while building its parser (``--help`` stays fast)."""

TIME_RANGE_S = (1e-6, 1e5)
"""Exposure times a camera can take, in seconds (1 microsecond to about a day): bounded so that
t * ISO / N^2 stays finite (1e308 s would overflow to inf)."""

EV_LIMIT = 30.0
"""EV offsets accepted, in stops either side of zero."""
