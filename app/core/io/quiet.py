"""Silence native libraries (OpenEXR, libpng, libtiff) that print to the process's stdout/stderr.

Their messages duplicate the one clear error Lumafuse raises itself, and in a script they corrupt
machine-readable output. File descriptors 1 and 2 are pointed at /dev/null around the call only;
a lock keeps concurrent callers (GUI worker threads) from restoring each other's descriptors.
Python-level writes to sys.stdout/sys.stderr from other threads during the call are lost too, so
the silenced calls are kept short (one decode).
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.RLock()


@contextmanager
def native_output_silenced() -> Iterator[None]:
    """Within the block, anything native code writes to fds 1 and 2 is discarded."""
    with _lock:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
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
            yield
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            os.close(devnull)
