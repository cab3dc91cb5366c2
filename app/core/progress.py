"""Progress reporting and cancellation, passed explicitly to every long-running function.

A :class:`TaskContext` carries a progress callback (fraction in [0, 1], message) and a cancel
token. ``ctx.sub(a, b)`` gives a child context whose [0, 1] maps onto [a, b] of the parent, so a
stage reports its own progress without knowing where it sits in the whole task. Long loops call
``ctx.check()`` between stages and tiles; it raises :class:`Cancelled` once cancel was requested.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from app.core.errors import Cancelled

ProgressCallback = Callable[[float, str], None]
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # what cancels a command line task


class CancelToken:
    """Thread-safe cancel flag shared by a context and all its sub-contexts.

    Once the task has *committed* (its output is published), a cancel comes too late: it is
    ignored, so a task never both reports "cancelled" and leaves its complete output behind.
    """

    def __init__(self, parent: "CancelToken | None" = None) -> None:
        self._parent = parent  # a cancel of the parent reaches this token (until committed)
        self._event = threading.Event()
        self._committed = threading.Event()
        self._lock = threading.RLock()  # re-entrant: a signal handler may cancel mid-call

    def cancel(self) -> None:
        with self._lock:
            if not self._committed.is_set():
                self._event.set()

    def commit(self) -> None:
        """Mark the task's result as published; raises Cancelled if cancel came first."""
        with self._lock:
            if self.cancelled:
                raise Cancelled("cancelled by the user")
            self._committed.set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        return self._parent is not None and not self.committed and self._parent.cancelled

    @property
    def committed(self) -> bool:
        return self._committed.is_set()


class TaskContext:
    """Progress callback + cancel token. Cheap to create; sub-contexts share the token."""

    def __init__(
        self,
        progress: ProgressCallback | None = None,
        token: CancelToken | None = None,
        *,
        _start: float = 0.0,
        _end: float = 1.0,
    ) -> None:
        self._progress = progress
        self.token = token or CancelToken()
        self._start = _start
        self._end = _end

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress of this stage (fraction in [0, 1]); also checks for cancellation."""
        self.check()
        if self._progress is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._progress(self._start + (self._end - self._start) * f, message)

    def check(self) -> None:
        """Raise Cancelled if cancellation was requested."""
        if self.token.cancelled:
            raise Cancelled("cancelled by the user")

    def cancel(self) -> None:
        self.token.cancel()

    def done(self, message: str = "") -> None:
        """Report completion without checking for cancellation (the work is already done)."""
        if self._progress is not None:
            self._progress(self._end, message)

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def fork(self, *, progress: bool = True) -> "TaskContext":
        """A context for one task of many (a bracket of a batch): its own commit, cancelled with
        this one; reporting here (``progress``) or nowhere."""
        return TaskContext(self._progress if progress else None, CancelToken(parent=self.token),
                           _start=self._start, _end=self._end)

    def sub(self, start: float, end: float) -> "TaskContext":
        """Child context mapping its [0, 1] onto [start, end] of this context."""
        span = self._end - self._start
        return TaskContext(
            self._progress,
            self.token,
            _start=self._start + span * start,
            _end=self._start + span * end,
        )


def null_context() -> TaskContext:
    """A context that reports nowhere and is never cancelled (tests, scripts)."""
    return TaskContext()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back within the block (main thread only; other threads do not
    receive them in Python). Held signals are delivered when the block ends: used around the
    commit of an output so its "published" and the task's "committed" cannot be torn apart."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, CANCEL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
