"""Translation alignment by median threshold bitmaps (Ward 2003), coarse to fine.

A frame thresholded at its own median grey level gives (nearly) the same bitmap at any exposure,
so bitmaps of differently exposed frames can be compared directly by XOR. Pixels within a few
grey levels of the median flip with noise and are excluded. The search tries the 9 one-pixel
moves around the doubled shift of the coarser level, from a 1/2^max_bits proxy up to full size.
"""

from __future__ import annotations

import cv2
import numpy as np

_NOISE = 4  # grey levels around the median that are ignored (noise flips them)
_MIN_SIZE = 16  # coarsest level is at least this many pixels on its short side


def to_grey8(frame: np.ndarray, linear: bool = False) -> np.ndarray:
    """uint8 grey of a frame. frame: display-referred [0, 1] (or linear >= 0 when ``linear``:
    scaled to its maximum and gamma-2.2 encoded so the median splits it as a display image would)."""
    f = np.asarray(frame, np.float32)
    if linear:
        m = float(f.max())
        f = np.clip(f / m if m > 0 else f, 0.0, 1.0) ** np.float32(1 / 2.2)
    if f.ndim == 3:
        f = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _bitmaps(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(threshold bitmap, exclusion bitmap = pixels far enough from the median to trust)."""
    hist = np.bincount(grey.ravel(), minlength=256)
    med = int(np.searchsorted(np.cumsum(hist), grey.size / 2.0))
    return grey > med, np.abs(grey.astype(np.int16) - med) > _NOISE


def _error(tb_r, eb_r, tb_i, eb_i, dx: int, dy: int) -> float:
    """Fraction of disagreeing trusted pixels when img is moved by (dx, dy) onto ref."""
    h, w = tb_r.shape
    ys, ye = max(0, dy), min(h, h + dy)
    xs, xe = max(0, dx), min(w, w + dx)
    if ye - ys < 2 or xe - xs < 2:
        return np.inf
    r = (slice(ys, ye), slice(xs, xe))
    i = (slice(ys - dy, ye - dy), slice(xs - dx, xe - dx))
    diff = np.logical_xor(tb_r[r], tb_i[i])
    diff &= eb_r[r]
    diff &= eb_i[i]
    # normalised by the overlap so large shifts are not favoured for having fewer pixels
    return np.count_nonzero(diff) / float((ye - ys) * (xe - xs))


def mtb_shift_grey(ref: np.ndarray, img: np.ndarray, max_bits: int = 6) -> tuple[int, int]:
    """Integer (dx, dy) that moves uint8 grey ``img`` onto ``ref``: aligned(x, y) = img(x-dx, y-dy)."""
    pyr_r, pyr_i = [ref], [img]
    for _ in range(max_bits):
        if min(pyr_r[-1].shape) // 2 < _MIN_SIZE:
            break
        pyr_r.append(cv2.pyrDown(pyr_r[-1]))
        pyr_i.append(cv2.pyrDown(pyr_i[-1]))
    sx = sy = 0
    for gr, gi in zip(reversed(pyr_r), reversed(pyr_i)):
        sx, sy = 2 * sx, 2 * sy
        tb_r, eb_r = _bitmaps(gr)
        tb_i, eb_i = _bitmaps(gi)
        best = (np.inf, sx, sy)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                e = _error(tb_r, eb_r, tb_i, eb_i, sx + dx, sy + dy)
                if e < best[0]:
                    best = (e, sx + dx, sy + dy)
        _, sx, sy = best
    return int(sx), int(sy)


def mtb_shift(
    ref: np.ndarray, img: np.ndarray, max_bits: int = 6, *, linear: bool = False
) -> tuple[int, int]:
    """Translation (dx, dy) in pixels that aligns ``img`` to ``ref``, exposure-invariantly.

    ref, img: HxWx3 frames, display-referred [0, 1] (linear >= 0 with ``linear=True``), any
    exposures. aligned(x, y) = img(x - dx, y - dy). Searches up to +-(2^(max_bits+1) - 1) px.
    """
    return mtb_shift_grey(to_grey8(ref, linear), to_grey8(img, linear), max_bits)
