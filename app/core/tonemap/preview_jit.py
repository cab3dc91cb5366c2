"""The compiled loop behind :mod:`app.core.tonemap.preview_kernel` (numba; imported only by its
``warm_up``, so nothing else pays numba's import or compile).

One row at a time, in stages a compiler vectorises: the per-pixel factor from the table (expanded
to the three channels, so the next loops run flat over the row), the encode (branch-free: the
sRGB toe as a polynomial in the encoded value), the look (only when set), quantisation.
fastmath is safe: every input is finite (the tick factors are NaN-free, the tables finite).
Functions sit at module level with module-level constants so numba's on-disk cache holds them
(closures recompiled in every process).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SRGB_T = 0.0031308


def _toe_polynomial() -> np.ndarray:
    """Coefficients c1..c4 of s^2.4 ~ sum c_k s^k on s in [0, 1] (least squares; max error
    4.8e-4, i.e. 0.005 of an 8-bit step on the toe's outputs, which end at 0.0405)."""
    s = np.linspace(0.0, 1.0, 20001)
    basis = np.stack([s**k for k in range(1, 5)], axis=1)
    return np.linalg.lstsq(basis, s**2.4, rcond=None)[0].astype(np.float32)


C1, C2, C3, C4 = (np.float32(c) for c in _toe_polynomial())
TOE_END = np.float32(1.055 * _SRGB_T ** (1 / 2.4))  # encoded value of the sRGB toe's end
TOE_TOP = np.float32(12.92 * _SRGB_T)  # the toe's output there
INV_TOE_END = np.float32(1.0) / TOE_END
ZERO, ONE = np.float32(0.0), np.float32(1.0)


@njit(inline="always", cache=True)
def luma(r, g, b):
    """Rec.709 luma of encoded values (as look.py's)."""
    return np.float32(0.2126) * r + np.float32(0.7152) * g + np.float32(0.0722) * b


@njit(inline="always", cache=True)
def lerp(tab, x):
    """Linear interpolation of table ``tab`` at fractional index x (clamped to its ends)."""
    n = tab.shape[0]
    x = min(max(x, np.float32(0.0)), np.float32(n - 1))
    k = min(np.int32(x), n - 2)
    return tab[k] + (x - np.float32(k)) * (tab[k + 1] - tab[k])


@njit(inline="always", cache=True, fastmath=True)
def encode_srgb(v):
    """sRGB-encoded [0, 1] from v = f * powered = (K r C)^(1/2.4) (branch-free toe)."""
    s = v * INV_TOE_END
    toe = TOE_TOP * s * (C1 + s * (C2 + s * (C3 + s * C4)))
    v = toe if s <= ONE else v - np.float32(0.055)
    return min(max(v, ZERO), ONE)


@njit(inline="always", cache=True, fastmath=True)
def clip01(v):
    """v clipped to [0, 1]."""
    return min(max(v, ZERO), ONE)


@njit(inline="always", cache=True, fastmath=True)
def quantise(v):
    """[0, 1] (clipped here) to 0..255, rounded to nearest."""
    v = min(max(v, ZERO), ONE)
    return np.uint8(np.int32(v * np.float32(255.0) + np.float32(0.5)))


@njit(nogil=True, cache=True, fastmath=True, boundscheck=False)
def rows(a, b, index, index_scale, powered, mult, ftab, srgb, look_tab, tone_on, lift,
         vibrance, out):
    """Rows [a, b) into uint8 ``out``: encode(ftab(index * index_scale) * powered * mult)
    (``mult``: 3 per-channel factors, the white balance's gains to the 1/2.4), then the
    look (tone ratio table ``look_tab`` on the encoded luma when ``tone_on``, black ``lift``,
    overflow compression, ``vibrance`` in [-1, 1]), as look.apply_look does."""
    w = powered.shape[1]
    nl1 = np.float32(look_tab.shape[0] - 1)
    look_on = tone_on or vibrance != ZERO
    m0, m1, m2 = mult[0], mult[1], mult[2]
    factor = np.empty(3 * w, np.float32)  # per channel value: flat loops vectorise
    buf = np.empty(3 * w, np.float32)
    for i in range(a, b):
        idx = index[i]
        for j in range(w):
            f = lerp(ftab, idx[j] * index_scale)
            factor[3 * j] = f * m0
            factor[3 * j + 1] = f * m1
            factor[3 * j + 2] = f * m2
        p = powered[i].reshape(-1)
        o = out[i].reshape(-1)
        if not look_on:  # the common tick: encode straight into the 8-bit row
            if srgb:
                for m in range(3 * w):
                    o[m] = quantise(encode_srgb(factor[m] * p[m]))
            else:
                for m in range(3 * w):
                    o[m] = quantise(factor[m] * p[m])
            continue
        if srgb:
            for m in range(3 * w):
                buf[m] = encode_srgb(factor[m] * p[m])
        else:
            for m in range(3 * w):
                buf[m] = clip01(factor[m] * p[m])
        if tone_on:
            for j in range(0, 3 * w, 3):
                r, g, bl = buf[j], buf[j + 1], buf[j + 2]
                y = luma(r, g, bl)
                ratio = lerp(look_tab, y * nl1)
                r = r * ratio + lift  # luma f(y); a lifted black level added as grey
                g = g * ratio + lift
                bl = bl * ratio + lift
                peak = max(max(r, g), bl)
                if peak > ONE:  # a channel pushed past white: toward the luma, hue kept
                    yy = min(luma(r, g, bl), ONE)
                    s = clip01((ONE - yy) / max(peak - yy, np.float32(1e-6)))
                    r = yy + (r - yy) * s
                    g = yy + (g - yy) * s
                    bl = yy + (bl - yy) * s
                buf[j], buf[j + 1], buf[j + 2] = r, g, bl
        if vibrance != ZERO:
            for j in range(0, 3 * w, 3):
                r, g, bl = buf[j], buf[j + 1], buf[j + 2]
                y = luma(r, g, bl)
                sat = min(max(max(max(r, g), bl) - min(min(r, g), bl), ZERO),
                          np.float32(1.0 / 1.5))
                gain = sat * (np.float32(-1.5) * vibrance) + ONE + vibrance
                buf[j] = (r - y) * gain + y
                buf[j + 1] = (g - y) * gain + y
                buf[j + 2] = (bl - y) * gain + y
        for m in range(3 * w):
            o[m] = quantise(buf[m])
