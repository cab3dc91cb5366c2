"""Local tone-mapping operators: Reinhard's dodging-and-burning and Mantiuk's contrast mapping.

Both work on a *working copy* of the luminance with a long side of at most 1024 px, then carry
the result to full resolution with a fast guided upsampling (He & Sun 2015) in log luminance:
inside each small window the low-resolution result is modelled as a*log L + b, and a and b are
upsampled, so edges and fine detail of the full-resolution image stay sharp and no halo appears
at the working resolution's pixel scale. Working at a fixed size also makes a ~1600 px preview
proxy and the full-size export look the same, and keeps 12 MP fast.

Input: linear RGB >= 0 (any scale). Output: display-linear RGB in [0, 1]; colour by luminance
ratio (C / L)^s * L_out.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.tonemap.display import REC709
from app.core.tonemap.global_ops import log_floor, scene_stats

WORK_SIDE = 1024  # long side of the working copy
_GF_RADIUS = 2  # guided-upsampling window radius, in working-copy pixels
_GF_EPS = 1e-2  # regularisation in (natural log luminance)^2: edges above ~0.1 log-unit kept
WHITE_PERCENTILE = 99.9  # of the Mantiuk result, mapped to display white
MANTIUK_HEADROOM = 4.0  # input capped this far (2 stops) above the 99th percentile


def _luminance(rgb: np.ndarray) -> np.ndarray:
    lum = cv2.transform(np.asarray(rgb, np.float32), REC709[None, :])
    return np.maximum(lum, 0.0)


def _work_size(h: int, w: int) -> tuple[int, int]:
    f = min(1.0, WORK_SIDE / max(h, w))
    return max(1, round(w * f)), max(1, round(h * f))


def _box(a: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(guide_lo: np.ndarray, target_lo: np.ndarray, guide_hi: np.ndarray) -> np.ndarray:
    """Fast guided upsampling: fit target ~ a * guide + b in small windows at low resolution,
    upsample a and b bilinearly and apply them to the full-resolution guide. float32 HxW."""
    r, eps = _GF_RADIUS, _GF_EPS
    m_i = _box(guide_lo, r)
    m_p = _box(target_lo, r)
    cov = _box(guide_lo * target_lo, r) - m_i * m_p
    var = _box(guide_lo * guide_lo, r) - m_i * m_i
    a = cov / (var + eps)
    b = m_p - a * m_i
    a = _box(a, r)
    b = _box(b, r)
    size = (guide_hi.shape[1], guide_hi.shape[0])
    if a.shape != guide_hi.shape:
        a = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, size, interpolation=cv2.INTER_LINEAR)
    out = a * guide_hi
    out += b
    return out


def _apply_ratio(rgb: np.ndarray, lum: np.ndarray, lout: np.ndarray, s: float) -> np.ndarray:
    """Colour by ratio: (C / L)^s * L_out, clipped to [0, 1] (NaN-free)."""
    ratio_den = np.maximum(lum, 1e-30)[..., None]
    c = np.asarray(rgb, np.float32) / ratio_den
    if s != 1.0:
        np.power(np.maximum(c, 0.0, out=c), np.float32(s), out=c)
    c *= lout[..., None]
    np.fmax(c, 0.0, out=c)
    np.minimum(c, 1.0, out=c)
    return c


def reinhard_local(
    linear: np.ndarray,
    *,
    gain: float = 1.0,
    key: float = 0.18,
    white: float = 0.0,
    phi: float = 8.0,
    threshold: float = 0.05,
) -> np.ndarray:
    """Reinhard et al. 2002 dodging-and-burning (eq. 5-9): for each pixel the largest
    centre-surround scale whose normalised difference |V1 - V2| / (2^phi key / s^2 + V1) stays
    below ``threshold`` gives the local adaptation V1; L_out = Ls (1 + Ls / Lw^2) / (1 + V1).
    Nine scales s = 1.6^i (i = 0..8) at the 1024 px working size, Gaussian sigma = s / 2.
    ``white`` as in the global operator (0 = the scene peak). Output display-linear [0, 1]."""
    stats = scene_stats(linear)
    lum = _luminance(linear)
    scale = key / stats.log_average
    lw = white if white > 0 else scale * stats.peak
    lw = max(float(lw), 1e-6)
    ls = lum * np.float32(scale)

    size = _work_size(*lum.shape)
    small = cv2.resize(ls, size, interpolation=cv2.INTER_AREA) if size != lum.shape[::-1] else ls
    small = small.astype(np.float32)
    scales = [1.6**i for i in range(9)]
    blurs = [cv2.GaussianBlur(small, (0, 0), s / 2.0, borderType=cv2.BORDER_REFLECT) for s in scales]
    adapt = blurs[0].copy()
    active = np.ones(small.shape, bool)
    for i in range(len(scales) - 1):
        v1, v2 = blurs[i], blurs[i + 1]
        act = np.abs(v1 - v2) / (2.0**phi * key / scales[i] ** 2 + v1)
        active &= act < threshold  # once a scale fails, larger ones are not considered
        adapt[active] = v2[active]

    floor = np.float32(log_floor(stats) * scale)
    log_small = np.log(np.maximum(small, floor))
    log_adapt = np.log(np.maximum(adapt, floor))
    log_full = np.log(np.maximum(ls, floor))
    adapt_full = np.exp(guided_upsample(log_small, log_adapt, log_full))

    # White follows the exposure (as in the global operator): with Lw fixed at the unpushed
    # peak, a +2 EV push clamped the sun to Lw while its local adaptation kept growing, and
    # L / (1 + V) turned the brightest pixels dark (specks in window panes, a grey sun).
    lw_e = np.float32(lw * gain if white <= 0 else lw)
    ls_e = ls * np.float32(gain)  # exposure after the key normalisation
    at_white = ls_e >= lw_e
    np.minimum(ls_e, lw_e, out=ls_e)
    lout = ls_e * (1.0 + ls_e / (lw_e * lw_e)) / (1.0 + adapt_full * np.float32(gain))
    # Eq. 4's promise, kept locally: what reaches the white point is white, and nothing at or
    # above it is darker than a dimmer pixel would be mapped by the global curve.
    lout[at_white] = 1.0
    np.minimum(lout, 1.0, out=lout)
    return _apply_ratio(linear, lum, lout, 1.0)


def mantiuk(
    linear: np.ndarray,
    *,
    gain: float = 1.0,
    scale: float = 0.7,
    saturation: float = 1.0,
) -> np.ndarray:
    """Mantiuk et al. 2006 contrast-domain operator (OpenCV's TonemapMantiuk, ``scale`` = contrast
    compression factor) run on the 1024 px working luminance; its log-luminance result is carried
    to full size by guided upsampling (guide: input log luminance), so local contrast compression
    transfers while full-resolution detail stays. Colour: (C / L)^saturation * L_out.
    Output display-linear [0, 1]; ``gain`` scales the display luminance (exposure)."""
    stats = scene_stats(linear)
    lum = _luminance(linear)
    floor = np.float32(log_floor(stats))
    size = _work_size(*lum.shape)
    small = cv2.resize(lum, size, interpolation=cv2.INTER_AREA) if size != lum.shape[::-1] else lum
    # OpenCV's solver needs a bounded range: zeros make NaN (log 0) and specular pixels far above
    # the scene white break its contrast pyramid. Above the robust peak is white anyway.
    lo = max(float(floor), stats.peak * 2.0**-20)
    # A light source (the sun, a lamp) is a huge step at its edge; the contrast pyramid spreads
    # that step into a bright halo around it (the ring next to a 2000x sun came out 5x brighter
    # than without the sun; 1.25x with the cap). It is white anyway: cap it 2 stops above the
    # 99th percentile (bright windows covering 1 % of the frame keep their detail).
    hi = max(min(stats.peak, float(np.percentile(small, 99.0)) * MANTIUK_HEADROOM), lo)
    small = np.clip(small, lo, hi).astype(np.float32)
    if float(small.max()) <= float(small.min()) * 1.0001:
        # No contrast to map (OpenCV's solver asserts on it): a flat field goes to white.
        mapped_l = np.ones_like(small)
    else:
        grey = cv2.merge([small, small, small])
        logging = cv2.utils.logging
        level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)  # a deprecation WARN about MatExpr
        try:
            mapped_l = cv2.createTonemapMantiuk(1.0, float(scale), 1.0).process(grey)[..., 1]
        finally:
            logging.setLogLevel(level)
    log_out = np.log(np.maximum(mapped_l, 1e-6))
    # OpenCV normalises the result by its min / max, so a few specular pixels would darken the
    # whole picture: place white at the 99.9th percentile instead (brighter pixels clip).
    log_out -= np.float32(np.percentile(log_out, WHITE_PERCENTILE))
    log_in = np.log(small)
    log_full = np.log(np.clip(lum, lo, None))
    lout = np.exp(guided_upsample(log_in, log_out, log_full))
    lout *= np.float32(gain)
    np.minimum(lout, 1.0, out=lout)
    return _apply_ratio(linear, lum, lout, float(saturation))


LOCAL_FUNCTIONS = {"reinhard_local": reinhard_local, "mantiuk": mantiuk}

__all__ = ["LOCAL_FUNCTIONS", "guided_upsample", "mantiuk", "reinhard_local"]
