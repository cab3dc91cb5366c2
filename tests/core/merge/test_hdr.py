"""HDR merge: response recovery against a known camera, relative radiance, deghosting."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.merge import (
    merge_debevec,
    merge_linear,
    merge_robertson,
    merge_with_response,
    recover_response,
)
from app.core.types import ExposureStack
from tests import synthetic

RADIANCE_TOL = 0.02  # median relative error of radiance (after one global scale)
CURVE_TOL = 0.03  # max relative error of the inverse response over codes 10..240 (after scale);
# the last ~15 codes sit on the shoulder where every frame's weight is near 0 and the curve is
# only extrapolated: they barely enter the merge


@pytest.fixture(scope="module")
def scene():
    rad = synthetic.radiance_field(144, 192)
    return rad, synthetic.photograph(rad), synthetic.TIMES


def _true_inverse_curve():
    x = np.linspace(0, 1, 4096)
    return np.interp(np.arange(256) / 255.0, synthetic.camera_curve(x), x)


def _in_range(rad, times):
    """Pixels some frame sees well: not black in the brightest, not clipped in the darkest."""
    lum = rad.max(axis=2)
    return (lum * times[-1] > 0.02) & (lum * times[0] < 0.9)


def _median_rel_error(est, truth, mask):
    ratio = est[mask] / truth[mask]
    scale = np.median(ratio)
    return float(np.median(np.abs(ratio / scale - 1.0))), float(scale)


@pytest.mark.parametrize("method", ["debevec", "robertson"])
def test_response_recovered(scene, method):
    _, frames, times = scene
    g = recover_response(frames, times, method=method)
    assert g.shape == (256, 3) and g.dtype == np.float32
    assert np.all(np.diff(g, axis=0) >= 0), "inverse response must be monotonic"
    true = _true_inverse_curve()
    codes = np.arange(10, 241)
    for c in range(3):
        ratio = g[codes, c] / true[codes]
        assert np.abs(ratio / np.median(ratio) - 1).max() < CURVE_TOL


@pytest.mark.parametrize("method", ["debevec", "robertson"])
def test_relative_radiance_recovered(scene, method):
    rad, frames, times = scene
    g = recover_response(frames, times, method=method)
    out = merge_with_response(frames, times, g)
    assert out.dtype == np.float32 and out.min() >= 0
    err, scale = _median_rel_error(out, rad, _in_range(rad, times)[..., None].repeat(3, 2))
    assert err < RADIANCE_TOL, f"median relative error {err:.4f}"
    # normalisation: 1.0 = the reference frame's clipping exposure, i.e. radiance * t_ref
    assert scale == pytest.approx(times[len(times) // 2], rel=0.1)


def test_stack_entry_points_estimate_missing_exposures(scene):
    """Without exposure times the pair (response, exposures) is only known up to a power
    (g^k with t^k fits the frames as well), so radiance is checked up to scale and exponent:
    log radiance must be an almost exact affine function of the true log radiance."""
    rad, frames, times = scene
    mask = _in_range(rad, times)[..., None].repeat(3, 2)
    for fn in (merge_debevec, merge_robertson):
        out = fn(ExposureStack(tuple(frames)))  # no exposures: estimated from the pixels
        x, y = np.log(rad[mask]), np.log(out[mask])
        slope, icept = np.polyfit(x, y, 1)
        resid = y - (slope * x + icept)
        assert 0.7 < slope < 1.3
        assert np.median(np.abs(resid)) < 0.03


def test_linear_stack_merged_directly(scene):
    rad, _, times = scene
    frames = tuple(np.clip(rad * t, 0, 1).astype(np.float32) for t in times)
    out = merge_debevec(ExposureStack(frames, exposures=times, linear=True))
    mask = _in_range(rad, times)[..., None].repeat(3, 2)
    np.testing.assert_allclose(out[mask], (rad * times[2])[mask], rtol=1e-4)
    # pixels clipped in every frame come from the darkest frame (its clipped value, not 0)
    frames2 = tuple(np.ones((4, 4, 3), np.float32) for _ in times)
    sat = merge_linear(frames2, times)
    assert np.allclose(sat, times[2] / times[0])


def _ghost_bracket(scene):
    rad, frames, times = scene
    frames = [f.copy() for f in frames]
    # a bright object (e.g. a passer-by in a white shirt) present in the second frame only,
    # in a region the reference frame (index 2) exposes well
    ys, xs = slice(50, 80), slice(60, 90)
    ref_level = frames[2][ys, xs].max()
    assert 0.05 < frames[2][ys, xs].min() and ref_level < 0.95
    frames[1][ys, xs] = 0.98
    return rad, frames, times, (ys, xs)


def test_deghost_removes_moving_object(scene):
    rad, frames, times, (ys, xs) = _ghost_bracket(scene)
    g = recover_response(scene[1], times)  # response from the clean bracket: test the merge only
    truth = merge_with_response(scene[1], times, g)  # what the scene merges to without the object
    plain = merge_with_response(frames, times, g)
    clean = merge_with_response(frames, times, g, deghost=True)
    plain_err = np.median(np.abs(plain[ys, xs] / truth[ys, xs] - 1))
    clean_err = np.median(np.abs(clean[ys, xs] / truth[ys, xs] - 1))
    assert plain_err > 0.3, "the plain merge should show the ghost"
    assert clean_err < 0.02, f"deghosted error {clean_err:.3f}"
    # away from the object, deghosting changes nothing much
    far = (slice(100, 140), slice(10, 50))
    np.testing.assert_allclose(clean[far], plain[far], rtol=0.02)


def test_deghost_end_to_end_with_recovery(scene):
    rad, frames, times, (ys, xs) = _ghost_bracket(scene)
    out = merge_debevec(ExposureStack(tuple(frames), exposures=times), deghost=True)
    plain = merge_debevec(ExposureStack(tuple(frames), exposures=times))
    # up to the global scale (response pinned at sRGB mid-grey), fitted away from the object
    far = (slice(100, 140), slice(10, 50))
    scale = np.median(out[far] / rad[far])
    assert np.median(np.abs(out[ys, xs] / (rad[ys, xs] * scale) - 1)) < 0.05
    assert np.median(np.abs(plain[ys, xs] / (rad[ys, xs] * scale) - 1)) > 0.3


def test_bad_input(scene):
    _, frames, times = scene
    with pytest.raises(InputError):
        recover_response(frames[:1], times[:1])
    with pytest.raises(InputError):
        recover_response(frames, times[:2])
    with pytest.raises(InputError):
        recover_response(frames, times, method="magic")
    with pytest.raises(InputError):
        merge_with_response(frames, times, np.ones((10, 3)))


def test_strip_parallel_merge_equals_one_piece(monkeypatch):
    """The merge runs on row strips in threads; every pixel is merged on its own, so the
    result is the same as in one piece, pixel for pixel (clipped and black areas included)."""
    import app.core.merge.hdr as hdr

    rad = synthetic.radiance_field(300, 160)
    frames = synthetic.photograph(rad, synthetic.TIMES[:3])
    frames[0][140:170, 40:90] = 0.9  # a moving object right on a strip boundary (row 150)
    g = recover_response(frames, synthetic.TIMES[:3])
    monkeypatch.setattr(hdr, "_STRIP_PIXELS", 12_000)  # 4 strips of 75 rows
    strips = merge_with_response(frames, synthetic.TIMES[:3], g)
    strips_ghost = merge_with_response(frames, synthetic.TIMES[:3], g, deghost=True)
    monkeypatch.setattr(hdr, "_STRIP_PIXELS", 10**9)
    whole = merge_with_response(frames, synthetic.TIMES[:3], g)
    whole_ghost = merge_with_response(frames, synthetic.TIMES[:3], g, deghost=True)
    np.testing.assert_array_equal(strips, whole)
    np.testing.assert_array_equal(strips_ghost, whole_ghost)
    assert not np.array_equal(strips_ghost, strips)  # the ghost was found


def test_eight_bit_fast_path_only_for_eight_bit_frames(monkeypatch):
    """8-bit frames go through OpenCV lookup tables; 16-bit ones (and frames with no mid-tones
    to tell by) through the exact quarter-code table, with the same answer on 8-bit values."""
    import app.core.merge.hdr as hdr
    from app.core.merge.hdr import _apply_curve, eight_bit_codes

    rng = np.random.default_rng(0)
    eight = (rng.integers(0, 256, (64, 80, 3)) / 255).astype(np.float32)
    sixteen = (rng.integers(0, 65536, (64, 80, 3)) / 65535).astype(np.float32)
    assert eight_bit_codes(eight) is not None
    assert eight_bit_codes(sixteen) is None
    assert eight_bit_codes(np.zeros((64, 80, 3), np.float32)) is None
    g = recover_response(synthetic.photograph(synthetic.radiance_field()), synthetic.TIMES)
    fast = _apply_curve(eight, g)
    monkeypatch.setattr(hdr, "eight_bit_codes", lambda frame: None)  # force the general path
    slow = _apply_curve(eight, g)
    np.testing.assert_allclose(fast, slow, rtol=1e-6)


def _clipped_sky_bracket():
    """A bright patch the reference frame (index 2) clips and the darker frames record, and a
    dark object inside it in the two darker frames only (it left before the reference)."""
    rad = synthetic.radiance_field(144, 192)
    rad[40:104, 60:140] = 6.0  # x 1/4 = 1.5: clipped in the reference, 0.375 and 0.09 below
    clean = synthetic.photograph(rad)
    with_object = rad.copy()
    with_object[60:84, 80:120] = 0.5
    early = synthetic.photograph(with_object)
    return clean, [early[0], early[1], clean[2], clean[3]], synthetic.TIMES


def test_a_ghost_the_test_misses_where_the_reference_clips_is_kept_within_the_reference(
    monkeypatch,
):
    """The ghost test discounts the codes the reference clips, so it can miss an object that
    moved there (here it is made to miss it: every frame agrees); the ghost-aware merge then
    keeps the result within what the reference recorded, at least near its clipping level,
    instead of merging the object in as a dark ghost. Where nothing moved nothing changes, and
    a merge that does not deghost is left as it is."""
    from app.core.merge import hdr
    from app.core.merge.hdr import REFERENCE_BOUND_CODE

    def nothing_found(levels, ref, deghost, keep_reference, report=None):
        h, w = levels[0].shape[:2]
        return [None if k == ref else np.ones((h, w), np.float32) for k in range(len(levels))]

    clean, frames, times = _clipped_sky_bracket()
    g = recover_response(clean, times)
    low = g[REFERENCE_BOUND_CODE]
    monkeypatch.setattr(hdr, "_consistency", nothing_found)
    loose = merge_with_response(frames, times, g, deghost=True, within_reference=False)
    kept = merge_with_response(frames, times, g, deghost=True)
    truth = merge_with_response(clean, times, g, deghost=True)
    obj = (slice(64, 80), slice(84, 116))
    assert loose[obj].max(axis=2).min() < 0.5 * low.min()  # the ghost the bound is for
    assert (kept[obj] >= low - 1e-6).all()
    assert np.median(np.abs(kept[obj] / truth[obj] - 1)) < np.median(
        np.abs(loose[obj] / truth[obj] - 1)) / 2
    outside = np.ones(kept.shape[:2], bool)
    outside[60:84, 80:120] = False
    np.testing.assert_array_equal(kept[outside], loose[outside])
    monkeypatch.undo()
    plain = merge_with_response(frames, times, g)  # no deghosting: no reference to keep to
    assert plain[obj].max(axis=2).min() < 0.5 * low.min()


def test_keep_within_reference_raises_only_values_below_a_clipped_reference():
    from app.core.merge.hdr import REFERENCE_BOUND_CODE, keep_within_reference

    g = np.repeat(np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None], 3, axis=1)
    ref = np.full((4, 4, 3), 0.5, np.float32)
    ref[0] = 1.0  # clipped: truth at least about the clipping level
    ref[3] = 0.0  # black: left alone (a JPEG toe crushes codes the truth lies above)
    ref[2, 0, 1] = 1.0  # one clipped channel of one pixel
    rad = np.full((4, 4, 3), 0.5, np.float32)
    rad[0, :2] = 0.2  # contradicts the clipping
    rad[0, 2:] = 3.0  # consistent with it
    rad[3] = 0.4
    rad[2, 0] = 0.1
    before = rad.copy()
    keep_within_reference(rad, ref, g)
    bound = g[REFERENCE_BOUND_CODE, 0]
    np.testing.assert_allclose(rad[0, :2], bound)
    np.testing.assert_array_equal(rad[0, 2:], before[0, 2:])
    np.testing.assert_array_equal(rad[3], before[3])
    np.testing.assert_allclose(rad[2, 0], [0.1, bound, 0.1])  # per channel
    np.testing.assert_array_equal(rad[1], before[1])  # well exposed: no bound
