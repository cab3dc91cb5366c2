"""Global tone-mapping operators (one curve on luminance for the whole image) and the strip engine
that applies them fast.

Every global operator is a monotone curve ``L -> L_out`` from scene luminance (linear, >= 0) to
display-linear luminance in [0, 1]; colour is carried by the ratio C * L_out / L (hue and
saturation of the scene kept, Schlick-style with exponent 1). The curve's scene normalisation
(log-average "key", peak) comes from :func:`scene_stats`, computed on a small thumbnail, so a
~1600 px preview proxy and the full-resolution export get the same curve (what you see is what
you export).

Exposure (``gain`` = 2**EV) is applied in linear light *after* the operator's own normalisation:
otherwise an operator that normalises by the log-average would cancel the exposure slider.

Speed: the per-pixel work runs on horizontal strips in a small thread pool (numpy and OpenCV
release the GIL), which keeps each strip's intermediates in cache.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from app.core.tonemap.display import REC709, apply_saturation, encode, srgb_decode

STATS_SIDE = 256  # long side of the thumbnail the scene statistics are taken on
_TINY = np.float32(1e-30)
_STRIP_ROWS = 64

Curve = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SceneStats:
    """Scene luminance statistics before exposure (linear units of the image).

    log_average: exp(mean(log L)) over pixels with L > 0 (Reinhard's key reference; black pixels
        are left out so a black border does not darken the key).
    peak: 99.9th percentile of the thumbnail luminance: the "scene white" (robust to specular
        highlights and hot pixels, which then clip).
    """

    log_average: float
    peak: float


PEAK_PERCENTILE = 99.9


def scene_stats(linear: np.ndarray) -> SceneStats:
    """:class:`SceneStats` of linear RGB HxWx3 (>= 0), from an area-averaged thumbnail of about
    256 px (an integer reduction, so it is fast and a proxy and the full image agree)."""
    img = np.asarray(linear, dtype=np.float32)
    return luminance_stats(cv2.transform(img, REC709[None, :]))


def luminance_stats(lum: np.ndarray) -> SceneStats:
    """:class:`SceneStats` from a float32 HxW luminance image (see :func:`scene_stats`)."""
    h, w = lum.shape
    k = max(1, max(h, w) // STATS_SIDE)
    ky, kx = min(k, h), min(k, w)  # a thin strip is reduced along its long side only
    if k > 1:
        crop = lum[: h // ky * ky, : w // kx * kx]
        lum = cv2.resize(crop, (w // kx, h // ky), interpolation=cv2.INTER_AREA)
    lum = np.nan_to_num(lum.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0).ravel()
    pos = lum[lum > 0.0]
    if pos.size == 0:
        return SceneStats(1.0, 1.0)  # black image: any curve maps it to black
    peak = float(np.percentile(lum, PEAK_PERCENTILE))
    if peak <= 0.0:  # almost all black: the brightest pixel is the white
        peak = float(pos.max())
    log_avg = float(np.exp(np.mean(np.log(np.maximum(pos, peak * 1e-12)))))
    return SceneStats(log_avg, peak)


def log_floor(stats: SceneStats) -> float:
    """Smallest luminance worth resolving in log space: 2^-24 of the log-average (black below)."""
    return stats.log_average * 2.0**-24


# ------------------------------------------------------------------------------------ curves
def reinhard_curve(stats: SceneStats, gain: float, key: float = 0.18, white: float = 0.0) -> Curve:
    """Reinhard et al. 2002 global operator (eq. 4): Ls = key / Lavg * L,
    L_out = Ls (1 + Ls / Lw^2) / (1 + Ls). ``white`` = Lw in key-scaled units, 0 = the scene's
    peak *after* the exposure gain, so the brightest area maps exactly to white and an exposure
    push brightens the rest along the curve instead of clipping it (with Lw fixed at the
    unpushed peak, +4.5 EV turned a low-contrast frame 100 % white)."""
    scale = np.float32(key / stats.log_average * gain)
    lw = white if white > 0 else key / stats.log_average * stats.peak * gain
    lw = max(float(lw), 1e-6)
    inv_lw2 = np.float32(1.0 / (lw * lw))

    def curve(lum: np.ndarray) -> np.ndarray:
        ls = lum * scale
        np.minimum(ls, np.float32(lw), out=ls)  # L_out(Lw) = 1: clamp keeps it finite for 1e6
        num = ls * inv_lw2
        num += 1.0
        num *= ls
        ls += 1.0
        num /= ls
        return num

    return curve


def drago_curve(stats: SceneStats, gain: float, bias: float = 0.85) -> Curve:
    """Drago et al. 2003 adaptive logarithmic mapping with Ld_max = 100 cd/m2 normalised to 1:
    L_out = ln(1 + Lw) / ln(2 + 8 (Lw / Lwmax)^(ln b / ln 0.5)) / log10(1 + Lwmax),
    with Lw = L / Lavg (world adaptation) and Lwmax the peak; the peak maps to 1."""
    lwa = stats.log_average
    tmax = max(stats.peak / lwa, 1e-6)
    scale = np.float32(gain / lwa)
    p = np.float32(math.log(bias) / math.log(0.5))
    norm = np.float32(1.0 / math.log10(1.0 + tmax))
    inv_tmax = np.float32(1.0 / tmax)

    def curve(lum: np.ndarray) -> np.ndarray:
        t = lum * scale
        np.minimum(t, np.float32(tmax), out=t)  # above the peak the display is white anyway
        rel = t * inv_tmax
        np.maximum(rel, _TINY, out=rel)
        cv2.log(rel, rel)
        rel *= p
        cv2.exp(rel, rel)  # (Lw / Lwmax)^p
        rel *= 8.0
        rel += 2.0
        cv2.log(rel, rel)
        t += 1.0  # ln(1 + t) through OpenCV's vectorised log (numpy's log1p is several x slower)
        cv2.log(t, t)
        t /= rel
        t *= norm
        return t

    return curve


# Hable's filmic curve constants (Uncharted 2): shoulder, linear, toe strengths and angles.
_HA, _HB, _HC, _HD, _HE, _HF = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30


def _hable(x):
    return (x * (_HA * x + _HC * _HB) + _HD * _HE) / (x * (_HA * x + _HB) + _HD * _HF) - _HE / _HF


def filmic_curve(
    stats: SceneStats,
    gain: float,
    key: float = 0.18,
    exposure_bias: float = 2.0,
    white: float = 11.2,
) -> Curve:
    """Hable's filmic curve: x = exposure_bias * key / Lavg * L, L_out = H(x) / H(white),
    H(x) = (x(Ax + CB) + DE) / (x(Ax + B) + DF) - E/F. Soft toe and shoulder, white at ``white``."""
    scale = np.float32(exposure_bias * key / stats.log_average * gain)
    w = float(white)
    inv_hw = np.float32(1.0 / _hable(w))

    def curve(lum: np.ndarray) -> np.ndarray:
        x = lum * scale
        np.minimum(x, np.float32(w), out=x)
        num = x * np.float32(_HA)
        den = num + np.float32(_HB)
        num += np.float32(_HC * _HB)
        num *= x
        num += np.float32(_HD * _HE)
        den *= x
        den += np.float32(_HD * _HF)
        num /= den
        num -= np.float32(_HE / _HF)
        num *= inv_hw
        return num

    return curve


CURVES: dict[str, Callable[..., Curve]] = {
    "reinhard": reinhard_curve,
    "drago": drago_curve,
    "filmic": filmic_curve,
}


# ------------------------------------------------------------------------------ strip engine
_POOL: ThreadPoolExecutor | None = None

# sRGB: 1.055 * x^(1/2.4) - 0.055 = (K x)^(1/2.4) - 0.055 with K = 1.055^2.4. Folding K into a
# per-pixel factor that is computed anyway (the luminance ratio, the exposure gain) saves a pass.
_SRGB_K = 1.055**2.4
_SRGB_T = 0.0031308  # linear end of the sRGB toe
_SRGB_TD = 0.04045  # encoded end of the toe


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="tonemap"
        )
    return _POOL


def run_strips(fn: Callable[[np.ndarray, np.ndarray], None], src: np.ndarray, dst: np.ndarray) -> None:
    """Call fn(src_rows, dst_rows) on horizontal strips, in parallel; dst is written in place."""
    h = src.shape[0]
    if h <= _STRIP_ROWS:
        fn(src, dst)
        return
    spans = [(y, min(h, y + _STRIP_ROWS)) for y in range(0, h, _STRIP_ROWS)]
    futures = [_pool().submit(fn, src[a:b], dst[a:b]) for a, b in spans]
    for fut in futures:
        fut.result()  # re-raises a strip's exception


def prescale(gamma: float | None) -> float:
    """Factor the caller multiplies display-linear values by before :func:`encode_prescaled`."""
    return _SRGB_K if gamma == 0.0 else 1.0


def encode_prescaled(dst: np.ndarray, gamma: float | None) -> None:
    """In place: dst = encode(clip(x, 0, 1)) given dst = x * prescale(gamma) (NaN -> 0).

    gamma None: display-linear output (clip only); 0: sRGB; else x ** (1 / gamma).
    """
    k = np.float32(prescale(gamma))
    np.fmax(dst, 0.0, out=dst)
    np.minimum(dst, k, out=dst)
    if gamma is None or gamma == 1.0:
        return
    if gamma != 0.0:
        np.power(dst, np.float32(1.0 / gamma), out=dst)
        return
    toe = dst < np.float32(_SRGB_T * _SRGB_K)  # usually few pixels: gathered and fixed sparsely
    toe_vals = dst[toe] * np.float32(12.92 / _SRGB_K)
    np.power(dst, np.float32(1.0 / 2.4), out=dst)
    dst -= np.float32(0.055)
    dst[toe] = toe_vals


def curve_strip(
    curve: Curve, saturation: float = 1.0, gamma: float | None = None
) -> Callable[[np.ndarray, np.ndarray], None]:
    """Strip function: luminance curve with ratio colour, optional saturation, clip, encode.

    src: linear RGB rows (>= 0); dst: display-linear [0, 1] (gamma None) or display-encoded
    (gamma 0 = sRGB, else 1/gamma power).
    """
    k = np.float32(prescale(gamma) if saturation == 1.0 else 1.0)

    def fn(src: np.ndarray, dst: np.ndarray) -> None:
        lum = cv2.transform(src, REC709[None, :])
        np.maximum(lum, 0.0, out=lum)
        lout = curve(lum)
        np.fmax(lout, 0.0, out=lout)  # NaN-safe clip to the operator's [0, 1] range
        np.minimum(lout, 1.0, out=lout)
        np.maximum(lum, _TINY, out=lum)
        np.divide(lout, lum, out=lum)  # ratio: colour kept, luminance becomes lout
        if k != 1.0:
            lum *= k
        np.multiply(src, cv2.merge([lum, lum, lum]), out=dst)
        if saturation != 1.0:
            apply_saturation(dst, saturation, lum=lout, out=dst)
            dst *= np.float32(prescale(gamma))
        encode_prescaled(dst, gamma)

    return fn


def channel_strip(
    gain: float, saturation: float = 1.0, gamma: float | None = None
) -> Callable[[np.ndarray, np.ndarray], None]:
    """Strip function, per channel on linear input: gain, saturation, clip, encode.

    Used by operator "none" and to finish local operators (gain 1).
    """
    pre = prescale(gamma)
    g = np.float32(gain * pre if saturation == 1.0 else gain)

    def fn(src: np.ndarray, dst: np.ndarray) -> None:
        np.multiply(src, g, out=dst)
        if saturation != 1.0:
            apply_saturation(dst, saturation, out=dst)
            dst *= np.float32(pre)
        encode_prescaled(dst, gamma)

    return fn


def ldr_strip(gain: float, saturation: float, gamma: float) -> Callable[[np.ndarray, np.ndarray], None]:
    """Strip function for display-referred sRGB input: decode, gain, saturation, encode.

    With saturation 1 the chain collapses: on the power segments of the sRGB curve,
    encode(g * decode(x)) = g^(1/2.4) (x + 0.055) - 0.055 (affine) and with a 1/gamma output
    (g^(1/gamma)) ((x + 0.055) / 1.055)^(2.4 / gamma) (one power); pixels in either toe are
    recomputed exactly with the full formulas.
    """
    def exact(x: np.ndarray) -> np.ndarray:
        lin = srgb_decode(x)
        lin *= np.float32(gain)
        if saturation != 1.0:
            apply_saturation(lin, saturation, out=lin)
        return encode(lin, gamma, out=lin)

    if saturation != 1.0:
        return lambda src, dst: np.copyto(dst, exact(src))

    if gamma == 0.0:
        return _ldr_srgb_strip(gain, exact)

    def fn(src: np.ndarray, dst: np.ndarray) -> None:
        toe = src < np.float32(_SRGB_TD)  # decode toe: recomputed exactly
        toe_vals = exact(src[toe])
        np.add(src, np.float32(0.055), out=dst)
        dst *= np.float32(1 / 1.055)
        np.power(dst, np.float32(2.4 / gamma), out=dst)
        dst *= np.float32(gain ** (1 / gamma))
        np.fmax(dst, 0.0, out=dst)
        np.minimum(dst, 1.0, out=dst)
        dst[toe] = toe_vals

    return fn


def _ldr_srgb_strip(
    gain: float, exact: Callable[[np.ndarray], np.ndarray]
) -> Callable[[np.ndarray, np.ndarray], None]:
    """sRGB in, gain, sRGB out (saturation 1), without gathering the (often many) toe pixels.

    Outside a narrow band of inputs the result is one of two lines in x:
    A = g^(1/2.4) (x + 0.055) - 0.055 (both power segments) above the band and B = g x (both
    toes) below it. For g > 1, A has the positive intercept and the smaller slope, so B < A below
    the band and A < B above it: the result is min(A, B); for g < 1 it is max(A, B). The band
    holds the inputs where one toe meets the other power segment (x in (0.04045 / g, 0.04045]
    for g > 1, x in (0.04045, encode(0.0031308 / g)] for g < 1) plus the crossing of A and B
    (near x = 0.0393 when g is near 1); only those pixels are recomputed exactly.
    """
    a = gain ** (1 / 2.4)
    if gain > 1.0:
        lo, hi = _SRGB_TD / gain, _SRGB_TD
    elif gain < 1.0:
        t = _SRGB_T / gain
        lo, hi = _SRGB_TD, (1.055 * t ** (1 / 2.4) - 0.055 if t < 1.0 else np.inf)
    else:
        lo = hi = _SRGB_TD  # A == B: no band
    if a != gain:  # gain 1 (or within rounding of it): A == B, nothing crosses
        cross = 0.055 * (1.0 - a) / (a - gain)
        lo, hi = min(lo, cross), max(hi, cross)
    # Margins: float32 rounding near the edges; extra pixels in the band are merely exact.
    lo32, hi32 = np.float32(lo * (1 - 1e-4)), np.float32(min(hi * (1 + 1e-4), 3.0e38))
    pick = np.minimum if gain > 1.0 else np.maximum
    g32, a32, off32 = np.float32(gain), np.float32(a), np.float32(a * 0.055 - 0.055)

    def fn(src: np.ndarray, dst: np.ndarray) -> None:
        line_b = src * g32
        np.multiply(src, a32, out=dst)
        dst += off32
        pick(dst, line_b, out=dst)
        np.fmax(dst, 0.0, out=dst)  # NaN -> 0 as in the exact path
        np.minimum(dst, 1.0, out=dst)
        if gain == 1.0:
            return
        if not (src.flags.c_contiguous and dst.flags.c_contiguous):  # flat views need these
            band_mask = (src >= lo32) & (src <= hi32)
            dst[band_mask] = exact(src[band_mask])
            return
        flat = src.reshape(-1)
        band = np.flatnonzero((flat >= lo32) & (flat <= hi32))
        if band.size:
            dst.reshape(-1)[band] = exact(flat[band])

    return fn
