"""Silence native libraries (OpenEXR, libpng, libtiff) that print to the process's stdout/stderr.

Their messages duplicate the one clear error Lumafuse raises itself, and in a script they corrupt
machine-readable output. File descriptors 1 and 2 are pointed at /dev/null around the call only;
a lock keeps concurrent callers (GUI worker threads) from restoring each other's descriptors.
Python-level writes to sys.stdout/sys.stderr (which bindings use too) are swapped for a sink
during the call, so writes from other threads are lost meanwhile: the silenced calls are kept
short (one decode).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.RLock()


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


@contextmanager
def native_output_silenced() -> Iterator[None]:
    """Within the block, anything native code writes to fds 1 and 2 is discarded."""
    with _lock:
        _flush_python_streams()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            yield
            return
        saved: list[tuple[int, int]] = []
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(devnull, fd)
                except OSError:
                    pass  # fd not open (a daemon, pythonw): nothing to silence
            # bindings may print through sys.stdout/sys.stderr, which need not be fds 1 and 2
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            # empty what was buffered meanwhile into /dev/null, not after the restore: C/C++
            # stdio buffers, and Python's own streams (bindings print through sys.stdout)
            _flush_python_streams()
            _flush_c_stdio()
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            os.close(devnull)
