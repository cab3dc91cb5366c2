"""Operator table, dispatcher and the properties every operator must have."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import InputError
from app.core.tonemap import (
    LOCAL_OPERATORS,
    OPERATOR_PARAMS,
    OPERATORS,
    luminance,
    resolve_params,
    scene_stats,
    tonemap,
)
from tests.core.tonemap.conftest import hdr_scene

NAMES = {"none", "reinhard", "reinhard_local", "drago", "mantiuk", "filmic"}
GLOBAL = sorted(NAMES - {"reinhard_local", "mantiuk"})


def test_table_is_complete_and_consistent():
    assert set(OPERATORS) == NAMES == set(OPERATOR_PARAMS)
    assert LOCAL_OPERATORS == {"reinhard_local", "mantiuk"}
    for name, specs in OPERATOR_PARAMS.items():
        assert resolve_params(name) == {p.name: p.default for p in specs}
        for p in specs:
            assert p.help and p.type is float and p.minimum <= p.default <= p.maximum


@pytest.mark.parametrize("name", sorted(NAMES))
def test_output_finite_in_range_with_zeros_and_huge_values(name, scene):
    out = tonemap(scene, name)
    assert out.shape == scene.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out[-12:, :12] == 0.0)  # zeros stay black
    assert out.mean() > 0.02  # something is visible
    assert np.isfinite(tonemap(np.zeros((8, 8, 3), np.float32), name)).all()


@pytest.mark.parametrize("name", GLOBAL)
def test_global_operators_monotone_in_luminance(name):
    lum = np.geomspace(1e-5, 1e6, 4000).astype(np.float32)
    img = np.repeat(lum[None, :, None], 3, axis=2) * np.float32([1.0, 0.8, 0.5])
    img = np.ascontiguousarray(np.repeat(img, 2, axis=0))
    out_l = luminance(tonemap(img, name))[0].astype(np.float64)
    assert np.all(np.diff(out_l) >= -1e-6)
    assert out_l[-1] > out_l[0]


@pytest.mark.parametrize("name", sorted(NAMES))
def test_exposure_gain_brightens(name, scene):
    dark, bright = tonemap(scene, name, gain=0.5), tonemap(scene, name, gain=2.0)
    assert bright.mean() > tonemap(scene, name).mean() > dark.mean()


def test_reinhard_matches_formula_and_keeps_colour_ratio(scene):
    out = tonemap(scene, "reinhard", {"key": 0.25})
    st = scene_stats(scene)
    lum = luminance(scene.astype(np.float64))
    ls = 0.25 / st.log_average * lum
    lw = 0.25 / st.log_average * st.peak
    ls = np.minimum(ls, lw)
    expect = ls * (1 + ls / lw**2) / (1 + ls)
    got = luminance(out.astype(np.float64))
    unclipped = (out.max(axis=2) < 1.0) & (lum > 1e-3)
    assert np.allclose(got[unclipped], expect[unclipped], rtol=1e-4, atol=1e-6)
    ratio_in = scene[unclipped] / lum[unclipped][:, None]
    ratio_out = out[unclipped] / got[unclipped][:, None]
    assert np.allclose(ratio_in, ratio_out, rtol=1e-3, atol=1e-4)


def test_drago_maps_peak_to_white_and_bias_brightens_shadows(scene):
    st = scene_stats(scene)
    peak_px = np.full((2, 2, 3), st.peak, np.float32)
    img = scene.copy()
    img[:2, -2:] = peak_px
    assert luminance(tonemap(img, "drago"))[:2, -2:].min() == pytest.approx(1.0, abs=1e-4)
    shadows = luminance(scene) < np.percentile(luminance(scene), 20)
    low_bias = luminance(tonemap(scene, "drago", {"bias": 0.6}))[shadows].mean()
    high_bias = luminance(tonemap(scene, "drago", {"bias": 0.95}))[shadows].mean()
    assert low_bias > high_bias


def test_filmic_white_point():
    img = np.full((2, 2, 3), 1.0, np.float32)  # uniform: log-average = 1, so x = bias * key
    for bias in (1.0, 4.0):
        x = bias * 0.18
        a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
        h = lambda v: (v * (a * v + c * b) + d * e) / (v * (a * v + b) + d * f) - e / f  # noqa: E731
        got = luminance(tonemap(img, "filmic", {"exposure_bias": bias}))[0, 0]
        assert got == pytest.approx(h(x) / h(11.2), rel=1e-4)


def test_none_clips_per_channel(scene):
    out = tonemap(scene, "none", gain=4.0)
    assert np.allclose(out, np.clip(scene * 4.0, 0, 1))


def test_dispatcher_errors():
    img = np.ones((4, 4, 3), np.float32)
    with pytest.raises(InputError, match="unknown tone-mapping operator 'foo'.*reinhard"):
        tonemap(img, "foo")
    with pytest.raises(InputError, match="no parameter 'keyy'.*key"):
        tonemap(img, "reinhard", {"keyy": 0.2})
    with pytest.raises(InputError, match="bias"):
        tonemap(img, "drago", {"bias": 2.0})
    with pytest.raises(InputError, match="HxWx3"):
        tonemap(np.ones((4, 4)), "none")


def _region(img: np.ndarray, box) -> tuple[float, float]:
    """(detail, mean): std of log luminance minus its blur (texture kept), mean luminance."""
    y0, y1, x0, x1 = box
    log_l = np.log(np.maximum(luminance(img), 1e-4))
    detail = log_l - cv2.GaussianBlur(log_l, (0, 0), 3)
    return float(np.std(detail[y0:y1, x0:x1])), float(np.mean(luminance(img)[y0:y1, x0:x1]))


@pytest.fixture(scope="module")
def regions():
    img = hdr_scene()
    h, w = img.shape[:2]
    return img, (h // 4 + 4, h // 2 - 4, w // 5 + 4, w // 3 - 4), (h // 2 + 10, h - 20, 20, 80)


def test_reinhard_local_keeps_more_texture_in_highlights(regions):
    img, bright, _ = regions
    local = _region(tonemap(img, "reinhard_local"), bright)[0]
    assert local > 1.1 * _region(tonemap(img, "reinhard"), bright)[0]


def test_mantiuk_compresses_large_scale_range_but_keeps_detail(regions):
    img, bright, dark = regions
    def range_ratio(out):
        return _region(out, bright)[1] / _region(out, dark)[1]
    mant = tonemap(img, "mantiuk")
    assert range_ratio(mant) < 0.5 * range_ratio(tonemap(img, "reinhard"))
    assert _region(mant, dark)[0] > 0.5 * _region(img, dark)[0]
    flatter = tonemap(img, "mantiuk", {"scale": 0.3})
    assert range_ratio(flatter) < range_ratio(mant)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_proxy_and_full_size_render_alike(name):
    """A half-size proxy tone-maps like the full image downscaled (preview == export)."""
    big = hdr_scene(h=720, w=1040, seed=2)
    big[3, 3] = big[5, 100] = 1.0  # no single-pixel outliers: they do not survive downscaling
    proxy = cv2.resize(big, (520, 360), interpolation=cv2.INTER_AREA)
    full_then_down = cv2.resize(tonemap(big, name), (520, 360), interpolation=cv2.INTER_AREA)
    assert np.mean(np.abs(tonemap(proxy, name) - full_then_down)) < 0.02
