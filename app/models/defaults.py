"""Which method runs when none is named (numpy-free: the CLI's ``--help`` and the GUI's
method choice read it without importing the method catalogue)."""

DEFAULT_MULTI = "mertens"  # exposure fusion: needs no exposure times, always available
DEFAULT_SINGLE = "hdrcnn"  # single-image HDR, when registered and its weights are present
