"""Mertens exposure fusion (Mertens, Kautz, Van Reeth 2007), fast and memory-bounded.

The maths is the paper's (and OpenCV's ``createMergeMertens``): per frame a weight map
``contrast^wc * saturation^ws * well_exposedness^we`` (contrast = |Laplacian| of the grey image,
saturation = standard deviation over the colour channels, well-exposedness = a Gaussian of width
sigma around 0.5 in every channel), normalised over the frames; a Laplacian pyramid of each frame
blended with the Gaussian pyramid of its weights; the blended pyramid collapsed. The pyramid is as
deep as OpenCV's (down to 1-2 px), so the result equals OpenCV's up to float rounding (OpenCV's
grey image uses swapped R/B weights on BGR data; here the grey image is the true Rec.601 luma).

What differs is the shape of the computation, which is where the speed and memory come from:

* Full resolution is only ever touched in horizontal strips of a few dozen rows, processed by a
  small thread pool (OpenCV kernels release the GIL). Inside a strip every array stays in cache, so
  the dozen element-wise passes of the weight maps cost little memory bandwidth.
* Pass 1 (strips): weights of all frames, normalised, and the first pyramid level (half
  resolution) of every frame and weight map. Only the normalised full-size weights are kept.
* Pass 2 (half resolution and coarser): the blended Laplacian pyramid below full size is
  accumulated frame by frame, so only one frame's coarse temporaries exist at a time.
* Pass 3 (strips): the full-resolution Laplacian band of every frame is formed, weighted and
  added straight onto the upsampled collapse of the coarser levels, then clipped into the output.
  The full-size band of the output pyramid is never stored.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import cv2
import numpy as np

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.types import float_frame

_EPS = 1e-12  # as the paper / OpenCV: keeps all-zero-weight pixels defined (uniform blend)
STRIP_ROWS = 48  # full-resolution rows per strip (even); ~2.3 MB per RGB float strip at 4000 px
BLEND_ROWS = 32  # rows per strip of the final blend (its halo is only 2 half-size rows each side)
# the usual path keeps full-size weights; above this much memory beside the frames it streams
# (1.25 GiB: 3 x 48 MP is not streamed, 0.7 GB as codes, 1.15 GB as float32; 3 x 100 MP is)
STREAM_ABOVE_BYTES = 5 << 28
_HALO = 4  # extra full-res rows each side so a strip's pyrDown / Laplacian equal the full image's


_WEIGHT_ONE = 65535.0  # a weight of 1 in the 16-bit store
_ONES = np.ones((1, 3), np.float32)
_ONES_NINTH = np.full((1, 3), 1.0 / 9.0, np.float32)
_PAIR_DIFF = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], np.float32)


def _times3(weight: np.ndarray) -> np.ndarray:
    """HxW weight -> HxWx3 (OpenCV's per-element products need equal channel counts; this and a
    cv2 product is ~2x faster than numpy's broadcasting multiply)."""
    return cv2.merge([weight, weight, weight])


_WEIGHT_ROWS_PIXELS = 1 << 18  # rows of a weighted level at a time (see _weighted)


def _weighted(lap: np.ndarray, weight: np.ndarray, acc: np.ndarray | None = None) -> np.ndarray:
    """``lap * weight`` (HxWx3 by HxW) into ``lap``, or added to ``acc``; returns the array
    written. In row spans of about 1/4 MP: the 3-channel copy of the weight OpenCV's products
    need (:func:`_times3`) then never exists at full size (at level 1 of a 12 MP fusion it was
    36 MB, at the command's peak)."""
    rows = max(1, _WEIGHT_ROWS_PIXELS // max(1, lap.shape[1]))
    for a in range(0, lap.shape[0], rows):
        b = min(lap.shape[0], a + rows)
        w3 = _times3(weight[a:b])
        if acc is None:
            cv2.multiply(lap[a:b], w3, dst=lap[a:b])
        else:
            cv2.accumulateProduct(lap[a:b], w3, acc[a:b])
    return lap if acc is None else acc


def _check_frames(frames: Sequence[np.ndarray]) -> None:
    if len(frames) < 2:
        raise InputError(f"exposure fusion needs at least 2 frames, got {len(frames)}")
    h, w = frames[0].shape[:2]
    for i, f in enumerate(frames):
        if f.ndim != 3 or f.shape[2] != 3:
            raise InputError(f"frame {i} must be HxWx3, got shape {f.shape}")
        if f.shape[:2] != (h, w):
            raise InputError(f"frame {i} is {f.shape[1]}x{f.shape[0]}, frame 0 is {w}x{h}")
        if f.dtype not in (np.uint8, np.uint16) and not np.issubdtype(f.dtype, np.floating):
            raise InputError(f"frame {i}: unsupported pixel type {f.dtype} for exposure fusion")
    if min(h, w) < 2:
        raise InputError(f"frames of {w}x{h} pixels are too small to fuse")


def weight_map(
    img: np.ndarray,
    *,
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    sigma: float = 0.2,
) -> np.ndarray:
    """Un-normalised Mertens weight of one frame (or strip; the Laplacian uses reflect-101 borders).

    img: float32 HxWx3 display-referred RGB in [0, 1]. Returns float32 HxW >= 1e-12.
    """
    d = cv2.subtract(img, (0.5, 0.5, 0.5, 0.0))  # centred on mid-grey
    cv2.multiply(d, d, dst=d)
    s2 = cv2.transform(d, _ONES)  # sum of (c - 0.5)^2
    del d
    w: np.ndarray | None = None
    if contrast != 0.0:
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        w = cv2.Laplacian(grey, cv2.CV_32F)
        np.abs(w, out=w)
        if contrast != 1.0:
            cv2.pow(w, contrast, dst=w)
    if saturation != 0.0:
        # channel standard deviation from pairwise channel differences: sum_c (c - mean)^2 =
        # ((r-g)^2 + (g-b)^2 + (b-r)^2) / 3. Unlike E[c^2] - E[c]^2 this is exactly 0 on grey
        # pixels (no cancellation), which matters: sqrt turns a 1e-8 rounding error into 1e-4.
        dif = cv2.transform(img, _PAIR_DIFF)
        cv2.multiply(dif, dif, dst=dif)
        sat = cv2.transform(dif, _ONES_NINTH)  # variance over the 3 channels
        del dif
        if saturation == 1.0:
            cv2.sqrt(sat, dst=sat)
        else:
            cv2.pow(sat, 0.5 * saturation, dst=sat)
        w = sat if w is None else cv2.multiply(w, sat, dst=w)
    if exposedness != 0.0:
        # prod_c exp(-(c - 0.5)^2 / (2 sigma^2)), raised to the exponent: one exp of the sum
        np.multiply(s2, np.float32(-exposedness / (2.0 * sigma * sigma)), out=s2)
        np.exp(s2, out=s2)  # numpy's SIMD float32 exp is ~4x faster than cv2.exp here
        w = s2 if w is None else cv2.multiply(w, s2, dst=w)
    if w is None:
        w = np.ones(img.shape[:2], np.float32)
    np.add(w, np.float32(_EPS), out=w)
    return w


def strip_weights(
    frames: Sequence[np.ndarray],
    s: int,
    e: int,
    params: dict,
    scales: Sequence[np.ndarray | None],
    receiver: int,
) -> list[np.ndarray]:
    """Normalised Mertens weights (float32, summing to 1 over the frames) of rows [s, e) of every
    frame, equal to the whole image's: they are computed from one more row each side (the
    Laplacian's reach). ``scales``: per-frame deghost shares (None = unscaled); what a frame
    loses goes to frame ``receiver`` (see :func:`fuse_mertens`)."""
    h = frames[0].shape[0]
    ws, we = max(s - 1, 0), min(e + 1, h)
    w_list = []
    total = None
    given = None  # weight taken from disagreeing frames, for the reference frame
    for k, frame in enumerate(frames):
        img = float_frame(frame[ws:we])
        wk = weight_map(img, **params)[s - ws : e - ws]
        del img  # the working set stays one frame + N weight strips (cache-sized)
        if scales[k] is not None:
            # the share a frame loses goes to the reference frame: where a frame disagrees,
            # the reference's pixels replace it, however poorly exposed they are
            sk = np.ascontiguousarray(scales[k][s:e], np.float32)
            moved = cv2.multiply(wk, np.float32(1.0) - sk)
            given = moved if given is None else cv2.add(given, moved, dst=given)
            cv2.multiply(wk, sk, dst=wk)
            total = cv2.add(wk, moved) if total is None else cv2.add(
                cv2.add(total, wk, dst=total), moved, dst=total)
        else:
            total = wk.copy() if total is None else cv2.add(total, wk, dst=total)
        w_list.append(wk)
    if given is not None:
        cv2.add(w_list[receiver], given, dst=w_list[receiver])  # total is unchanged
    inv = cv2.divide(1.0, total)
    for wk in w_list:
        cv2.multiply(wk, inv, dst=wk)
    return w_list


def blend_pyramid(
    image: np.ndarray, weight: np.ndarray, first: int, levels: int,
    pyr: list[np.ndarray],
) -> None:
    """Add one frame's share to the blended pyramid ``pyr`` of levels ``first``..``levels``:
    ``image`` / ``weight`` are the frame's and its weights' Gaussian level ``first``; level j
    gets weight_j * Laplacian_j (the last level: the Gaussian itself). ``pyr`` starts empty
    (the first frame's products are stored) and is accumulated in place after that."""
    g_img, g_w = image, weight
    for lev in range(first, levels + 1):
        if lev < levels:
            nxt = cv2.pyrDown(g_img)
            lap = cv2.pyrUp(nxt, dstsize=(g_img.shape[1], g_img.shape[0]))
            cv2.subtract(g_img, lap, dst=lap)
        else:
            nxt, lap = None, g_img.copy()
        i = lev - first
        if i == len(pyr):
            pyr.append(_weighted(lap, g_w))
        else:
            _weighted(lap, g_w, pyr[i])
        if nxt is not None:
            g_w = cv2.pyrDown(g_w)
            g_img = nxt


def collapse(pyr: list[np.ndarray]) -> np.ndarray:
    """The blended pyramid collapsed to its first (finest) level's size."""
    acc = pyr[-1]
    for lev in range(len(pyr) - 2, -1, -1):
        up = cv2.pyrUp(acc, dstsize=(pyr[lev].shape[1], pyr[lev].shape[0]))
        acc = cv2.add(up, pyr[lev], dst=up)
    return acc


def usual_extra_bytes(h: int, w: int, n: int, bits: int | None) -> int:
    """Memory the usual (not streamed) path needs beside the frames, in bytes: full-size weights
    (2 B/px per frame), half-size weights (1 B/px per frame), one half-size frame (3 B/px) and
    the output (12 B/px as float32, 3 / 6 as codes)."""
    out = 12 if bits is None else 3 * bits // 8
    return h * w * (3 * n + 3 + out)


def new_output(h: int, w: int, bits: int | None) -> np.ndarray:
    """The result's array: float32 [0, 1] (bits None) or uint8 / uint16 codes."""
    dtype = np.float32 if bits is None else (np.uint8 if bits == 8 else np.uint16)
    return np.empty((h, w, 3), dtype)


def finish_rows(res: np.ndarray, out_rows: np.ndarray, bits: int | None) -> None:
    """Fused float rows -> the output's rows: clipped to [0, 1], or quantised as ``to_uint``."""
    if bits is None:
        np.clip(res, 0.0, 1.0, out=out_rows)
    else:
        # OpenCV's saturating, round-half-to-even convert gives to_uint's codes exactly (tested)
        # and, unlike numpy's cast, lets the other strip threads run meanwhile
        top = 255.0 if bits == 8 else 65535.0
        cv2.multiply(res, top, dst=out_rows, dtype=cv2.CV_8U if bits == 8 else cv2.CV_16U)


def pyramid_levels(h: int, w: int) -> int:
    """Pyramid levels below full size, as OpenCV's MergeMertens: floor(log2(min(h, w)))."""
    return max(int(math.log(min(h, w)) / math.log(2.0)), 1)


def _strips(h: int, rows: int) -> list[tuple[int, int]]:
    return [(a, min(a + rows, h)) for a in range(0, h, rows)]


def _pyrup_span(low_rows: Callable[[int, int], np.ndarray], lh: int, a: int, b: int,
                full_h: int, full_w: int) -> np.ndarray:
    """Rows [a, b) of ``cv2.pyrUp(low, dstsize=(full_w, full_h))`` for a low-resolution image of
    ``lh`` rows given by ``low_rows(la, lb)``, computed from a few of its rows (2 rows of margin:
    pyrUp's 5-tap kernel reaches 1 low-res row each side)."""
    la = max(a // 2 - 2, 0)
    lb = min((b + 1) // 2 + 2, lh)
    out_h = full_h - 2 * la if lb == lh else 2 * (lb - la)
    up = cv2.pyrUp(low_rows(la, lb), dstsize=(full_w, out_h))
    return up[a - 2 * la : b - 2 * la]


def _pyrup_rows(low: np.ndarray, a: int, b: int, full_h: int, full_w: int) -> np.ndarray:
    """Rows [a, b) of ``cv2.pyrUp(low, dstsize=(full_w, full_h))`` (see :func:`_pyrup_span`)."""
    return _pyrup_span(lambda la, lb: low[la:lb], low.shape[0], a, b, full_h, full_w)


def _half_rows(frame: np.ndarray, ja: int, jb: int, h: int) -> np.ndarray:
    """Rows [ja, jb) of the half-size frame ``cv2.pyrDown`` of the whole float [0, 1] frame,
    from the full-size rows that feed them only (pyrDown's 5-tap kernel reaches 2 rows each side;
    _HALO keeps the first row even), so the half-size frames never need to be stored."""
    s = max(2 * ja - _HALO, 0)
    e = min(2 * jb + _HALO, h)
    return cv2.pyrDown(float_frame(frame[s:e]))[ja - s // 2 : jb - s // 2]


def _pyrup_half_rows(frame: np.ndarray, a: int, b: int, full_h: int, full_w: int) -> np.ndarray:
    """Rows [a, b) of ``cv2.pyrUp(half-size frame, dstsize=(full_w, full_h))``, the half-size
    rows computed by :func:`_half_rows`."""
    return _pyrup_span(lambda la, lb: _half_rows(frame, la, lb, full_h), (full_h + 1) // 2,
                       a, b, full_h, full_w)


def _run_strips(
    fn: Callable[[int, int], None],
    h: int,
    ctx: TaskContext,
    start: float,
    end: float,
    msg: str,
    rows: int,
) -> None:
    """Run ``fn(a, b)`` over strips of ``rows`` rows on a thread pool; progress and cancel
    between strips."""
    strips = _strips(h, rows)
    workers = max(1, min(os.cpu_count() or 1, 8))

    def task(ab: tuple[int, int]) -> None:
        ctx.check()
        fn(*ab)

    if workers == 1:
        for i, ab in enumerate(strips):
            task(ab)
            ctx.report(start + (end - start) * (i + 1) / len(strips), msg)
        return
    with ThreadPoolExecutor(workers) as pool:
        for i, _ in enumerate(pool.map(task, strips)):
            if i % 16 == 0:
                ctx.report(start + (end - start) * (i + 1) / len(strips), msg)


def fuse_mertens(
    frames: Sequence[np.ndarray],
    *,
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    sigma: float = 0.2,
    ctx: TaskContext | None = None,
    weight_scale: Sequence[np.ndarray | None] | None = None,
    bits: int | None = None,
    streamed: bool | None = None,
) -> np.ndarray:
    """Fuse a bracket by Mertens exposure fusion.

    frames: N >= 2 display-referred RGB frames of one size: float32 in [0, 1], or uint8 / uint16.
    contrast, saturation, exposedness: weight exponents (0 disables a term); sigma: width of the
    well-exposedness Gaussian in [0, 1] units.
    weight_scale: optional per-frame HxW float32 maps in [0, 1] (arrays, or anything with a
    ``shape`` that gives its rows when sliced, as ``ghost.ResizedRows``), None for exactly one frame
    (the reference): each frame keeps that share of its Mertens weight and the rest goes to the
    reference frame. Deghosting (:mod:`app.core.merge.ghost`) passes 0 where a frame disagrees
    with the reference, so its pixels come from the reference there.
    bits: None -> float32 HxWx3 display-referred, clipped to [0, 1]; 8 or 16 -> the same
    quantised to uint8 / uint16 display codes strip by strip (exactly
    ``app.core.tonemap.display.to_uint`` of the float result) without a float32 image ever
    existing: what an export with a neutral tone writes, for a quarter / half of the memory.
    streamed: compute levels 0-2 of the pyramids in strips from the frames, twice, so that
    nothing full-size exists but the frames and the output (see :mod:`mertens_stream`: about
    twice the time, the same result within 2e-5); None = when the usual path would need more
    than STREAM_ABOVE_BYTES beside the frames (huge images).

    Extra memory: N full-size weight maps (2 B/px each: 16-bit fixed point, within 1/131070 of
    the float weight), N half-size weight maps (1 B/px each), one half-size frame at a time (the
    half-size frames are recomputed from the frames' rows where they are needed instead of being
    kept: 3 B/px per frame less, the same pixels, no measurable time) and the output (12 B/px);
    everything else lives in strips or at quarter size and below. With 8-bit frames (3 B/px
    each) a bracket of N frames needs about 6 N + 15 bytes per pixel in all (6 N + 6 with
    ``bits=8``); streamed, 3 N + 3 plus strips.
    """
    ctx = ctx or TaskContext()
    _check_frames(frames)
    if not sigma > 0:
        raise InputError(f"sigma must be positive, got {sigma}")
    n = len(frames)
    h, w = frames[0].shape[:2]
    levels = pyramid_levels(h, w)
    lh, lw = (h + 1) // 2, (w + 1) // 2
    params = dict(contrast=contrast, saturation=saturation, exposedness=exposedness, sigma=sigma)
    scales = list(weight_scale) if weight_scale is not None else [None] * n
    if len(scales) != n:
        raise InputError(f"{len(scales)} weight maps given for {n} frames")
    unscaled = [k for k, sc in enumerate(scales) if sc is None]
    if len(unscaled) != n and len(unscaled) != 1:
        raise InputError("deghost weight maps: exactly one frame (the reference) has none")
    receiver = unscaled[0]
    for k, sc in enumerate(scales):
        if sc is not None and sc.shape != (h, w):
            raise InputError(f"weight map {k + 1} is {sc.shape}, the frames are {(h, w)}")

    if bits not in (None, 8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {bits}")
    if streamed is None:
        streamed = usual_extra_bytes(h, w, n, bits) > STREAM_ABOVE_BYTES
    if streamed:
        from app.core.merge.mertens_stream import fuse_streamed

        return fuse_streamed(frames, params, scales, receiver, levels, ctx, bits)

    # normalised weights kept for pass 3 as 16-bit fixed point: half the memory of float32, and
    # an error (< 1e-5 on the output) far below one 16-bit output step
    weights = [np.empty((h, w), np.uint16) for _ in range(n)]
    half_w = [np.empty((lh, lw), np.float32) for _ in range(n)]

    def pass1(a: int, b: int) -> None:
        # full-res rows [s, e) feed the pyrDown of half rows [a/2, b/2)
        s, e = max(a - _HALO, 0), min(b + _HALO, h)
        ja, jb = a // 2, (b + 1) // 2
        off = s // 2  # s is even: a is a multiple of the (even) strip height
        for k, wk in enumerate(strip_weights(frames, s, e, params, scales, receiver)):
            weights[k][a:b] = cv2.multiply(wk[a - s : b - s], _WEIGHT_ONE, dtype=cv2.CV_16U)
            half_w[k][ja:jb] = cv2.pyrDown(wk)[ja - off : jb - off]

    _run_strips(pass1, h, ctx, 0.0, 0.45, "weights", STRIP_ROWS)

    # Pass 2: blended Laplacian pyramid of levels 1..L (half size and below), frame by frame.
    pyr: list[np.ndarray] = []
    half = np.empty((lh, lw, 3), np.float32)  # one frame's half-size image at a time

    for k in range(n):
        def fill(ja: int, jb: int, k: int = k) -> None:
            half[ja:jb] = _half_rows(frames[k], ja, jb, h)

        _run_strips(fill, lh, ctx, 0.45 + 0.15 * k / n, 0.45 + 0.15 * k / n, "coarse levels",
                    STRIP_ROWS // 2)
        blend_pyramid(half, half_w[k], 1, levels, pyr)
        half_w[k] = None  # type: ignore[call-overload]  # consumed; free it now
        ctx.report(0.45 + 0.15 * (k + 1) / n, "coarse levels")
    coarse = collapse(pyr)  # levels >= 1 collapsed, at half resolution
    del pyr
    half = None  # type: ignore[assignment]  # free it before the full-size output exists

    out = new_output(h, w, bits)

    def pass3(a: int, b: int) -> None:
        res = _pyrup_rows(coarse, a, b, h, w)
        for k in range(n):
            band = float_frame(frames[k][a:b])
            # (a new array: never written into the caller's frame)
            band = cv2.subtract(band, _pyrup_half_rows(frames[k], a, b, h, w))
            wk = cv2.multiply(weights[k][a:b], 1.0 / _WEIGHT_ONE, dtype=cv2.CV_32F)
            cv2.accumulateProduct(band, _times3(wk), res)  # res += w * band
        finish_rows(res, out[a:b], bits)

    _run_strips(pass3, h, ctx, 0.6, 1.0, "blending", BLEND_ROWS)
    ctx.report(1.0, "fused")
    return out
