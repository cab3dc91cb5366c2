"""Tone mapping at the brightest highlights: no dark specks or inverted pixels in a sun or in
bright window panes (at the default exposure and pushed +2 EV), and no bright halo spread
around a light source by the local operators."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.tonemap import render
from app.core.types import ResultKind, ToneParams
from tests.core.align.textures import textured_radiance

Y = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _scene(with_lights: bool = True):
    rad = textured_radiance(seed=2).astype(np.float32)
    h, w = rad.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    sun = (yy - 80) ** 2 + (xx - 380) ** 2 < 20**2
    window = (yy > 200) & (yy < 280) & (xx > 60) & (xx < 160)
    if with_lights:
        rad[sun] = 2000.0 * np.array([1.0, 0.95, 0.85], np.float32)
        noise = np.random.default_rng(0).random((int(window.sum()), 1)).astype(np.float32)
        rad[window] = 40.0 + 10.0 * noise  # clipped-looking, slightly textured panes
    ring = ~sun & ((yy - 80) ** 2 + (xx - 380) ** 2 < 40**2) & ((yy - 80) ** 2 + (xx - 380) ** 2 >= 24**2)
    return rad, sun, window, ring, yy > 300


@pytest.mark.parametrize("tmo", ["reinhard", "reinhard_local", "drago", "mantiuk", "filmic"])
@pytest.mark.parametrize("ev", [0.0, 2.0])
def test_no_dark_specks_in_the_brightest_highlights(tmo, ev):
    rad, sun, window, _ring, _far = _scene()
    out = render(rad, ResultKind.HDR_LINEAR, ToneParams(tmo=tmo, exposure_ev=ev)) @ Y
    lum = rad @ Y
    rest = out[lum < np.percentile(lum, 90)]
    assert out[sun].min() > 0.95, f"sun pixel at {out[sun].min():.2f}"
    # nothing in the light sources is darker than the brightest ordinary pixels
    assert out[sun | window].min() >= np.percentile(rest, 99) - 0.02


@pytest.mark.parametrize("tmo", ["reinhard_local", "mantiuk"])
def test_no_halo_around_a_light_source(tmo):
    """The ring just outside a 2000x sun stays within 15 % of how bright it is without the sun
    (relative to a far region); before the input cap Mantiuk made it 4.6x brighter."""
    rad, _sun, _window, ring, far = _scene()
    base = _scene(with_lights=False)[0]
    a = render(rad, ResultKind.HDR_LINEAR, ToneParams(tmo=tmo)) @ Y
    b = render(base, ResultKind.HDR_LINEAR, ToneParams(tmo=tmo)) @ Y
    ratio = (a[ring].mean() / a[far].mean()) / (b[ring].mean() / b[far].mean())
    assert 0.85 < ratio < 1.15, f"ring brightness x{ratio:.2f}"
