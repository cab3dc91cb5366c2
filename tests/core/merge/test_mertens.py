"""Mertens fusion: equals a plain all-pyramids implementation and OpenCV's, bounded, validated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import Cancelled, InputError
from app.core.merge import fuse_mertens
from app.core.merge import mertens as mertens_mod
from app.core.progress import TaskContext
from tests import synthetic
from tests.core.align.textures import textured_radiance

TIMES = (1 / 8, 1 / 2, 2.0)


def _reference_mertens(frames, wc=1.0, ws=1.0, we=1.0, sigma=0.2):
    """Textbook Mertens: all weight maps, all pyramids held at once (float64 weights)."""
    weights, imgs = [], []
    for f in frames:
        f = f.astype(np.float32)
        c = np.abs(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).astype(np.float64)
        s = f.astype(np.float64).std(axis=2)
        e = np.prod(np.exp(-((f.astype(np.float64) - 0.5) ** 2) / (2 * sigma**2)), axis=2)
        weights.append(c**wc * s**ws * e**we + 1e-12)
        imgs.append(f)
    total = sum(weights)
    levels = int(np.log(min(frames[0].shape[:2])) / np.log(2))
    result = None
    for f, w in zip(imgs, weights):
        gp, wp = [f], [(w / total).astype(np.float32)]
        for _ in range(levels):
            gp.append(cv2.pyrDown(gp[-1]))
            wp.append(cv2.pyrDown(wp[-1]))
        lp = [gp[i] - cv2.pyrUp(gp[i + 1], dstsize=gp[i].shape[1::-1]) for i in range(levels)]
        lp.append(gp[-1])
        blended = [lp[i] * wp[i][..., None] for i in range(levels + 1)]
        result = blended if result is None else [a + b for a, b in zip(result, blended)]
    acc = result[-1]
    for i in range(levels - 1, -1, -1):
        acc = cv2.pyrUp(acc, dstsize=result[i].shape[1::-1]) + result[i]
    return np.clip(acc, 0, 1)


@pytest.fixture(scope="module")
def bracket():
    # odd height and width: exercises the pyramid's odd sizes and the last, shorter strip
    rad = textured_radiance(h=203, w=157)
    return synthetic.photograph(rad, TIMES)


def test_matches_plain_implementation_across_strips(bracket, monkeypatch):
    monkeypatch.setattr(mertens_mod, "STRIP_ROWS", 16)  # 13 strips: seams would show
    monkeypatch.setattr(mertens_mod, "BLEND_ROWS", 10)
    ours = fuse_mertens(bracket)
    ref = _reference_mertens(bracket)
    assert ours.dtype == np.float32 and ours.shape == bracket[0].shape
    diff = np.abs(ours - ref)
    assert diff.mean() < 1e-3 and np.percentile(diff, 99.9) < 1e-2


def test_strip_height_does_not_change_result(bracket, monkeypatch):
    a = fuse_mertens(bracket)
    monkeypatch.setattr(mertens_mod, "STRIP_ROWS", 8)
    monkeypatch.setattr(mertens_mod, "BLEND_ROWS", 6)
    b = fuse_mertens(bracket)
    assert np.abs(a - b).max() < 1e-5


def test_matches_opencv_with_same_weights(bracket):
    # OpenCV's grey is RGB2GRAY on BGR data: feed both BGR so the weights are the same.
    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in bracket]
    cv = cv2.createMergeMertens(1.0, 1.0, 1.0).process([np.round(f * 255).astype(np.uint8) for f in bgr])
    ours = fuse_mertens([np.round(f * 255).astype(np.uint8) for f in bgr])
    assert np.abs(ours - np.clip(cv, 0, 1)).mean() < 2e-3


def test_uint8_float_and_parameters(bracket):
    as8 = [np.round(f * 255).astype(np.uint8) for f in bracket]
    a, b = fuse_mertens(as8), fuse_mertens(bracket)
    assert np.abs(a - b).mean() < 1e-4
    assert 0.0 <= a.min() and a.max() <= 1.0
    # exposedness only, very narrow: the frame closest to mid-grey dominates each pixel
    c = fuse_mertens(bracket, contrast=0, saturation=0, exposedness=1, sigma=0.05)
    assert not np.allclose(c, b, atol=1e-2)


def test_does_not_modify_inputs(bracket):
    copies = [f.copy() for f in bracket]
    fuse_mertens(bracket)
    assert all(np.array_equal(a, b) for a, b in zip(copies, bracket))


def test_well_exposed_frame_wins_over_clipped_one():
    rng = np.random.default_rng(0)
    good = (0.3 + 0.4 * rng.random((64, 64, 3))).astype(np.float32)
    white = np.ones_like(good)
    out = fuse_mertens([good, white])
    assert np.abs(out - good).mean() < 0.02


def test_bad_input():
    f = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(InputError, match="at least 2"):
        fuse_mertens([f])
    with pytest.raises(InputError, match="frame 1"):
        fuse_mertens([f, np.zeros((9, 8, 3), np.float32)])
    with pytest.raises(InputError, match="sigma"):
        fuse_mertens([f, f], sigma=0)


def test_cancel(bracket):
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        fuse_mertens(bracket, ctx=ctx)


def test_progress_reported(bracket):
    seen = []
    fuse_mertens(bracket, ctx=TaskContext(lambda f, m: seen.append(f)))
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))


def test_weighting_in_row_spans_changes_nothing(monkeypatch):
    """Level products are made a few rows at a time (no full-size 3-channel weight copy at the
    command's peak): the fused image is the same bit for bit as in one span."""
    from app.core.merge import mertens

    rng = np.random.default_rng(4)
    frames = [np.clip(rng.random((97, 131, 3), dtype=np.float32) * s, 0, 1)
              for s in (0.5, 1.0, 1.8)]
    monkeypatch.setattr(mertens, "_WEIGHT_ROWS_PIXELS", 1 << 40)
    whole = mertens.fuse_mertens(frames, bits=8)
    monkeypatch.setattr(mertens, "_WEIGHT_ROWS_PIXELS", 300)  # two or three rows per span
    np.testing.assert_array_equal(mertens.fuse_mertens(frames, bits=8), whole)
