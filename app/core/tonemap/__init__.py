"""Tone mapping and the display transform: one operator table, one dispatcher, one renderer.

* :data:`OPERATORS` maps a name to ``fn(linear_rgb >= 0, *, gain=1.0, **params)`` returning
  display-linear RGB in [0, 1]; ``gain`` is the exposure (2**EV) applied in linear light after the
  operator's own scene normalisation. :data:`OPERATOR_PARAMS` lists each operator's parameters
  (the GUI builds its form, the CLI parses ``--param``), :data:`LOCAL_OPERATORS` the slow ones.
* :func:`tonemap` is the one dispatcher (validates name and parameters).
* :func:`render` is what both the preview and the export call (what you see is what you export):
  HDR: exposure -> operator -> saturation -> gamma / sRGB encode.
  LDR fused (display-referred sRGB): decode sRGB -> exposure gain in linear light -> saturation ->
  encode with the gamma choice. Tone-mapping operators apply to HDR results only; for LDR the
  operator is ignored (the fused image is already display-referred).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np

from app.core.errors import InputError
from app.core.tonemap import fastpath, global_ops, local_ops, look, white_balance
from app.core.tonemap.display import (
    REC709,
    apply_saturation,
    check_gamma,
    encode,
    exposure_gain,
    luminance,
    srgb_decode,
    srgb_encode,
    to_uint,
)
from app.core.tonemap.global_ops import SceneStats, scene_stats
from app.core.types import ParamSpec, ResultKind, ToneParams

Operator = Callable[..., np.ndarray]


def _none(linear: np.ndarray, *, gain: float = 1.0) -> np.ndarray:
    """No tone mapping: linear * gain, each channel clipped to [0, 1]."""
    img = _as_float_image(linear)
    out = np.empty_like(img)
    global_ops.run_strips(global_ops.channel_strip(gain), img, out)
    return out


def _global(name: str) -> Operator:
    factory = global_ops.CURVES[name]

    def op(linear: np.ndarray, *, gain: float = 1.0, **params: Any) -> np.ndarray:
        img = _as_float_image(linear)
        curve = factory(scene_stats(img), gain, **params)
        out = np.empty_like(img)
        global_ops.run_strips(global_ops.curve_strip(curve), img, out)
        return out

    op.__name__ = name
    op.__doc__ = factory.__doc__
    return op


OPERATORS: dict[str, Operator] = {
    "none": _none,
    "reinhard": _global("reinhard"),
    "reinhard_local": local_ops.reinhard_local,
    "drago": _global("drago"),
    "mantiuk": local_ops.mantiuk,
    "filmic": _global("filmic"),
}

_KEY = ParamSpec("key", float, 0.18, "scene key: display value of the log-average luminance", 0.01, 1.0)
OPERATOR_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "none": (),
    "reinhard": (
        _KEY,
        ParamSpec("white", float, 0.0, "luminance mapped to white, key units (0 = scene peak)", 0.0, 1e6),
    ),
    "reinhard_local": (
        _KEY,
        ParamSpec("white", float, 0.0, "luminance mapped to white, key units (0 = scene peak)", 0.0, 1e6),
        ParamSpec("phi", float, 8.0, "sharpening of the local adaptation", 1.0, 20.0),
        ParamSpec("threshold", float, 0.05, "scale-selection threshold (smaller = less local)", 0.001, 0.5),
    ),
    "drago": (ParamSpec("bias", float, 0.85, "contrast bias (lower = brighter shadows)", 0.5, 1.0),),
    "mantiuk": (
        ParamSpec("scale", float, 0.7, "contrast compression factor (lower = flatter)", 0.1, 1.0),
        ParamSpec("saturation", float, 1.0, "colour saturation exponent", 0.0, 2.0),
    ),
    "filmic": (
        _KEY,
        ParamSpec("exposure_bias", float, 2.0, "exposure bias before the filmic curve", 0.1, 16.0),
        ParamSpec("white", float, 11.2, "linear white point of the curve", 1.0, 100.0),
    ),
}

LOCAL_OPERATORS: frozenset[str] = frozenset({"reinhard_local", "mantiuk"})

assert set(OPERATORS) == set(OPERATOR_PARAMS), "operator table and parameter table disagree"


def _as_float_image(image: np.ndarray) -> np.ndarray:
    """float32 C-contiguous HxWx3 view or copy; 8/16-bit integers are scaled to [0, 1]."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"tone mapping expects an HxWx3 image, got shape {a.shape}")
    if a.dtype in (np.uint8, np.uint16):
        return a.astype(np.float32) * np.float32(1.0 / np.iinfo(a.dtype).max)
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"tone mapping expects a float or 8/16-bit image, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def resolve_params(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Operator parameters with defaults filled and values validated (InputError otherwise)."""
    if name not in OPERATORS:
        raise InputError(
            f"unknown tone-mapping operator {name!r}; choose one of {', '.join(OPERATORS)}"
        )
    specs = {p.name: p for p in OPERATOR_PARAMS[name]}
    given = dict(params or {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        allowed = ", ".join(specs) or "none"
        raise InputError(
            f"operator {name!r} has no parameter {', '.join(map(repr, unknown))} (allowed: {allowed})"
        )
    return {k: spec.validate(given.get(k, spec.default)) for k, spec in specs.items()}


def tonemap(
    linear_rgb: np.ndarray, name: str, params: Mapping[str, Any] | None = None, *, gain: float = 1.0
) -> np.ndarray:
    """Tone-map linear RGB (>= 0, any scale) with operator ``name``: display-linear float32 [0, 1].

    params: operator parameters (see :data:`OPERATOR_PARAMS`); gain: exposure as a linear factor.
    """
    resolved = resolve_params(name, params)
    if not np.isfinite(gain) or gain <= 0:
        raise InputError(f"exposure gain must be positive, got {gain}")
    return OPERATORS[name](linear_rgb, gain=gain, **resolved)


_BALANCED: dict[str, tuple] = {}  # the last white-balanced image (preview ticks reuse it)


def _balanced(img: np.ndarray, wb_gains: np.ndarray, decode: bool) -> np.ndarray:
    """``img`` (linear, or display sRGB when ``decode``) times the gains, linear float32;
    the last one is kept while the same image and gains come back (a slider tick)."""
    key = (id(img), img.__array_interface__["data"][0], img.shape, tuple(wb_gains), decode,
           float(img[::97, ::89].sum(dtype=np.float64)))
    hit = _BALANCED.get("last")
    if hit is not None and hit[0] == key:
        return hit[1]
    if decode:  # the decode does not depend on the gains: kept while the image stays
        source_key = key[:3] + key[4:]
        cached = _BALANCED.get("decoded")
        if cached is None or cached[0] != source_key:
            cached = (source_key, srgb_decode(img))
            _BALANCED["decoded"] = cached
        lin = cached[1] * wb_gains.reshape(1, 1, 3)
    else:
        lin = img * wb_gains.reshape(1, 1, 3)
    _BALANCED["last"] = (key, lin)
    return lin


def only_clips(kind: ResultKind | str, tone: ToneParams) -> bool:
    """True when :func:`render` of this result only clips it to [0, 1]: a fused (display-referred)
    result with no white balance, exposure, saturation, gamma or look change. An export that
    clips anyway (``display.to_uint``) then quantises the result itself and skips the rendering's
    full-size copy (12 B/px)."""
    return (ResultKind(kind) == ResultKind.LDR_FUSED
            and bool(np.all(white_balance.gains(float(tone.temperature), float(tone.tint)) == 1.0))
            and exposure_gain(tone.exposure_ev) == 1.0 and float(tone.saturation) == 1.0
            and check_gamma(tone.gamma) == 0.0 and tone.look.is_neutral)


def render(image: np.ndarray, kind: ResultKind | str, tone: ToneParams) -> np.ndarray:
    """Display rendering shared by preview and export: float32 HxWx3 display-encoded [0, 1].

    :func:`render_base` (white balance, exposure, operator, saturation, encoding), then the
    look controls (``tone.look``: :mod:`app.core.tonemap.look`) on the encoded result.
    """
    out = render_base(image, kind, tone)
    if not tone.look.is_neutral:
        look.apply_look(out, tone.look, out=out)
    return out


def renders_in_strips(kind: ResultKind | str, tone: ToneParams) -> bool:
    """True when :func:`render_codes` renders this result strip by strip: an HDR result through
    "none" or a global operator, with no white balance or look change."""
    return (ResultKind(kind) == ResultKind.HDR_LINEAR and tone.look.is_neutral
            and (tone.tmo == "none" or tone.tmo in global_ops.CURVES)
            and bool(np.all(white_balance.gains(float(tone.temperature),
                                                float(tone.tint)) == 1.0)))


def render_codes(image: np.ndarray, kind: ResultKind | str, tone: ToneParams,
                 bits: int) -> np.ndarray:
    """``to_uint(render(image, kind, tone), bits)``: the display rendering as uint8 / uint16
    codes, for exports. An HDR result through "none" or a global operator with no white
    balance or look change is rendered and quantised strip by strip (no full-size float32
    rendering; ``image`` may then be float16 radiance, widened strip by strip); anything else
    is rendered whole first. The codes are the same either way (tests)."""
    if bits not in (8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {bits}")
    kind = ResultKind(kind)
    a = np.asarray(image)
    if not (renders_in_strips(kind, tone) and a.ndim == 3 and a.shape[2] == 3
            and a.dtype in (np.float32, np.float16) and a.flags.c_contiguous):
        return to_uint(render(image, kind, tone), bits)
    gamma, gain, sat = _display_factors(tone)
    return _render_global(a, tone, gain, sat, gamma, bits)


def _display_factors(tone: ToneParams) -> tuple[float, float, float]:
    """(gamma, exposure gain, saturation) of ``tone``, checked (InputError)."""
    gamma = check_gamma(tone.gamma)
    gain = exposure_gain(tone.exposure_ev)
    sat = float(tone.saturation)
    if not np.isfinite(sat) or sat < 0:
        raise InputError(f"saturation must be >= 0, got {tone.saturation}")
    return gamma, gain, sat


def _render_global(img: np.ndarray, tone: ToneParams, gain: float, sat: float, gamma: float,
                   bits: int | None = None) -> np.ndarray:
    """HDR ``img`` through "none" or a global operator on the factored fast path (float32
    display values, or codes with ``bits``)."""
    params = resolve_params(tone.tmo, tone.tmo_params)
    if tone.tmo == "none":
        return fastpath.render_factored(img, None, gain, sat, gamma, bits=bits)
    factory = global_ops.CURVES[tone.tmo]
    return fastpath.render_factored(img, lambda stats: factory(stats, gain, **params), gain, sat,
                                    gamma, bits=bits)


def render_base(image: np.ndarray, kind: ResultKind | str, tone: ToneParams) -> np.ndarray:
    """Display rendering shared by preview and export: float32 HxWx3 display-encoded [0, 1].

    image: HDR_LINEAR -> linear radiance >= 0; LDR_FUSED -> display-referred sRGB [0, 1].
    White balance first (linear light, ``tone.temperature``/``tone.tint``). HDR: exposure
    (linear) -> ``tone.tmo`` -> saturation (linear light) -> encode (``tone.gamma``:
    0 = sRGB, else 1/gamma). LDR: sRGB decode -> exposure -> saturation -> encode; the operator is
    ignored for LDR results. Exposure / gamma / global operators run as one strip-parallel pass
    with per-image factors cached (see :mod:`app.core.tonemap.fastpath`; treat ``image`` as
    read-only between calls); local operators take longer (see LOCAL_OPERATORS). Fast and exact
    paths agree to < 3e-6 (tests), below half a 16-bit step.
    """
    kind = ResultKind(kind)
    img = _as_float_image(image)
    wb_gains = white_balance.gains(float(tone.temperature), float(tone.tint))
    if not np.all(wb_gains == 1.0):
        # white balance in linear light, before everything else; an LDR result is decoded
        # first and then rendered like linear data with the "none" operator (same steps)
        img = _balanced(img, wb_gains, kind == ResultKind.LDR_FUSED)
        if kind == ResultKind.LDR_FUSED:
            kind, tone = ResultKind.HDR_LINEAR, replace(tone, tmo="none", tmo_params={})
    gamma, gain, sat = _display_factors(tone)

    if kind == ResultKind.LDR_FUSED:
        out = np.empty_like(img)
        if gain == 1.0 and sat == 1.0 and gamma == 0.0:
            np.fmax(img, 0.0, out=out)  # identity apart from the clip: skip decode/encode
            np.minimum(out, 1.0, out=out)
            return out
        global_ops.run_strips(global_ops.ldr_strip(gain, sat, gamma), img, out)
        return out

    if tone.tmo == "none" or tone.tmo in global_ops.CURVES:
        return _render_global(img, tone, gain, sat, gamma)
    params = resolve_params(tone.tmo, tone.tmo_params)
    mapped = OPERATORS[tone.tmo](img, gain=gain, **params)  # local operator, display-linear
    global_ops.run_strips(global_ops.channel_strip(1.0, sat, gamma), mapped, mapped)
    return mapped


__all__ = [
    "LOCAL_OPERATORS",
    "OPERATORS",
    "OPERATOR_PARAMS",
    "REC709",
    "SceneStats",
    "apply_saturation",
    "encode",
    "exposure_gain",
    "luminance",
    "only_clips",
    "render",
    "render_codes",
    "renders_in_strips",
    "resolve_params",
    "scene_stats",
    "srgb_decode",
    "srgb_encode",
    "tonemap",
    "to_uint",
]
