"""The loaded bracket and the pure (Qt-free) work the GUI hands to background jobs.

Nothing here touches widgets: these functions run in worker threads. Pixel domains:

* ``LoadedFrame.image`` is what :func:`app.core.io.read_frame` returns: display-referred [0, 1]
  for 8/16-bit files, linear radiance >= 0 for EXR / .hdr / RAW (``info.linear``);
* thumbnails and compare proxies are uint8 display-encoded (sRGB) images;
* ``MergeOutput.proxy`` keeps the result's own domain (radiance or display [0, 1]), only smaller,
  so the tone controls can re-render it without touching the full-size image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from app.core.errors import InputError, LumafuseError
from app.core.limits import EV_LIMIT, TIME_RANGE_S
from app.core.progress import TaskContext
from app.core.types import ExposureStack, FrameInfo, Result, ResultKind

PROXY_LONG_SIDE = 1600  # preview proxy: big enough to look sharp, small enough for 16 ms renders
DRAFT_LONG_SIDE = 640  # what a slider tick renders where the proxy takes longer than a frame
DRAFT_SMALL_SIDE = 448  # ... and where even that draft takes longer than DRAFT_BUDGET_MS
HIST_LONG_SIDE = 256  # histogram input: 256 bins need no more than ~50k pixels
THUMB_LONG_SIDE = 160


@dataclass
class LoadedFrame:
    """One exposure as the stack panel shows it; ``user_exposure`` overrides the EXIF value."""

    path: str
    image: np.ndarray
    info: FrameInfo
    thumb: np.ndarray  # uint8 hxwx3 display
    proxy: np.ndarray  # uint8 display, long side <= PROXY_LONG_SIDE (before/after compare)
    mean_luma: float
    user_exposure: float | None = None  # relative exposure in seconds-equivalent units
    user_ev: float | None = None  # the EV as typed ('+1 EV'), None when a time was typed
    half: str = ""  # "top" / "bottom": one of two exposures stacked in the file, else ""

    @property
    def exposure(self) -> float | None:
        """Relative exposure: the user's value if typed, else EXIF t*ISO/N^2, else None."""
        if self.user_exposure is not None:
            return self.user_exposure
        return self.info.relative_exposure

    @property
    def name(self) -> str:
        return Path(self.path).name + (f" ({self.half})" if self.half else "")


@dataclass
class LoadReport:
    frames: list[LoadedFrame] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)


@dataclass(frozen=True)
class MergeOutput:
    """A finished run: the full result plus the proxies the preview and histogram work on."""

    result: Result
    proxy: np.ndarray  # float32, result domain, long side <= PROXY_LONG_SIDE
    small: np.ndarray  # float32, result domain, long side <= HIST_LONG_SIDE
    draft: np.ndarray | None = None  # float32, result domain, long side <= DRAFT_LONG_SIDE
    draft_small: np.ndarray | None = None  # the same at DRAFT_SMALL_SIDE (slowest machines)


# -- file discovery ---------------------------------------------------------------------------
# one rule for the GUI and the command line: app.core.io.files
from app.core.io.files import IMAGE_SUFFIXES, expand_paths  # noqa: E402,F401 - re-exported


# -- exposure values typed by the user --------------------------------------------------------
_EV_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*ev\s*$", re.IGNORECASE)


def parse_exposure_entry(text: str) -> tuple[float | None, float | None]:
    """(relative exposure, EV as typed or None) of a strip entry: '1/60', '0.5', '2 s'
    (seconds) or '+1.5 EV' (2^EV relative). '' -> (None, None).

    Raises InputError for anything else, a non-positive time or an EV beyond +-30.
    """
    t = text.strip()
    if not t:
        return None, None
    m = _EV_RE.match(t)
    if m:
        ev = float(m.group(1))
        if not abs(ev) <= EV_LIMIT:
            raise InputError(f"exposure {text!r}: EV must be within +-{EV_LIMIT:g}")
        return float(2.0**ev), ev
    t = t.lower().removesuffix("s").strip()
    try:
        value = float(Fraction(t))
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InputError(f"exposure {text!r}: write a time like 1/60 or 0.5, or an EV like +1 EV")
    if not np.isfinite(value) or not TIME_RANGE_S[0] <= value <= TIME_RANGE_S[1]:
        raise InputError(f"exposure {text!r} must be a time from {TIME_RANGE_S[0]:g} s to "
                         f"{TIME_RANGE_S[1]:g} s")
    return value, None


def parse_exposure(text: str) -> float | None:
    """The relative exposure of :func:`parse_exposure_entry` (None for '')."""
    return parse_exposure_entry(text)[0]


def format_ev(ev: float) -> str:
    """'+1 EV', '-0.7 EV', '0 EV'."""
    return f"{ev:+.2g} EV" if abs(ev) >= 0.005 else "0 EV"


@dataclass(frozen=True)
class ExposureLabel:
    """What a strip card shows for one frame's exposure: ``text`` is the value in the field
    (editable entries keep what was typed), ``placeholder`` a greyed value that is only shown
    (estimated), ``source`` where the value used comes from: 'EXIF', 'typed', 'estimated' or ''."""

    text: str
    placeholder: str
    source: str
    tooltip: str


def exposure_labels(
    frames: Sequence[LoadedFrame], estimated: Sequence[float] | None = None, estimate_error: str = "",
    confidence: str = "",
) -> list[ExposureLabel]:
    """The exposure each frame will be merged with, and where it comes from.

    A bracket uses EXIF/typed values only when every frame has one (app.ui.session.build_stack);
    otherwise all are estimated from the pixels (``estimated``: relative exposures, strip order,
    from :func:`estimate_job`), and values typed for some frames are not used: the tooltip says so.
    """
    every = bool(frames) and all(f.exposure is not None for f in frames)
    out = []
    for k, f in enumerate(frames):
        if f.user_exposure is not None:
            typed = format_ev(f.user_ev) if f.user_ev is not None else format_exposure(f.user_exposure)
        else:
            typed = ""
        if every:
            if f.user_exposure is not None:
                out.append(ExposureLabel(typed, "", "typed", "Exposure typed by you"))
            else:
                out.append(ExposureLabel(format_exposure(f.info.exposure_time), "", "EXIF",
                                         "Exposure time from EXIF"))
            continue
        unused = (" The value typed here is not used until every frame has one."
                  if f.user_exposure is not None else "")
        if estimated is not None and len(estimated) == len(frames):
            ev = float(np.log2(estimated[k] / min(estimated)))
            source = f"estimated · {confidence}" if confidence else "estimated"
            doubt = (" The pixels disagree about the ratios: the estimate may be far off."
                     if confidence == "low" else "")
            out.append(ExposureLabel(
                typed, f"≈ {format_ev(ev)}", source,
                "Estimated from the pixels (relative to the darkest frame), confidence "
                f"{confidence or 'unknown'}.{doubt} Type a time (1/60) or an EV (+1 EV) for "
                "every frame to use your values instead." + unused))
        elif estimate_error:
            out.append(ExposureLabel(typed, "time or EV?", "unknown",
                                     f"Cannot estimate: {estimate_error}" + unused))
        else:
            out.append(ExposureLabel(typed, "time or EV?", "", "No EXIF exposure time: type one "
                                     "(1/60, 0.5) or an EV (+1 EV), or leave empty to estimate "
                                     "it from the pixels" + unused))
    return out


def estimate_job(frames: Sequence[LoadedFrame]) -> Callable[[TaskContext], tuple]:
    """A job estimating relative exposures (strip order) as the methods will: returns
    (list of relative exposures or None, error text, confidence)."""
    images = [f.image for f in frames]
    linear = bool(frames) and frames[0].info.linear
    names = [f.name for f in frames]

    def job(ctx: TaskContext) -> tuple:
        from app.core.io.exposure import estimate_exposures

        ctx.check()
        try:
            est = estimate_exposures(images, linear=linear, names=names)
            return est.relative, "", est.confidence
        except LumafuseError as exc:
            return None, str(exc), ""

    return job


def format_exposure(seconds: float | None) -> str:
    """'1/60 s' for short times, '2 s' for long ones, '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 1.0:
        return f"1/{round(1.0 / seconds):d} s"
    return f"{seconds:g} s"


# -- loading -----------------------------------------------------------------------------------
def _resize_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def display_u8(image: np.ndarray, linear: bool) -> np.ndarray:
    """uint8 display image of a frame: linear data is clipped at 1.0 and sRGB-encoded."""
    from app.core.tonemap import srgb_encode, to_uint

    disp = srgb_encode(np.clip(image, 0.0, 1.0)) if linear else image
    return np.ascontiguousarray(to_uint(disp, 8))


def load_one(path: str, split_stacked: bool = False) -> list[LoadedFrame]:
    """Read a file and make its thumbnail and compare proxy. Raises InputError naming the file.

    split_stacked: the file holds two exposures stacked vertically: two frames (top, bottom;
    see app.core.io.split_stacked_frame), whose exposures are estimated (one file's EXIF time
    belongs to neither half)."""
    from app.core.io import read_frame, split_stacked_frame

    image, info = read_frame(path)
    if not info.path:
        info = replace(info, path=str(path))
    if not split_stacked:
        return [_loaded(path, image, info, "")]
    top, bottom = split_stacked_frame(image, Path(path).name)
    info = replace(info, exposure_time=None)
    return [_loaded(path, top, info, "top"), _loaded(path, bottom, info, "bottom")]


def _loaded(path: str, image: np.ndarray, info: FrameInfo, half: str) -> LoadedFrame:
    proxy = _resize_long_side(image, PROXY_LONG_SIDE)
    luma = proxy @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return LoadedFrame(
        path=str(path),
        image=image,
        info=info,
        thumb=display_u8(_resize_long_side(proxy, THUMB_LONG_SIDE), info.linear),
        proxy=display_u8(proxy, info.linear),
        mean_luma=float(luma.mean()),
        half=half,
    )


def load_files(paths: Sequence[str], ctx: TaskContext, split_stacked: bool = False) -> LoadReport:
    """Read every file; a failing file is reported and skipped, the others load.
    ``split_stacked``: every file holds two exposures stacked vertically (see load_one)."""
    report = LoadReport()
    for i, path in enumerate(paths):
        ctx.report(i / max(1, len(paths)), f"reading {Path(path).name}")
        try:
            report.frames.extend(load_one(path, split_stacked))
        except LumafuseError as exc:
            report.errors.append((path, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a reader bug must not drop the other files
            report.errors.append((path, f"{Path(path).name}: {type(exc).__name__}: {exc}"))
    ctx.report(1.0, "loaded")
    return report


def sort_dark_to_bright(frames: Sequence[LoadedFrame]) -> list[LoadedFrame]:
    """By exposure when every frame has one, else by mean luminance (methods expect this order)."""
    if frames and all(f.exposure is not None for f in frames):
        return sorted(frames, key=lambda f: f.exposure)  # type: ignore[arg-type, return-value]
    return sorted(frames, key=lambda f: f.mean_luma)


def build_stack(frames: Sequence[LoadedFrame]) -> ExposureStack:
    """An ExposureStack in the strip's order. Exposures only when every frame has one."""
    if not frames:
        raise InputError("no exposures loaded: drop photos onto the window or use File > Open")
    linear = {f.info.linear for f in frames}
    if len(linear) > 1:
        raise InputError("the bracket mixes linear files (RAW/EXR) and display files (JPEG/PNG)")
    exposures = [f.exposure for f in frames]
    return ExposureStack(
        frames=tuple(f.image for f in frames),
        exposures=tuple(exposures) if all(e is not None for e in exposures) else None,  # type: ignore[arg-type]
        infos=tuple(f.info for f in frames),
        linear=linear.pop(),
    )


# -- running -----------------------------------------------------------------------------------
def merge_job(
    stack: ExposureStack, method_id: str, params: Mapping[str, Any], align: str, device: str = "auto",
    *, reference: int | None = None, strokes: Sequence = (), ghost_map: bool = False,
) -> Callable[[TaskContext], MergeOutput]:
    """A job that runs the method through app.models.runner.run and builds the preview proxies.

    reference: 0-based index of the reference frame in ``stack`` (None: its middle one);
    strokes: painted (radius, points, erase) strokes in image fractions, rasterised in the job at
    the stack's full size into run()'s ``reference_mask`` (so the result, and an export of it,
    uses the mask at full resolution); ghost_map: ask run() for the ghost map and motion share."""
    params = dict(params)  # copied on the GUI thread, before the job runs
    strokes = tuple(strokes)

    def job(ctx: TaskContext) -> MergeOutput:
        from app.models.runner import run

        mask = None
        if strokes:
            from app.core.merge.ghost import rasterize_strokes

            mask = rasterize_strokes(strokes, *stack.shape)
            if not mask.any():
                mask = None  # everything painted was erased again
        result = run(stack, method_id, params, ctx.sub(0.0, 0.97), align=align, device=device,
                     reference=reference, reference_mask=mask, ghost_map=ghost_map)
        proxy = _resize_long_side(result.image, PROXY_LONG_SIDE)
        small = _resize_long_side(proxy, HIST_LONG_SIDE)
        draft = _resize_long_side(proxy, DRAFT_LONG_SIDE)
        draft_small = _resize_long_side(draft, DRAFT_SMALL_SIDE)
        ctx.report(1.0, "done")
        return MergeOutput(result, np.ascontiguousarray(proxy), np.ascontiguousarray(small),
                           np.ascontiguousarray(draft), np.ascontiguousarray(draft_small))

    return job


def export_job(
    path: Path, result: Result, tone: Any, *, bit_depth: int, half: bool, quality: int,
    inputs: tuple[str, ...], force: bool, strip_location: bool = False,
    colour_space: str = "srgb",
) -> Callable[[TaskContext], Path]:
    """A job writing ``result`` through the pipeline's write stage (atomic, never over an input):
    EXR linear as computed; PNG/TIFF/JPEG rendered with ``tone``, the preview's settings.
    Raises InputError at once for settings no file can hold."""

    from app.models.recipe import OutputOptions, make_recipe

    # the recipe's write stage is the pipeline's (app.models.pipeline.write_outputs), as in
    # `fuse` and `batch`; validated here, on the GUI thread, before the job is queued
    recipe = make_recipe(tone=tone, output=OutputOptions(
        formats=(path.suffix.lstrip(".").lower(),), bit_depth=bit_depth, quality=quality,
        half=half, strip_location=strip_location, colour_space=colour_space))

    def job(ctx: TaskContext) -> Path:
        from app.models.pipeline import write_outputs

        ctx.report(0.1, f"writing {path.name}")
        write_outputs(result, recipe, [path], inputs=inputs, force=force, ctx=ctx)
        return path

    return job


def render_u8(image: np.ndarray, kind: ResultKind, tone: Any) -> np.ndarray:
    """Display uint8 of a result-domain image with the tone settings, as the export renders it.

    Global settings on a proxy-sized image: the compiled one-pass kernel
    (``app.core.tonemap.preview_kernel``, within one 8-bit step of the export's pixels) once it
    is compiled; everything else: :func:`render_u8_general`.
    """
    from app.core.tonemap import preview_kernel

    fast = preview_kernel.render_u8(image, kind, tone)
    return fast if fast is not None else render_u8_general(image, kind, tone)


def render_u8_general(image: np.ndarray, kind: ResultKind, tone: Any) -> np.ndarray:
    """``app.core.tonemap.render`` (the export's own path) then quantisation with OpenCV: for
    render's [0, 1] output this equals ``app.core.tonemap.to_uint(.., 8)`` (both round half to
    even) at a quarter of the cost."""
    import cv2

    from app.core.tonemap import render

    display = render(image, kind, tone)
    return cv2.convertScaleAbs(np.ascontiguousarray(display, np.float32), alpha=255.0)


def histogram(small: np.ndarray, kind: ResultKind, tone: Any, rendered: np.ndarray) -> tuple:
    """Histogram of what the user sees, following the tone controls.

    small: the result (its own domain) at HIST_LONG_SIDE; rendered: the uint8 display preview.
    HDR: log2 luminance of the radiance scaled by the exposure; LDR: luma of the rendered
    display image. The clipped shares always come from the rendered display image.
    Returns app.core.metrics.luminance_histogram's (edges, counts, low_frac, high_frac).
    """
    from app.core.metrics import luminance_histogram

    step = max(1, round(max(rendered.shape[:2]) / HIST_LONG_SIDE))
    display = rendered[::step, ::step].astype(np.float32) * np.float32(1 / 255)
    if kind == ResultKind.HDR_LINEAR:
        return luminance_histogram(small * np.float32(2.0 ** tone.exposure_ev), kind, display=display)
    return luminance_histogram(display, ResultKind.LDR_FUSED)


# -- white balance from the result ---------------------------------------------------------
def linear_proxy(output: MergeOutput) -> np.ndarray:
    """The result's proxy in linear light (HDR as is; a fused display result sRGB-decoded)."""
    from app.core.tonemap import srgb_decode

    if output.result.is_hdr:
        return output.proxy
    return srgb_decode(output.proxy)


def white_balance_at(output: MergeOutput, x: float, y: float, radius: int = 3) -> tuple[float, float]:
    """(temperature, tint) that make the result neutral around proxy pixel (x, y) (a 7x7 mean);
    InputError outside the image or on a black or clipped spot."""
    img = linear_proxy(output)
    h, w = img.shape[:2]
    cx, cy = int(x), int(y)
    if not (0 <= cx < w and 0 <= cy < h):
        raise InputError("click inside the picture to pick a neutral area")
    patch = img[max(0, cy - radius): cy + radius + 1, max(0, cx - radius): cx + radius + 1]
    colour = patch.reshape(-1, 3).mean(axis=0)
    peak = float(np.percentile(img, 99.9)) if output.result.is_hdr else 1.0
    if colour.min() <= 1e-5 or colour.max() >= 0.98 * peak:
        raise InputError("that spot is black or clipped: pick a mid-grey or light-grey area")
    from app.core.tonemap.white_balance import neutral_settings

    return neutral_settings(colour)


def auto_white_balance(output: MergeOutput) -> tuple[float, float]:
    """(temperature, tint) making the result's well-exposed mid-tones neutral on average."""
    from app.core.tonemap.white_balance import auto_settings

    return auto_settings(linear_proxy(output))
