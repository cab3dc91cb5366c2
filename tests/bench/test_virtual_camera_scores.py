"""The virtual-camera bench's scores (app.bench.virtual_camera) on a synthetic radiance map:
a result off by a power of the truth (the exponential ambiguity of a bracket without times) is
found, and undoing the power restores the score."""

from __future__ import annotations

import numpy as np

from app.bench import virtual_camera as vc


def _radiance(h: int = 96, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    lum = 2.0 ** (10 * x / w - 5)  # 10 stops left to right
    tint = 0.6 + 0.4 * rng.random((h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    tint = np.kron(tint, np.ones((8, 8, 1), np.float32))[:h, :w]
    return (lum[..., None] * tint).astype(np.float32)


def test_a_power_of_the_truth_is_found_and_undoing_it_restores_the_score():
    b = vc.bracket("ramp", _radiance(), 3, 2.0, seed=5)
    exact = b.target * np.float32(3.0)
    assert abs(vc.exponent_fit(exact, b) - 1.0) < 1e-3
    off = np.maximum(b.target, 0) ** np.float32(1.25)
    p = vc.exponent_fit(off, b)
    assert abs(p - 1.25) < 1e-3
    assert vc.log_psnr(exact, b) > 100 and vc.log_psnr(off, b) < 30  # the power counts
    assert vc.colour_error_deg(off, b) > 1.0  # and shifts saturated colours
    fixed = off ** np.float32(1 / p)
    assert vc.log_psnr(fixed, b) > 80
    assert vc.colour_error_deg(fixed, b) < 0.01
