"""HDR test scenes made here (no shared data needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def hdr_scene(h: int = 180, w: int = 260, seed: int = 0) -> np.ndarray:
    """Linear radiance float32 HxWx3 over ~20 EV: textured ramp, a bright textured window, a black
    patch (zeros) and a few 1e6 specular pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lum = np.exp2(-9.0 + 12.0 * xx / (w - 1)) * (1.0 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 4.0))
    lum[h // 4 : h // 2, w // 5 : w // 3] *= 200.0  # bright window with texture inside
    lum[-12:, :12] = 0.0
    tint = 0.7 + 0.6 * cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 6)
    rad = lum[..., None] * tint
    rad[3, 3] = 1e6
    rad[5, 100] = (1e6, 0.0, 2e5)
    return rad.astype(np.float32)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return hdr_scene()
