"""MEF-SSIM (Ma, Zeng, Wang, IEEE TIP 2015), exactly as the authors' reference code that the MEFB
benchmark ships (``mef_ms_ssim.m`` + ``mef_ssim.m``) computes it.

Definition (see /work/shared/docs/anchors.md):

* grey conversion with MATLAB ``rgb2gray`` weights; 8-bit input is rounded to uint8 as MATLAB
  does, so scores match published tables;
* per pixel (centre of an 11x11 patch, 'valid' region only) a *desired patch* is built from the
  input patches over a UNIFORM 11x11 window: its contrast is the largest input contrast, its
  structure a weighted mix of the input structures with weights (||x_k - mu_k|| / 11)^p, where the
  exponent p = tan(pi R / 2), capped at 10, comes from the consistency
  R = ||sum_k x_k - mean|| / sum_k ||x_k - mu_k||; there is no luminance term;
* the fused patch is compared to the desired patch with the SSIM contrast-structure term over an
  11x11 Gaussian window (sigma 1.5), C = (0.03 * 255)^2; the map is averaged;
* three scales, each coarser one by 2x2 averaging and taking every second sample; the overall
  score is prod_l Q_l ** w_l with w = (0.0448, 0.2856, 0.3001) renormalised to sum to 1.

Everything is vectorised: every per-patch sum in the reference's double loop is rewritten as a
separable filter (box or Gaussian) of products of images, in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from app.core.errors import InputError

WIN = 11  # window side (both windows)
SIGMA = 1.5  # Gaussian window of the score
K_SSIM = 0.03
C_SSIM = (K_SSIM * 255.0) ** 2
SCALE_WEIGHTS = np.array([0.0448, 0.2856, 0.3001]) / (0.0448 + 0.2856 + 0.3001)
P_MAX = 10.0  # cap of the structure exponent ("equivalent to taking the maximum")
ED_EPS = 0.001  # added to patch contrast in the reference, avoids 0/0
EPS = np.finfo(np.float64).eps  # MATLAB eps

# MATLAB rgb2gray: first row of inv(YIQ-from-RGB), i.e. 0.2989, 0.5870, 0.1140 to 4 digits.
_GREY = np.linalg.inv(
    np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
)[0]

_BOX_1D = np.full((WIN, 1), 1.0 / WIN)
_GAUSS_1D = cv2.getGaussianKernel(WIN, SIGMA, cv2.CV_64F)


def to_grey255(image: np.ndarray) -> np.ndarray:
    """Grey image float64 in [0, 255] the way the reference reads it.

    uint8 RGB: MATLAB rgb2gray, rounded to integers (round half up; values are >= 0).
    uint16: scaled to [0, 255], not rounded. float: display-referred [0, 1] scaled by 255, not
    rounded (a float fused result is scored without 8-bit quantisation). 2-D input is taken as
    grey already.
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.dtype == np.uint8:
        x = a.astype(np.float64)
        if x.ndim == 3:
            x = np.floor(x @ _GREY + 0.5)
        return np.clip(x, 0.0, 255.0)
    if a.dtype == np.uint16:
        x = a.astype(np.float64) * (255.0 / 65535.0)
    elif np.issubdtype(a.dtype, np.floating):
        x = a.astype(np.float64) * 255.0
    else:
        raise InputError(f"MEF-SSIM: unsupported image dtype {a.dtype}")
    if x.ndim == 3:
        if x.shape[2] != 3:
            raise InputError(f"MEF-SSIM: expected an RGB or grey image, got shape {a.shape}")
        x = x @ _GREY
    if x.ndim != 2:
        raise InputError(f"MEF-SSIM: expected an RGB or grey image, got shape {a.shape}")
    if not np.isfinite(x).all():
        raise InputError("MEF-SSIM: image contains NaN or infinite values")
    return x


def _valid(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable correlation, keeping only the 'valid' region (full windows) like filter2."""
    b = WIN // 2
    out = cv2.sepFilter2D(a, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)
    return out[b:-b, b:-b]


@dataclass(frozen=True)
class _Reference:
    """The inputs' side of one scale (all that does not depend on the fused image): the
    desired structure's weights ``a`` (K, h, w), the inputs' patch means ``mu`` and their
    mean ``mu1`` and variance ``sigma1_sq`` of the desired patch (Gaussian window)."""

    seq: np.ndarray
    mu: np.ndarray
    a: np.ndarray
    mu1: np.ndarray
    sigma1_sq: np.ndarray


def _reference(seq: np.ndarray) -> _Reference:
    """:class:`_Reference` of K x H x W grey [0, 255] inputs at one scale."""
    k = seq.shape[0]
    n = float(WIN * WIN)
    box = lambda a: _valid(a, _BOX_1D)  # noqa: E731
    gau = lambda a: _valid(a, _GAUSS_1D)  # noqa: E731

    mu = np.stack([box(x) for x in seq])  # uniform-window patch means
    var = np.stack([box(x * x) for x in seq]) - mu * mu
    dev_norm = np.sqrt(np.maximum(n * var, 0.0))  # ||x_k - mu_k|| per patch
    ed = dev_norm + ED_EPS

    # Consistency: how much the input structures agree (1 = all alike -> take the max contrast).
    s = seq.sum(axis=0)
    mu_s = box(s)
    num = np.sqrt(np.maximum(n * (box(s * s) - mu_s * mu_s), 0.0))
    r = (num + EPS) / (dev_norm.sum(axis=0) + EPS)
    r = np.where(r > 1.0, 1.0 - EPS, r)
    r = np.where(r < 0.0, EPS, r)
    p = np.minimum(np.tan(np.pi / 2.0 * r), P_MAX)

    w = (ed / WIN) ** p[None] + EPS
    w /= w.sum(axis=0, keepdims=True)
    b = w / ed  # desired structure = sum_k b_k (x_k - mu_k), before normalisation
    max_ed = ed.max(axis=0)

    # Products of images, box- and Gaussian-filtered, give every per-patch sum we need.
    gx = np.stack([gau(x) for x in seq])
    cross_box = np.empty((k, k) + mu.shape[1:])
    cross_gau = np.empty_like(cross_box)
    for i in range(k):
        for j in range(i, k):
            prod = seq[i] * seq[j]
            cross_box[i, j] = cross_box[j, i] = box(prod)
            cross_gau[i, j] = cross_gau[j, i] = gau(prod)

    # ||desired||^2 = sum_kl b_k b_l * n * cov_kl (uniform window).
    norm_sq = np.zeros_like(max_ed)
    for i in range(k):
        for j in range(k):
            norm_sq += b[i] * b[j] * n * (cross_box[i, j] - mu[i] * mu[j])
    # The reference rescales only when the patch is non-zero; for flat patches (every input
    # constant) it is exactly zero there, while here rounding leaves a tiny positive value.
    # Those patches stay unscaled, as in the reference (their desired patch is ~0 either way).
    floor = 1e-12 * np.einsum("kij,kij->ij", b * b, n * np.maximum(var, 0.0)) + 1e-20
    nz = norm_sq > floor
    scale = np.where(nz, max_ed / np.sqrt(np.where(nz, norm_sq, 1.0)), 1.0)
    a = b * scale[None]

    mu1 = np.einsum("kij,kij->ij", a, gx - mu)
    e_rr = np.zeros_like(mu1)
    for i in range(k):
        for j in range(k):
            e_rr += a[i] * a[j] * (cross_gau[i, j] - mu[i] * gx[j] - mu[j] * gx[i] + mu[i] * mu[j])
    return _Reference(seq, mu, a, mu1, e_rr - mu1 * mu1)


def _score(ref: _Reference, fused: np.ndarray) -> float:
    """Mean MEF-SSIM map at one scale of H x W grey [0, 255] ``fused`` against ``ref``."""
    gau = lambda a: _valid(a, _GAUSS_1D)  # noqa: E731
    gf = gau(fused)
    gff = gau(fused * fused)
    e_rf = np.zeros_like(ref.mu1)
    for i in range(ref.seq.shape[0]):
        e_rf += ref.a[i] * (gau(ref.seq[i] * fused) - ref.mu[i] * gf)
    sigma2_sq = gff - gf * gf
    sigma12 = e_rf - ref.mu1 * gf
    q = (2.0 * sigma12 + C_SSIM) / (ref.sigma1_sq + sigma2_sq + C_SSIM)
    return float(q.mean())


def _single_scale(seq: np.ndarray, fused: np.ndarray) -> float:
    """Mean MEF-SSIM map at one scale. seq: K x H x W grey [0, 255], fused: H x W."""
    return _score(_reference(seq), fused)


def _downsample(a: np.ndarray) -> np.ndarray:
    """2x2 mean then every second sample; an odd last row/column is mirrored (imfilter symmetric)."""
    h, w = a.shape
    if h % 2:
        a = np.concatenate([a, a[-1:, :]], axis=0)
    if w % 2:
        a = np.concatenate([a, a[:, -1:]], axis=1)
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def mef_ssim_scales(inputs: Sequence[np.ndarray], fused: np.ndarray) -> tuple[float, ...]:
    """Per-scale MEF-SSIM scores (finest first). Same inputs as :func:`mef_ssim`."""
    if len(inputs) < 1:
        raise InputError("MEF-SSIM needs at least one input exposure")
    seq = np.stack([to_grey255(x) for x in inputs])
    f = to_grey255(fused)
    if seq.shape[1:] != f.shape:
        raise InputError(
            f"MEF-SSIM: fused image is {f.shape[1]}x{f.shape[0]} but the inputs are "
            f"{seq.shape[2]}x{seq.shape[1]}"
        )
    levels = len(SCALE_WEIGHTS)
    if min(f.shape) / 2 ** (levels - 1) < WIN:
        raise InputError(
            f"MEF-SSIM: image {f.shape[1]}x{f.shape[0]} is too small for {levels} scales "
            f"(shorter side must be at least {WIN * 2 ** (levels - 1)} px)"
        )
    scores = []
    for level in range(levels):
        if level:
            seq = np.stack([_downsample(x) for x in seq])
            f = _downsample(f)
        scores.append(_single_scale(seq, f))
    return tuple(scores)


def mef_ssim_many(inputs: Sequence[np.ndarray], fuseds: Sequence[np.ndarray]) -> list[float]:
    """:func:`mef_ssim` of each of ``fuseds`` against the same ``inputs`` (same values as one
    call each; the inputs' side of every scale, most of the work, is computed once)."""
    if len(inputs) < 1:
        raise InputError("MEF-SSIM needs at least one input exposure")
    seq = np.stack([to_grey255(x) for x in inputs])
    fs = [to_grey255(f) for f in fuseds]
    for f in fs:
        if seq.shape[1:] != f.shape:
            raise InputError(
                f"MEF-SSIM: fused image is {f.shape[1]}x{f.shape[0]} but the inputs are "
                f"{seq.shape[2]}x{seq.shape[1]}"
            )
    levels = len(SCALE_WEIGHTS)
    if min(seq.shape[1:]) / 2 ** (levels - 1) < WIN:
        raise InputError(
            f"MEF-SSIM: image {seq.shape[2]}x{seq.shape[1]} is too small for {levels} scales "
            f"(shorter side must be at least {WIN * 2 ** (levels - 1)} px)"
        )
    scores = np.empty((len(fs), levels))
    for level in range(levels):
        if level:
            seq = np.stack([_downsample(x) for x in seq])
            fs = [_downsample(f) for f in fs]
        ref = _reference(seq)
        for c, f in enumerate(fs):
            scores[c, level] = _score(ref, f)
    with np.errstate(invalid="ignore"):
        return [float(v) for v in np.prod(scores**SCALE_WEIGHTS, axis=1)]


def mef_ssim(inputs: Sequence[np.ndarray], fused: np.ndarray) -> float:
    """Multi-scale MEF-SSIM of ``fused`` against the source exposures ``inputs``.

    inputs, fused: uint8 RGB (scored exactly like the MATLAB reference, rgb2gray rounded to uint8),
    uint16 RGB, or float display-referred RGB in [0, 1] (not quantised); grey 2-D arrays are also
    accepted. All must have the same height and width, the shorter side at least 44 px.
    Returns a score <= 1 (1 = the fused image has the desired local structure everywhere); with
    strongly anti-correlated structure it can be negative. Higher is better.
    """
    scores = np.array(mef_ssim_scales(inputs, fused))
    # prod(Q .^ w) as the reference; a negative per-scale score makes this NaN there too.
    with np.errstate(invalid="ignore"):
        return float(np.prod(scores**SCALE_WEIGHTS))
