"""White balance as a photographer sets it: colour temperature (kelvin) and tint.

The temperature names the light the photo was taken under: setting it to that light's
temperature makes whites white (3200 K neutralises tungsten; higher values warm the picture).
Tint moves the assumed light along the green-magenta axis (+ = the picture turns magenta).
``NEUTRAL_K`` with tint 0 is "as shot": gains of exactly 1.

Model: the assumed light's chromaticity is the Planckian locus at T (Kim et al. 2002 cubic fit,
valid 1667-25000 K), shifted perpendicular to it in CIE 1960 uv by ``tint * TINT_UV``; its
linear sRGB colour gives per-channel von Kries gains (in linear light, before tone mapping),
normalised so the gains of the neutral setting are 1 and a grey's luminance is kept.

:func:`neutral_settings` finds the temperature and tint that make a given colour neutral (the
grey picker); :func:`auto_settings` applies it to the image's well-exposed mid-tones (grey world).
"""

from __future__ import annotations

import math

import numpy as np

from app.core.errors import InputError

NEUTRAL_K = 6504.0
TEMPERATURE_RANGE = (2000.0, 12000.0)
TINT_RANGE = (-100.0, 100.0)
TINT_UV = 0.0004  # uv shift per tint unit: +-100 is +-0.04, about Lightroom's +-150

_XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                         [-0.9692660, 1.8760108, 0.0415560],
                         [0.0556434, -0.2040259, 1.0572252]])
_REC709 = np.array([0.2126, 0.7152, 0.0722])


def _planck_xy(t: float) -> tuple[float, float]:
    """CIE 1931 xy of a black body at ``t`` kelvin (Kim et al. 2002)."""
    t = min(max(t, 1667.0), 25000.0)
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def _xy_to_uv(x: float, y: float) -> tuple[float, float]:
    d = -2 * x + 12 * y + 3
    return 4 * x / d, 6 * y / d


def _uv_to_xy(u: float, v: float) -> tuple[float, float]:
    d = 2 * u - 8 * v + 4
    return 3 * u / d, 2 * v / d


def _light_rgb(temperature: float, tint: float) -> np.ndarray:
    """Linear sRGB colour (Y = 1) of the light assumed by the setting."""
    u, v = _xy_to_uv(*_planck_xy(temperature))
    u2, v2 = _xy_to_uv(*_planck_xy(temperature * 1.01))
    du, dv = u2 - u, v2 - v
    norm = math.hypot(du, dv) or 1.0
    # unit normal to the locus pointing to green (larger v): a greener light, so the
    # correction adds magenta for a positive tint
    nu, nv = -dv / norm, du / norm
    if nv < 0:
        nu, nv = -nu, -nv
    x, y = _uv_to_xy(u + nu * tint * TINT_UV, v + nv * tint * TINT_UV)
    xyz = np.array([x / y, 1.0, (1 - x - y) / y])
    return _XYZ_TO_SRGB @ xyz


_NEUTRAL_RGB = _light_rgb(NEUTRAL_K, 0.0)


def check_settings(temperature: float, tint: float) -> None:
    lo, hi = TEMPERATURE_RANGE
    if not lo <= temperature <= hi:
        raise InputError(f"temperature must be within {lo:g}-{hi:g} K, got {temperature}")
    lo, hi = TINT_RANGE
    if not lo <= tint <= hi:
        raise InputError(f"tint must be within {lo:g} to {hi:g}, got {tint}")


def is_neutral(temperature: float, tint: float) -> bool:
    return temperature == NEUTRAL_K and tint == 0.0


def gains(temperature: float, tint: float) -> np.ndarray:
    """Per-channel linear gains (float32, 3) of a setting; exactly 1 for the neutral one."""
    check_settings(temperature, tint)
    if is_neutral(temperature, tint):
        return np.ones(3, np.float32)
    g = _NEUTRAL_RGB / np.maximum(_light_rgb(temperature, tint), 1e-6)
    return (g / float(_REC709 @ g)).astype(np.float32)


def neutral_settings(colour: np.ndarray) -> tuple[float, float]:
    """(temperature, tint) within the ranges that make the linear RGB ``colour`` neutral (or as
    close as the ranges allow)."""
    from scipy.optimize import minimize

    c = np.maximum(np.asarray(colour, np.float64).reshape(3), 1e-6)

    def cast(p: np.ndarray) -> float:
        t = math.exp(p[0])
        tint = float(np.clip(p[1], *TINT_RANGE))
        t = float(np.clip(t, *TEMPERATURE_RANGE))
        out = np.log(_NEUTRAL_RGB / np.maximum(_light_rgb(t, tint), 1e-6) * c)
        return float(np.var(out))

    best = None
    for t0 in (2800.0, 4500.0, 6500.0, 9000.0):  # a few starts: the surface is not convex
        res = minimize(cast, np.array([math.log(t0), 0.0]), method="Nelder-Mead",
                       options={"xatol": 1e-4, "fatol": 1e-10, "maxiter": 400})
        if best is None or res.fun < best.fun:
            best = res
    t = float(np.clip(math.exp(best.x[0]), *TEMPERATURE_RANGE))
    tint = float(np.clip(best.x[1], *TINT_RANGE))
    return round(t), round(tint, 1)


def auto_settings(linear: np.ndarray) -> tuple[float, float]:
    """Grey-world white balance of a linear RGB image (>= 0): the mean colour of its pixels
    that are neither near black nor clipped (luminance between the 2nd and 98th percentiles,
    no channel at the image's peak) made neutral."""
    img = np.asarray(linear, np.float32)
    step = max(1, round(max(img.shape[:2]) / 400))
    small = img[::step, ::step].reshape(-1, 3)
    lum = small @ _REC709.astype(np.float32)
    lo, hi = np.percentile(lum, [2, 98])
    peak = float(np.percentile(small.max(axis=1), 99.9))
    keep = (lum >= lo) & (lum <= hi) & (small.max(axis=1) < 0.98 * peak)
    if np.count_nonzero(keep) < 16:
        keep = lum > 0
    if not np.any(keep):
        return NEUTRAL_K, 0.0
    return neutral_settings(small[keep].mean(axis=0))
