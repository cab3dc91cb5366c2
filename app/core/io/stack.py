"""Load a bracket from files into an :class:`ExposureStack`, with all the user-facing checks.

Exposure precedence: user times (seconds) > user EV offsets > EXIF (t * ISO / N^2, only when
every frame has it) > None (left to :func:`app.core.io.exposure.ensure_exposures`). Frames are
ordered dark to bright by exposure when known, else by mean linear luminance.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import replace
from typing import Sequence

import numpy as np

from app.core.channels import channel_max, channel_min
from app.core.errors import InputError
from app.core.io.exposure import check_distinct, ev_to_relative, mean_luminance
from app.core.io.readers import available_memory, read_frame
from app.core.limits import EV_LIMIT, TIME_RANGE_S
from app.core.progress import TaskContext, null_context
from app.core.types import ExposureStack, FrameInfo, float_frame


def _name(path: str) -> str:
    return os.path.basename(path) or path


def _check_counts(n: int, times: Sequence[float] | None, ev: Sequence[float] | None) -> None:
    if times is not None and ev is not None:
        raise InputError("give either exposure times or EV offsets, not both")
    for label, values in (("exposure times", times), ("EV offsets", ev)):
        if values is not None and len(values) != n:
            raise InputError(f"{len(values)} {label} given for {n} input files")
    if times is not None:
        for t in times:
            if not (TIME_RANGE_S[0] <= t <= TIME_RANGE_S[1]):
                raise InputError(
                    f"exposure times must be positive seconds from {TIME_RANGE_S[0]:g} to "
                    f"{TIME_RANGE_S[1]:g}, got {t:g}"
                )
    if ev is not None:
        for e in ev:
            if not np.isfinite(e) or abs(e) > EV_LIMIT:
                raise InputError(f"EV offsets must be finite stops within +-{EV_LIMIT:g}, got {e}")


def _check_duplicates(paths: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            raise InputError(
                f"identical exposures: {p} is given twice (as {seen[key]} and {p})"
            )
        seen[key] = p


def _check_sizes(frames: Sequence[np.ndarray], infos: Sequence[FrameInfo]) -> None:
    h0, w0 = frames[0].shape[:2]
    for f, info in zip(frames[1:], infos[1:]):
        h, w = f.shape[:2]
        if (h, w) != (h0, w0):
            raise InputError(
                f"frames differ in size: {_name(infos[0].path)} is {w0}x{h0}, "
                f"{_name(info.path)} is {w}x{h}; a bracket needs frames of one size "
                f"(crop or resize them alike; --align then registers hand-held shifts)"
            )


def _check_domains(infos: Sequence[FrameInfo]) -> None:
    lin = [i for i in infos if i.linear]
    disp = [i for i in infos if not i.linear]
    if lin and disp:
        raise InputError(
            f"cannot mix linear and display-referred inputs: {_name(lin[0].path)} is linear "
            f"(EXR/HDR/RAW/float), {_name(disp[0].path)} is display-referred (JPEG/PNG/TIFF)"
        )


def _check_identical_pixels(frames: Sequence[np.ndarray], infos: Sequence[FrameInfo]) -> None:
    """Two frames with the same pixels are one exposure given twice."""
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            a, b = frames[i], frames[j]
            # Cheap test on a subsample first; full comparison only for candidates.
            if np.array_equal(a[::16, ::16], b[::16, ::16]) and np.array_equal(a, b):
                raise InputError(
                    f"identical exposures: {_name(infos[i].path)} and {_name(infos[j].path)} "
                    f"hold the same pixels"
                )


_USABLE_SHARE = 0.001  # a frame with fewer informative pixels than this carries no picture
_USABLE_SAMPLES = 250_000  # pixels looked at (a share of 0.001 is then still 250 of them)
_DARK_CODE, _CLIPPED_CODE = 8 / 255, 247 / 255


def _usable_share(frame: np.ndarray, linear: bool) -> float:
    """Share of pixels (on a strided subsample of about 1/4 MP: every 4th pixel of a 4 MP frame)
    that are neither black nor clipped in every channel. Linear frames: any positive value
    counts (their scale is arbitrary)."""
    h, w = frame.shape[:2]
    step = max(4, int(np.sqrt(h * w / _USABLE_SAMPLES)))
    f = float_frame(frame[::step, ::step])
    hi = channel_max(f)
    if linear:
        return float(np.count_nonzero(hi > 0)) / max(1, hi.size)
    ok = (hi > _DARK_CODE) & (channel_min(f) < _CLIPPED_CODE)
    return float(np.count_nonzero(ok)) / max(1, ok.size)


def check_bracket(stack: ExposureStack) -> None:
    """Checks on a bracket's pixels that every front end applies alike (``run()`` calls it):
    no two frames with the same pixels (one exposure given twice), and at least one frame
    with usable pixels (not all black, not all clipped). InputError naming the files."""
    names = [_name(i.path) if i.path else f"frame {k + 1}" for k, i in enumerate(stack.infos)]
    infos = [replace(i, path=n) for i, n in zip(stack.infos, names)]
    if stack.n > 1:
        _check_identical_pixels(stack.frames, infos)
    if all(_usable_share(f, stack.linear) < _USABLE_SHARE for f in stack.frames):
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4} more)" if len(names) > 4 else "")
        what = "black" if stack.linear else "black or clipped white"
        raise InputError(
            f"no usable exposure: {shown}: every frame is (nearly) {what}, there is no picture "
            "to fuse or merge"
        )


def _check_user_order(
    order: Sequence[int], exposures: Sequence[float], lum: Sequence[float], names: Sequence[str],
    source: str,
) -> None:
    """User values given in the wrong file order: more exposure never makes a picture darker.

    Only a clear contradiction counts (at least one stop more exposure, yet over 10% darker),
    so clipping, noise and scene changes do not trip it.
    """
    for a, b in zip(order[:-1], order[1:]):
        if exposures[b] >= 2 * exposures[a] and lum[b] < 0.9 * lum[a]:
            option = "--times" if source == "user times" else "--ev"
            raise InputError(
                f"the exposure values do not match the pictures: {names[b]} is given "
                f"{exposures[b] / exposures[a]:.3g}x the exposure of {names[a]} but is darker; "
                f"check the order of {option} (values follow the order of the files)"
            )


def _check_stack_memory(first: np.ndarray, n: int, path: str) -> None:
    """Refuse early when n frames like the first cannot all be held (and processed) in memory."""
    # the frames as held (codes or floats) + about n float32 frames more for any method
    need = first.nbytes * n + first.shape[0] * first.shape[1] * 12 * n
    avail = available_memory()
    if avail is not None and need > avail:
        h, w = first.shape[:2]
        raise InputError(
            f"{path}: {n} frames of {w}x{h} need about {need / 2**30:.1f} GB of memory, "
            f"only {avail / 2**30:.1f} GB is available"
        )


def split_stacked_frame(frame: np.ndarray, name: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """(top, bottom) halves of one image holding two exposures stacked vertically.

    Both halves get floor(H / 2) rows; with an odd height the middle row (the seam, belonging to
    neither exposure with certainty) is dropped. Raises InputError for images under 2 rows.
    """
    h = frame.shape[0]
    if h < 2:
        raise InputError(f"{name}: {h} row(s) cannot hold two stacked exposures")
    half = h // 2
    return (np.ascontiguousarray(frame[:half]), np.ascontiguousarray(frame[h - half:]))


def _read_in_order(paths: list[str], ctx: TaskContext):
    """Yield (index, path, read_frame(path, codes=True)) in file order. The first file is
    decoded alone (the caller refuses a bracket too large for memory from it); once the caller
    has accepted file k, files k+1 and k+2 decode on two threads while it checks them in turn:
    the JPEG/PNG/TIFF decoders release the GIL, so two cores decode two files at once. A bad
    file still stops the reading early (at most one file after it is decoded). Cancellation is
    checked before each file. A decode silences the process's output while it runs
    (app.core.io.quiet): a CLI progress line written meanwhile may be dropped, never an error,
    as the reading waits for running decodes before it lets an error through."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lumafuse-read")
    try:
        ahead = [pool.submit(read_frame, paths[0], codes=True)]
        for k, p in enumerate(paths):
            ctx.report(k / len(paths), f"reading {_name(p)}")  # checks cancellation
            result = ahead[k].result()
            yield k, p, result
            # the caller accepted file k: keep two decodes running
            for j in range(len(ahead), min(k + 3, len(paths))):
                ahead.append(pool.submit(read_frame, paths[j], codes=True))
    finally:
        # an error or a cancel: drop what has not started and wait for a running decode (at
        # most two): a decode silences the process's output (app.core.io.quiet), so the
        # caller's error message written meanwhile would be lost
        pool.shutdown(wait=True, cancel_futures=True)


def load_stack(
    paths: Sequence[str | os.PathLike[str]],
    *,
    times: Sequence[float] | None = None,
    ev: Sequence[float] | None = None,
    ctx: TaskContext | None = None,
    split_stacked: bool = False,
) -> ExposureStack:
    """Read a bracket, dark to bright: 8/16-bit files (display-referred) as their uint8 / uint16
    codes, linear files (EXR, RAW, float TIFF) as float32 >= 0 (see ExposureStack.frames;
    ``stack.as_float()`` gives [0, 1] floats). Keeping the codes holds a 12 MP 8-bit frame in
    36 MB instead of 144 MB.

    split_stacked: every file holds two exposures stacked vertically (the RL fusion paper's
    format, top = under-exposed): each gives two frames (see :func:`split_stacked_frame`), named
    "<file> (top)" / "<file> (bottom)", exposures estimated (times and EVs then count halves).

    times: exposure times in seconds per file (file order); ev: EV offsets per file (+1 = one
    stop brighter). Raises InputError for: no files, wrong count of times/EVs, the same file
    twice, unreadable files (see read_frame), frames of different sizes, linear and display
    inputs mixed, identical exposures (same exposure value or same pixels).
    Reports progress on ``ctx`` and checks cancellation between frames.
    """
    ctx = ctx or null_context()
    paths = [str(p) for p in paths]
    if not paths:
        raise InputError("no input files given")
    _check_counts(len(paths) * (2 if split_stacked else 1), times, ev)
    _check_duplicates(paths)

    frames: list[np.ndarray] = []
    infos: list[FrameInfo] = []
    with closing(_read_in_order(paths, ctx)) as reads:  # closed (pool let go) on any error
        for k, p, (frame, info) in reads:
            if split_stacked:
                halves = split_stacked_frame(frame, _name(p))
                frames.extend(halves)
                # one file's EXIF time belongs to neither half: exposures are estimated
                infos.extend(replace(info, path=f"{info.path} ({half})", exposure_time=None)
                             for half in ("top", "bottom"))
            else:
                frames.append(frame)
                infos.append(info)
            if k == 0:
                _check_stack_memory(frame, len(paths), p)
            else:  # fail early, before decoding the remaining files
                _check_sizes(frames, infos)
                _check_domains(infos)
    ctx.report(1.0, "frames read")

    names = [_name(i.path) for i in infos]
    source = "none"
    exposures: list[float] | None = None
    if times is not None:
        infos = [replace(i, exposure_time=float(t)) for i, t in zip(infos, times)]
        exposures = [float(i.relative_exposure) for i in infos]  # type: ignore[arg-type]
        source = "user times"
    elif ev is not None:
        exposures = ev_to_relative(ev)
        source = "user EV offsets"
    elif all(i.relative_exposure is not None for i in infos):
        exposures = [float(i.relative_exposure) for i in infos]  # type: ignore[arg-type]
        source = "exif"

    if len(frames) > 1:
        if exposures is not None:
            check_distinct(exposures, names)

    linear = infos[0].linear
    lum = [mean_luminance(f, linear) for f in frames]
    if exposures is not None:
        order = sorted(range(len(frames)), key=lambda i: exposures[i])
        if source.startswith("user"):
            _check_user_order(order, exposures, lum, names, source)
    else:
        order = sorted(range(len(frames)), key=lambda i: lum[i])
    stack = ExposureStack(
        frames=tuple(frames[i] for i in order),
        exposures=tuple(exposures[i] for i in order) if exposures is not None else None,
        infos=tuple(infos[i] for i in order),
        linear=linear,
        metadata={"exposure_source": source},
    )
    check_bracket(stack)  # before any method runs (run() checks again, for other front ends)
    return stack
