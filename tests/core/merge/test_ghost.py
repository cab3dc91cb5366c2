"""Ghost test and deghosted exposure fusion: hand-computed intervals, static brackets untouched,
moving objects found and kept from the reference frame, the painted mask, through ``run()``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import InputError
from app.core.merge.ghost import MOTION_SHARE_AUTO, code_intervals, fit_mask, ghost_maps
from app.core.types import ExposureStack
from app.models.runner import run
from tests.core.align.textures import textured_radiance
from tests.synthetic import photograph

TIMES = (1 / 8, 1 / 2, 2.0)
BOX = 48  # side of the moving object (pixels)
SPOTS = ((60, 60), (60, 200), (60, 340))  # its top-left corner in frames 0, 1, 2


_CHECKS = (np.indices((BOX, BOX)) // 8).sum(axis=0) % 2 == 0
# a red-and-black chequered object: high contrast, so exposure fusion weights it strongly
OBJECT = np.where(_CHECKS[..., None], np.float32([0.5, 0.06, 0.04]), np.float32(0.01))


def _scene(spots=SPOTS, seed=3):
    """A textured scene photographed at TIMES with the object at spots[k] in frame k."""
    base = textured_radiance(seed)
    frames = []
    for t, (y, x) in zip(TIMES, spots):
        rad = base.copy()
        rad[y:y + BOX, x:x + BOX] = OBJECT
        frames.append(photograph(rad, (t,))[0])
    return frames


def test_code_intervals_hand_case():
    src = np.array([0, 0, 1, 1], np.uint8)
    dst = np.array([10, 20, 30, 40], np.uint8)
    lo, hi = code_intervals(src, dst)
    assert (lo[0], hi[0]) == (10, 20) and (lo[1], hi[1]) == (30, 40)
    # an unused code is the point between its neighbours' runs: monotone tables
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0)


def test_clipped_code_stands_for_everything_above():
    """A bright frame clipped at 255 over the top half: its 255 maps to the whole upper range of
    the reference, so clipping is never motion."""
    ref = np.concatenate([np.linspace(0, 100, 50), np.linspace(120, 250, 50)]).astype(np.uint8)
    bright = np.minimum(ref.astype(int) * 3, 255).astype(np.uint8)
    lo, hi = code_intervals(bright, ref)
    assert lo[255] <= 90 and hi[255] == 250


def test_static_bracket_has_no_ghosts():
    frames = _scene(spots=(SPOTS[1],) * 3)
    maps = ghost_maps(frames, 1)
    assert maps.motion_share < MOTION_SHARE_AUTO
    assert min(float(w.min()) for w in maps.weights) > 0.9


def test_moving_object_is_found_where_it_is_and_where_it_was():
    frames = _scene()
    maps = ghost_maps(frames, 1)
    assert maps.motion_share > 0.02
    inside = lambda m, yx: float(m[yx[0] + 8:yx[0] + BOX - 8, yx[1] + 8:yx[1] + BOX - 8].mean())
    w0, w2 = maps.weights[0], maps.weights[2]
    assert inside(w0, SPOTS[0]) < 0.05 and inside(w0, SPOTS[1]) < 0.15  # frame 0 vs reference
    assert inside(w2, SPOTS[2]) < 0.05 and inside(w2, SPOTS[1]) < 0.15
    assert inside(w0, SPOTS[2]) > 0.95  # frame 0 agrees where only frame 2 had the object
    assert float(maps.weights[1].min()) == 1.0  # the reference itself is never down-weighted


def test_mask_applies_and_is_not_counted_as_motion():
    frames = _scene(spots=(SPOTS[1],) * 3)
    mask = np.zeros((90, 120), np.float32)  # a quarter-size mask: scaled to the frames
    mask[:45, :60] = 1.0
    maps = ghost_maps(frames, 1, keep_reference=mask)
    assert maps.motion_share < MOTION_SHARE_AUTO
    assert float(maps.weights[0][20:150, 20:200].max()) < 0.01
    assert float(maps.weights[0][250:, 300:].min()) > 0.9
    with pytest.raises(InputError, match="shape"):
        fit_mask(np.zeros((100, 100), np.float32), 360, 480)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        fit_mask(np.full((36, 48), 2.0, np.float32), 360, 480)


def _checker_contrast(image, yx):
    """How much of the chequered object shows in the box at yx: mean of the red squares minus
    mean of the black ones (0 = no trace of it; the background texture does not correlate)."""
    y, x = yx
    box = image[y:y + BOX, x:x + BOX].mean(axis=2)
    return float(box[_CHECKS].mean() - box[~_CHECKS].mean())


def test_deghosted_mertens_keeps_one_object_from_the_reference():
    """Through run(): 'auto' finds the motion and shows the object once, as the reference
    frame shows it; 'off' shows a ghost where the bright frame had it."""
    frames = _scene()
    stack = ExposureStack(frames=tuple(frames), exposures=TIMES)
    auto = run(stack, "mertens", {"deghost": "auto"})
    off = run(stack, "mertens", {"deghost": "off"}).image
    assert auto.provenance.decisions["deghost"] == "on"
    assert any("motion found" in m for m in auto.messages)
    assert _checker_contrast(off, SPOTS[2]) > 0.06  # the ghost
    assert abs(_checker_contrast(auto.image, SPOTS[2])) < 0.01
    assert abs(_checker_contrast(auto.image, SPOTS[0])) < 0.01
    kept, in_reference = _checker_contrast(auto.image, SPOTS[1]), _checker_contrast(frames[1], SPOTS[1])
    assert kept > 0.8 * in_reference > 0.15 and kept > 3 * _checker_contrast(off, SPOTS[1])


def test_reference_choice_decides_which_object_stays():
    frames = _scene()
    stack = ExposureStack(frames=tuple(frames), exposures=TIMES)
    res = run(stack, "mertens", {"deghost": "on"}, reference=2)
    assert res.provenance.params["reference"] == 3
    assert _checker_contrast(res.image, SPOTS[2]) > 0.9 * _checker_contrast(frames[2], SPOTS[2])
    assert abs(_checker_contrast(res.image, SPOTS[1])) < 0.02
    with pytest.raises(InputError, match="does not exist"):
        run(stack, "mertens", {}, reference=3)


@pytest.mark.parametrize("method", ["mertens", "debevec", "robertson"])
def test_static_bracket_result_unchanged_by_auto(method):
    """Nothing moves: auto (the default) changes no pixel and says nothing about motion (the
    decision is in the provenance)."""
    stack = ExposureStack(frames=tuple(_scene(spots=(SPOTS[1],) * 3)), exposures=TIMES)
    auto = run(stack, method)
    off = run(stack, method, {"deghost": "off"})
    assert auto.provenance.decisions["deghost"] == "off"
    assert not any("motion" in m for m in auto.notes.get("messages", [])), auto.notes
    np.testing.assert_array_equal(auto.image, off.image)


def test_painted_mask_takes_the_reference_there_only():
    stack = ExposureStack(frames=tuple(_scene()), exposures=TIMES)
    mask = np.zeros((360, 480), np.float32)
    y, x = SPOTS[2]
    mask[y - 10:y + BOX + 10, x - 10:x + BOX + 10] = 1.0
    res = run(stack, "mertens", {"deghost": "off"}, reference_mask=mask)
    off = run(stack, "mertens", {"deghost": "off"}).image
    assert abs(_checker_contrast(res.image, SPOTS[2])) < 0.01 < _checker_contrast(off, SPOTS[2])
    # away from the mask only the pyramid's coarsest levels differ: under 2/255
    np.testing.assert_allclose(res.image[200:, :200], off[200:, :200], atol=2 / 255)
    assert float(res.provenance.params["reference_mask"]) > 0.01


def test_strokes_paint_and_erase_at_any_size():
    from app.core.merge.ghost import rasterize_strokes

    strokes = [(0.05, [(0.2, 0.5), (0.8, 0.5)], False), (0.02, [(0.5, 0.5)], True)]
    small, big = rasterize_strokes(strokes, 100, 200), rasterize_strokes(strokes, 400, 800)
    assert small[50, 60] == 1.0 and small[50, 100] == 0.0 and small[10, 60] == 0.0
    assert big[200, 240] == 1.0 and big[200, 400] == 0.0
    assert abs(float(small.mean()) - float(big.mean())) < 0.01  # same share at both sizes
    with pytest.raises(InputError, match="radius"):
        rasterize_strokes([(0.0, [(0.5, 0.5)], False)], 10, 10)


def test_run_returns_the_ghost_map_of_the_frames_it_merged():
    stack = ExposureStack(frames=tuple(_scene()), exposures=TIMES)
    res = run(stack, "debevec", {}, ghost_map=True)
    ghost = res.notes["ghost_map"]
    assert ghost.shape == (360, 480) and res.notes["motion_share"] > 0.02
    y, x = SPOTS[2]
    assert float(ghost[y + 8:y + BOX - 8, x + 8:x + BOX - 8].mean()) > 0.95
    assert float(ghost[250:, :200].mean()) < 0.01


def test_hdr_merges_deghost_and_honour_the_mask():
    """debevec: deghost removes the bright frame's object, the painted mask does it where
    painted only; no pixel of the deghosted merge goes black (the rejected weight goes to the
    reference, it is not dropped). The default ("auto") finds the motion, deghosts and says so;
    the old bool switch still reads as on / off."""
    stack = ExposureStack(frames=tuple(_scene()), exposures=TIMES)
    plain = run(stack, "debevec", {"deghost": "off"}).image
    clean = run(stack, "debevec", {"deghost": "on"}).image
    rel = lambda img, yx: _checker_contrast(img / img.mean(), yx)  # noqa: E731
    assert rel(plain, SPOTS[2]) > 0.1 and abs(rel(clean, SPOTS[2])) < 0.03
    assert float(clean.min()) > 0.0
    default = run(stack, "debevec")
    assert np.array_equal(default.image, clean)
    assert default.notes["decisions"]["deghost"] == "on" and default.notes["motion_share"] > 0.02
    assert any(m.startswith("motion found in") and "deghosted" in m
               for m in default.notes["messages"])
    assert np.array_equal(run(stack, "debevec", {"deghost": True}).image, clean)
    assert np.array_equal(run(stack, "debevec", {"deghost": False}).image, plain)
    mask = np.zeros((360, 480), np.float32)
    y, x = SPOTS[2]
    mask[y - 10:y + BOX + 10, x - 10:x + BOX + 10] = 1.0
    painted = run(stack, "debevec", {"deghost": "off"}, reference_mask=mask).image
    assert abs(rel(painted, SPOTS[2])) < 0.03 and rel(painted, SPOTS[0]) == pytest.approx(
        rel(plain, SPOTS[0]), abs=1e-3)


@pytest.mark.parametrize("small, size", [((10, 13), (100, 130)), ((7, 5), (23, 17)),
                                         ((64, 48), (1009, 777)), ((20, 30), (10, 15))])
def test_resized_rows_equal_the_whole_resize(small, size):
    from app.core.merge.ghost import ResizedRows

    m = np.random.default_rng(0).random(small).astype(np.float32) * 1.2 - 0.1
    h, w = size
    whole = np.clip(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    rows = ResizedRows(m, h, w)
    assert rows.shape == (h, w)
    spans = np.concatenate([rows[a : min(a + 7, h)] for a in range(0, h, 7)])
    assert spans.dtype == np.float32 and spans.shape == (h, w)
    assert np.abs(spans - whole).max() < 2e-6
    assert rows[h - 3 :].shape == (3, w) and rows[5:5].shape == (0, w)
    with pytest.raises(IndexError):
        rows[::2]
