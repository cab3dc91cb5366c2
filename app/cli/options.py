"""Argument groups and value parsers shared by the ``fuse`` and ``tonemap`` subcommands."""

from __future__ import annotations

import argparse
from fractions import Fraction
from typing import TYPE_CHECKING, Sequence

from app.core.errors import InputError

if TYPE_CHECKING:  # numpy-free at import: `--help` stays fast
    from app.core.types import ToneParams


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose what is run, shared by ``fuse`` and ``batch``: --preset, -m,
    --param, --align, --deghost, --device (None = not given: the preset's value stands, see
    :func:`recipe_from_flags`)."""
    from app.models.defaults import DEFAULT_MULTI, DEFAULT_SINGLE

    parser.add_argument("--preset", metavar="FILE",
                        help="recipe file (TOML, as saved by the app): method, parameters, "
                             "alignment, tone, look, encoding; flags given here win")
    parser.add_argument("-m", "--method", metavar="METHOD",
                        help=f"method id, or 'auto' (default: {DEFAULT_MULTI} for 2+ inputs, "
                             f"{DEFAULT_SINGLE} for one); see list-methods")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="method parameter, repeatable (list-methods shows them)")
    parser.add_argument("--align", choices=("none", "mtb", "homography"), default=None,
                        help="register hand-held frames: mtb = translation, homography = "
                             "perspective (default none)")
    parser.add_argument("--deghost", action="store_true", default=None,
                        help="keep the reference frame where frames disagree (moving content) "
                             "even where little moves: mertens, debevec, robertson (their "
                             "default is auto: on when motion is found; --param deghost=off "
                             "switches it off)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                        help="device for learned methods (default auto)")


def add_tone_options(parser: argparse.ArgumentParser, *, default_tmo: str = "reinhard") -> None:
    """Display-rendering and output-encoding options (used for .png/.tif/.jpg outputs)."""
    g = parser.add_argument_group("display rendering (PNG/TIFF/JPEG outputs)")
    # default None: whether the user asked for an operator is known (fuse says when a fused
    # result ignores it); tone_params() fills in the default
    g.add_argument("--tmo", default=None, metavar="NAME",
                   help=f"tone-mapping operator for HDR results (default {default_tmo}; "
                        "'none' clips); see list-methods --json for the names")
    parser.set_defaults(default_tmo=default_tmo)
    g.add_argument("--tmo-param", action="append", default=[], metavar="NAME=VALUE",
                   help="operator parameter, repeatable")
    g.add_argument("--exposure", type=float, default=0.0, metavar="EV",
                   help="exposure change in stops, applied in linear light (default 0)")
    g.add_argument("--gamma", type=float, default=0.0, metavar="G",
                   help="display gamma; 0 = the sRGB curve (default)")
    g.add_argument("--saturation", type=float, default=1.0, metavar="S",
                   help="colour saturation multiplier (default 1)")
    g.add_argument("--temperature", type=float, default=6504.0, metavar="K",
                   help="white balance: the colour temperature of the light to neutralise, "
                        "2000-12000 K (3200 = tungsten; default 6504 = as shot)")
    g.add_argument("--tint", type=float, default=0.0, metavar="T",
                   help="white balance tint -100..100 (+ = magenta; default 0)")
    g.add_argument("--bit-depth", type=int, choices=(8, 16), default=8,
                   help="PNG/TIFF bits per channel (JPEG is always 8)")
    g.add_argument("--quality", type=int, default=95, metavar="Q",
                   help="JPEG quality 1-100 (default 95)")
    g.add_argument("--strip-location", action="store_true", default=False,
                   help="leave the GPS position out of the EXIF copied from the photos")
    g.add_argument("--colour-space", choices=("srgb", "display-p3", "adobe-rgb"),
                   default="srgb", help="encoding and embedded ICC profile of PNG/TIFF/JPEG/AVIF "
                                        "outputs (default srgb)")
    e = parser.add_argument_group("EXR outputs").add_mutually_exclusive_group()
    e.add_argument("--half", dest="half", action="store_true", default=True,
                   help="16-bit half floats (default)")
    e.add_argument("--float", dest="half", action="store_false", help="32-bit floats")


def parse_assignments(items: Sequence[str], option: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; InputError for a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{option} {item!r}: expected NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def tone_params(args: argparse.Namespace) -> "ToneParams":
    """Validated ToneParams from the parsed options (operator name, its parameters, ranges;
    the checks are :func:`app.models.recipe.check_tone`, shared with presets and the GUI)."""
    from app.core.types import ToneParams
    from app.models.recipe import check_tone

    tmo = args.tmo if args.tmo is not None else args.default_tmo
    tone = ToneParams(
        exposure_ev=args.exposure,
        gamma=args.gamma,
        tmo=tmo,
        tmo_params=parse_assignments(args.tmo_param, "--tmo-param"),
        saturation=args.saturation,
        temperature=args.temperature,
        tint=args.tint,
    )
    if not 1 <= args.quality <= 100:
        raise InputError(f"--quality must be in 1..100, got {args.quality}")
    return check_tone(tone)


def check_encoding(output: str, bit_depth: int) -> None:
    """Refuse an encoding the format cannot hold before any work is done (JPEG is 8-bit)."""
    if bit_depth != 8 and output.lower().endswith((".jpg", ".jpeg")):
        raise InputError(
            f"{output}: JPEG holds 8 bits per channel; use .png or .tif for 16-bit output"
        )


def parse_number_list(
    text: str, option: str, count: int, bounds: tuple[float, float] | None = None, unit: str = ""
) -> list[float]:
    """``"1/60,1/15,0.25"`` -> floats; fractions allowed; exactly ``count`` values, each finite
    and, when ``bounds`` are given, within them (inclusive)."""
    values: list[float] = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = float(Fraction(part))
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{option}: {part!r} is not a number") from None
        except OverflowError:  # Fraction("1e400") is exact; only its float overflows
            value = float("inf") if not part.startswith("-") else float("-inf")
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise InputError(
                f"{option}: {part} is outside the range {bounds[0]:g} to {bounds[1]:g}{unit}"
            )
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"{option}: {part!r} is not a finite number")
        values.append(value)
    if len(values) != count:
        raise InputError(f"{option}: {len(values)} values given for {count} input files")
    return values


FLAGS_UNSET = dict(exposure=None, gamma=None, saturation=None, temperature=None, tint=None,
                   bit_depth=None, quality=None, half=None, strip_location=None,
                   colour_space=None)
"""Parser defaults of the commands that take ``--preset``: None = not given, the preset's (or
the built-in default) value stands."""


def recipe_from_flags(args: argparse.Namespace, *, formats: Sequence[str] | None = None,
                      naming: str | None = None):
    """The preset (``args.preset``, or the defaults) with the flags given on the command line
    on top: method, --param, --align, --deghost, --device, the tone options and the encoding
    options; ``formats`` / ``naming`` replace the preset's output formats / name pattern."""
    from dataclasses import replace

    from app.models.preset import load_preset
    from app.models.recipe import make_recipe

    base = load_preset(args.preset) if getattr(args, "preset", None) else make_recipe()
    tone, out = base.tone, base.output
    tmo_params = dict(tone.tmo_params)
    if args.tmo is not None and args.tmo != tone.tmo:
        tmo_params = {}  # another operator: the preset's operator parameters do not apply
    tmo_params.update(parse_assignments(args.tmo_param, "--tmo-param"))
    tone = replace(  # the preset's look stays (no flag sets it)
        tone,
        exposure_ev=_pick(args.exposure, tone.exposure_ev),
        gamma=_pick(args.gamma, tone.gamma),
        tmo=_pick(args.tmo, tone.tmo),
        tmo_params=tmo_params,
        saturation=_pick(args.saturation, tone.saturation),
        temperature=_pick(args.temperature, tone.temperature),
        tint=_pick(args.tint, tone.tint),
    )
    out = replace(out, formats=tuple(formats) if formats else out.formats,
                  naming=_pick(naming, out.naming),
                  bit_depth=_pick(args.bit_depth, out.bit_depth),
                  quality=_pick(args.quality, out.quality), half=_pick(args.half, out.half),
                  strip_location=_pick(args.strip_location, out.strip_location),
                  colour_space=_pick(args.colour_space, out.colour_space))
    method = _pick(args.method, base.method)
    params = dict(base.params) if method == base.method else {}
    params.update(parse_assignments(args.param, "--param"))
    return make_recipe(method, params, align=_pick(args.align, base.align),
                       deghost=_pick(getattr(args, "deghost", None), base.deghost), tone=tone,
                       output=out, device=_pick(args.device, base.device))


def _pick(value, default):
    return default if value is None else value
