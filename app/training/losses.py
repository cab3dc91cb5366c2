"""MEF-SSIM (Ma, Zeng & Wang, TIP 2015) in torch, differentiable, as a training loss.

It computes the same quantity as the reference MATLAB ``mef_ms_ssim.m`` (the metric of
/work/shared/docs/anchors.md and app.core.metrics.mef_ssim), but from local moments with
convolutions instead of per-pixel patch loops (methods.md 2.4.1):

* desired patch per position, built over an 11x11 UNIFORM window: contrast = the largest input
  contrast ``ed_k = ||y_k - mean|| + 0.001/255``; structure = the normalised sum of
  ``w_k (y_k - mean_k) / ed_k`` with ``w_k`` proportional to ``(ed_k / 11)^p`` and the per-patch
  exponent ``p = tan(pi R / 2)`` (capped at 10), ``R = ||sum_k (y_k - mean_k)|| / sum_k ed'_k``;
* the score compares it with the fused patch under an 11x11 Gaussian window (sigma 1.5) with
  ``C = 0.03^2`` on [0, 1] data: ``(2 s_rf + C) / (s_r^2 + s_f^2 + C)``. Because the desired patch
  is a linear combination of the input patches, its Gaussian (co)variances follow from the
  inputs' Gaussian moments: ``s_rf = lam sum_k a_k s_kf`` and ``s_r^2 = lam^2 sum_jk a_j a_k s_jk``.
* 3 scales (2x2 average, symmetric edge for odd sizes), 'valid' windows, scores combined as the
  product of ``Q_l ** w_l`` with weights (0.0448, 0.2856, 0.3001) renormalised.

All values are display-referred luma in [0, 1]. Everything that depends only on the inputs is
computed without gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

WIN = 11
SIGMA = 1.5
K = 0.03
SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001)
_ED_EPS = 0.001 / 255.0  # the reference adds 0.001 on the 0-255 scale


def _sep(x: torch.Tensor, k1d: torch.Tensor) -> torch.Tensor:
    """'valid' separable correlation of (N, C, H, W) with a 1-D kernel on both axes."""
    c = x.shape[1]
    kh = k1d.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    kv = k1d.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    return F.conv2d(F.conv2d(x, kh, groups=c), kv, groups=c)


def _kernels(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.arange(WIN, dtype=dtype, device=device) - WIN // 2
    g = torch.exp(-(r * r) / (2 * SIGMA * SIGMA))
    return g / g.sum(), torch.full((WIN,), 1.0 / WIN, dtype=dtype, device=device)


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(j, k) for j in range(n) for k in range(j, n)]


def mef_ssim_map(ys: torch.Tensor, fused: torch.Tensor) -> torch.Tensor:
    """Single-scale MEF-SSIM quality map. ys (B, K, H, W), fused (B, 1, H, W), [0, 1].

    Returns (B, H-10, W-10) (the reference's 'valid' region)."""
    b, n, h, w = ys.shape
    if min(h, w) < WIN:
        raise ValueError(f"MEF-SSIM needs at least {WIN}x{WIN} pixels, got {w}x{h}")
    gk, uk = _kernels(ys.dtype, ys.device)
    pairs = _pairs(n)
    with torch.no_grad():
        prods = torch.cat([ys[:, j : j + 1] * ys[:, k : k + 1] for j, k in pairs], 1)
        mu_u = _sep(ys, uk)
        cov_u = _sep(prods, uk) - torch.cat([mu_u[:, j : j + 1] * mu_u[:, k : k + 1] for j, k in pairs], 1)
        cov_u = cov_u * (WIN * WIN)  # inner products of zero-mean patches (sum, not mean)
        idx = {pk: i for i, pk in enumerate(pairs)}
        var_u = torch.stack([cov_u[:, idx[(k, k)]].clamp_min(0) for k in range(n)], 1)
        norms = var_u.sqrt()
        ed = norms + _ED_EPS
        num = cov_u.sum(1) + sum(cov_u[:, idx[(j, k)]] for j, k in pairs if j != k)
        r = (num.clamp_min(0).sqrt() + 1e-12) / (norms.sum(1) + 1e-12)
        r = r.clamp(1e-7, 1 - 1e-7)
        p = torch.tan(math.pi / 2 * r).clamp(max=10.0)
        wk = torch.softmax(p.unsqueeze(1) * torch.log(ed), dim=1)  # (ed/11)^p normalised
        a = wk / ed
        norm2 = sum(
            (1.0 if j == k else 2.0) * a[:, j] * a[:, k] * cov_u[:, idx[(j, k)]] for j, k in pairs
        )
        norm = norm2.clamp_min(0).sqrt()
        lam = torch.where(norm > 0, ed.max(1).values / norm.clamp_min(1e-20), torch.zeros_like(norm))
        mu_g = _sep(ys, gk)
        cov_g = _sep(prods, gk) - torch.cat([mu_g[:, j : j + 1] * mu_g[:, k : k + 1] for j, k in pairs], 1)
        var_r = lam**2 * sum(
            (1.0 if j == k else 2.0) * a[:, j] * a[:, k] * cov_g[:, idx[(j, k)]] for j, k in pairs
        )
        la = lam.unsqueeze(1) * a  # (B, K, h', w')
    mu_f = _sep(fused, gk)
    var_f = _sep(fused * fused, gk) - mu_f * mu_f
    cov_kf = _sep(ys * fused, gk) - mu_g * mu_f
    cov_rf = (la * cov_kf).sum(1)
    c = K * K
    return (2 * cov_rf + c) / (var_r + var_f[:, 0] + c)


def _down2(x: torch.Tensor) -> torch.Tensor:
    """2x2 average then keep every other pixel; odd sizes repeat the last row/column (MATLAB
    imfilter 'symmetric')."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else x
    return F.avg_pool2d(x, 2)


def mef_ssim_torch(ys: torch.Tensor, fused: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Multi-scale MEF-SSIM per batch item, (B,). ys (B, K, H, W), fused (B, 1, H, W), [0, 1]."""
    weights = torch.tensor(SCALE_WEIGHTS[:levels], dtype=ys.dtype, device=ys.device)
    weights = weights / weights.sum()
    scores = []
    for lev in range(levels):
        scores.append(mef_ssim_map(ys, fused).mean(dim=(-2, -1)))
        if lev < levels - 1:
            ys, fused = _down2(ys), _down2(fused)
    q = torch.stack(scores, 1).clamp_min(1e-6)  # a negative scale score would break the product
    return torch.exp((torch.log(q) * weights).sum(1))


def mef_ssim_loss(ys: torch.Tensor, fused: torch.Tensor) -> torch.Tensor:
    """1 - mean multi-scale MEF-SSIM over the batch (scalar, minimised in training)."""
    return 1.0 - mef_ssim_torch(ys, fused).mean()
