"""Exit codes and the one-line messages the CLI prints for each kind of failure.

Exit codes:
    0    success
    1    internal error (a bug): one line, the traceback only with LUMAFUSE_DEBUG=1
    2    bad input, output or usage: unreadable / mismatched files, bad parameters, an output
         that equals an input or cannot be written, an image too large for memory
    3    the method cannot run here (missing dependency or weights, weights failing their check)
    4    ``batch``: some brackets failed (the others were processed; the report says which)
    130  cancelled (Ctrl-C); nothing was written
    143  terminated (SIGTERM); nothing was written
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Sequence, TextIO

from app.core.errors import (
    Cancelled,
    InputError,
    LumafuseError,
    MethodUnavailable,
    OutputError,
    WeightsError,
)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_CANCELLED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a terminated process

PROG = "lumafuse"


def one_line(text: str) -> str:
    """Collapse a message onto one line (messages from libraries may span several)."""
    return " ".join(str(text).split())


def pixel_limit_text() -> str:
    """The reader's pixel limit, for 'too large' messages (empty when the IO layer has none)."""
    try:
        from app.core.io import readers
    except ImportError:
        return ""
    limit = getattr(readers, "MAX_PIXELS", None)
    if not limit:
        return ""
    return f"limit {int(limit):,} pixels ({int(limit) / 1e6:.0f} MP, env LUMAFUSE_MAX_PIXELS)"


def _names_a_file(message: str, names: Sequence[str]) -> bool:
    return any(n and (n in message or os.path.basename(n) in message) for n in names)


def describe(
    exc: BaseException, context: str = "", names: Sequence[str] = (), signum: int | None = None
) -> tuple[int, str]:
    """(exit code, one-line message) for an exception raised while running a command.

    ``context`` names what was being processed (the inputs), for errors that do not name a file
    themselves (MemoryError, "the frames do not overlap ..."): when a bad-input message names
    none of ``names`` (the command's files), the context is put in front. ``signum``: the
    signal that cancelled the run (SIGTERM exits 143 "terminated", SIGINT 130 "cancelled").
    """
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        if signum == signal.SIGTERM:
            return EXIT_TERMINATED, "terminated"
        return EXIT_CANCELLED, "cancelled"
    if isinstance(exc, (MethodUnavailable, WeightsError)):
        return EXIT_UNAVAILABLE, one_line(str(exc))
    if isinstance(exc, (InputError, OutputError, LumafuseError)):
        text = one_line(str(exc))
        if context and names and not _names_a_file(text, names):
            text = f"{context}: {text}"
        return EXIT_USAGE, text
    if isinstance(exc, MemoryError):
        limit = pixel_limit_text()
        where = f"{context}: " if context else ""
        detail = f" ({one_line(str(exc))})" if str(exc) else ""
        hint = f"; {limit}" if limit else ""
        return EXIT_USAGE, f"{where}image too large for memory{detail}{hint}"
    if isinstance(exc, OSError):
        name = exc.filename or context
        reason = exc.strerror or one_line(str(exc))
        return EXIT_USAGE, f"{name}: {reason}" if name else reason
    return EXIT_INTERNAL, (
        f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
        "(set LUMAFUSE_DEBUG=1 for the traceback)"
    )


def report(
    exc: BaseException, context: str = "", stream: TextIO | None = None, *,
    names: Sequence[str] = (), signum: int | None = None,
) -> int:
    """Print the one-line message for ``exc`` on stderr and return the exit code."""
    stream = stream or sys.stderr
    code, message = describe(exc, context, names, signum)
    if code == EXIT_INTERNAL and os.environ.get("LUMAFUSE_DEBUG"):
        traceback.print_exception(exc, file=stream)
    prefix = f"{PROG}: " if code in (EXIT_CANCELLED, EXIT_TERMINATED) else f"{PROG}: error: "
    stream.write(prefix + message + "\n")
    stream.flush()
    return code
