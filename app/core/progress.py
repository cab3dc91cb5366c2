"""Progress reporting and cancellation, passed explicitly to every long-running function.

A :class:`TaskContext` carries a progress callback (fraction in [0, 1], message) and a cancel
token. ``ctx.sub(a, b)`` gives a child context whose [0, 1] maps onto [a, b] of the parent, so a
stage reports its own progress without knowing where it sits in the whole task. Long loops call
``ctx.check()`` between stages and tiles; it raises :class:`Cancelled` once cancel was requested.
"""

from __future__ import annotations

import threading
from typing import Callable

from app.core.errors import Cancelled

ProgressCallback = Callable[[float, str], None]


class CancelToken:
    """Thread-safe cancel flag shared by a context and all its sub-contexts."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


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

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

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
