"""Import the learned methods' runtime (torch) in the background, so the first learned run in
the GUI does not pay the import (about 1.5-3.5 s on 2 cores) after the user clicks Run.

Qt-free: the window starts it once, after its first paint. Python's per-module import lock makes
a run that imports torch while the warm-up is still importing it simply wait for it.
"""

from __future__ import annotations

import importlib
import sys
import threading

from app.models.registry import METHODS, availability

_started: threading.Thread | None = None


def runtimes_to_warm() -> tuple[str, ...]:
    """Packages that some available learned method needs and nobody has imported yet."""
    need: set[str] = set()
    for spec in METHODS:
        if spec.requires and availability(spec)[0]:
            need.update(spec.requires)
    return tuple(sorted(m for m in need if m not in sys.modules))


def warm_up_in_background() -> threading.Thread | None:
    """Start (once per process) a daemon thread importing :func:`runtimes_to_warm`; returns it,
    or None when there is nothing to import."""
    global _started
    if _started is not None:
        return _started
    modules = runtimes_to_warm()
    if not modules:
        return None

    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a broken install shows itself at run time instead
                pass

    _started = threading.Thread(target=work, name="lumafuse-warm-up", daemon=True)
    _started.start()
    return _started
