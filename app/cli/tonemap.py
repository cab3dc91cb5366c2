"""``tonemap``: render an HDR file (EXR / Radiance .hdr) to a display image (PNG/TIFF/JPEG).

Uses the same render path as ``fuse`` and the GUI export (app.core.io.write_result ->
app.core.tonemap.render), so the same options give the same pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.cli.options import add_tone_options, check_encoding, tone_params

DISPLAY_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tonemap",
        help="render an HDR image (EXR/.hdr) to PNG/TIFF/JPEG",
        description="Tone-map a linear HDR image to a display image: exposure, operator, "
        "saturation, then gamma or the sRGB curve.",
    )
    p.add_argument("input", metavar="IN", help="linear HDR input (.exr or .hdr)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="display output (.png .tif .tiff .jpg .jpeg)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_tone_options(p)
    p.set_defaults(handler=run_tonemap, needs_ctx=True)


def run_tonemap(args: argparse.Namespace, ctx: TaskContext) -> int:
    from app.core.io import check_output_path, read_frame, write_result
    from app.core.types import Provenance, Result, ResultKind

    src = Path(args.input)
    if Path(args.output).suffix.lower() not in DISPLAY_SUFFIXES:
        raise InputError(
            f"{args.output}: tonemap writes a display image; use one of "
            f"{', '.join(DISPLAY_SUFFIXES)}"
        )
    tone = tone_params(args)
    check_encoding(args.output, args.bit_depth)
    output = check_output_path(args.output, inputs=[src], force=args.force)
    ctx.report(0.05, "reading")
    image, info = read_frame(src)
    ctx.report(0.5, "rendering")
    kind = ResultKind.HDR_LINEAR if info.linear else ResultKind.LDR_FUSED
    if not info.linear and not args.quiet:
        sys.stderr.write(
            f"note: {src} is display-referred (not linear HDR): exposure, gamma and saturation "
            "apply, the operator does not\n"
        )
    prov = Provenance(
        method="tonemap",
        params={
            "tmo": tone.tmo,
            "tmo_params": dict(tone.tmo_params),
            "exposure_ev": tone.exposure_ev,
            "gamma": tone.gamma,
            "saturation": tone.saturation,
            "temperature": tone.temperature,
            "tint": tone.tint,
        },
        inputs=(str(src),),
    )
    ctx.check()
    write_result(
        output,
        Result(image=image, kind=kind, provenance=prov),
        tone,
        bit_depth=args.bit_depth,
        quality=args.quality,
        half=args.half,
        inputs=[src],
        force=args.force,
        ctx=ctx,
        strip_location=args.strip_location,
        colour_space=args.colour_space,
    )
    ctx.done("written")  # published and committed: a late Ctrl-C no longer cancels
    if not args.quiet:
        sys.stderr.write(f"wrote {output}\n")
    return 0
