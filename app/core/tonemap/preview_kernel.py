"""The GUI's slider tick in one pass: global tone settings straight to 8-bit display pixels.

:func:`render_u8` returns what ``to_uint(render(image, kind, tone), 8)`` returns (within one
8-bit step, on a handful of pixels), for the settings every slider tick of the global controls
produces: operator "none" / "reinhard" / "drago" / "filmic" on HDR results, any LDR fused result,
white balance, exposure, saturation, sRGB or gamma encoding, and the global look (contrast,
highlights, shadows, whites, blacks, tone curve, vibrance). Anything else (local operators,
clarity) returns None and the caller takes the general path.

Why: the general path runs ~8 full-image numpy/OpenCV passes (curve, ratio, power, product,
encode, clip, look, quantise) and took 15-20 ms per tick on the 1600 px proxy on 2 cores (a white
balance or saturation tick 35-85 ms); the issue's budget is one 60 Hz frame (16 ms) with the
histogram. Here one compiled loop (numba) reads per-image factors (luminance, saturated colour
and its 1/2.4 power: :func:`_tick_factors`, kept while only exposure, operator or look move)
and writes uint8 once.

How the operator curve enters: every global operator maps luminance L to L_out(L); the encode
factor (K L_out(L) / L)^(1/2.4) (see fastpath) depends on L only, so per tick it is tabulated on
LUT_SIZE points uniform in log2 L over the image's range [log_floor, max L] and interpolated
linearly at a per-image fractional index (relative error < 2e-5, measured: far below an 8-bit
step).

The loop (:mod:`app.core.tonemap.preview_jit`) is compiled by numba once (about 2 s on 2 cores,
then loaded from numba's on-disk cache in about 0.6 s), never on the GUI thread: :func:`warm_up`
compiles it (the window calls it in the background after its first paint), :func:`render_u8`
returns None until then, and further compilation is switched off (every call passes the same
argument types; a test checks that one signature serves all settings).
The loop runs on row strips in the tone-mapping thread pool (``nogil``), not in numba's own
threading layer, so calls from several threads at once are safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from app.core.tonemap import fastpath, global_ops, look as look_mod, white_balance
from app.core.tonemap.display import REC709, check_gamma, exposure_gain, srgb_decode
from app.core.types import ResultKind, ToneParams

LUT_SIZE = 16384
_SRGB_K = 1.055**2.4

_ready = threading.Event()
_lock = threading.Lock()  # compiling
_cache_lock = threading.Lock()  # the factor and decode caches
_kernel = None


def warm_up() -> None:
    """Compile the kernel (or load it from numba's cache) and run it once; idempotent,
    thread-safe. Afterwards :func:`ready` is True."""
    global _kernel
    with _lock:
        if _kernel is None:
            from app.core.tonemap.preview_jit import rows as kernel

            one = np.zeros((1, 1), np.float32)
            pix = np.zeros((1, 1, 3), np.float32)
            tab = np.ones(2, np.float32)
            kernel(0, 1, one, np.float32(1.0), pix, np.ones(3, np.float32), tab, True, tab, True,
                   np.float32(0.0), np.float32(0.0), np.zeros((1, 1, 3), np.uint8))
            kernel.disable_compile()  # a call with other types fails loudly instead of freezing
            _kernel = kernel
    _ready.set()


def warm_up_in_background() -> threading.Thread:
    """Start :func:`warm_up` on a daemon thread; returns it. Should numba be missing or fail to
    compile here, the preview keeps the general path (slower ticks, the same pixels) and a
    warning says why."""

    def work() -> None:
        try:
            warm_up()
        except Exception as exc:  # noqa: BLE001 - the general path still renders everything
            import warnings

            warnings.warn(f"the preview's compiled tone loop is unavailable ({exc!r}); slider "
                          "ticks use the general path", RuntimeWarning, stacklevel=1)

    thread = threading.Thread(target=work, name="lumafuse-preview-kernel", daemon=True)
    thread.start()
    return thread


def ready() -> bool:
    """True once the kernel is compiled (see :func:`warm_up`)."""
    return _ready.is_set()


@dataclass(frozen=True)
class _LogIndex:
    """Per-image fractional table index of each pixel's luminance (log2-uniform grid)."""

    index: np.ndarray  # HxW float32 in [0, LUT_SIZE - 1]
    grid: np.ndarray  # LUT_SIZE float32 luminances the tables are evaluated at


def _log_index(prep: "_TickFactors") -> _LogIndex:
    """The table index of ``prep.lum`` (kept on it: computed once per image and settings)."""
    if prep.log_index is not None:
        return prep.log_index
    import cv2

    low = global_ops.log_floor(prep.stats)
    top = max(float(np.max(prep.lum)), low * 2.0)
    lo, hi = np.log2(low), np.log2(top)
    index = np.maximum(prep.lum, np.float32(low))
    cv2.log(index, index)  # natural log; the scale below turns it into table units
    index -= np.float32(lo * np.log(2.0))
    index *= np.float32((LUT_SIZE - 1) / ((hi - lo) * np.log(2.0)))
    grid = np.exp2(np.linspace(lo, hi, LUT_SIZE)).astype(np.float32)
    prep.log_index = _LogIndex(index, grid)
    return prep.log_index


@dataclass
class _TickFactors:
    """What the kernel reads of an image for given white-balance gains and saturation (as
    fastpath.Prepared holds for the export): scene statistics, luminance, the saturated colour's
    power, and the luminance's table index once an operator needs it."""

    stats: global_ops.SceneStats
    lum: np.ndarray
    powered: np.ndarray
    mult: np.ndarray  # 3 float32 per-channel factors on ``powered`` (white balance, saturation 1)
    colour: np.ndarray  # max(image, 0), NaN -> 0 (unbalanced; shared by all settings)
    log_index: _LogIndex | None = None  # filled by _log_index when an operator needs it


_TICK: OrderedDict[tuple, _TickFactors] = OrderedDict()
_CACHE_SIZE = 5  # the proxy and its drafts, unbalanced and balanced (8-20 bytes per pixel each)


def _tick_factors(img: np.ndarray, gains: np.ndarray, saturation: float,
                  gamma: float) -> _TickFactors:
    """:class:`_TickFactors` of linear ``img`` times ``gains`` (white balance) with
    ``saturation`` (kept while the same image and settings come back).

    The same quantities as fastpath's _prepare of the balanced image, strip by strip on the
    pool, with the power taken as exp(exponent * ln(x)): OpenCV's float32 log and exp are
    vectorised (~1.5 ms each for the 1600 px proxy here) where numpy's power is not (8 ms), to
    within ~1e-6 of it, far below an 8-bit step (the export keeps numpy's power). Only what a tick
    changes is recomputed: the luminance (and its statistics and index) only for new gains,
    the power only for a saturation other than 1 ((g C)^(1/2.4) = g^(1/2.4) C^(1/2.4): the
    unbalanced power serves every white balance, as per-channel factors)."""
    return _remembered(_TICK, (*_image_key(img), tuple(float(g) for g in gains), saturation,
                               gamma), lambda: _compute_tick_factors(img, gains, saturation, gamma))


def _compute_tick_factors(img: np.ndarray, gains: np.ndarray, saturation: float,
                          gamma: float) -> _TickFactors:
    neutral = bool(np.all(gains == 1.0))
    expo = np.float32(1.0 / 2.4 if gamma == 0.0 else 1.0 / gamma)
    if neutral and saturation == 1.0:
        colour = np.empty_like(img)
        fastpath._run_rows(lambda a, b: np.fmax(img[a:b], 0.0, out=colour[a:b]), img.shape[0])
        lum = _luminance(colour, gains)
        factors = _TickFactors(global_ops.luminance_stats(lum), lum,
                               _powered(colour, gains, lum, 1.0, expo), np.ones(3, np.float32),
                               colour)
    else:
        base = _tick_factors(img, np.ones(3), 1.0, gamma)
        if neutral:  # saturation alone: the scene's luminance, statistics and index stay
            lum, stats = base.lum, base.stats
        else:
            lum = _luminance(base.colour, gains)
            stats = global_ops.luminance_stats(lum)
        if saturation == 1.0:
            powered = base.powered
            mult = np.power(np.asarray(gains, np.float64), float(expo)).astype(np.float32)
        else:
            powered = _powered(base.colour, gains, lum, saturation, expo)
            mult = np.ones(3, np.float32)
        factors = _TickFactors(stats, lum, powered, mult, base.colour)
        if neutral:
            factors.log_index = _log_index(base)
    return factors


def _image_key(img: np.ndarray) -> tuple:
    """Identifies an image between ticks: the same array, buffer, shape and sampled content."""
    return (id(img), img.__array_interface__["data"][0], img.shape, fastpath._fingerprint(img))


def _remembered(cache: OrderedDict, key: tuple, make):
    """``cache[key]``, made by ``make()`` when missing (outside the lock: a slow computation does
    not block other threads' hits); the cache keeps the _CACHE_SIZE most recently used."""
    with _cache_lock:
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
    value = make()
    with _cache_lock:
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


def _luminance(colour: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Rec.709 luminance of ``colour`` (>= 0, NaN-free) times ``gains``: HxW float32."""
    import cv2

    lum = np.empty(colour.shape[:2], np.float32)
    weights = (REC709 * np.asarray(gains, np.float32))[None, :]
    fastpath._run_rows(lambda a, b: cv2.transform(colour[a:b], weights, dst=lum[a:b]),
                       colour.shape[0])
    return lum


def _powered(colour: np.ndarray, gains: np.ndarray, lum: np.ndarray, saturation: float,
             expo: np.float32) -> np.ndarray:
    """(saturated ``colour`` * gains) ** expo, HxWx3 float32; colour >= 0 and NaN-free, ``lum``
    its balanced luminance. The power as exp(expo * ln x) with OpenCV's vectorised log / exp
    (log of 0 is about -745 there, and its exp underflows to 0: black stays black)."""
    import cv2

    powered = np.empty_like(colour)
    g = np.asarray(gains, np.float32).reshape(1, 1, 3)
    neutral = bool(np.all(gains == 1.0))

    def strip(a: int, b: int) -> None:
        c = colour[a:b] * g if not neutral else colour[a:b].copy()
        if saturation != 1.0:  # L + s (C - L) = s C + (1 - s) L, clipped at 0
            grey = lum[a:b] * np.float32(1.0 - saturation)
            cv2.scaleAdd(c, saturation, cv2.merge([grey, grey, grey]), dst=c)
            cv2.max(c, 0.0, dst=c)
        cv2.log(c, dst=c)
        c *= expo
        cv2.exp(c, dst=powered[a:b])

    fastpath._run_rows(strip, colour.shape[0])
    return powered


_DECODED: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _decoded(img: np.ndarray) -> np.ndarray:
    """sRGB-decoded copy of a display-referred result, kept while the same array comes back."""
    return _remembered(_DECODED, _image_key(img), lambda: srgb_decode(img))


def render_u8(image: np.ndarray, kind: ResultKind | str, tone: ToneParams) -> np.ndarray | None:
    """uint8 HxWx3 display rendering of ``image`` with ``tone`` (as the general path gives,
    within one 8-bit step), or None when the settings need the general path or the kernel is
    not compiled yet. image: HDR_LINEAR -> float32 linear radiance; LDR_FUSED -> display sRGB
    float32 [0, 1]; at most fastpath.CACHE_MAX_PIXELS (a preview proxy)."""
    if not _ready.is_set():
        return None
    kind = ResultKind(kind)
    look = tone.look
    if look.is_local or image.dtype != np.float32 or not image.flags.c_contiguous:
        return None
    if image.ndim != 3 or image.shape[2] != 3:
        return None
    if image.shape[0] * image.shape[1] > fastpath.CACHE_MAX_PIXELS:
        return None
    from app.core.tonemap import resolve_params

    gamma = check_gamma(tone.gamma)
    gain = exposure_gain(tone.exposure_ev)
    sat = float(tone.saturation)
    if not np.isfinite(sat) or sat < 0:
        return None  # the general path raises the message
    if kind == ResultKind.LDR_FUSED:
        # decode -> gain -> saturation -> encode is operator "none" on the decoded colour
        image = _decoded(image)
        tone = replace(tone, tmo="none", tmo_params={})
    if tone.tmo != "none" and tone.tmo not in global_ops.CURVES:
        return None
    params = resolve_params(tone.tmo, tone.tmo_params)
    gains = white_balance.gains(float(tone.temperature), float(tone.tint))
    # kept while only exposure, operator and look move; new white balance or saturation:
    # computed for this tick (see _tick_factors)
    prep = _tick_factors(image, gains, sat, gamma)
    pre = _SRGB_K if gamma == 0.0 else 1.0
    expo = 1.0 / 2.4 if gamma == 0.0 else 1.0 / gamma
    if tone.tmo == "none":
        index = prep.lum  # any array of the right shape: scaled to 0 below
        index_scale = np.float32(0.0)
        ratio = np.full(2, gain, np.float64)
    else:
        log_index = _log_index(prep)
        index, index_scale = log_index.index, np.float32(1.0)
        curve = global_ops.CURVES[tone.tmo](prep.stats, gain, **params)
        grid = log_index.grid
        lout = np.clip(curve(grid.copy()).astype(np.float64), 0.0, 1.0)
        ratio = lout / grid.astype(np.float64)
    ftab = np.power(pre * ratio, expo).astype(np.float32)
    tones = (look.contrast, look.highlights, look.shadows, look.whites, look.blacks)
    tone_on = bool(any(tones) or look.curve)
    if tone_on:
        look_tab = np.ascontiguousarray(look_mod._ratio_table(*tones, look.curve)[0])
        lift = np.float32(max(float(look_mod.tone_lut(*tones, look.curve)[0]), 0.0))
    else:
        look_tab, lift = np.ones(2, np.float32), np.float32(0.0)
    out = np.empty(image.shape, np.uint8)
    kernel = _kernel
    try:
        fastpath._run_rows(
            lambda a, b: kernel(a, b, index, index_scale, prep.powered, prep.mult, ftab,
                                gamma == 0.0, look_tab, tone_on, lift,
                                np.float32(look.vibrance / 100.0), out),
            image.shape[0])
    except TypeError:
        # arguments of a type the one compiled signature lacks (a test guards against it):
        # the general path renders; nothing is ever compiled on a tick
        return None
    return out
