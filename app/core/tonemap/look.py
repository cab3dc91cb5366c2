"""The photographer's look controls, applied to the display-encoded rendering (the last step of
``app.core.tonemap.render``, so the preview and the export share it).

Global (one 1-D curve on luminance plus a colour step; cheap enough for every slider tick):

* ``contrast`` (-100..100): an S-curve around mid-grey (0.46 encoded, ~18 % linear);
* ``highlights`` / ``shadows`` (-100..100): lift or lower the upper / lower tones, ends fixed;
* ``whites`` / ``blacks`` (-100..100): move the white and black points;
* ``curve``: the user's points (x, y) in [0, 1] on encoded luminance, joined by a monotone cubic
  (PCHIP, no overshoot), applied after the sliders;
* ``vibrance`` (-100..100): saturation that favours muted colours and spares saturated ones.

Tones change through the luminance (Rec.709 weights on the encoded values): every channel of a
pixel is scaled by f(Y) / Y, so hues do not shift; a channel pushed past 1 is compressed toward
white with the pixel's other channels kept in proportion.

Local: ``clarity`` (-100..100) adds (or removes) mid-tone local contrast: the detail layer is
luminance minus an edge-aware base (a guided filter of the luminance by itself, He et al. 2010),
so strong edges do not ring into halos.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import cv2
import numpy as np

from app.core.channels import channel_max, channel_min
from app.core.errors import InputError
from app.core.types import Look

LUT_SIZE = 4096
SLIDER_RANGE = (-100.0, 100.0)
MID = 0.46  # encoded mid-grey
CLARITY_EPS = 0.002
_REMAP_MAX = 32767  # OpenCV remap: SHRT_MAX on every side of the maps
_REMAP_COLS = 4096


def check_look(look: Look) -> Look:
    """Ranges checked (NaN refused), curve points sorted, within [0, 1], distinct x."""
    for name in ("contrast", "highlights", "shadows", "whites", "blacks", "vibrance", "clarity"):
        value = getattr(look, name)
        if not SLIDER_RANGE[0] <= value <= SLIDER_RANGE[1]:
            raise InputError(f"{name} must be within -100..100, got {value}")
    points = []
    for point in look.curve:
        try:
            x, y = (float(v) for v in point)
        except (TypeError, ValueError):
            raise InputError(f"curve point {point!r} is not a pair of numbers") from None
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise InputError(f"curve point {point!r} must lie within [0, 1] x [0, 1]")
        points.append((x, y))
    points.sort()
    if len({x for x, _ in points}) != len(points):
        raise InputError("two curve points share the same input value")
    return replace(look, curve=tuple(points), **{
        name: float(getattr(look, name)) for name in
        ("contrast", "highlights", "shadows", "whites", "blacks", "vibrance", "clarity")})


@lru_cache(maxsize=32)
def tone_lut(contrast: float, highlights: float, shadows: float, whites: float, blacks: float,
             curve: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The global tone curve as a LUT_SIZE float32 table over encoded luminance [0, 1]."""
    x = np.linspace(0.0, 1.0, LUT_SIZE)
    y = x.copy()
    # white / black points: a linear stretch (positive whites brighten, positive blacks lift)
    lo = -0.25 * blacks / 100.0
    hi = 1.0 - 0.25 * whites / 100.0
    y = np.clip((y - lo) / max(hi - lo, 1e-3), 0.0, 1.0)
    # shadows / highlights: smooth lifts confined to the lower / upper tones, ends fixed
    shadow_w = (1.0 - y) ** 2 * y * 4 * (1.0 - y)  # ~0 at both ends, peak in the shadows
    high_w = y**2 * (1.0 - y) * 4 * y
    y = y + 0.5 * shadows / 100.0 * shadow_w + 0.5 * highlights / 100.0 * high_w
    y = np.clip(y, 0.0, 1.0)
    # contrast: a sigmoid in logit space around mid-grey, end points kept
    if contrast:
        k = 1.0 + 1.5 * contrast / 100.0 if contrast > 0 else 1.0 / (1.0 - 1.5 * contrast / 100.0)
        eps = 1e-6
        t = np.clip(y, eps, 1 - eps)
        logit = np.log(t / (1 - t)) - np.log(MID / (1 - MID))
        y = 1.0 / (1.0 + np.exp(-(k * logit + np.log(MID / (1 - MID)))))
        y = (y - y[0]) / max(y[-1] - y[0], 1e-6)
    if curve:
        from scipy.interpolate import PchipInterpolator

        knots = {0.0: 0.0, 1.0: 1.0}  # the ends, unless the user moved them
        knots.update({float(x): float(v) for x, v in curve})
        px = np.array(sorted(knots))
        py = np.array([knots[k] for k in px])
        y = np.clip(PchipInterpolator(px, py)(y), 0.0, 1.0)
    return np.ascontiguousarray(y, np.float32)


@lru_cache(maxsize=32)
def _ratio_table(contrast: float, highlights: float, shadows: float, whites: float,
                 blacks: float, curve: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(f(Y) - f(0)) / Y over the LUT grid as a 1 x LUT_SIZE image (for cv2.remap), the first
    cell's slope at Y = 0. A pixel C becomes f(0) + C * ratio(Y): its luma is f(Y), a lifted
    black level is added as grey, and the table stays finite near black (f(Y) / Y grew to ~400
    there when blacks were lifted, so dark pixels' colour noise came out hugely saturated)."""
    lut = tone_lut(contrast, highlights, shadows, whites, blacks, curve).astype(np.float64)
    x = np.linspace(0.0, 1.0, LUT_SIZE)
    ratio = np.empty(LUT_SIZE)
    ratio[1:] = (lut[1:] - lut[0]) / x[1:]
    ratio[0] = ratio[1]
    return np.ascontiguousarray(ratio[None, :], np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.transform(rgb, np.array([[0.2126, 0.7152, 0.0722]], np.float32))


def _lookup(table: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear interpolation of a 1 x N table at y in [0, 1] (OpenCV remap: SIMD, threaded;
    numpy fancy indexing costs ~5x more on a preview proxy)."""
    n = table.shape[1]
    xs = y * np.float32(n - 1)  # (cv2.multiply by a Python float means a 4-vector Scalar)
    if max(xs.shape) < _REMAP_MAX:
        return cv2.remap(table, xs, np.zeros_like(xs), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    # remap takes maps under 32767 px a side: a tall panorama (or a column of samples) is
    # looked up as rows of _REMAP_COLS values and put back in its shape
    flat = xs.reshape(-1)
    rows = -(-flat.size // _REMAP_COLS)
    padded = np.zeros(rows * _REMAP_COLS, np.float32)
    padded[: flat.size] = flat
    maps = padded.reshape(rows, _REMAP_COLS)
    looked = np.concatenate([
        cv2.remap(table, maps[a:a + _REMAP_COLS], np.zeros_like(maps[a:a + _REMAP_COLS]),
                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for a in range(0, rows, _REMAP_COLS)])
    return looked.reshape(-1)[: flat.size].reshape(xs.shape)


def apply_look(display: np.ndarray, look: Look, out: np.ndarray | None = None) -> np.ndarray:
    """Apply the look to display-encoded float32 HxWx3 [0, 1]; returns display-encoded [0, 1]
    (``out`` may be ``display``: in place)."""
    if out is None:
        img = np.array(display, dtype=np.float32, copy=True)
    else:
        img = out
        if out is not display:
            np.copyto(out, display)
    if look.clarity:
        _clarity(img, look.clarity / 100.0)
    tones = (look.contrast, look.highlights, look.shadows, look.whites, look.blacks)
    if any(tones) or look.curve:
        y = _luma(img)
        ratio = _lookup(_ratio_table(*tones, look.curve), y)
        img *= ratio[..., None]
        lift = float(tone_lut(*tones, look.curve)[0])
        if lift > 0:  # the curve's black level, as grey (see _ratio_table)
            img += np.float32(lift)
        _compress_overflow(img)
    if look.vibrance:
        _vibrance(img, look.vibrance / 100.0)
    np.clip(img, 0.0, 1.0, out=img)
    return img


def _compress_overflow(img: np.ndarray) -> None:
    """Pixels with a channel over 1: pull toward their luminance until the largest is 1."""
    peak = channel_max(img)
    if float(peak.max()) <= 1.0:
        return
    over = peak > 1.0
    px = img[over]
    y = np.minimum(_luma(px[:, None, :])[:, 0], 1.0)[:, None]
    m = peak[over][:, None]
    t = np.clip((1.0 - y) / np.maximum(m - y, 1e-6), 0.0, 1.0)
    img[over] = y + (px - y) * t


def _vibrance(img: np.ndarray, amount: float) -> None:
    y = _luma(img)
    sat = cv2.subtract(channel_max(img), channel_min(img))
    # gain = 1 + amount * (1 - clip(1.5 sat, 0, 1)): muted colours gain most
    gain = np.clip(sat, 0.0, 1.0 / 1.5) * np.float32(-1.5 * amount)
    gain += np.float32(1.0 + amount)
    y3 = cv2.merge([y, y, y])
    cv2.subtract(img, y3, dst=img)
    img *= gain[..., None]
    cv2.add(img, y3, dst=img)
def _guided_self(y: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Guided filter of ``y`` guided by itself (edge-aware smoothing, box filters)."""
    k = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.boxFilter(y, -1, k)
    var = cv2.boxFilter(y * y, -1, k) - mean * mean
    a = var / (var + eps)
    b = mean - a * mean
    return cv2.boxFilter(a, -1, k) * y + cv2.boxFilter(b, -1, k)


def _clarity(img: np.ndarray, amount: float) -> None:
    y = _luma(img)
    radius = max(2, round(max(img.shape[:2]) / 100))
    # eps between fine texture's variance (~1e-3) and a strong edge's (~5e-2): texture goes
    # to the detail layer, edges stay in the base, so boosting the detail draws no halos
    base = _guided_self(y, radius, CLARITY_EPS)
    detail = y - base
    midtones = 1.0 - (2.0 * y - 1.0) ** 2  # fade out toward black and white
    new_y = np.clip(y + amount * detail * midtones * 1.5, 0.0, 1.0)
    ratio = new_y / np.maximum(y, 1e-4)
    ratio[y < 1e-4] = 1.0
    img *= ratio[..., None]
    _compress_overflow(img)
