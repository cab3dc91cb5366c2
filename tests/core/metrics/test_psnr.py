"""PSNR-L / PSNR-mu known values and the shared mu-law."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.metrics import mu_law, psnr_l, psnr_mu


def test_mu_law_endpoints_and_monotone():
    h = np.linspace(0, 1, 101)
    t = mu_law(h)
    assert t[0] == 0.0 and t[-1] == pytest.approx(1.0)
    assert np.all(np.diff(t) > 0)
    assert mu_law(np.float64(0.5)) == pytest.approx(math.log(2501) / math.log(5001))


def test_psnr_l_known_value_normalised_by_reference_max():
    ref = np.full((4, 5, 3), 2.0)
    test = ref + 0.2  # normalised error 0.1 everywhere -> mse 0.01 -> 20 dB
    assert psnr_l(ref, test) == pytest.approx(20.0)
    assert psnr_l(ref * 1000, test * 1000) == pytest.approx(20.0)  # scale invariant


def test_psnr_mu_known_value():
    ref = np.full((3, 3, 3), 4.0)
    test = np.full((3, 3, 3), 2.0)  # H = 1 vs 0.5
    diff = 1.0 - math.log(2501) / math.log(5001)
    assert psnr_mu(ref, test) == pytest.approx(-10 * math.log10(diff**2))


def test_psnr_mu_clips_test_above_reference_peak():
    ref = np.full((2, 2, 3), 1.0)
    assert psnr_mu(ref, ref * 3.0) == math.inf  # clipped to the peak: no mu-law error left
    assert psnr_l(ref, ref * 3.0) < 0


def test_identical_is_infinite_and_errors_raise():
    x = np.random.default_rng(0).random((8, 8, 3))
    assert psnr_l(x, x) == math.inf and psnr_mu(x, x) == math.inf
    with pytest.raises(InputError, match="shape"):
        psnr_l(x, x[:4])
    with pytest.raises(InputError, match="all zero"):
        psnr_mu(np.zeros((2, 2, 3)), x[:2, :2])
    with pytest.raises(InputError, match="NaN"):
        psnr_l(x, np.full_like(x, np.nan))
