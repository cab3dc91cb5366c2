"""Per-pixel maximum / minimum over the three colour channels of an HxWx3 float32 image.

One OpenCV row reduction over the image seen as an (H*W) x 3 matrix: numpy's ``max(axis=2)``
over a length-3 last axis is about 15x slower, split channels + two cv2.max passes about 5x
(measured on a 1600 px preview proxy: 4 ms vs 70 ms vs 21 ms)."""

from __future__ import annotations

import cv2
import numpy as np


def _reduce(img: np.ndarray, op: int) -> np.ndarray:
    a = np.ascontiguousarray(img, dtype=np.float32)
    h, w = a.shape[:2]
    return cv2.reduce(a.reshape(h * w, 3), 1, op).reshape(h, w)


def channel_max(img: np.ndarray) -> np.ndarray:
    """HxW float32: the brightest channel of each pixel."""
    return _reduce(img, cv2.REDUCE_MAX)


def channel_min(img: np.ndarray) -> np.ndarray:
    """HxW float32: the darkest channel of each pixel."""
    return _reduce(img, cv2.REDUCE_MIN)
