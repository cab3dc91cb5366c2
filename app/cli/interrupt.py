"""Ctrl-C handling: the first SIGINT cancels the task cleanly, a second one aborts at once.

The first Ctrl-C only sets the TaskContext's cancel token; the running method notices it at its
next ``ctx.check()`` (between stages and tiles) and raises Cancelled, so nothing half-written is
left behind (outputs are written only after the method finished, atomically). A second Ctrl-C
raises KeyboardInterrupt, for a stage that takes long between checks. A process started with
SIGINT ignored (``nohup``, a shell's background job) keeps ignoring it.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from app.core.progress import TaskContext


@contextmanager
def cancel_on_sigint(ctx: TaskContext) -> Iterator[None]:
    """Within the block, SIGINT cancels ``ctx`` (first) or raises KeyboardInterrupt (second)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def _handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if ctx.cancelled:
            raise KeyboardInterrupt
        ctx.cancel()
        sys.stderr.write("\ncancelling... (Ctrl-C again to abort at once)\n")
        sys.stderr.flush()

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started with Ctrl-C ignored (a background job, nohup): keep it that way.
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
