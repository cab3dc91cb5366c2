"""Translation alignment by median threshold bitmaps (Ward 2003), coarse to fine.

A frame thresholded at its own median grey level gives (nearly) the same bitmap at any exposure,
so bitmaps of differently exposed frames can be compared directly by XOR. Pixels within a few
grey levels of the median flip with noise and are excluded. The search tries the 9 one-pixel
moves around the doubled shift of the coarser level, from a 1/2^max_bits proxy up to full size.
Only the shift search of OpenCV's AlignMTB is used (calculateShift); warping and cropping are
ours (its ``process`` has an in-place output trap, see docs/anchors.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.errors import InputError
from app.core.types import float_frame

_NOISE = 4  # grey levels around the median that are ignored (noise flips them)
_MIN_SIZE = 16  # coarsest level is at least this many pixels on its short side


def to_grey8(frame: np.ndarray, linear: bool = False) -> np.ndarray:
    """uint8 grey of a frame. frame: display-referred [0, 1] (or linear >= 0 when ``linear``:
    scaled to its maximum and gamma-2.2 encoded so the median splits it as a display image would)."""
    if frame.dtype == np.uint8 and frame.ndim == 3 and not linear:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)  # no float copy
    f = float_frame(frame)  # uint16 codes -> [0, 1]
    if linear:
        m = float(f.max())
        f = np.clip(f / m if m > 0 else f, 0.0, 1.0) ** np.float32(1 / 2.2)
    if f.ndim == 3:
        f = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)


def mtb_shift_grey(ref: np.ndarray, img: np.ndarray, max_bits: int = 6) -> tuple[int, int]:
    """Integer (dx, dy) that moves uint8 grey ``img`` onto ``ref``: aligned(x, y) = img(x-dx, y-dy).

    OpenCV's AlignMTB.calculateShift does the search (measured: the same shifts as a numpy
    version of the algorithm, in half the time); the pyramid depth is capped so the coarsest
    level keeps at least 16 px on its short side.
    """
    if ref.shape != img.shape:
        raise InputError(f"MTB: frames differ in size, {ref.shape[::-1]} vs {img.shape[::-1]}")
    short = min(ref.shape[:2])
    bits = int(max(0, min(max_bits, np.floor(np.log2(max(short / _MIN_SIZE, 1.0))))))
    if bits == 0:
        return 0, 0  # too small to search
    align = cv2.createAlignMTB(max_bits=bits, exclude_range=_NOISE, cut=True)
    dx, dy = align.calculateShift(np.ascontiguousarray(ref), np.ascontiguousarray(img))
    return int(dx), int(dy)


def mtb_shift(
    ref: np.ndarray, img: np.ndarray, max_bits: int = 6, *, linear: bool = False
) -> tuple[int, int]:
    """Translation (dx, dy) in pixels that aligns ``img`` to ``ref``, exposure-invariantly.

    ref, img: HxWx3 frames, display-referred [0, 1] (linear >= 0 with ``linear=True``), any
    exposures. aligned(x, y) = img(x - dx, y - dy). Searches up to +-(2^(max_bits+1) - 1) px.
    """
    return mtb_shift_grey(to_grey8(ref, linear), to_grey8(img, linear), max_bits)
