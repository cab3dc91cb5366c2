"""Display transform: sRGB encode/decode, gamma, saturation, exposure, quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.tonemap import (
    apply_saturation,
    encode,
    exposure_gain,
    luminance,
    srgb_decode,
    srgb_encode,
    to_uint,
)


def _srgb_ref(x):
    x = np.clip(np.asarray(x, np.float64), 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def test_srgb_known_values_and_formula():
    x = np.concatenate([np.linspace(0, 0.01, 500), np.linspace(0, 1, 1001)]).astype(np.float32)
    assert np.allclose(srgb_encode(x), _srgb_ref(x), atol=2e-7)
    assert srgb_encode(np.float32([0.18]))[0] == pytest.approx(0.4613561, abs=1e-6)
    assert srgb_encode(np.float32([0.0031308]))[0] == pytest.approx(0.04045, abs=1e-6)
    assert srgb_decode(np.float32([0.5]))[0] == pytest.approx(0.2140411, abs=1e-6)


def test_srgb_round_trip_and_clipping():
    x = np.linspace(0, 1, 4097, dtype=np.float32)
    assert np.max(np.abs(srgb_decode(srgb_encode(x)) - x)) < 2e-6
    y = srgb_encode(np.float32([-1.0, np.nan, 2.0, np.inf]))
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    src = x.copy()
    srgb_encode(src)
    assert np.array_equal(src, x)  # input untouched unless out= is given


def test_gamma_encode_and_validation():
    x = np.linspace(0, 1, 11, dtype=np.float32)
    assert np.allclose(encode(x, 2.2), x ** (1 / 2.2), atol=1e-6)
    assert np.allclose(encode(x, 1.0), x)
    assert np.allclose(encode(x, 0.0), _srgb_ref(x), atol=2e-7)
    for bad in (-1.0, 0.1, 9.0, float("nan")):
        with pytest.raises(InputError, match="gamma"):
            encode(x, bad)


def test_to_uint_rounds_and_clips():
    v = np.float32([0.0, 0.49 / 255, 0.51 / 255, 0.5, 1.0, 1.2, -0.1, np.nan])
    assert to_uint(v, 8).tolist() == [0, 0, 1, 128, 255, 255, 0, 0]
    u16 = to_uint(v, 16)
    assert u16.dtype == np.uint16 and u16[4] == 65535 and u16[3] == 32768
    assert to_uint(np.float32([100 / 255]), 8)[0] == 100
    with pytest.raises(InputError, match="bit depth"):
        to_uint(v, 12)


def test_saturation_scales_chroma_around_luminance():
    rgb = np.float32([[[0.6, 0.3, 0.1], [0.2, 0.2, 0.2]]])
    lum = luminance(rgb)
    grey = apply_saturation(rgb, 0.0)
    assert np.allclose(grey, lum[..., None], atol=1e-6)
    more = apply_saturation(rgb, 1.3)
    assert np.allclose(luminance(more), lum, atol=1e-6)  # no clipping here: luminance kept
    assert np.allclose(more - lum[..., None], 1.3 * (rgb - lum[..., None]), atol=1e-6)
    assert np.array_equal(apply_saturation(rgb, 1.0), rgb)
    assert apply_saturation(rgb, 4.0).min() >= 0.0  # negatives clipped
    with pytest.raises(InputError, match="saturation"):
        apply_saturation(rgb, -1.0)


def test_exposure_gain():
    assert exposure_gain(0) == 1.0 and exposure_gain(1) == 2.0 and exposure_gain(-2) == 0.25
    with pytest.raises(InputError):
        exposure_gain(float("inf"))


def test_to_uint_in_row_blocks_equals_the_formula(monkeypatch):
    """Quantised in row blocks (no full-size float temporary): the same codes as clip, scale and
    round-half-to-even on the whole image, NaN -> 0, for block edges anywhere."""
    import app.core.tonemap.display as display_mod

    rng = np.random.default_rng(3)
    x = rng.uniform(-0.3, 1.3, (37, 23, 3)).astype(np.float32)
    x[5, 5] = (np.nan, np.inf, -np.inf)
    x[6, :4, 0] = (np.arange(4) + 0.5) / 255  # exact halves: round half to even
    monkeypatch.setattr(display_mod, "_TO_UINT_VALUES", 23 * 3 * 4 + 7)  # blocks of 4 rows
    for bits, top, dtype in ((8, 255.0, np.uint8), (16, 65535.0, np.uint16)):
        y = np.fmax(x, 0.0)
        expected = np.rint(np.minimum(y, 1.0) * np.float32(top)).astype(dtype)
        got = to_uint(x, bits)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
    assert to_uint(x, 8)[5, 5].tolist() == [0, 255, 0]
