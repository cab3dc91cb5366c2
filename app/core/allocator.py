"""Memory-allocation settings for a process that does image jobs and exits: the command line
(``fuse``, ``batch``, ``tonemap``) and the batch's worker processes.

A command touches a few hundred MB of fresh memory, and on Linux most of its system time went to
page faults, not to the work (3 x 12 MP ``fuse -m mertens`` to TIFF, 2 cores, measured with
/usr/bin/time; enfuse: 0.4 s of system time for the same job):

* numpy asks for transparent huge pages on every array over 4 MB; where the kernel defragments
  on such a request (``defrag = madvise``, a common default), each 2 MB fault can stall on
  compaction: 2.6-3.2 s of system time, 93 k faults. Off: 1.2-1.7 s, 517 k faults of 4 KB.
* glibc gives every block over 32 MB (each full-size image) its own mapping and unmaps it on
  free, so the next image of that size faults all its pages in again. Serving them from the heap
  and keeping freed memory there (never trimmed below 2 GB) cuts that to 157 k faults and
  0.5-0.7 s of system time; peak RSS grows by about 2 % (651 -> 664 MiB). Whole command:
  2.45-2.94 s -> 1.82-2.52 s.
* With freed memory kept, each thread's own malloc arena keeps what that thread freed, which no
  other thread can reuse: two more worker threads (the ghost test's) added 53 MiB to a 3 x 2 MP
  fusion and 50 MiB at 12 MP. One arena for the process: 3 x 12 MP Mertens to TIFF peaks at
  444 MiB instead of 505, in the same time (the threads allocate whole strips, rarely).

All are process-wide and right for a process that does its jobs and exits (a batch worker's
next bracket reuses the same memory; the desktop app keeps the defaults: it lives long and
should hand memory back). Where a setting is unavailable (another
C library, another numpy) it is skipped; nothing here changes a result, only where bytes live.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_KEEP_BYTES = 2**31 - 1  # mallopt takes an int


def _numpy_huge_pages_off() -> bool:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is None:
        return False
    setter(False)
    return True


def _glibc_keeps_freed_memory() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return (bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
            and bool(mallopt(_M_ARENA_MAX, 1)))


def tune_for_one_job() -> dict[str, bool]:
    """Apply the settings to this process (before it starts worker threads: an arena made by
    then stays); returns which took effect."""
    return {"numpy_huge_pages_off": _numpy_huge_pages_off(),
            "heap_keeps_freed_memory": _glibc_keeps_freed_memory()}


_MADV_DONTNEED = 4  # <sys/mman.h> on Linux


def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_MADVISE = _madvise()
_PAGE = 4096
try:
    import mmap

    _PAGE = mmap.PAGESIZE
except (ImportError, AttributeError):  # pragma: no cover - every CPython has mmap
    pass


def release_rows(array, start: int, stop: int) -> int:
    """Hand rows ``start:stop`` of a C-contiguous array back to the operating system; returns
    the bytes released (0 where nothing could be: not Linux, not contiguous, under a page).

    For a merge that reads each frame row once, in strips, in a one-shot export: once a strip
    is merged its rows of the frames are dead weight, and releasing them keeps the frames and
    the result from being resident in full at the same time (3 x 200 MP HDR: 9 B/px of frames
    + 6 B/px of radiance otherwise). Only whole pages inside the rows are released, so bytes
    of neighbouring rows (another strip, still being read) and the allocator's own bookkeeping
    around the block are never touched. Afterwards the rows read as zeros: the caller must own
    the array and never read those rows again. Nothing else changes (the array stays valid and
    can be freed as usual)."""
    if _MADVISE is None or stop <= start or not array.flags.c_contiguous or array.ndim < 1:
        return 0
    row = array.strides[0]
    base = array.ctypes.data
    lo = base + max(0, start) * row
    hi = base + min(array.shape[0], stop) * row
    lo = -(-lo // _PAGE) * _PAGE  # whole pages inside [lo, hi) only
    hi = hi // _PAGE * _PAGE
    if hi <= lo:
        return 0
    if _MADVISE(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED) != 0:
        return 0
    return hi - lo
