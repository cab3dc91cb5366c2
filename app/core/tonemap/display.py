"""Display transform building blocks: exposure, sRGB / gamma encoding, saturation, quantisation.

Domains: *linear* values are proportional to light (scene radiance, or display-linear [0, 1]
after tone mapping); *display-encoded* values are what a screen or an 8/16-bit file stores
(sRGB transfer function, or a plain 1/gamma power), in [0, 1].

All functions take and return float32 (float64 is kept where given) and never modify their input
unless an ``out`` array is passed.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.errors import InputError

# Rec.709 / sRGB primaries luminance weights (linear light).
REC709 = np.array([0.2126, 0.7152, 0.0722], np.float32)

# IEC 61966-2-1 sRGB transfer function constants.
_SRGB_T = 0.0031308  # linear threshold of the toe
_SRGB_TD = 0.04045  # the same threshold on the encoded side (12.92 * _SRGB_T, rounded)
_SRGB_A = 0.055
_SRGB_SLOPE = 12.92


def exposure_gain(ev: float) -> float:
    """Linear gain of an exposure change of ``ev`` stops: 2 ** ev (applied in linear light)."""
    if not np.isfinite(ev):
        raise InputError(f"exposure must be a finite number of stops, got {ev}")
    return float(2.0**ev)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luminance HxW of linear RGB HxWx3 (same dtype as a float input)."""
    a = np.asarray(rgb)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    return cv2.transform(a, REC709[None, :].astype(a.dtype))


def srgb_encode(linear: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sRGB transfer function (IEC 61966-2-1): display-linear [0, 1] -> sRGB-encoded [0, 1].

    Input outside [0, 1] is clipped first (NaN -> 0). ``out`` may be the input array (in place).
    """
    x = np.asarray(linear)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    if out is None:
        out = np.empty_like(x)
    np.fmax(x, 0.0, out=out)  # fmax maps NaN to 0
    np.minimum(out, 1.0, out=out)
    low = out < _SRGB_T  # the linear toe: few pixels in practice, fixed up sparsely below
    toe = out[low] * _SRGB_SLOPE
    np.power(out, 1.0 / 2.4, out=out)
    out -= 1.0  # 1.055 p - 0.055 written as 1.055 (p - 1) + 1: exactly 1 at white
    out *= 1.0 + _SRGB_A
    out += 1.0
    out[low] = toe
    return out


def srgb_decode(display: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Inverse sRGB transfer function: sRGB-encoded [0, 1] -> linear [0, 1] (input clipped)."""
    y = np.asarray(display)
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float32)
    if out is None:
        out = np.empty_like(y)
    np.fmax(y, 0.0, out=out)
    np.minimum(out, 1.0, out=out)
    low = out <= _SRGB_TD
    toe = out[low] / _SRGB_SLOPE
    out += _SRGB_A
    out /= 1.0 + _SRGB_A
    np.power(out, 2.4, out=out)
    out[low] = toe
    return out


def check_gamma(gamma: float) -> float:
    """Validate a display gamma: 0 (sRGB transfer function) or a value in [0.2, 5]."""
    g = float(gamma)
    if not np.isfinite(g) or (g != 0.0 and not 0.2 <= g <= 5.0):
        raise InputError(f"gamma must be 0 (sRGB) or between 0.2 and 5, got {gamma}")
    return g


def encode(linear: np.ndarray, gamma: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """Display-linear [0, 1] -> display-encoded [0, 1]: sRGB when ``gamma`` is 0, else x**(1/gamma).

    Input is clipped to [0, 1] (NaN -> 0).
    """
    g = check_gamma(gamma)
    if g == 0.0:
        return srgb_encode(linear, out=out)
    x = np.asarray(linear)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    if out is None:
        out = np.empty_like(x)
    np.fmax(x, 0.0, out=out)
    np.minimum(out, 1.0, out=out)
    if g != 1.0:
        np.power(out, 1.0 / g, out=out)
    return out


def apply_saturation(
    rgb: np.ndarray, saturation: float, lum: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """Scale chroma around Rec.709 luminance in linear light: L + s * (C - L), negatives clipped.

    rgb: linear (scene or display-linear) HxWx3; saturation s >= 0 (1 = unchanged, 0 = grey).
    lum: its luminance when already known. Luminance is preserved (before the clip at 0).
    """
    s = float(saturation)
    if not np.isfinite(s) or s < 0:
        raise InputError(f"saturation must be >= 0, got {saturation}")
    if out is None:
        out = np.array(rgb, dtype=np.float32 if rgb.dtype != np.float64 else np.float64)
    elif out is not rgb:
        out[...] = rgb
    if s == 1.0:
        return out
    if lum is None:
        lum = luminance(out)
    grey = (1.0 - s) * lum
    out *= s
    out += cv2.merge([grey, grey, grey])  # faster than numpy's last-axis broadcast
    np.maximum(out, 0.0, out=out)
    return out


def to_uint(display01: np.ndarray, bits: int = 8) -> np.ndarray:
    """Display-encoded [0, 1] -> uint8 (bits=8) or uint16 (bits=16): clip, scale, round to nearest.

    NaN maps to 0.
    """
    if bits not in (8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {bits}")
    top = np.float32(255.0 if bits == 8 else 65535.0)
    x = np.asarray(display01, dtype=np.float32)
    if x.ndim == 0:
        return to_uint(x[None], bits)[0]
    out = np.empty(x.shape, np.uint8 if bits == 8 else np.uint16)
    rows = max(1, _TO_UINT_VALUES // max(1, x[:1].size))
    for a in range(0, x.shape[0], rows):  # row blocks: no full-size float temporary
        y = np.fmax(x[a : a + rows], 0.0)
        np.minimum(y, 1.0, out=y)
        y *= top
        np.rint(y, out=y)
        out[a : a + rows] = y
    return out


_TO_UINT_VALUES = 1 << 20  # values per block of to_uint (4 MB of float32)
