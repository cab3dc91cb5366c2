"""The three-input multi-scale fusion of Yin et al. (``MEF3``, methods.md 1.5), kept as the
reference the product's own fusion was measured against.

1. Mertens-style weights per frame: |4-neighbour Laplacian of the grey image| (zero padding)
   x channel standard deviation x prod_c exp(-10 (I_c - 0.5)^2), + 1e-12, normalised;
2. a brightness prior: W_k *= mean(Y_k)^2, normalised again;
3. pyramids of ``round(log2 min(H, W)) - 2`` levels (shallower than Mertens' full depth);
4. every weight level refined by a gradient-domain guided filter (Kou et al. 2015) guided by the
   frame's luma at that level (radius 4, lambda 1/1024);
5. Laplacian bands blended with the refined weights and collapsed.

Fixed for a fresh implementation (quirk 1 of methods.md 1.11): the luma is Rec.601 of RGB (the
released code computes it on BGR data). The pyramids use OpenCV's pyrDown/pyrUp (5-tap binomial)
instead of scikit-image's Gaussian/bilinear pair: the same structure, one fewer dependency.

Input: three display-referred RGB frames float32 HxWx3 [0, 1] of one size. Output: float32
HxWx3, display-referred, not clipped (as the paper's code).
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from app.core.errors import InputError

_LAPLACE4 = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
_LUMA601 = np.array([[0.299, 0.587, 0.114]], np.float32)
GGIF_RADIUS = 4
GGIF_LAMBDA = 1.0 / 1024.0


def levels(h: int, w: int) -> int:
    """Pyramid levels of MEF3: round(log2(min(h, w))) - 2, at least 1."""
    return max(int(round(math.log2(min(h, w)))) - 2, 1)


def luma(img: np.ndarray) -> np.ndarray:
    """Rec.601 luma HxW of display RGB HxWx3."""
    return cv2.transform(img, _LUMA601)


def weights(img: np.ndarray) -> np.ndarray:
    """Un-normalised MEF3 weight HxW of one frame (display RGB float32 [0, 1])."""
    grey = luma(img)
    contrast = np.abs(cv2.filter2D(grey, cv2.CV_32F, _LAPLACE4, borderType=cv2.BORDER_CONSTANT))
    saturation = np.std(img, axis=2)
    exposed = np.exp(-10.0 * np.sum((img - 0.5) ** 2, axis=2))
    return (contrast * saturation * exposed + 1e-12).astype(np.float32)


def _box(a: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT_101)


def gradient_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int = GGIF_RADIUS,
                           lam: float = GGIF_LAMBDA) -> np.ndarray:
    """Gradient-domain guided filter (Kou, Chen, Wen, Li 2015) of ``src`` by ``guide`` (HxW float).

    Edge-aware weights from the geometric mean of the 3x3 and (2r+1)^2 variances of the guide;
    returns float32 HxW.
    """
    g = guide.astype(np.float32)
    p = src.astype(np.float32)
    mu_i, mu_p = _box(g, radius), _box(p, radius)
    cov = _box(g * p, radius) - mu_i * mu_p
    var = np.maximum(_box(g * g, radius) - mu_i * mu_i, 0.0)
    var1 = np.maximum(_box(g * g, 1) - _box(g, 1) ** 2, 0.0)
    chi = np.sqrt(var1 * var)
    big_gamma = (chi + 1e-6) * np.mean(1.0 / (chi + 1e-6))
    spread = float(chi.mean() - chi.min())
    eta = 4.0 / spread if spread > 0 else 0.0
    gamma = 1.0 - 1.0 / (1.0 + np.exp(np.clip(eta * (chi - chi.mean()), -60.0, 60.0)))
    a = (cov + lam * gamma / big_gamma) / (var + lam / big_gamma)
    b = mu_p - a * mu_i
    return (_box(a, radius) * g + _box(b, radius)).astype(np.float32)


def fuse_mef3(frames: Sequence[np.ndarray], guided: bool = True) -> np.ndarray:
    """MEF3 fusion of three (or more) frames; see the module docstring for domains."""
    imgs = [np.ascontiguousarray(f, np.float32) for f in frames]
    if len(imgs) < 2 or any(i.shape != imgs[0].shape or i.ndim != 3 for i in imgs):
        raise InputError("MEF3 needs two or more HxWx3 frames of one size")
    h, w = imgs[0].shape[:2]
    n_levels = levels(h, w)
    ws = [weights(i) for i in imgs]
    total = np.sum(ws, axis=0)
    ws = [wk / total for wk in ws]
    ys = [luma(i) for i in imgs]
    ws = [wk * float(y.mean()) ** 2 for wk, y in zip(ws, ys)]
    total = np.sum(ws, axis=0)
    ws = [wk / total for wk in ws]

    blended: list[np.ndarray] | None = None
    norm: list[np.ndarray] | None = None
    for img, wk, y in zip(imgs, ws, ys):
        gauss, wgt, yp = [img], [wk], [y]
        for _ in range(n_levels - 1):
            gauss.append(cv2.pyrDown(gauss[-1]))
            wgt.append(cv2.pyrDown(wgt[-1]))
            yp.append(cv2.pyrDown(yp[-1]))
        lap = [gauss[i] - cv2.pyrUp(gauss[i + 1], dstsize=gauss[i].shape[1::-1])
               for i in range(n_levels - 1)] + [gauss[-1]]
        q = [(gradient_guided_filter(yp[i], wgt[i]) if guided else wgt[i]) + 1e-12
             for i in range(n_levels)]
        if blended is None:
            blended = [lap[i] * q[i][..., None] for i in range(n_levels)]
            norm = [q[i].copy() for i in range(n_levels)]
        else:
            for i in range(n_levels):
                blended[i] += lap[i] * q[i][..., None]
                norm[i] += q[i]
    assert blended is not None and norm is not None
    bands = [b / n[..., None] for b, n in zip(blended, norm)]
    out = bands[-1]
    for band in reversed(bands[:-1]):
        out = band + cv2.pyrUp(out, dstsize=band.shape[1::-1])
    return out.astype(np.float32)
