"""Luminance histogram for the GUI (and reports): log2 luminance for HDR, luma for LDR.

Clipping shares (documented contract):

* with ``display`` (the rendered display image, [0, 1], what the user sees or exports):
  low = fraction of pixels whose three channels are all <= 0 (crushed to black),
  high = fraction of pixels with at least one channel >= 1 (a clipped channel);
* without it, LDR: the same two rules applied to ``image`` itself (it is display-referred);
  HDR: low = fraction with luminance <= 0 (no signal, not representable in log2),
  high = fraction with a channel >= 1.0, i.e. beyond display white at exposure 0 without tone
  mapping (1.0 = saturation of the reference frame in Lumafuse radiance).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.channels import channel_max
from app.core.errors import InputError
from app.core.types import ResultKind

REC709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
_STATS_SIDE = 512  # percentiles of the HDR range are taken on a thumbnail of this long side
LOW_PCT, HIGH_PCT = 0.1, 99.9  # robust range of log2 luminance for HDR


def _luminance(image: np.ndarray) -> np.ndarray:
    """Rec.709-weighted sum of the channels, float32 HxW (linear -> luminance, display -> luma)."""
    img = _as_float(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"histogram: expected an HxWx3 image, got shape {img.shape}")
    return cv2.transform(img, REC709[None, :])


def _as_float(image: np.ndarray) -> np.ndarray:
    """float32 view/copy; 8/16-bit integer images are scaled to [0, 1]."""
    img = np.asarray(image)
    if img.dtype in (np.uint8, np.uint16):
        return img.astype(np.float32) * np.float32(1.0 / np.iinfo(img.dtype).max)
    return img.astype(np.float32, copy=False)


def _clip_shares(rgb: np.ndarray) -> tuple[float, float]:
    """(share with all channels <= 0, share with any channel >= 1) of a display image."""
    img = _as_float(rgb)
    n = img.shape[0] * img.shape[1]
    peak = channel_max(img)  # numpy's max over a 3-long last axis took 2 ms of a 4 ms update
    low = int(np.count_nonzero(peak <= 0.0))
    high = int(np.count_nonzero(peak >= 1.0))
    return low / n, high / n


def _hist(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts of float32 values in ``bins`` equal bins over [lo, hi]; outliers go to the ends."""
    v = np.clip(values.reshape(-1, 1), lo, hi).astype(np.float32)
    # calcHist's upper range is exclusive: widen by a hair so the maximum lands in the last bin.
    top = hi + (hi - lo) * 1e-6
    counts = cv2.calcHist([v], [0], None, [bins], [lo, top]).ravel()
    return counts.astype(np.int64)


def luminance_histogram(
    image: np.ndarray, kind: ResultKind | str, bins: int = 256, *, display: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Histogram of an image's luminance.

    image: HDR_LINEAR -> linear radiance >= 0 (histogram of log2 luminance, pixels with
        luminance <= 0 are left out and counted in the low share; range = robust 0.1 / 99.9
        percentiles, values outside go to the end bins);
        LDR_FUSED -> display-referred [0, 1] (histogram of Rec.709 luma over [0, 1]).
    display: optional rendered display image [0, 1]; when given the clip shares come from it.
    Returns (edges float64 [bins+1], counts int64 [bins], clipped_low_frac, clipped_high_frac).
    """
    if bins < 1:
        raise InputError(f"histogram: bins must be >= 1, got {bins}")
    kind = ResultKind(kind)
    lum = _luminance(image)
    if kind == ResultKind.LDR_FUSED:
        edges = np.linspace(0.0, 1.0, bins + 1)
        counts = _hist(lum, 0.0, 1.0, bins)
        low, high = _clip_shares(image if display is None else display)
        return edges, counts, low, high

    n = lum.size
    positive = lum[lum > 0]
    if display is not None:
        low, high = _clip_shares(display)
    else:
        low = (n - positive.size) / n
        high = int(np.count_nonzero(channel_max(_as_float(image)) >= 1.0)) / n
    if positive.size == 0:
        edges = np.linspace(-1.0, 0.0, bins + 1)
        return edges, np.zeros(bins, np.int64), low, high
    logl = np.log2(positive)
    # Percentiles on a fixed-size subsample: cheap, and the same on a proxy and at full size.
    step = max(1, logl.size // (_STATS_SIDE * _STATS_SIDE))
    lo, hi = np.percentile(logl[::step], [LOW_PCT, HIGH_PCT])
    lo, hi = float(lo), float(hi)
    if hi - lo < 1e-3:  # (nearly) uniform image: show one stop around it
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    return edges, _hist(logl, lo, hi, bins), low, high
