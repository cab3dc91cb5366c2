"""Silence native libraries (OpenEXR, libpng, libtiff, libjpeg, OpenCV's log) that print to the
process's stdout/stderr.

Their messages duplicate the one clear error Lumafuse raises itself, and in a script they corrupt
machine-readable output. File descriptors 1 and 2 are pointed at /dev/null, OpenCV's log level
set to silent, and Python-level sys.stdout/sys.stderr (which bindings use too) swapped for a
sink, while at least one silenced call runs. The silence is shared, not nested: the first caller
to enter sets it up and the last to leave restores it, so concurrent callers (GUI worker
threads) never restore each other's descriptors and can decode at the same time (a lock held for
the whole call made them wait for each other before). Writes from other threads are lost
meanwhile: the silenced calls are kept short (a decode).
"""

from __future__ import annotations

import io
import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()  # guards the state below
_holders = 0  # silenced calls in flight
_restore: list[Any] = []  # what the first caller replaced, for the last one


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _flush_c_stdio() -> None:
    """fflush(NULL): push out what native code left in C stdio buffers (std::cout shares them)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def _silence() -> list[Any]:
    """Point fds 1 and 2 at /dev/null, OpenCV's log at silent and sys.stdout/stderr at sinks;
    returns what to restore."""
    _flush_python_streams()
    saved_fds: list[tuple[int, int]] = []
    devnull = -1
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            try:
                saved_fds.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
            except OSError:
                pass  # fd not open (a daemon, pythonw): nothing to silence
    except OSError:
        pass
    log_level = None
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        logging = cv2.utils.logging
        log_level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    streams = (sys.stdout, sys.stderr)
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    return [saved_fds, devnull, log_level, streams]


def _unsilence(saved: list[Any]) -> None:
    saved_fds, devnull, log_level, streams = saved
    # empty what was buffered meanwhile into /dev/null, not after the restore: C/C++ stdio
    # buffers, and Python's own streams (bindings print through sys.stdout)
    _flush_python_streams()
    _flush_c_stdio()
    sys.stdout, sys.stderr = streams
    if log_level is not None:
        sys.modules["cv2"].utils.logging.setLogLevel(log_level)
    for fd, copy in saved_fds:
        os.dup2(copy, fd)
        os.close(copy)
    if devnull >= 0:
        os.close(devnull)


@contextmanager
def native_output_silenced() -> Iterator[None]:
    """Within the block, anything native code writes to fds 1 and 2 (and OpenCV's log, and
    Python's sys.stdout/stderr) is discarded. Callers in several threads share one silence."""
    global _holders
    with _lock:
        if _holders == 0:
            _restore[:] = _silence()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _unsilence(_restore)
                _restore.clear()
