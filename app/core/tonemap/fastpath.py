"""Fast rendering of global operators (and "none") by factoring the display encode.

With colour by luminance ratio, every output channel is a per-pixel factor times the scene colour:
out_c = encode(r * C_c) with r = L_out / L (or the exposure gain for "none"), and saturation is
r * max(L + s (C_c - L), 0). On the power segment of the encode
(x^(1/g), or (K x)^(1/2.4) - 0.055 for sRGB with K = 1.055^2.4), this splits into
    (K r)^(1/g)  *  C_s,c^(1/g)
where the second factor depends only on the image, the saturation and the gamma. It is computed
once per image (:class:`Prepared`) and kept in a small cache, so moving the exposure or operator
sliders costs one power on a single channel instead of three. The few pixels with a channel in
the sRGB toe (r * min_c C_s,c below 0.0031308) are recomputed exactly with the full formula.

The cache holds at most two prepared images of at most 4 MP (preview proxies); larger images
(exports) are prepared strip by strip while they render, from the whole image's statistics, so
the five full-size factor arrays (32 B/px: 460 MB for 12 MP) never exist at once; the pixels are
the same as through the cache. An entry is matched by the array's identity, data
pointer, shape and a fingerprint of sampled pixels, so an array changed in place is re-prepared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from app.core.channels import channel_min
from app.core.tonemap.display import REC709, to_uint
from app.core.tonemap.global_ops import _STRIP_ROWS, SceneStats, _pool, luminance_stats

_SRGB_K = np.float32(1.055**2.4)
_SRGB_T = 0.0031308
CACHE_MAX_PIXELS = 4_000_000
_CACHE: OrderedDict[tuple, "Prepared"] = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.Lock()


@dataclass
class Prepared:
    """Per-image factors (all float32, NaN-free): scene statistics, luminance, saturated colour
    and its power, and the per-pixel factor below which a channel falls in the sRGB toe."""

    stats: SceneStats  # of the image itself (exposure-independent)
    lum: np.ndarray  # HxW Rec.709 luminance of the scene colour (>= 0)
    inv_lum: np.ndarray  # HxW  pre / max(lum, 1e-30): turns L_out into the encode factor
    colour: np.ndarray  # HxWx3 C_s (saturation applied, >= 0)
    powered: np.ndarray  # HxWx3 C_s ** (1 / 2.4) for sRGB, C_s ** (1 / gamma) otherwise
    toe_factor: np.ndarray  # HxW  factor below which min_c C_s lands in the sRGB toe


def _exponent(gamma: float) -> float:
    return 1.0 / 2.4 if gamma == 0.0 else 1.0 / gamma


def _prepare(img: np.ndarray, saturation: float, gamma: float,
             stats: SceneStats | None = None) -> Prepared:
    """The factors of ``img`` (the whole image, or a strip of it with the whole image's
    ``stats``; a strip of at most _STRIP_ROWS rows is prepared on the calling thread)."""
    # fmax: NaN -> 0, so nothing downstream can produce NaN (a float16 strip is widened here)
    colour = np.fmax(img, np.float32(0.0), dtype=np.float32)
    lum = cv2.transform(colour, REC709[None, :])
    pre = _SRGB_K if gamma == 0.0 else np.float32(1.0)
    inv_lum = np.divide(pre, np.maximum(lum, np.float32(1e-30)))
    if stats is None:
        stats = luminance_stats(lum)  # of the scene as given: saturation comes after tone mapping
    if saturation != 1.0:
        grey = lum * np.float32(1.0 - saturation)
        colour *= np.float32(saturation)
        colour += cv2.merge([grey, grey, grey])
        np.maximum(colour, 0.0, out=colour)
    powered = np.empty_like(colour)

    def strip(a: int, b: int) -> None:
        np.power(colour[a:b], np.float32(_exponent(gamma)), out=powered[a:b])

    _run_rows(strip, img.shape[0])
    low = channel_min(colour)
    toe_factor = np.divide(np.float32(_SRGB_T) * pre, np.maximum(low, np.float32(1e-30)))
    return Prepared(stats, lum, inv_lum, colour, powered, toe_factor)


def _fingerprint(img: np.ndarray) -> float:
    h, w = img.shape[:2]
    sample = img[:: max(1, h // 61), :: max(1, w // 67)]
    return float(np.sum(sample, dtype=np.float64))


def prepared(img: np.ndarray, saturation: float, gamma: float) -> Prepared:
    """Cached :class:`Prepared` for a float32 C-contiguous linear image."""
    if img.shape[0] * img.shape[1] > CACHE_MAX_PIXELS:
        return _prepare(img, saturation, gamma)
    key = (id(img), img.__array_interface__["data"][0], img.shape, saturation, gamma)
    fp = _fingerprint(img)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == fp:
            _CACHE.move_to_end(key)
            return hit[1]
    prep = _prepare(img, saturation, gamma)
    with _LOCK:
        _CACHE[key] = (fp, prep)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return prep


def clear_cache() -> None:
    """Drop all prepared images (frees memory; the next render prepares again)."""
    with _LOCK:
        _CACHE.clear()


def _run_rows(fn: Callable[[int, int], None], h: int) -> None:
    spans = [(y, min(h, y + _STRIP_ROWS)) for y in range(0, h, _STRIP_ROWS)]
    if len(spans) == 1:
        fn(*spans[0])
        return
    for fut in [_pool().submit(fn, a, b) for a, b in spans]:
        fut.result()


def _image_stats(img: np.ndarray) -> SceneStats:
    """luminance_stats of the whole image as _prepare computes them (luminance of the
    NaN-free, non-negative colour), one strip of luminance at a time."""
    lum = np.empty(img.shape[:2], np.float32)

    def strip(a: int, b: int) -> None:
        lum[a:b] = cv2.transform(np.fmax(img[a:b], np.float32(0.0), dtype=np.float32),
                                 REC709[None, :])

    _run_rows(strip, img.shape[0])
    return luminance_stats(lum)


def render_factored(
    img: np.ndarray,
    curve_factory: Callable[[SceneStats], Callable[[np.ndarray], np.ndarray]] | None,
    gain: float,
    saturation: float,
    gamma: float,
    bits: int | None = None,
) -> np.ndarray:
    """Display-encoded [0, 1] float32 of linear ``img`` through the luminance curve that
    ``curve_factory(scene_stats)`` builds (a global operator, exposure included, output
    display-linear luminance) or, with None, a per-channel clip after ``gain`` (operator "none").
    Saturation in linear light, then sRGB (gamma 0) or 1/gamma.

    ``img``: float32, or float16 radiance (widened strip by strip). ``bits`` 8 / 16: the result
    as ``display.to_uint`` codes instead, quantised strip by strip as it is rendered, so no
    full-size float32 rendering (12 B/px) exists."""
    small = img.shape[0] * img.shape[1] <= CACHE_MAX_PIXELS
    if small and img.dtype != np.float32:
        img = img.astype(np.float32)  # a small image: prepared whole (and cached) as float32
    if bits is None:
        out = np.empty(img.shape, np.float32)
    else:
        out = np.empty(img.shape, np.uint8 if bits == 8 else np.uint16)
    if small:
        prep = prepared(img, saturation, gamma)
        rows = None
        stats = prep.stats
    else:  # an export: each strip prepared as it renders (see the module docstring)
        rows = lambda a, b: _prepare(img[a:b], saturation, gamma, stats)  # noqa: E731
        stats = _image_stats(img)
    if curve_factory is None:
        if rows is None:
            fill = lambda a, b, dst: _constant_rows(prep, dst, a, b, gain, gamma)  # noqa: E731
        else:
            fill = lambda a, b, dst: _constant_rows(rows(a, b), dst, 0, b - a, gain, gamma)  # noqa: E731
    else:
        curve = curve_factory(stats)
        if rows is None:
            fill = lambda a, b, dst: _curve_rows(prep, dst, a, b, curve, gamma)  # noqa: E731
        else:
            fill = lambda a, b, dst: _curve_rows(rows(a, b), dst, 0, b - a, curve, gamma)  # noqa: E731

    def strip(a: int, b: int) -> None:
        if bits is None:
            fill(a, b, out[a:b])
            return
        dst = np.empty((b - a, *img.shape[1:]), np.float32)
        fill(a, b, dst)
        out[a:b] = to_uint(dst, bits)

    _run_rows(strip, img.shape[0])
    return out


def _one_channel(rows: np.ndarray) -> np.ndarray:
    """A contiguous HxWx3 block seen as one HxW*3 channel: OpenCV versions differ in how they
    apply a Python scalar to a 3-channel image (older ones: to the first channel only), while on
    one channel it applies to every value. OpenCV's min / subtract on it take 15 us per 64-row
    strip of the 1600 px proxy where numpy's took 113 us (measured), same float32 values."""
    return rows.reshape(rows.shape[0], -1)


def _curve_rows(prep: Prepared, dst: np.ndarray, a: int, b: int, curve, gamma: float) -> None:
    """Rows [a, b) of ``prep`` through the luminance curve into ``dst`` (b - a rows)."""
    expo = np.float32(_exponent(gamma))
    pre = _SRGB_K if gamma == 0.0 else np.float32(1.0)
    # Curves give L_out >= 0 for L >= 0 and clamp at their white; the channel clip
    # below bounds the result, so L_out needs no clip of its own.
    factor = curve(prep.lum[a:b])
    factor *= prep.inv_lum[a:b]  # pre * L_out / L
    toe = np.flatnonzero(factor < prep.toe_factor[a:b]) if gamma == 0.0 else None
    ratio_toe = factor.reshape(-1)[toe] * np.float32(1.0 / pre) if toe is not None else None
    np.power(factor, expo, out=factor)
    cv2.multiply(prep.powered[a:b], cv2.merge([factor, factor, factor]), dst=dst)
    flat = _one_channel(dst)
    if gamma == 0.0:
        cv2.subtract(flat, 0.055, dst=flat)
    cv2.min(flat, 1.0, dst=flat)
    if toe is not None and toe.size:
        # A channel is in the linear toe: only these pixels need the linear value.
        lin = prep.colour[a:b].reshape(-1, 3)[toe]
        lin *= ratio_toe[:, None]
        flat = dst.reshape(-1, 3)
        flat[toe] = np.where(lin <= np.float32(_SRGB_T), lin * np.float32(12.92), flat[toe])


def _constant_rows(prep: Prepared, dst: np.ndarray, a: int, b: int, gain: float,
                   gamma: float) -> None:
    """Operator "none", rows [a, b) of ``prep`` into ``dst``: the factor is the exposure gain for
    every pixel, so the power segment is one multiply of ``powered`` by a scalar,
    out = (K g)^(1/2.4) C_s^(1/2.4) - 0.055, and the sRGB toe (g C_s <= 0.0031308) is
    12.92 g C_s. The toe is selected branch-free with a masked copy: on dark HDR scenes it
    holds a large share of the pixels, where a gather/scatter is slow."""
    pre = float(_SRGB_K) if gamma == 0.0 else 1.0
    scale = np.float32((gain * pre) ** _exponent(gamma))
    np.multiply(prep.powered[a:b], scale, out=dst)
    if gamma == 0.0:
        dst -= np.float32(0.055)
        colour = prep.colour[a:b]
        lin = colour * np.float32(12.92 * gain)
        np.copyto(dst, lin, where=colour <= np.float32(_SRGB_T / gain))
    flat = _one_channel(dst)
    cv2.min(flat, 1.0, dst=flat)
