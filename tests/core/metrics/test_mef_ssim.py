"""MEF-SSIM: against a direct per-patch implementation, self-made sanity cases and the published
MEFB scores (reference MATLAB code) for FMMEF's fused images."""

from __future__ import annotations

import csv
import importlib

import cv2
import numpy as np
import pytest

from app.core.errors import InputError
from app.core.metrics import mef_ssim, mef_ssim_many, mef_ssim_scales
from app.core.metrics.mef_ssim import _single_scale, to_grey255

mef_module = importlib.import_module("app.core.metrics.mef_ssim")


def _scene(h: int = 96, w: int = 112, seed: int = 1) -> np.ndarray:
    """Linear radiance with texture and 8 EV of range, float64 HxWx3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.exp2(-6 + 8 * xx / (w - 1)) * (1 + 0.4 * np.sin(xx / 2.5) * np.cos(yy / 3.0))
    noise = cv2.GaussianBlur(rng.random((h, w)), (0, 0), 1.0)
    rad = base * (0.8 + 0.4 * noise)
    return np.repeat(rad[..., None], 3, axis=2) * np.array([1.0, 0.9, 0.8])


def _expose(rad: np.ndarray, t: float) -> np.ndarray:
    return np.round(np.clip(rad * t, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pair():
    rad = _scene()
    return [_expose(rad, 0.5), _expose(rad, 8.0)]


def _direct_single_scale(seq: np.ndarray, fused: np.ndarray) -> float:
    """The published algorithm written patch by patch (slow, obviously-correct reading)."""
    k, h, w = seq.shape
    b = 5
    yy, xx = np.mgrid[-b : b + 1, -b : b + 1]
    g = np.exp(-(xx**2 + yy**2) / (2 * 1.5**2))
    g /= g.sum()
    eps = np.finfo(float).eps
    q = []
    for i in range(b, h - b):
        for j in range(b, w - b):
            patches = seq[:, i - b : i + b + 1, j - b : j + b + 1].reshape(k, -1)
            mus = patches.mean(axis=1, keepdims=True)
            dev = patches - mus
            norms = np.linalg.norm(dev, axis=1)
            ed = norms + 0.001
            s = patches.sum(axis=0)
            r = (np.linalg.norm(s - s.mean()) + eps) / (norms.sum() + eps)
            r = min(max(r, eps), 1 - eps) if (r > 1 or r < 0) else r
            p = min(np.tan(np.pi / 2 * r), 10.0)
            wts = (ed / 11) ** p + eps
            wts /= wts.sum()
            desired = (wts[:, None] * dev / ed[:, None]).sum(axis=0)
            nrm = np.linalg.norm(desired)
            if nrm > 0:
                desired = desired / nrm * ed.max()
            f = fused[i - b : i + b + 1, j - b : j + b + 1].ravel()
            gv = g.ravel()
            m1, m2 = (gv * desired).sum(), (gv * f).sum()
            s1 = (gv * (desired - m1) ** 2).sum()
            s2 = (gv * (f - m2) ** 2).sum()
            s12 = (gv * (desired - m1) * (f - m2)).sum()
            c = (0.03 * 255) ** 2
            q.append((2 * s12 + c) / (s1 + s2 + c))
    return float(np.mean(q))


def test_vectorised_equals_direct_per_patch_reading():
    rng = np.random.default_rng(3)
    a = np.round(rng.random((26, 30)) * 120)
    bright = np.clip(a * 2.0 + 30, 0, 255)
    bright[:8, :10] = 255.0  # saturated corner: a flat input patch next to a textured one
    seq = np.stack([a, bright])
    fused = np.round(0.5 * a + 0.5 * bright + rng.normal(0, 4, a.shape))
    assert _single_scale(seq, fused) == pytest.approx(_direct_single_scale(seq, fused), abs=1e-9)
    # Three exposures: the cross terms of the vectorised form over every pair.
    seq3 = np.stack([a, np.clip(a * 1.4 + 10, 0, 255), bright])
    assert _single_scale(seq3, fused) == pytest.approx(_direct_single_scale(seq3, fused), abs=1e-9)


def test_identical_inputs_and_fused_score_one(pair):
    assert mef_ssim([pair[0], pair[0]], pair[0]) == pytest.approx(1.0, abs=1e-6)


def test_better_input_scores_below_one(pair):
    scores = [mef_ssim(pair, x) for x in pair]
    assert all(0.5 < s < 0.999 for s in scores)


def test_blurred_fusion_scores_lower(pair):
    fused = np.round((pair[0].astype(float) + pair[1]) / 2).astype(np.uint8)
    blurred = cv2.GaussianBlur(fused, (0, 0), 2.0)
    sharp_q, blur_q = mef_ssim(pair, fused), mef_ssim(pair, blurred)
    assert blur_q < sharp_q - 0.02


def test_many_candidates_score_as_one_call_each(pair):
    fused = np.round((pair[0].astype(float) + pair[1]) / 2).astype(np.uint8)
    candidates = [fused, cv2.GaussianBlur(fused, (0, 0), 2.0), pair[0], pair[1]]
    assert mef_ssim_many(pair, candidates) == [mef_ssim(pair, c) for c in candidates]
    with pytest.raises(InputError, match="fused image"):
        mef_ssim_many(pair, [fused[:-2]])


def test_float_input_is_scaled_like_uint8(pair):
    fused = np.round((pair[0].astype(float) + pair[1]) / 2).astype(np.uint8)
    q8 = mef_ssim(pair, fused)
    qf = mef_ssim([p.astype(np.float32) / 255 for p in pair], fused.astype(np.float32) / 255)
    assert qf == pytest.approx(q8, abs=5e-3)  # differs only by rgb2gray rounding


def test_matlab_grey_rounding():
    px = np.array([[[10, 20, 30], [255, 0, 0], [255, 255, 255]]], np.uint8)
    # 0.2989*10 + 0.5870*20 + 0.1140*30 = 18.15 -> 18; 0.2989*255 = 76.2 -> 76; white stays 255
    assert to_grey255(px).tolist() == [[18.0, 76.0, 255.0]]


def test_scale_weights_and_combination(pair):
    fused = np.round((pair[0].astype(float) + pair[1]) / 2).astype(np.uint8)
    scales = np.array(mef_ssim_scales(pair, fused))
    w = np.array([0.0448, 0.2856, 0.3001])
    assert mef_ssim(pair, fused) == pytest.approx(np.prod(scales ** (w / w.sum())), rel=1e-12)


def test_bad_inputs_raise(pair):
    with pytest.raises(InputError, match="fused image"):
        mef_ssim(pair, pair[0][:-2])
    with pytest.raises(InputError, match="too small"):
        mef_ssim([p[:40, :40] for p in pair], pair[0][:40, :40])


def _read_rgb(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def test_matches_published_mefb_scores(shared_data):
    """A deterministic subset of 20 of the 88 rows (all rows: python -m app.bench.mef_ssim_check)."""
    rows = list(csv.DictReader(open(shared_data / "mefb-fused" / "FMMEF_mef_ssim_published.csv")))
    assert len(rows) >= 80
    subset = rows[::4][:20]
    errors = []
    for r in subset:
        a, b, f = (_read_rgb(shared_data / r[k]) for k in ("input_A", "input_B", "fused"))
        errors.append(abs(mef_ssim([a, b], f) - float(r["mef_ssim_published"])))
    assert max(errors) < 1e-5, f"max error {max(errors):.2e}"


def test_module_constants_match_reference():
    assert mef_module.C_SSIM == pytest.approx((0.03 * 255) ** 2)
    assert mef_module.SCALE_WEIGHTS.sum() == pytest.approx(1.0)
    assert mef_module._GREY == pytest.approx([0.2989, 0.5870, 0.1140], abs=1e-4)
