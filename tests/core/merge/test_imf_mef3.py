"""The IMF virtual middle exposure and the spec's three-input fusion (MEF3) on hand-computed cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import InputError
from app.core.merge.imf import mapping_function, virtual_middle
from app.core.merge.mef3 import fuse_mef3, gradient_guided_filter, levels, weights


def test_mapping_function_matches_cumulative_histograms():
    src = np.array([0, 0, 1, 1], np.uint8)
    dst = np.array([10, 10, 20, 20], np.uint8)
    m = mapping_function(src, dst)
    # H_src(0) = 2 = H_dst(10..19): the lowest such code; H_src(1) = 4 = H_dst(20..255)
    assert m[0] == 10 and m[1] == 20 and m[255] == 20
    assert np.all(np.diff(m.astype(int)) >= 0)  # monotone


def test_virtual_middle_is_the_geometric_mean_on_flat_frames():
    under = np.full((4, 5, 3), 50, np.uint8)
    over = np.full((4, 5, 3), 150, np.uint8)
    v = virtual_middle(under, over)
    # both estimates are sqrt(50 * 150); both weights are 1
    np.testing.assert_allclose(v, np.sqrt(50 * 150) / 255, rtol=1e-6)


def test_virtual_middle_weights_each_estimate_where_its_frame_is_reliable():
    rng = np.random.default_rng(2)
    under = rng.integers(0, 120, (40, 50, 3)).astype(np.uint8)
    over = np.clip(under.astype(int) * 3 + rng.integers(-20, 20, under.shape), 0, 255).astype(np.uint8)
    v = virtual_middle(under, over) * 255
    s = lambda t: 1 - 3 * t * t + 2 * t**3  # noqa: E731
    for c in range(3):
        u, o = under[..., c], over[..., c]
        m_u = np.sqrt(u * mapping_function(u, o)[u].astype(float))
        m_o = np.sqrt(o * mapping_function(o, u)[o].astype(float))
        w_o = np.where(o < 200, 1.0, np.where(o >= 250, 0.0, s((o - 200) / 50)))
        w_u = np.where(u < 10, 0.0, np.where(u >= 55, 1.0, s((55 - u) / 45)))
        want = (w_o * m_o + w_u * m_u) / (w_o + w_u + 1e-17)
        np.testing.assert_allclose(v[..., c], want, rtol=1e-5, atol=1e-3)
        clipped = (o >= 250) & (u >= 55)  # only the under frame's estimate counts there
        assert clipped.any()
        np.testing.assert_allclose(v[..., c][clipped], m_u[clipped], rtol=1e-5)


def test_released_weight_order_is_available():
    under = np.full((3, 3, 3), 30, np.uint8)
    over = np.full((3, 3, 3), 5, np.uint8)  # released: w_O(O = 5) = 0, only M_U counts
    np.testing.assert_allclose(virtual_middle(under, over, released=True),
                               np.sqrt(30 * 5) / 255, rtol=1e-6)


def test_virtual_middle_takes_float_frames_and_refuses_size_mismatch():
    a = np.full((4, 4, 3), 0.2, np.float32)
    b = np.full((4, 4, 3), 0.6, np.float32)
    assert virtual_middle(a, b).dtype == np.float32
    with pytest.raises(InputError, match="differ in size"):
        virtual_middle(a, b[:3])


def test_mef3_weight_of_one_pixel_by_hand():
    img = np.array([[[0.6, 0.5, 0.4]]], np.float32)
    y = 0.299 * 0.6 + 0.587 * 0.5 + 0.114 * 0.4
    contrast = 4 * y  # 4-neighbour Laplacian with zero padding
    saturation = np.std([0.6, 0.5, 0.4])
    exposed = np.exp(-10 * (0.01 + 0.0 + 0.01))
    assert weights(img)[0, 0] == pytest.approx(contrast * saturation * exposed + 1e-12, rel=1e-5)


def test_guided_filter_with_a_flat_guide_is_two_box_filters():
    # flat guide: variances 0, so gamma = 1/2, Gamma = 1, a = 1/2, and q = box(box(p))
    rng = np.random.default_rng(0)
    p = rng.random((20, 24)).astype(np.float32)
    guide = np.full_like(p, 0.3)
    box = lambda a: cv2.boxFilter(a, -1, (9, 9), borderType=cv2.BORDER_REFLECT_101)  # noqa: E731
    np.testing.assert_allclose(gradient_guided_filter(guide, p), box(box(p)), atol=1e-5)


def test_mef3_of_three_equal_frames_is_the_frame():
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.random((40, 52, 3)).astype(np.float32), (5, 5), 1.0)
    np.testing.assert_allclose(fuse_mef3([img, img, img]), img, atol=1e-5)


def test_mef3_pyramid_depth_is_the_spec():
    assert levels(224, 224) == 6  # round(log2 224) - 2
    assert levels(8, 8) == 1
