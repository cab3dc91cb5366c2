"""A richer synthetic scene for alignment tests: multi-scale log-normal texture (corners and edges
at every scale, which the smooth ramp of tests.synthetic lacks), photographed at several times."""

from __future__ import annotations

import cv2
import numpy as np

H, W = 360, 480


def textured_radiance(seed: int = 1, h: int = H, w: int = W) -> np.ndarray:
    """Linear radiance float32 HxWx3, about 0.03 .. 2 (fits a 3-frame bracket at 1/8, 1/2, 2 s)."""
    rng = np.random.default_rng(seed)
    tex = np.zeros((h, w), np.float32)
    for scale in (4, 16, 64):
        noise = rng.standard_normal((h // scale + 2, w // scale + 2)).astype(np.float32)
        tex += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) * (scale / 64) ** 0.3
    grey = np.exp2(1.2 * tex - 3.0)
    return (grey[..., None] * np.array([1.0, 0.8, 0.6], np.float32)).astype(np.float32)


def moved(radiance: np.ndarray, hm: np.ndarray) -> np.ndarray:
    """Radiance seen by a camera that moved: out(x) = radiance(hm x) (bilinear, edges reflected)."""
    h, w = radiance.shape[:2]
    return cv2.warpPerspective(
        radiance, hm, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def rotation_scale(deg: float, scale: float, h: int = H, w: int = W) -> np.ndarray:
    """3x3 rotation by ``deg`` and uniform ``scale`` about the image centre."""
    a = np.deg2rad(deg)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]], np.float64)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)
    return centre @ rot @ np.linalg.inv(centre)


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)
