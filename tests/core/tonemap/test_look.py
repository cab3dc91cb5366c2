"""Look controls on the display rendering: neutral is the identity, each control moves the
tones it names and no others, the curve is monotone through its points, vibrance spares
saturated colours, clarity adds local contrast without halos at strong edges."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.tonemap import render
from app.core.tonemap.look import apply_look, check_look, tone_lut
from app.core.types import Look, ResultKind, ToneParams

RAMP = np.tile(np.linspace(0, 1, 256, dtype=np.float32)[None, :, None], (4, 1, 3))


def _grey(look: Look) -> np.ndarray:
    return apply_look(RAMP, check_look(look))[0, :, 0]


def test_neutral_look_is_the_identity():
    img = np.random.default_rng(0).random((16, 16, 3), dtype=np.float32)
    assert np.array_equal(render(img, ResultKind.LDR_FUSED, ToneParams(look=Look())),
                          render(img, ResultKind.LDR_FUSED, ToneParams()))


def test_contrast_spreads_the_tones_and_keeps_black_white_and_mid_grey():
    out = _grey(Look(contrast=60))
    assert out[0] == 0 and out[-1] == pytest.approx(1.0, abs=1e-3)
    assert out[int(0.46 * 255)] == pytest.approx(0.46, abs=0.01)
    assert out[50] < RAMP[0, 50, 0] and out[200] > RAMP[0, 200, 0]
    assert np.all(np.diff(out) >= -1e-6)  # monotone: no inverted tones
    low = _grey(Look(contrast=-60))
    assert low[50] > RAMP[0, 50, 0] and low[200] < RAMP[0, 200, 0]


def test_shadows_and_highlights_move_their_own_tones():
    lifted = _grey(Look(shadows=80)) - RAMP[0, :, 0]
    assert lifted[40:90].mean() > 0.03 and abs(lifted[230:]).max() < 0.02
    assert lifted[0] == 0
    dimmed = _grey(Look(highlights=-80)) - RAMP[0, :, 0]
    assert dimmed[170:220].mean() < -0.03 and abs(dimmed[:40]).max() < 0.02


def test_whites_and_blacks_move_the_end_points():
    assert _grey(Look(whites=60))[230] == pytest.approx(1.0)  # brighter whites clip earlier
    assert _grey(Look(blacks=60))[0] > 0.1  # lifted blacks
    assert _grey(Look(blacks=-60))[30] == 0.0


def test_curve_passes_through_its_points_monotone_and_without_overshoot():
    curve = ((0.25, 0.15), (0.5, 0.6), (0.8, 0.95))
    lut = tone_lut(0, 0, 0, 0, 0, curve)
    x = np.linspace(0, 1, lut.size)
    for px, py in curve:
        assert lut[int(round(px * (lut.size - 1)))] == pytest.approx(py, abs=2e-3)
    assert np.all(np.diff(lut) >= 0) and lut.max() <= 1 and lut.min() >= 0
    assert np.allclose(tone_lut(0, 0, 0, 0, 0, ((0.3, 0.3), (0.7, 0.7))), x, atol=1e-3)


def test_tones_keep_hue():
    colour = np.array([[[0.6, 0.3, 0.1]]], np.float32)
    out = apply_look(colour, check_look(Look(shadows=50, contrast=30)))[0, 0]
    assert out[0] / out[1] == pytest.approx(2.0, rel=0.02) and out[1] / out[2] == pytest.approx(3.0, rel=0.05)


def test_vibrance_favours_muted_colours():
    muted = np.array([[[0.5, 0.45, 0.4]]], np.float32)
    vivid = np.array([[[0.9, 0.2, 0.1]]], np.float32)
    spread = lambda a: float(a.max() - a.min())
    gain_muted = spread(apply_look(muted, Look(vibrance=80))) / spread(muted)
    gain_vivid = spread(apply_look(vivid, Look(vibrance=80))) / spread(vivid)
    assert gain_muted > 1.5 and gain_vivid < 1.3


def test_clarity_adds_local_contrast_without_halos():
    rng = np.random.default_rng(3)
    img = np.full((120, 160, 3), 0.3, np.float32)
    img[:, 80:] = 0.75  # a strong edge
    img[20:60, 10:60] += (rng.random((40, 50, 1)) * 0.1).astype(np.float32)  # fine texture
    out = apply_look(img, Look(clarity=100))
    tex_in, tex_out = img[20:60, 10:60, 0].std(), out[20:60, 10:60, 0].std()
    assert tex_out > 1.3 * tex_in  # more local contrast in the texture
    # next to the strong edge: no dark or bright rim (halo) beyond 0.02
    assert abs(out[90:110, 70:79, 0] - 0.3).max() < 0.02
    assert abs(out[90:110, 82:92, 0] - 0.75).max() < 0.02


@pytest.mark.parametrize("look", [Look(contrast=150), Look(clarity=float("nan")),
                                  Look(curve=((0.5, 1.2),)), Look(curve=((0.5, 0.5), (0.5, 0.6)))])
def test_bad_looks_are_refused(look):
    with pytest.raises(InputError):
        check_look(look)


def test_a_tall_image_gets_the_same_look_as_a_square_one():
    # OpenCV's remap refuses maps over 32767 px a side; a tall panorama must still render
    rng = np.random.default_rng(3)
    square = rng.random((200, 200, 3), dtype=np.float32)
    look = check_look(Look(contrast=40.0, shadows=30.0))
    want = apply_look(square, look)
    tall = apply_look(np.ascontiguousarray(square.reshape(40000, 1, 3)), look)
    np.testing.assert_array_equal(tall.reshape(200, 200, 3), want)


def test_lifted_blacks_add_grey_and_keep_dark_colours_muted():
    """Lifting the black level adds it as grey: a near-black pixel with a slight colour cast
    (sensor noise) keeps its small chroma instead of having it scaled up with its luma."""
    img = np.array([[[0.002, 0.0005, 0.0005], [0.0, 0.0, 0.0], [0.2, 0.1, 0.05]]], np.float32)
    out = apply_look(img, check_look(Look(blacks=40)))
    curve = tone_lut(0.0, 0.0, 0.0, 0.0, 40.0, ())
    lift = float(curve[0])
    assert lift > 0.05
    assert out[0, 1] == pytest.approx([lift] * 3, abs=1e-6)  # black becomes the lifted grey
    assert np.ptp(out[0, 0]) < 0.005  # chroma of the dark pixel stays tiny
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    for k in (0, 2):  # each pixel's luma follows the tone curve
        want = np.interp(float(img[0, k] @ weights), np.linspace(0, 1, curve.size), curve)
        assert float(out[0, k] @ weights) == pytest.approx(want, abs=2e-3)
