"""The branch-free sRGB fast paths (LDR fused with saturation 1, HDR operator "none") against the
float64 reference over many exposures, with inputs packed around the sRGB toe thresholds where
the fast paths switch between their linear pieces."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.tonemap import global_ops, render
from app.core.types import ResultKind, ToneParams
from tests.core.tonemap.test_render import _slow_hdr, _slow_ldr

EVS = [-9.0, -3.0, -1.0, -0.3, -0.01, -1e-4, -1e-16, 1e-16, 1e-4, 0.01, 0.3, 1.0, 3.0, 9.0]


def _ldr_image() -> np.ndarray:
    rng = np.random.default_rng(11)
    near = np.linspace(0.0, 0.2, 150 * 90, dtype=np.float32)  # dense over the toe and its edges
    img = np.stack([near, rng.permutation(near), rng.random(near.size, dtype=np.float32)], axis=1)
    return img.reshape(150, 90, 3)


@pytest.mark.parametrize("ev", EVS)
@pytest.mark.parametrize("gamma", [0.0, 2.2])
def test_ldr_fast_path_matches_reference(ev, gamma):
    img = _ldr_image()
    tone = ToneParams(exposure_ev=ev, gamma=gamma, saturation=1.0)
    fast = render(img, ResultKind.LDR_FUSED, tone)
    assert np.max(np.abs(fast - _slow_ldr(img, tone))) < 3e-6


def test_ldr_strip_on_non_contiguous_views():
    img = _ldr_image()[:, ::2]
    for gain in (0.6, 1.7):
        dst = np.zeros((img.shape[0], img.shape[1] * 2, 3), np.float32)[:, ::2]
        global_ops.ldr_strip(gain, 1.0, 0.0)(img, dst)
        tone = ToneParams(exposure_ev=float(np.log2(gain)), saturation=1.0)
        assert np.max(np.abs(dst - _slow_ldr(img, tone))) < 3e-6


@pytest.mark.parametrize("ev", EVS)
@pytest.mark.parametrize("gamma,sat", [(0.0, 1.0), (0.0, 1.3), (2.2, 1.0)])
def test_hdr_none_matches_reference(ev, gamma, sat):
    rng = np.random.default_rng(12)
    img = (np.exp(rng.normal(-5.0, 3.0, (130, 70, 3))) * rng.random((130, 70, 1))).astype(np.float32)
    img[:3] = 0.0
    # Known limit of the prepared path: the float32 saturated colour, times 2^9, carries more
    # rounding than 3e-6 near white; it must still stay within one 16-bit output step.
    tol = 1.0 / 65535 if (sat != 1.0 and ev > 3.0) else 3e-6
    tone = ToneParams(exposure_ev=ev, gamma=gamma, saturation=sat, tmo="none")
    fast = render(img, ResultKind.HDR_LINEAR, tone)
    assert np.max(np.abs(fast - _slow_hdr(img, tone))) < tol
