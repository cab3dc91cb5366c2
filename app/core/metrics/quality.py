"""A quality read-out of a rendering, the way no other tool reports it: how well the picture
keeps the local structure of its exposures (MEF-SSIM, Ma et al. 2015), and how much of it is
clipped to white or crushed to black.

Computed at a reduced size (long side :data:`QUALITY_LONG_SIDE`) so it costs a fraction of a
second: MEF-SSIM is a structure measure and changes little with scale (its coarser scales are
part of the score anyway), and the clipped shares are area fractions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import cv2
import numpy as np

QUALITY_LONG_SIDE = 512
CLIPPED = 254.5 / 255  # any channel at the top code
CRUSHED = 0.5 / 255  # luma at the bottom code


@dataclass(frozen=True)
class Quality:
    """``mef_ssim``: of the rendering against the exposures (None when the inputs are linear
    or fewer than two); ``clipped`` / ``crushed``: shares of the rendering's pixels in [0, 1]."""

    mef_ssim: float | None
    clipped: float
    crushed: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def text(self) -> str:
        parts = [] if self.mef_ssim is None else [f"MEF-SSIM {self.mef_ssim:.3f}"]
        parts.append(f"clipped {100 * self.clipped:.1f} %")
        parts.append(f"crushed {100 * self.crushed:.1f} %")
        return " · ".join(parts)


def _shrink(img: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    h, w = img.shape[:2]
    if size is None:
        s = min(1.0, QUALITY_LONG_SIDE / max(h, w))
        size = (max(1, round(w * s)), max(1, round(h * s)))
    if (w, h) == size:
        return np.ascontiguousarray(img, np.float32)
    return cv2.resize(np.ascontiguousarray(img, np.float32), size, interpolation=cv2.INTER_AREA)


def quality(rendered: np.ndarray, exposures: Sequence[np.ndarray] = ()) -> Quality:
    """The read-out of a display rendering (float [0, 1] or uint8/uint16, HxWx3) against the
    display-referred exposures (same aspect; resized here). MEF-SSIM only with 2+ exposures."""
    from app.core.metrics.mef_ssim import mef_ssim

    img = np.asarray(rendered)
    if img.dtype in (np.uint8, np.uint16):
        img = img.astype(np.float32) / np.iinfo(img.dtype).max
    small = np.clip(_shrink(img), 0.0, 1.0)
    luma = cv2.transform(small, np.array([[0.2126, 0.7152, 0.0722]], np.float32))
    clipped = float(np.mean(small.max(axis=2) >= CLIPPED))
    crushed = float(np.mean(luma <= CRUSHED))
    score = None
    if len(exposures) >= 2 and min(small.shape[:2]) >= 44:
        size = (small.shape[1], small.shape[0])
        frames = []
        for frame in exposures:
            f = np.asarray(frame)
            if f.dtype in (np.uint8, np.uint16):
                f = f.astype(np.float32) / np.iinfo(f.dtype).max
            frames.append(np.clip(_shrink(f, size), 0.0, 1.0))
        value = mef_ssim(frames, small)
        score = None if not np.isfinite(value) else float(value)
    return Quality(score, clipped, crushed)


def result_quality(image: np.ndarray, kind, tone, exposures: Sequence[np.ndarray] = ()) -> Quality:
    """The read-out of a result (linear radiance or display [0, 1], see Result) as rendered
    with ``tone``: the result is reduced first, then rendered (cheap at any size)."""
    from app.core.tonemap import render

    return quality(render(_shrink(image), kind, tone), exposures)
