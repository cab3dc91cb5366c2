"""render(): the fast strip path equals a plain float64 reading of the documented pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.tonemap import OPERATORS, render, scene_stats
from app.core.types import ResultKind, ToneParams
from tests.core.tonemap.conftest import hdr_scene

W709 = np.array([0.2126, 0.7152, 0.0722])
HA, HB, HC, HD, HE, HF = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30


def _srgb(x):
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _srgb_inv(y):
    y = np.clip(y, 0, 1)
    return np.where(y <= 0.04045, y / 12.92, ((y + 0.055) / 1.055) ** 2.4)


def _encode(x, gamma):
    return _srgb(x) if gamma == 0 else np.clip(x, 0, 1) ** (1 / gamma)


def _curve(name, lum, st, g):
    """The global operators' formulas, float64, straight from their papers."""
    if name == "reinhard":
        ls = 0.18 / st.log_average * g * lum
        lw = 0.18 / st.log_average * st.peak * g  # the peak after the exposure maps to white
        ls = np.minimum(ls, lw)
        return ls * (1 + ls / lw**2) / (1 + ls)
    if name == "drago":
        t = np.minimum(lum * g / st.log_average, st.peak / st.log_average)
        tmax = st.peak / st.log_average
        p = np.log(0.85) / np.log(0.5)
        return np.log1p(t) / np.log(2 + 8 * (t / tmax) ** p) / np.log10(1 + tmax)
    if name == "filmic":
        h = lambda x: (x * (HA * x + HC * HB) + HD * HE) / (x * (HA * x + HB) + HD * HF) - HE / HF  # noqa: E731
        x = np.minimum(2.0 * 0.18 / st.log_average * g * lum, 11.2)
        return h(x) / h(11.2)
    raise AssertionError(name)


def _slow_hdr(img, tone):
    x = img.astype(np.float64)
    g = 2.0**tone.exposure_ev
    if tone.tmo == "none":
        out = x * g
        lout = None
    else:
        lum = np.maximum(x @ W709, 0)
        lout = np.clip(_curve(tone.tmo, lum, scene_stats(img), g), 0, 1)
        out = x * (lout / np.maximum(lum, 1e-30))[..., None]
    if tone.saturation != 1:
        lum_out = out @ W709 if lout is None else lout
        out = np.maximum(lum_out[..., None] + tone.saturation * (out - lum_out[..., None]), 0)
    return _encode(out, tone.gamma)


def _slow_ldr(img, tone):
    lin = _srgb_inv(img.astype(np.float64)) * 2.0**tone.exposure_ev
    if tone.saturation != 1:
        lum = lin @ W709
        lin = np.maximum(lum[..., None] + tone.saturation * (lin - lum[..., None]), 0)
    return _encode(lin, tone.gamma)


@pytest.fixture(scope="module")
def hdr():
    return hdr_scene(h=203, w=170)  # more rows than one strip, not a multiple of it


@pytest.mark.parametrize("tmo", ["none", "reinhard", "drago", "filmic"])
@pytest.mark.parametrize("ev,gamma,sat", [(0.0, 0.0, 1.0), (1.3, 0.0, 1.0), (-0.7, 2.2, 1.0), (0.5, 0.0, 1.4), (0.0, 1.8, 0.6)])
def test_hdr_render_equals_slow_path(hdr, tmo, ev, gamma, sat):
    tone = ToneParams(exposure_ev=ev, gamma=gamma, tmo=tmo, saturation=sat)
    fast = render(hdr, ResultKind.HDR_LINEAR, tone)
    assert fast.dtype == np.float32 and fast.shape == hdr.shape
    assert np.max(np.abs(fast - _slow_hdr(hdr, tone))) < 3e-6  # < half a 16-bit step


@pytest.mark.parametrize("ev,gamma,sat", [(0.0, 0.0, 1.0), (1.0, 0.0, 1.0), (-2.5, 0.0, 1.0), (0.4, 2.2, 1.0), (0.8, 0.0, 1.5), (-9.0, 0.0, 1.0)])
def test_ldr_render_equals_slow_path(ev, gamma, sat):
    rng = np.random.default_rng(4)
    img = rng.random((150, 90, 3), dtype=np.float32)
    img[:20] *= 0.05  # plenty of pixels in the sRGB toe
    tone = ToneParams(exposure_ev=ev, gamma=gamma, saturation=sat, tmo="drago")
    fast = render(img, ResultKind.LDR_FUSED, tone)
    assert np.max(np.abs(fast - _slow_ldr(img, tone))) < 3e-6


def test_ldr_defaults_are_identity_and_operator_is_ignored():
    img = np.random.default_rng(5).random((40, 30, 3), dtype=np.float32)
    assert np.array_equal(render(img, "ldr_fused", ToneParams()), img)
    a = render(img, "ldr_fused", ToneParams(exposure_ev=0.5, tmo="none"))
    b = render(img, "ldr_fused", ToneParams(exposure_ev=0.5, tmo="mantiuk"))
    assert np.array_equal(a, b)
    u8 = (img * 255).round().astype(np.uint8)
    assert np.allclose(render(u8, "ldr_fused", ToneParams()), u8 / 255.0, atol=1e-7)


@pytest.mark.parametrize("tmo", sorted(OPERATORS))
def test_render_every_operator_in_range(hdr, tmo):
    out = render(hdr, ResultKind.HDR_LINEAR, ToneParams(tmo=tmo, exposure_ev=0.3, saturation=1.2))
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_render_validates_tone():
    img = np.ones((4, 4, 3), np.float32)
    with pytest.raises(InputError, match="gamma"):
        render(img, "hdr_linear", ToneParams(gamma=-2))
    with pytest.raises(InputError, match="saturation"):
        render(img, "hdr_linear", ToneParams(saturation=-1))
    with pytest.raises(InputError, match="unknown tone-mapping operator"):
        render(img, "hdr_linear", ToneParams(tmo="aces"))
    with pytest.raises(InputError, match="float or 8/16-bit"):
        render(np.ones((4, 4, 3), np.int32), "hdr_linear", ToneParams())


def test_prepared_cache_follows_in_place_changes(monkeypatch):
    from app.core.tonemap import fastpath

    img = hdr_scene(h=120, w=130, seed=7)
    tone = ToneParams(exposure_ev=0.3, tmo="reinhard")
    first = render(img, "hdr_linear", tone)
    assert np.array_equal(render(img, "hdr_linear", tone), first)  # served from the cache
    img *= 3.0
    img[:10] = 0.0  # changed in place: the fingerprint must notice
    changed = render(img, "hdr_linear", tone)
    fastpath.clear_cache()
    assert np.array_equal(changed, render(img, "hdr_linear", tone))
    assert not np.array_equal(changed, first)
    monkeypatch.setattr(fastpath, "CACHE_MAX_PIXELS", 100)  # export-size path: no caching
    assert np.array_equal(render(img, "hdr_linear", tone), changed)


def test_reinhard_exposure_push_does_not_blow_out_the_frame():
    """+4.5 EV with Reinhard on a low-contrast scene (peak 4x the average): the brightest area
    is white, the rest brightens along the curve; before, 100 % of the pixels clipped."""
    rng = np.random.default_rng(2)
    grey = np.exp2(rng.uniform(-1.0, 1.0, (60, 80))).astype(np.float32)
    scene = np.repeat(grey[..., None], 3, axis=2)  # neutral: white is all channels at 1
    out = render(scene, ResultKind.HDR_LINEAR, ToneParams(exposure_ev=4.5, tmo="reinhard"))
    white = (out >= 0.99).all(axis=2).mean()
    assert white < 0.15, f"{white:.0%} of the frame is white"  # only the top of the curve
    assert np.median(out) < 0.97
    base = render(scene, ResultKind.HDR_LINEAR, ToneParams(tmo="reinhard"))
    assert out.mean() > base.mean() + 0.1  # the push still brightens


@pytest.mark.parametrize("tone", [
    dict(tmo="reinhard"), dict(tmo="none", exposure_ev=1.0), dict(tmo="drago", saturation=1.3),
    dict(tmo="filmic", gamma=2.2), dict(tmo="none", gamma=2.0, saturation=0.5)])
def test_export_sized_images_render_strip_by_strip_to_the_same_pixels(monkeypatch, tone):
    """Above the cache's size (exports) the factors are prepared per strip from the whole
    image's statistics: the pixels are those of the cached (preview) path, bit for bit."""
    import app.core.tonemap.fastpath as fastpath
    from app.core.types import ResultKind, ToneParams

    rng = np.random.default_rng(0)
    img = rng.lognormal(-1.5, 1.5, (300, 170, 3)).astype(np.float32)
    img[3, 3] = np.nan
    img[:40, :40] *= 1e-4  # a dark corner: the sRGB toe
    fastpath.clear_cache()
    cached = render(img, ResultKind.HDR_LINEAR, ToneParams(**tone))
    monkeypatch.setattr(fastpath, "CACHE_MAX_PIXELS", 1000)
    calls = []
    monkeypatch.setattr(fastpath, "prepared", lambda *a: calls.append(a))  # must not be used
    streamed = render(img, ResultKind.HDR_LINEAR, ToneParams(**tone))
    assert not calls
    np.testing.assert_array_equal(streamed, cached)


@pytest.mark.parametrize("tone", [
    dict(tmo="reinhard"), dict(tmo="none", exposure_ev=1.0), dict(tmo="drago", saturation=1.3),
    dict(tmo="filmic", gamma=2.2), dict(tmo="reinhard_local"), dict(tmo="reinhard", temperature=3500.0)])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("export_sized", [False, True])
def test_render_codes_are_the_quantised_rendering(monkeypatch, tone, bits, export_sized):
    """Exports render HDR results into codes (strip by strip for global operators, from float32
    or float16 radiance): the codes of the float rendering, bit for bit."""
    import app.core.tonemap.fastpath as fastpath
    from app.core.tonemap import render_codes, renders_in_strips
    from app.core.tonemap.display import to_uint
    from app.core.types import ResultKind, ToneParams

    rng = np.random.default_rng(1)
    img = rng.lognormal(-1.5, 1.5, (300, 170, 3)).astype(np.float32)
    img[:40, :40] *= 1e-4  # a dark corner: the sRGB toe
    img[5, 7] = 3e4
    tone_p = ToneParams(**tone)
    if export_sized:
        monkeypatch.setattr(fastpath, "CACHE_MAX_PIXELS", 1000)
    fastpath.clear_cache()
    for radiance in (img, img.astype(np.float16)):
        want = to_uint(render(radiance.astype(np.float32), ResultKind.HDR_LINEAR, tone_p), bits)
        got = render_codes(radiance, ResultKind.HDR_LINEAR, tone_p, bits)
        assert got.dtype == (np.uint8 if bits == 8 else np.uint16)
        np.testing.assert_array_equal(got, want)
    assert renders_in_strips(ResultKind.HDR_LINEAR, tone_p) == (
        tone["tmo"] != "reinhard_local" and "temperature" not in tone)
    assert not renders_in_strips(ResultKind.LDR_FUSED, ToneParams())
    with pytest.raises(InputError, match="bit depth"):
        render_codes(img, ResultKind.HDR_LINEAR, tone_p, 12)
