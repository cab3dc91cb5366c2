"""DeepFuse's full-resolution pixel work with OpenCV (no torch): colour conversion, per-pixel
chroma fusion and the Laplacian-pyramid blend of the luma.

All images are display-referred float32 in [0, 1]. The colour space is BT.601 full-range YCbCr
with chroma centred on 0.5 (the luma weights are the rgb2gray weights MEF-SSIM scores with).
The pyramid (cv2.pyrDown / cv2.pyrUp, 5-tap binomial, reflect-101 borders) is the same operation,
sample for sample, as the differentiable torch version used in training
(app.models.deepfuse.pyramid_blend); tests/models/test_deepfuse.py checks that they agree.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import cv2
import numpy as np

from app.core.types import float_frame

_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB
_FWD = np.array(
    [
        [_KR, _KG, _KB],
        [-_KR, -_KG, 1 - _KB],
        [1 - _KR, -_KG, -_KB],
    ]
) * np.array([[1.0], [0.5 / (1 - _KB)], [0.5 / (1 - _KR)]])
_OFFSET = np.array([0.0, 0.5, 0.5])
RGB2YCC = np.hstack([_FWD, _OFFSET[:, None]]).astype(np.float32)  # 3x4 affine
_INV = np.linalg.inv(_FWD)
YCC2RGB = np.hstack([_INV, (-_INV @ _OFFSET)[:, None]]).astype(np.float32)
TAU = 0.5  # chroma neutral point on [0, 1] data (paper: 128 on 8-bit)
STRIP_ROWS = 64  # pixel-wise passes run on strips: cache-friendly, threaded (OpenCV frees the GIL)


def rgb_to_ycc(rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB [0, 1] -> HxWx3 (Y in [0, 1], Cb, Cr centred on 0.5)."""
    return cv2.transform(np.asarray(rgb, np.float32), RGB2YCC)


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycc`, clipped to [0, 1] (in place on the new array)."""
    rgb = cv2.transform(np.asarray(ycc, np.float32), YCC2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def fuse_chroma(chans: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel chroma fusion (paper Eq. 6) of same-shape float32 planes (OpenCV, fast).

    C = sum_k |C_k - tau| C_k / sum_k |C_k - tau|, and tau where every input is neutral."""
    num = den = None
    for c in chans:
        c = np.ascontiguousarray(c, np.float32)
        d = cv2.subtract(c, TAU)
        a = cv2.absdiff(c, TAU) if c.ndim == 2 else np.abs(d)
        num = cv2.multiply(a, d) if num is None else cv2.add(num, cv2.multiply(a, d))
        den = a if den is None else cv2.add(den, a)
    den = cv2.add(den, 1e-12)  # 0/0 -> tau exactly (num is 0 there too)
    return cv2.add(cv2.divide(num, den), TAU)


def _map_strips(h: int, fn) -> None:
    strips = [(a, min(h, a + STRIP_ROWS)) for a in range(0, h, STRIP_ROWS)]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as ex:
        list(ex.map(lambda ab: fn(*ab), strips))


def luma(frame: np.ndarray) -> np.ndarray:
    """Y (HxW float32 [0, 1]) of an RGB frame (float32 [0, 1], or uint8 / uint16 codes), strip
    by strip on the pool: no full-size float copy of the frame is made (144 MB at 12 MP)."""
    h, w = frame.shape[:2]
    y = np.empty((h, w), np.float32)

    def strip(a: int, b: int) -> None:
        y[a:b] = cv2.transform(float_frame(frame[a:b]), RGB2YCC[:1])

    _map_strips(h, strip)
    return y


def split_luma_chroma(frames: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames [0, 1] (float32, or uint8 / uint16 codes) -> (luma planes HxW, fused chroma
    HxWx2 (Cb, Cr)), strip by strip, so no full-size float or YCbCr copy of a frame is held."""
    h, w = frames[0].shape[:2]
    ys = [np.empty((h, w), np.float32) for _ in frames]
    chroma = np.empty((h, w, 2), np.float32)

    def strip(a: int, b: int) -> None:
        # planes, not strided channel views: OpenCV's one-channel passes (absdiff, ...) and no
        # contiguous copies of the views (the same values; 12 MP pair ~0.05 s less)
        planes = [cv2.split(rgb_to_ycc(float_frame(f[a:b]))) for f in frames]
        for k, (y, _, _) in enumerate(planes):
            ys[k][a:b] = y
        cv2.merge([fuse_chroma([p[1] for p in planes]), fuse_chroma([p[2] for p in planes])],
                  dst=chroma[a:b])

    _map_strips(h, strip)
    return ys, chroma


def compose_rgb(y: np.ndarray, chroma: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Luma HxW (clipped to [0, 1] here) + chroma HxWx2 -> RGB float32 HxWx3 [0, 1], or with
    ``bits`` 8 / 16 the same as uint8 / uint16 display codes (``to_uint``'s, made strip by strip:
    no float32 image)."""
    from app.core.merge.mertens import finish_rows, new_output

    h, w = y.shape
    out = new_output(h, w, bits)

    def strip(a: int, b: int) -> None:
        yy = cv2.min(cv2.max(y[a:b], 0.0), 1.0)  # one channel: scalar bounds apply to it
        rgb = cv2.transform(cv2.merge([yy, chroma[a:b]]), YCC2RGB)  # merge: 2x a numpy dstack
        finish_rows(rgb, out[a:b], bits)

    _map_strips(h, strip)
    return out


def pyramid_levels(h: int, w: int) -> int:
    """Pyramid depth as OpenCV's Mertens: floor(log2(short side)), down to 2-3 px."""
    return max(1, int(np.floor(np.log2(max(min(h, w), 2)))))


def pyramid_blend(planes: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                  levels: int | None = None) -> np.ndarray:
    """Blend HxW float32 planes with HxW weights (summing to 1 over the planes) through a
    Laplacian pyramid (Burt & Adelson). Returns float32 HxW, not clipped.

    Memory: one blended pyramid (4/3 of a plane) plus one plane's temporaries at a time."""
    h, w = planes[0].shape
    levels = levels or pyramid_levels(h, w)
    acc: list[np.ndarray] = []
    for k, (img, wt) in enumerate(zip(planes, weights)):
        g_img, g_w = np.asarray(img, np.float32), np.asarray(wt, np.float32)
        for lev in range(levels):
            if lev < levels - 1:
                down = cv2.pyrDown(g_img)
                band = g_img - cv2.pyrUp(down, dstsize=(g_img.shape[1], g_img.shape[0]))
                band *= g_w
            else:
                down, band = g_img, g_img * g_w  # never scale the caller's array in place
            if k == 0:
                acc.append(band)
            else:
                acc[lev] += band
            if lev < levels - 1:
                g_img, g_w = down, cv2.pyrDown(g_w)
    out = acc.pop()
    while acc:
        band = acc.pop()
        out = cv2.pyrUp(out, dstsize=(band.shape[1], band.shape[0]))
        out += band
    return out


def pyramid_blend_pair(a: np.ndarray, b: np.ndarray, weight_a: np.ndarray,
                       levels: int | None = None) -> np.ndarray:
    """:func:`pyramid_blend` of two planes with weights ``weight_a`` and 1 - ``weight_a``, with
    half the pyramids: the pyramids are linear and the weights' pyramids sum to 1 at every
    level, so the blend is b + collapse(G(weight_a) * L(a - b)) (L(b) collapses back to b).
    One Laplacian and one Gaussian pyramid instead of two of each; equal to the general form
    up to float rounding (tests: < 1e-5). Returns float32 HxW, not clipped."""
    diff = cv2.subtract(np.asarray(a, np.float32), np.asarray(b, np.float32))
    out = pyramid_blend([diff], [weight_a], levels)
    return cv2.add(out, np.asarray(b, np.float32), dst=out)
