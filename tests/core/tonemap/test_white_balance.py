"""White balance (temperature / tint): a grey card under a coloured light comes back neutral."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.tonemap import render, srgb_encode
from app.core.tonemap.white_balance import (
    NEUTRAL_K,
    _light_rgb,
    auto_settings,
    gains,
    neutral_settings,
)
from app.core.types import ResultKind, ToneParams


def _card_under(temperature: float, tint: float = 0.0, level: float = 0.18) -> np.ndarray:
    """Linear RGB of a grey card lit by the given light (white balance as shot: D65)."""
    light = _light_rgb(temperature, tint) / _light_rgb(NEUTRAL_K, 0.0)
    return (level * light / float(np.array([0.2126, 0.7152, 0.0722]) @ light)).astype(np.float32)


def test_as_shot_changes_nothing():
    assert np.array_equal(gains(NEUTRAL_K, 0.0), np.ones(3, np.float32))
    img = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    for kind in (ResultKind.LDR_FUSED, ResultKind.HDR_LINEAR):
        assert np.array_equal(render(img, kind, ToneParams()),
                              render(img, kind, ToneParams(temperature=NEUTRAL_K, tint=0.0)))


@pytest.mark.parametrize("light", [(2800.0, 0.0), (3400.0, 12.0), (5200.0, -20.0), (9000.0, 5.0)])
@pytest.mark.parametrize("kind", [ResultKind.HDR_LINEAR, ResultKind.LDR_FUSED])
def test_grey_card_comes_back_neutral(light, kind):
    card = _card_under(*light)
    temperature, tint = neutral_settings(card)
    assert abs(temperature - light[0]) < 0.02 * light[0] and abs(tint - light[1]) < 1.0
    image = np.tile(card, (8, 8, 1))
    if kind == ResultKind.LDR_FUSED:  # a fused result is display-encoded
        image = srgb_encode(image)
    tone = ToneParams(tmo="none", temperature=temperature, tint=tint)
    out = render(image, kind, tone)
    cast = render(image, kind, ToneParams(tmo="none"))
    assert np.ptp(cast[4, 4]) > 0.05  # the cast is visible as shot
    assert np.ptp(out[4, 4]) < 1.5 / 255  # and gone once balanced


def test_tint_moves_green_magenta_and_temperature_warms():
    g_plus, g_minus = gains(NEUTRAL_K, 40.0), gains(NEUTRAL_K, -40.0)
    assert g_plus[1] < min(g_plus[0], g_plus[2])  # + tint: less green, the picture turns magenta
    assert g_minus[1] > max(g_minus[0], g_minus[2])
    warm, cool = gains(9000, 0), gains(3200, 0)
    assert warm[0] > warm[2] and cool[2] > cool[0]


def test_auto_balances_a_grey_world_scene():
    rng = np.random.default_rng(1)
    scene = rng.uniform(0.05, 0.6, (60, 80, 3)).astype(np.float32)
    scene /= scene.mean(axis=(0, 1))  # grey on average
    lit = scene * _card_under(3000.0, 0.0, 1.0)
    temperature, tint = auto_settings(lit * 0.2)
    assert abs(temperature - 3000) < 120 and abs(tint) < 3


@pytest.mark.parametrize("temperature, tint", [(1000.0, 0.0), (20000.0, 0.0), (6504.0, 150.0),
                                               (float("nan"), 0.0)])
def test_out_of_range_settings_are_refused(temperature, tint):
    with pytest.raises(InputError):
        gains(temperature, tint)
