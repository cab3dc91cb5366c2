"""The one pipeline: read a bracket -> run() -> write every output, used by ``fuse``, ``batch``
(local processes or Ray) and the GUI's export (which already holds a result and calls
:func:`write_outputs`, the pipeline's last stage).

Outputs are written atomically and published together (all or none), never over an input;
a cancelled or failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.types import Result
from app.models.recipe import Recipe

if TYPE_CHECKING:
    import numpy as np

    from app.core.metrics.quality import Quality


@dataclass(frozen=True)
class Processed:
    """What :func:`process` made: the result (linear radiance or display [0, 1], see Result),
    the files written and the whole time (read, run, write) in seconds."""

    result: Result
    outputs: tuple[Path, ...]
    seconds: float
    quality: "Quality | None" = None  # the read-out, when asked for (app.core.metrics.quality)


def check_outputs(
    outputs: Sequence[str | os.PathLike[str]], inputs: Sequence[str | Path], force: bool
) -> list[Path]:
    """Each output checked (extension, folder, never an input, exists only with ``force``) and
    no file named twice; returns them as Paths."""
    from app.core.io import check_output_path

    paths = [check_output_path(o, inputs=inputs, force=force) for o in outputs]
    seen: set[str] = set()
    for out in paths:
        key = os.path.realpath(out)
        if key in seen:
            raise InputError(f"{out}: given twice as an output")
        seen.add(key)
    return paths


def plain_export_bits(recipe: Recipe, outputs: Sequence[Path], quality: bool) -> int | None:
    """The bit depth every output quantises a fused result to when the export does nothing else
    to it (display formats only, neutral tone, sRGB, no quality read-out), else None. run() is
    then asked for display codes: a method that can make them skips the float32 image."""
    from app.core.io import output_format
    from app.core.io.colour_space import check_space
    from app.core.tonemap import only_clips
    from app.core.types import ResultKind

    if quality or any(output_format(o) in ("exr", "hdr") for o in outputs):
        return None
    opts = recipe.output
    if check_space(opts.colour_space) != "srgb" or not only_clips(ResultKind.LDR_FUSED,
                                                                   recipe.tone):
        return None
    return int(opts.bit_depth)


def half_export(recipe: Recipe, outputs: Sequence[Path], quality: bool) -> bool:
    """True when run() may return HDR radiance as float16 (6 B/px instead of 12): every output
    is a half-float OpenEXR (the values the file holds anyway) or an 8-bit sRGB rendering made
    strip by strip (``tonemap.renders_in_strips``: a global operator, no look or white-balance
    change), and no quality read-out is asked. The 8-bit rendering is then that of the EXR's
    values (within one code of the float32 radiance's at rounding boundaries); 16-bit and
    other renderings keep float32."""
    from app.core.io import output_format
    from app.core.io.colour_space import check_space
    from app.core.tonemap import renders_in_strips
    from app.core.types import ResultKind

    if quality or not outputs:
        return False
    opts = recipe.output

    def half_ok(path: Path) -> bool:
        fmt = output_format(path)
        if fmt == "exr":
            return bool(opts.half)
        return (fmt in ("png", "tiff", "jpeg", "avif") and int(opts.bit_depth) == 8
                and check_space(opts.colour_space) == "srgb"
                and renders_in_strips(ResultKind.HDR_LINEAR, recipe.tone))

    return all(half_ok(o) for o in outputs)


def write_outputs(
    result: Result,
    recipe: Recipe,
    outputs: Sequence[Path],
    *,
    inputs: Sequence[str | Path],
    force: bool = False,
    ctx: TaskContext | None = None,
) -> tuple[Path, ...]:
    """Write ``result`` to every output (the extension picks the format; PNG/TIFF/JPEG are
    rendered with ``recipe.tone``), all published in one commit."""
    from app.core.io import published_together, write_result

    ctx = ctx or TaskContext()
    opts = recipe.output
    with published_together(ctx):
        for output in outputs:
            write_result(output, result, recipe.tone, bit_depth=opts.bit_depth,
                         quality=opts.quality, half=opts.half, inputs=inputs, force=force,
                         ctx=ctx, strip_location=opts.strip_location,
                         colour_space=opts.colour_space)
    ctx.done("written")  # published and committed: a late cancel no longer applies
    return tuple(outputs)


def process(
    inputs: Sequence[str | Path],
    recipe: Recipe,
    outputs: Sequence[str | os.PathLike[str]],
    ctx: TaskContext | None = None,
    *,
    times: Sequence[float] | None = None,
    ev: Sequence[float] | None = None,
    force: bool = False,
    quality: bool = False,
    split_stacked: bool = False,
    reference: int | None = None,
    reference_mask: np.ndarray | None = None,
) -> Processed:
    """Read the bracket ``inputs`` (files; EXIF times unless ``times``/``ev`` are given), run the
    recipe's method and write ``outputs``. Everything that can be checked without pixels
    (method for this many frames, parameters, output paths) is checked before reading.
    ``quality``: also compute the quality read-out of the rendering against the exposures.
    ``split_stacked``: each input holds two exposures stacked vertically (two frames per file).
    ``reference`` (0 = darkest frame) and ``reference_mask`` (HxW [0, 1], 1 = reference frame
    only): the frame deghosting keeps, and where it must be kept (see :func:`run`)."""
    from app.core.io import load_stack
    from app.models.runner import run

    ctx = ctx or TaskContext()
    t0 = time.perf_counter()
    inputs = [Path(p) for p in inputs]
    fixed = recipe.for_inputs(len(inputs) * (2 if split_stacked else 1))
    paths = check_outputs(outputs, inputs, force)
    stack = load_stack(inputs, times=times, ev=ev, ctx=ctx.sub(0.0, 0.15),
                       split_stacked=split_stacked)
    result = run(stack, fixed.method, fixed.params, ctx.sub(0.15, 0.95), align=fixed.align,
                 device=fixed.device, reference=reference, reference_mask=reference_mask,
                 codes=plain_export_bits(fixed, paths, quality),
                 half=half_export(fixed, paths, quality),
                 release_frames=not quality)  # nothing reads the frames after the run but quality
    ctx.check()  # a cancel during the last stage: stop before writing anything
    exposures = () if stack.linear or not quality else stack.frames
    del stack  # the frames are not held while the outputs are rendered (unless quality needs them)
    written = write_outputs(result, fixed, paths, inputs=inputs, force=force, ctx=ctx)
    seconds = time.perf_counter() - t0
    read_out = None
    if quality:
        from app.core.metrics.quality import result_quality

        read_out = result_quality(result.image, result.kind, fixed.tone, exposures)
    return Processed(result, written, seconds, read_out)
