"""Ground-truth fixtures made by the tests themselves: a known radiance field photographed by a
known camera (response curve + exposure times), so merges and alignment can be checked exactly.
"""

from __future__ import annotations

import numpy as np

TIMES = (1 / 64, 1 / 16, 1 / 4, 1.0)  # seconds, 2 EV apart


def radiance_field(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Linear scene radiance, float32 HxWx3, spanning about 12 EV (1e-3 .. 4), smooth + texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = np.exp2(-10.0 + 12.0 * xx / (w - 1))  # 12 EV horizontal ramp
    texture = 1.0 + 0.25 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    colour = np.array([1.0, 0.8, 0.6], np.float32) + 0.1 * rng.random(3, dtype=np.float32)
    rad = ramp[..., None] * texture[..., None] * colour[None, None, :]
    return rad.astype(np.float32)


def camera_curve(x: np.ndarray) -> np.ndarray:
    """A known non-linear camera response: linear exposure (>= 0) -> display [0, 1], clipped."""
    x = np.clip(x, 0.0, 1.0)
    return (x ** (1 / 2.2) * 1.05 - 0.05 * x).clip(0.0, 1.0).astype(np.float32)


def photograph(radiance: np.ndarray, times=TIMES, quantise: bool = True) -> list[np.ndarray]:
    """Frames (display-referred float32 [0,1], dark to bright) of ``radiance`` at ``times``."""
    frames = []
    for t in times:
        f = camera_curve(radiance * t)
        if quantise:
            f = np.round(f * 255.0) / 255.0
        frames.append(f.astype(np.float32))
    return frames
