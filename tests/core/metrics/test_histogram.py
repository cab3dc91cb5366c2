"""Luminance histogram: log2 luminance for HDR, luma for LDR, clip shares."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.metrics import luminance_histogram
from app.core.types import ResultKind


def test_ldr_luma_histogram_counts_and_clip_shares():
    img = np.zeros((10, 10, 3), np.float32)
    img[:2] = 1.0  # 20 % white
    img[2:5] = 0.6  # 30 % light grey, 50 % black
    img[5, 0] = (1.0, 0.2, 0.2)  # one pixel with a clipped channel but luma < 1
    edges, counts, low, high = luminance_histogram(img, ResultKind.LDR_FUSED, bins=4)
    assert edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert counts.sum() == 100
    assert counts[-1] == 20 and counts[2] == 30
    assert low == pytest.approx(0.49) and high == pytest.approx(0.21)


def test_hdr_log2_histogram_range_and_shares():
    lum = np.exp2(np.linspace(-8, 4, 200 * 50)).reshape(200, 50).astype(np.float32)
    img = np.repeat(lum[..., None], 3, axis=2)
    img[0, :10] = 0.0  # no signal
    edges, counts, low, high = luminance_histogram(img, "hdr_linear", bins=64)
    assert edges[0] == pytest.approx(-8, abs=0.05) and edges[-1] == pytest.approx(4, abs=0.05)
    assert counts.sum() == img.shape[0] * img.shape[1] - 10  # outliers land in end bins
    assert low == pytest.approx(10 / 10000)
    assert high == pytest.approx(np.mean(lum >= 1.0), abs=1e-3)  # 4 of 12 stops above 1.0
    # Even spacing in log2: the flat log ramp fills the inner bins evenly.
    inner = counts[2:-2]
    assert inner.max() - inner.min() <= 0.05 * inner.mean() + 2


def test_hdr_shares_from_display_image():
    img = np.full((4, 4, 3), 5.0, np.float32)
    disp = np.full((4, 4, 3), 0.5, np.float32)
    disp[0, 0] = 1.0
    _, _, low, high = luminance_histogram(img, ResultKind.HDR_LINEAR, display=disp)
    assert (low, high) == (0.0, 1 / 16)


def test_uniform_and_black_hdr():
    edges, counts, low, high = luminance_histogram(np.ones((3, 3, 3), np.float32), "hdr_linear")
    assert counts.sum() == 9 and edges[0] < 0 < edges[-1]
    _, counts, low, _ = luminance_histogram(np.zeros((3, 3, 3), np.float32), "hdr_linear")
    assert counts.sum() == 0 and low == 1.0


def test_bad_shape_raises():
    with pytest.raises(InputError, match="HxWx3"):
        luminance_histogram(np.zeros((3, 3)), "ldr_fused")


def test_uint8_display_image_is_scaled():
    img = np.zeros((4, 4, 3), np.uint8)
    img[0] = 255
    edges, counts, low, high = luminance_histogram(img, "ldr_fused", bins=2)
    assert counts.tolist() == [12, 4] and (low, high) == (0.75, 0.25)
