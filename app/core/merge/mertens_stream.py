"""Mertens exposure fusion in bounded memory: nothing full-size but the frames and the output.

The usual path (:func:`app.core.merge.mertens.fuse_mertens`) keeps every frame's normalised
full-size weights and half-size weights, 3 bytes per pixel per frame, and needs about
6 N + 6 bytes per pixel in all for N 8-bit frames written as 8-bit codes. Here the three finest
levels of the pyramids (full, half and quarter size) are never stored: they are computed from
the frames' rows, strip by strip, twice.

* Pass A (strips): the normalised weights of every frame and the frame itself, reduced three
  times to level 3 (1/64 of the pixels). Only level 3 is kept.
* Coarse: the blended pyramid of levels 3..L, frame by frame, collapsed to level 3.
* Pass B (strips): weights and frames again, their Laplacian bands of levels 0-2, each blended
  with its level of the weights, and the collapse from level 3 up to full size: the output's
  rows, quantised as they are made.

A strip is computed from more rows than it gives (``HALO_DOWN`` / ``HALO_UP`` each side): the
reductions and expansions reach a few rows past a strip's edge at every level, and a strip cut
short would see its edge reflected instead of the image. With the halos the strip's rows equal
the whole image's computation (within float rounding: tested against the usual path). Strips
start on multiples of 8 so their reduced rows fall on the whole image's grid.

Memory: frames (3 B/px each when 8-bit) + output (3 / 6 / 12 B/px) + 0.25 B/px per frame at
level 3 + the strips in flight (one per core, (rows + 2 HALO_UP) x width x ~70 B, rows chosen
for ~STRIP_PIXELS output pixels). Time: the weights are computed twice and the halos too; on
3 x 12 MP in-process 0.98 s vs 0.47 s for the usual path, so only huge images take this path.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from app.core.merge.mertens import (
    _run_strips,
    _times3,
    blend_pyramid,
    collapse,
    finish_rows,
    new_output,
    strip_weights,
)
from app.core.progress import TaskContext
from app.core.types import float_frame

STREAM_LEVELS = 3  # levels 0..2 in strips; the pyramid from level 3 (1/64 of the pixels) held
_STEP = 1 << STREAM_LEVELS  # strips start on multiples of this: reduced rows on the image's grid
HALO_DOWN = 24  # full-res rows each side for pass A (multiple of _STEP; 16 measured exact)
HALO_UP = 32  # full-res rows each side for pass B (multiple of _STEP; 24 measured exact)
STRIP_PIXELS = 1 << 20  # output pixels per strip (rows rounded to _STEP; ~12 MB as float RGB)


def _strip_rows(w: int) -> int:
    return max(_STEP * 4, (STRIP_PIXELS // max(w, 1)) // _STEP * _STEP)


def _reduced_rows(n: int, times: int) -> int:
    for _ in range(times):
        n = (n + 1) // 2
    return n


def fuse_streamed(
    frames: Sequence[np.ndarray],
    params: dict,
    scales: Sequence[np.ndarray | None],
    receiver: int,
    levels: int,
    ctx: TaskContext,
    bits: int | None,
) -> np.ndarray:
    """Mertens fusion of checked ``frames`` with weight exponents ``params``, deghost shares
    ``scales`` (given to frame ``receiver``) and a pyramid of ``levels`` levels below full size;
    the output as :func:`app.core.merge.mertens.fuse_mertens` (float [0, 1] or codes)."""
    n = len(frames)
    h, w = frames[0].shape[:2]
    depth = min(STREAM_LEVELS, levels)  # levels done in strips (fewer on tiny images)
    kh, kw = _reduced_rows(h, depth), _reduced_rows(w, depth)
    low_img = [np.empty((kh, kw, 3), np.float32) for _ in range(n)]
    low_w = [np.empty((kh, kw), np.float32) for _ in range(n)]
    rows = _strip_rows(w)

    def pass_a(a: int, b: int) -> None:
        s, e = max(a - HALO_DOWN, 0), min(b + HALO_DOWN, h)
        ka, kb, ks = a >> depth, _reduced_rows(b, depth), s >> depth
        for k, wk in enumerate(strip_weights(frames, s, e, params, scales, receiver)):
            img = float_frame(frames[k][s:e])
            for _ in range(depth):
                img, wk = cv2.pyrDown(img), cv2.pyrDown(wk)
            low_img[k][ka:kb] = img[ka - ks : kb - ks]
            low_w[k][ka:kb] = wk[ka - ks : kb - ks]

    _run_strips(pass_a, h, ctx, 0.0, 0.45, "weights", rows)

    pyr: list[np.ndarray] = []
    for k in range(n):
        ctx.check()
        blend_pyramid(low_img[k], low_w[k], depth, levels, pyr)
        low_img[k] = low_w[k] = None  # type: ignore[call-overload]  # consumed
    coarse = collapse(pyr)  # levels >= depth collapsed, at level-depth size
    del pyr
    ctx.report(0.5, "coarse levels")
    out = new_output(h, w, bits)

    def pass_b(a: int, b: int) -> None:
        s, e = max(a - HALO_UP, 0), min(b + HALO_UP, h)
        bands: list[np.ndarray] = []  # blended Laplacian bands of levels 0..depth-1
        for k, wk in enumerate(strip_weights(frames, s, e, params, scales, receiver)):
            gauss = [float_frame(frames[k][s:e])]
            for _ in range(depth):
                gauss.append(cv2.pyrDown(gauss[-1]))
            for j in range(depth):
                g = gauss[j]
                lap = cv2.subtract(g, cv2.pyrUp(gauss[j + 1], dstsize=(g.shape[1], g.shape[0])))
                if k == 0:
                    bands.append(cv2.multiply(lap, _times3(wk), dst=lap))
                else:
                    cv2.accumulateProduct(lap, _times3(wk), bands[j])
                if j + 1 < depth:
                    wk = cv2.pyrDown(wk)
            del gauss
        ks = s >> depth
        res = coarse[ks : ks + _reduced_rows(e - s, depth)]
        for j in range(depth - 1, -1, -1):
            band = bands[j]
            res = cv2.add(cv2.pyrUp(res, dstsize=(band.shape[1], band.shape[0])), band, dst=band)
        finish_rows(res[a - s : b - s], out[a:b], bits)

    _run_strips(pass_b, h, ctx, 0.5, 1.0, "blending", rows)
    ctx.report(1.0, "fused")
    return out
