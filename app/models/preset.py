"""Preset files: a :class:`~app.models.recipe.Recipe` as TOML, shared by ``batch``, ``fuse``
and the GUI (File > Save/Load preset).

Layout (every table and key optional; missing ones take the defaults)::

    [lumafuse]
    preset = 1                       # file format version

    [method]
    id = "debevec"                   # or "auto": by frame count (mertens for 2+, hdrcnn for 1)
    align = "homography"             # none | mtb | homography
    deghost = true                   # force it on (the methods' default: auto)
    device = "auto"
    [method.params]
    samples = 120

    [tone]                           # display rendering of PNG/TIFF/JPEG outputs
    exposure_ev = 0.3
    gamma = 0.0                      # 0 = sRGB curve
    tmo = "drago"
    saturation = 1.1
    temperature = 3400               # white balance: the light's kelvin (6504 = as shot)
    tint = 5
    [tone.look]                      # -100..100 each, 0 = unchanged
    contrast = 20
    shadows = 30
    vibrance = 15
    clarity = 10
    curve = [[0.25, 0.22], [0.75, 0.8]]   # tone-curve points on encoded luminance
    [tone.params]
    bias = 0.85

    [output]
    formats = ["exr", "tif"]
    naming = "{first}_{method}.{ext}"
    bit_depth = 16
    quality = 95
    half = true

Unknown tables or keys are refused (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from app.core.errors import InputError
from app.core.types import Look, ToneParams
from app.models.recipe import OutputOptions, Recipe, make_recipe

PRESET_VERSION = 1
_KEYS = {
    "lumafuse": {"preset"},
    "method": {"id", "align", "deghost", "device", "params"},
    "tone": {"exposure_ev", "gamma", "tmo", "saturation", "temperature", "tint", "params",
             "look"},
    "output": {"formats", "naming", "bit_depth", "quality", "half", "strip_location",
               "colour_space"},
}


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The preset document for a recipe (plain TOML-able values)."""
    tone, out = recipe.tone, recipe.output
    return {
        "lumafuse": {"preset": PRESET_VERSION},
        "method": {"id": recipe.method, "align": recipe.align, "deghost": recipe.deghost,
                   "device": recipe.device, "params": dict(recipe.params)},
        "tone": {"exposure_ev": tone.exposure_ev, "gamma": tone.gamma, "tmo": tone.tmo,
                 "saturation": tone.saturation, "temperature": tone.temperature,
                 "tint": tone.tint, "params": dict(tone.tmo_params),
                 "look": look_to_dict(tone.look)},
        "output": {"formats": list(out.formats), "naming": out.naming,
                   "bit_depth": out.bit_depth, "quality": out.quality, "half": out.half,
                   "strip_location": out.strip_location, "colour_space": out.colour_space},
    }


def recipe_from_dict(doc: dict[str, Any], source: str = "preset") -> Recipe:
    """Validate a preset document and build its Recipe (InputError naming ``source``)."""
    try:
        for table, value in doc.items():
            if table not in _KEYS:
                raise InputError(f"unknown table [{table}] (valid: {', '.join(_KEYS)})")
            if not isinstance(value, dict):
                raise InputError(f"[{table}] must be a table")
            unknown = set(value) - _KEYS[table]
            if unknown:
                raise InputError(f"[{table}] has no key {sorted(unknown)[0]!r} "
                                 f"(valid: {', '.join(sorted(_KEYS[table]))})")
        version = doc.get("lumafuse", {}).get("preset", PRESET_VERSION)
        if version != PRESET_VERSION:
            raise InputError(f"preset version {version!r} is not supported (this is "
                             f"{PRESET_VERSION})")
        m, t, o = doc.get("method", {}), doc.get("tone", {}), doc.get("output", {})
        defaults_tone, defaults_out = ToneParams(), OutputOptions()
        tone = ToneParams(
            exposure_ev=_number(t, "exposure_ev", defaults_tone.exposure_ev),
            gamma=_number(t, "gamma", defaults_tone.gamma),
            tmo=str(t.get("tmo", defaults_tone.tmo)),
            tmo_params=dict(t.get("params", {})),
            saturation=_number(t, "saturation", defaults_tone.saturation),
            temperature=_number(t, "temperature", defaults_tone.temperature),
            tint=_number(t, "tint", defaults_tone.tint),
            look=look_from_dict(t.get("look", {})),
        )
        formats = o.get("formats", list(defaults_out.formats))
        if isinstance(formats, str):
            formats = [formats]
        output = OutputOptions(
            formats=tuple(str(f) for f in formats),
            naming=str(o.get("naming", defaults_out.naming)),
            bit_depth=int(_number(o, "bit_depth", defaults_out.bit_depth)),
            quality=int(_number(o, "quality", defaults_out.quality)),
            half=bool(o.get("half", defaults_out.half)),
            strip_location=bool(o.get("strip_location", defaults_out.strip_location)),
            colour_space=str(o.get("colour_space", defaults_out.colour_space)),
        )
        return make_recipe(
            str(m.get("id", "auto")), dict(m.get("params", {})),
            align=str(m.get("align", "none")), deghost=bool(m.get("deghost", False)),
            tone=tone, output=output, device=str(m.get("device", "auto")),
        )
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


_LOOK_SLIDERS = ("contrast", "highlights", "shadows", "whites", "blacks", "vibrance", "clarity")


def look_to_dict(look: Look) -> dict[str, Any]:
    """The look as a TOML table: the sliders that are not 0, and the curve points if any."""
    out: dict[str, Any] = {k: getattr(look, k) for k in _LOOK_SLIDERS if getattr(look, k)}
    if look.curve:
        out["curve"] = [list(p) for p in look.curve]
    return out


def look_from_dict(table: Any) -> Look:
    if not isinstance(table, dict):
        raise InputError("[tone.look] must be a table")
    unknown = set(table) - set(_LOOK_SLIDERS) - {"curve"}
    if unknown:
        raise InputError(f"[tone.look] has no key {sorted(unknown)[0]!r} "
                         f"(valid: {', '.join(_LOOK_SLIDERS)}, curve)")
    curve = table.get("curve", [])
    if not isinstance(curve, list):
        raise InputError("[tone.look] curve must be a list of [x, y] points")
    return Look(**{k: _number(table, k, 0.0) for k in _LOOK_SLIDERS if k in table},
                curve=tuple(tuple(p) if isinstance(p, list) else p for p in curve))


def _number(table: dict, key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{key} must be a number, got {value!r}")
    return float(value)


def load_preset(path: str | os.PathLike[str]) -> Recipe:
    """Read a preset file; InputError with the file name and the reason on any problem."""
    return recipe_from_dict(_read_doc(Path(path)), str(path))


def _read_doc(p: Path) -> dict[str, Any]:
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{p}: preset file not found") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the preset ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not a valid TOML preset ({exc})") from None


def preset_text(recipe: Recipe) -> str:
    """The preset file's text for a recipe."""
    import tomli_w

    return "# Lumafuse preset (see app/models/preset.py for the keys)\n" + tomli_w.dumps(
        recipe_to_dict(recipe))


def save_preset(path: str | os.PathLike[str], recipe: Recipe) -> Path:
    """Write a preset file atomically (a temporary file renamed over the target)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(preset_text(recipe), encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write the preset ({exc.strerror or exc})") from None
    return p


def tone_over(current: ToneParams, path: str | os.PathLike[str]) -> ToneParams:
    """``current`` with the [tone] keys the preset file gives (its [tone.look], when present,
    replaces the look as a whole): what a look preset does to the picture on screen."""
    from dataclasses import replace

    doc = _read_doc(Path(path))
    full = recipe_from_dict(doc, str(path)).tone  # validates the whole file
    given = doc.get("tone", {})
    changes = {key: getattr(full, key) for key in
               ("exposure_ev", "gamma", "tmo", "saturation", "temperature", "tint")
               if key in given}
    if "params" in given or "tmo" in given:
        changes["tmo_params"] = full.tmo_params
    if "look" in given:
        changes["look"] = full.look
    return replace(current, **changes)
