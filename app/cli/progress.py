"""Progress on stderr, fed by a TaskContext callback.

On a terminal: one line redrawn in place (``\\r``), at most 10 times a second. Elsewhere (a
pipe, a log file, CI): plain lines, one per 10 % step (or a stage change after a quiet second), so
logs stay short. The
bar never writes to stdout, which stays clean for data (``list-methods --json``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 28


class ProgressBar:
    """Callable progress sink ``(fraction in [0, 1], message) -> None`` for TaskContext."""

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool = True, interval: float = 0.1
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self._last_draw = float("-inf")
        self._last_step = -1
        self._last_message = None
        self._drawn = False
        self._t0 = time.monotonic()

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < self.interval and fraction < 1.0:
                return
            self._last_draw = now
            filled = int(round(fraction * _WIDTH))
            bar = "#" * filled + "-" * (_WIDTH - filled)
            text = f"\r[{bar}] {fraction * 100:5.1f}%  {message[:40]:<40}"
            self.stream.write(text)
            self._drawn = True
        else:
            # A line per 10 % step; a new stage message only if a second has passed, so
            # per-tile messages ("tile 3/40") do not flood a log.
            step = int(fraction * 10)
            now = time.monotonic()
            new_stage = message != self._last_message and now - self._last_draw >= 1.0
            if step == self._last_step and not new_stage:
                return
            self._last_step, self._last_message, self._last_draw = step, message, now
            self.stream.write(f"{fraction * 100:3.0f}% {message}\n".rstrip() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the in-place line (terminal) so later output starts on a fresh line."""
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0
