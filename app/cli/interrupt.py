"""Ctrl-C and SIGTERM handling: the first signal cancels the task cleanly, a second one aborts.

The first Ctrl-C (or SIGTERM) only sets the TaskContext's cancel token; the running method
notices it at its next ``ctx.check()`` (between stages and tiles) and raises Cancelled, so nothing
half-written is left behind: outputs are written to a temporary file and published only after a
last check, with both signals held back during the publish itself (app.core.io.writers). Once
the output is published the token is committed and further signals are ignored, so a command
never reports "cancelled" with its output in place. A second signal before that raises
KeyboardInterrupt, for a stage that takes long between checks (the temporary file is removed on
the way out). A process started with SIGINT ignored (``nohup``, a shell's background job) keeps
ignoring it; SIGTERM is taken over unless ignored.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from app.core.progress import CANCEL_SIGNALS, TaskContext


@dataclass
class SignalState:
    """Which signal cancelled the task (None when none did); for the exit code 128 + signum."""

    signum: int | None = None


@contextmanager
def cancel_on_signals(ctx: TaskContext) -> Iterator[SignalState]:
    """Within the block, SIGINT/SIGTERM cancel ``ctx`` (first) or raise KeyboardInterrupt (second)."""
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state  # signal handlers can only be installed from the main thread
        return

    def _handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if ctx.token.committed:
            return  # the output is published: finishing is quicker than stopping
        if state.signum is None:
            state.signum = signum
        if ctx.cancelled:
            raise KeyboardInterrupt
        ctx.cancel()
        key = "Ctrl-C" if signum == signal.SIGINT else "the signal"
        sys.stderr.write(f"\ncancelling... ({key} again to abort at once)\n")
        sys.stderr.flush()

    previous = {}
    for sig in CANCEL_SIGNALS:
        # Started with the signal ignored (a background job, nohup): keep it that way.
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _handler)
    try:
        yield state
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

