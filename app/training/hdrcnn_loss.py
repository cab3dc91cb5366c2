"""HDRCNN loss (methods.md 3.4): illumination + reflectance split in the log domain, masked by
the saturation mask of the TARGET.

prediction ``y``: N x 3 x H x W log HDR, y = log(H + eps); target ``h``: N x 3 x H x W linear
radiance >= 0 (1.0 = saturation of the LDR input); eps = 1/255.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1.0 / 255.0
LUMA = (0.213, 0.715, 0.072)
TAU = 0.95


def target_mask(h: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    """m = clamp((max_c H* - tau) / (1 - tau), 0, 1): N x 1 x H x W."""
    return ((h.amax(dim=1, keepdim=True) - tau) / (1.0 - tau)).clamp(0.0, 1.0)


def gaussian_kernel(size: int = 13, nsig: float = 2.0) -> torch.Tensor:
    """The paper's kernel: differences of the normal CDF on [-nsig, nsig], outer product,
    element-wise square root, normalised to sum 1. Returns 1 x 1 x size x size."""
    edges = torch.linspace(-nsig, nsig, size + 1, dtype=torch.float64)
    cdf = 0.5 * (1.0 + torch.erf(edges / math.sqrt(2.0)))
    k1 = cdf[1:] - cdf[:-1]
    k2 = torch.sqrt(torch.outer(k1, k1))
    return (k2 / k2.sum()).float()[None, None]


def _lum(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def hdrcnn_loss(y: torch.Tensor, h: torch.Tensor, lam: float = 0.5,
                kernel: torch.Tensor | None = None) -> torch.Tensor:
    """mean over pixels and channels of m * [lam (I^ - I*)^2 + (1 - lam)(R^ - R*)^2]."""
    k = (kernel if kernel is not None else gaussian_kernel()).to(y.device, y.dtype)
    pad = k.shape[-1] // 2
    m = target_mask(h)
    l_t = torch.log(_lum(h) + EPS)
    l_p = torch.log(_lum(torch.exp(y) - EPS).clamp_min(0.0) + EPS)
    i_t = F.conv2d(l_t, k, padding=pad)  # zero padding ("SAME"), as the reference code
    i_p = F.conv2d(l_p, k, padding=pad)
    r_t = torch.log(h + EPS) - i_t
    r_p = y - i_p
    per_px = lam * (i_p - i_t) ** 2 + (1.0 - lam) * (r_p - r_t) ** 2
    return (m * per_px).mean()


def direct_loss(y: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The alternative loss: mean(((y - log(H* + eps)) * m)^2)."""
    return (((y - torch.log(h + EPS)) * target_mask(h)) ** 2).mean()
