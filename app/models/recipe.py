"""One recipe: everything that decides an output besides the photos themselves.

A :class:`Recipe` holds the method (or "auto": chosen by the number of frames), its parameters,
alignment, deghosting, the display rendering (:class:`~app.core.types.ToneParams`) and the
outputs (formats, encoding options and a file-name pattern). The CLI flags of ``fuse`` and
``batch``, the GUI's current state and a preset file (:mod:`app.models.preset`) all build one,
and :func:`make_recipe` validates it once: a bad method name, parameter, operator, range or
pattern fails before any pixel is read. :func:`Recipe.for_inputs` then fixes the method for a
bracket of a given size. The pipeline (:mod:`app.models.pipeline`) runs it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from app.core.errors import InputError, MethodUnavailable
from app.core.types import ToneParams

from app.models.defaults import DEFAULT_MULTI, DEFAULT_SINGLE  # noqa: F401 - re-exported

AUTO = "auto"
ALIGN_MODES = ("none", "mtb", "homography")
DEVICES = ("auto", "cpu", "cuda")

FORMAT_EXTENSIONS = {"exr": "exr", "hdr": "hdr", "png": "png", "tif": "tif", "tiff": "tif",
                     "jpg": "jpg", "jpeg": "jpg", "avif": "avif"}
"""Output format names a recipe accepts -> the extension written."""

NAME_FIELDS = ("first", "last", "group", "method", "n", "ext", "folder")
"""Fields of the output-name pattern: first/last input's stem, 1-based group number (3 digits),
method id, frame count, extension (per format), the first input's folder name."""
DEFAULT_NAMING = "{first}_{method}.{ext}"


@dataclass(frozen=True)
class OutputOptions:
    """How results are encoded: ``formats`` (extensions, e.g. ("tif", "exr")), ``naming`` (a
    pattern of :data:`NAME_FIELDS`), ``bit_depth`` 8/16 for PNG/TIFF, JPEG ``quality`` 1-100,
    ``half``: 16-bit EXR floats (else 32-bit); ``strip_location``: no GPS in the copied EXIF."""

    formats: tuple[str, ...] = ("tif",)  # extensions: exr hdr png tif jpg
    naming: str = DEFAULT_NAMING
    bit_depth: int = 8
    quality: int = 95
    half: bool = True
    strip_location: bool = False  # drop the source's GPS tags from PNG/TIFF/JPEG outputs
    colour_space: str = "srgb"  # srgb | display-p3 | adobe-rgb (display formats)


@dataclass(frozen=True)
class Recipe:
    """A validated processing recipe (build it with :func:`make_recipe`)."""

    method: str = AUTO
    params: Mapping[str, Any] = field(default_factory=dict)
    align: str = "none"
    deghost: bool = False
    tone: ToneParams = field(default_factory=ToneParams)
    output: OutputOptions = field(default_factory=OutputOptions)
    device: str = "auto"

    def method_for(self, n_frames: int) -> str:
        """The method id this recipe runs on ``n_frames`` frames ("auto" resolved)."""
        return choose_method(None if self.method == AUTO else self.method, n_frames).id

    def run_params(self, method_id: str) -> dict[str, Any]:
        """Validated parameters for ``method_id``: the recipe's (if they are for that method)
        with the deghost switch applied. Raises InputError for one the method lacks."""
        from app.models.runner import resolve_params

        params = dict(self.params) if self.method in (AUTO, method_id) else {}
        if self.method == AUTO:  # parameters of an auto recipe apply where the method has them
            spec_names = {p.name for p in _spec(method_id).params}
            params = {k: v for k, v in params.items() if k in spec_names}
        if self.deghost:
            spec = _spec(method_id)
            _check_deghost(spec)
            params["deghost"] = "on" if spec.param("deghost").type is str else True
        return resolve_params(method_id, params)

    def for_inputs(self, n_frames: int) -> "Recipe":
        """This recipe with its method fixed for ``n_frames`` and its parameters resolved;
        InputError / MethodUnavailable when that method cannot run on them."""
        from app.models.registry import runnable_on

        method_id = self.method_for(n_frames)
        spec = _spec(method_id)
        ok, reason = runnable_on(spec, n_frames)
        if not ok:
            if n_frames < spec.min_exposures or (
                spec.max_exposures is not None and n_frames > spec.max_exposures
            ):
                raise InputError(reason)
            raise MethodUnavailable(f"{spec.id}: {reason}")
        return replace(self, method=method_id, params=self.run_params(method_id), deghost=False)

    def output_names(self, inputs: Sequence[str | Path], group: int = 1) -> list[str]:
        """File names (no folder) of this recipe's outputs for a bracket, one per format."""
        first, last = Path(inputs[0]), Path(inputs[-1])
        method = self.method_for(len(inputs)) if self.method == AUTO else self.method
        names = []
        for fmt in self.output.formats:
            names.append(self.output.naming.format(
                first=first.stem, last=last.stem, group=f"{group:03d}", method=method,
                n=len(inputs), ext=FORMAT_EXTENSIONS[fmt], folder=first.parent.name or "."))
        return names


def _check_deghost(spec) -> None:
    """InputError unless the method has a deghosting switch."""
    if not any(p.name == "deghost" for p in spec.params):
        raise InputError(f"{spec.id} has no deghosting; choose mertens or an HDR merge "
                         "(debevec, robertson) or switch deghosting off")


def _spec(method_id: str):
    from app.models.registry import get_method

    return get_method(method_id)


def choose_method(method: str | None, n_inputs: int):
    """The MethodSpec to run: ``method`` if given, else the default for the input count
    (:data:`DEFAULT_MULTI` for 2+, :data:`DEFAULT_SINGLE` for one photo)."""
    from app.models.registry import METHODS, availability, get_method

    if method:
        return get_method(method)
    if n_inputs >= 2:
        return get_method(DEFAULT_MULTI)
    single = next((m for m in METHODS if m.id == DEFAULT_SINGLE), None)
    if single is None:
        raise InputError(
            "one input image: fusion and HDR merging need at least 2 exposures, and no "
            "single-image method is installed"
        )
    ok, reason = availability(single)
    if not ok:
        raise MethodUnavailable(
            f"one input image: fusion and HDR merging need at least 2 exposures, and "
            f"single-image HDR ({single.id}) is not available: {reason}"
        )
    return single


def check_tone(tone: ToneParams) -> ToneParams:
    """The tone settings with operator parameters parsed and every range checked (NaN refused:
    the checks are written as "not inside")."""
    from app.core.tonemap import OPERATOR_PARAMS, OPERATORS

    if tone.tmo not in OPERATORS:
        raise InputError(f"unknown tone-mapping operator {tone.tmo!r}; valid: "
                         f"{', '.join(sorted(OPERATORS))}")
    specs = {p.name: p for p in OPERATOR_PARAMS.get(tone.tmo, ())}
    values: dict[str, Any] = {}
    for name, value in dict(tone.tmo_params).items():
        spec = specs.get(name)
        if spec is None:
            valid = ", ".join(specs) or "none"
            raise InputError(f"operator {tone.tmo!r} has no parameter {name!r} (valid: {valid})")
        values[name] = spec.parse(value) if isinstance(value, str) else spec.validate(value)
    if not 0 <= tone.gamma <= 10:
        raise InputError(f"gamma must be 0 (sRGB) or a value in (0, 10], got {tone.gamma}")
    if not -20 <= tone.exposure_ev <= 20:
        raise InputError(f"exposure must be within +-20 EV, got {tone.exposure_ev}")
    if not 0 <= tone.saturation <= 4:
        raise InputError(f"saturation must be in [0, 4], got {tone.saturation}")
    from app.core.tonemap.white_balance import check_settings

    check_settings(float(tone.temperature), float(tone.tint))
    from app.core.tonemap.look import check_look

    return replace(tone, exposure_ev=float(tone.exposure_ev), gamma=float(tone.gamma),
                   saturation=float(tone.saturation), tmo_params=values,
                   temperature=float(tone.temperature), tint=float(tone.tint),
                   look=check_look(tone.look))


def check_output_options(out: OutputOptions) -> OutputOptions:
    """Formats known, encodings possible (JPEG is 8-bit), pattern fields known and the pattern
    giving distinct names per format."""
    formats = []
    for fmt in out.formats:
        key = str(fmt).lower().lstrip(".")
        if key not in FORMAT_EXTENSIONS:
            raise InputError(f"unknown output format {fmt!r}; valid: "
                             f"{', '.join(sorted(set(FORMAT_EXTENSIONS)))}")
        formats.append(FORMAT_EXTENSIONS[key])  # one name per format: tiff -> tif
    if not formats:
        raise InputError("no output format given")
    exts = formats
    if len(set(exts)) != len(exts):
        raise InputError(f"an output format is given twice: {', '.join(formats)}")
    if out.bit_depth not in (8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {out.bit_depth}")
    if out.bit_depth != 8 and ("jpg" in exts or "avif" in exts):
        raise InputError("JPEG and AVIF are written with 8 bits per channel here; use png or "
                         "tif for 16-bit output")
    if not 1 <= out.quality <= 100:
        raise InputError(f"JPEG quality must be in 1..100, got {out.quality}")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(out.naming) if f is not None}
    except ValueError as exc:
        raise InputError(f"output name pattern {out.naming!r}: {exc}") from None
    unknown = fields - set(NAME_FIELDS)
    if unknown:
        raise InputError(f"output name pattern {out.naming!r}: unknown field "
                         f"{{{sorted(unknown)[0]}}}; valid: "
                         + ", ".join("{" + f + "}" for f in NAME_FIELDS))
    if len(exts) > 1 and "ext" not in fields:
        raise InputError(f"output name pattern {out.naming!r} needs {{ext}} for several formats")
    if "/" in out.naming or "\\" in out.naming:
        raise InputError(f"output name pattern {out.naming!r}: a file name, not a path")
    return replace(out, formats=tuple(formats), bit_depth=int(out.bit_depth),
                   quality=int(out.quality), half=bool(out.half),
                   strip_location=bool(out.strip_location),
                   colour_space=_space(out.colour_space))


def _space(space: str) -> str:
    from app.core.io.colour_space import SPACES

    if space not in SPACES:
        raise InputError(f"unknown colour space {space!r}; valid: {', '.join(SPACES)}")
    return space


def make_recipe(
    method: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    align: str = "none",
    deghost: bool = False,
    tone: ToneParams | None = None,
    output: OutputOptions | None = None,
    device: str = "auto",
) -> Recipe:
    """Build and validate a Recipe. ``method`` None or "auto": chosen per bracket size.
    ``params`` may be strings (CLI, preset) or values; they are checked against the method's
    ParamSpecs (for "auto", against every method that has the name)."""
    from app.models.registry import METHODS, get_method

    method = method or AUTO
    if align not in ALIGN_MODES:
        raise InputError(f"alignment must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    checked: dict[str, Any] = {}
    if method == AUTO:
        for name, value in (params or {}).items():
            owners = [m for m in METHODS if any(p.name == name for p in m.params)]
            if not owners:
                raise InputError(f"no method has a parameter {name!r}")
            p = owners[0].param(name)
            checked[name] = p.parse(value) if isinstance(value, str) else p.validate(value)
    else:
        spec = get_method(method)
        for name, value in (params or {}).items():
            p = spec.param(name)
            checked[name] = p.parse(value) if isinstance(value, str) else p.validate(value)
        if deghost:
            _check_deghost(spec)
    return Recipe(
        method=method,
        params=checked,
        align=align,
        deghost=bool(deghost),
        tone=check_tone(tone or ToneParams()),
        output=check_output_options(output or OutputOptions()),
        device=device,
    )
