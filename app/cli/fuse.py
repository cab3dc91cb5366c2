"""``fuse``: a bracket in, one fused / merged image out, through the same run() as the GUI.

Everything that can be checked without reading pixels (method, parameters, exposure count,
tone options, output path) is checked first, so a mistake fails in milliseconds and before any
file is written. The output is written once, atomically, after the method finished.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import InputError
from app.core.limits import EV_LIMIT, TIME_RANGE_S
from app.core.progress import TaskContext
from app.cli.options import (
    FLAGS_UNSET,
    add_recipe_options,
    add_tone_options,
    check_encoding,
    parse_number_list,
    recipe_from_flags,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fuse",
        help="fuse or merge a bracket into one image",
        description="Fuse a bracket (exposure fusion) or merge it into linear HDR. The output "
        "extension picks the format: .exr/.hdr get the result as is (linear radiance for HDR "
        "methods), .png/.tif/.jpg get the display rendering (tone mapped for HDR results).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, one per exposure, or a folder of them")
    p.add_argument("-o", "--output", required=True, action="append", metavar="OUTPUT",
                   help="output file (.exr .hdr .png .tif .tiff .jpg .jpeg); repeat it for "
                        "several files from one run (e.g. -o x.exr -o x.tif)")
    add_recipe_options(p)
    times = p.add_mutually_exclusive_group()
    times.add_argument("--times", metavar="T1,T2,...",
                       help="exposure times in seconds, one per input (fractions allowed: 1/60)")
    times.add_argument("--ev", metavar="E1,E2,...",
                       help="exposure offsets in stops, one per input (e.g. -2,0,2)")
    p.add_argument("--split-stacked", action="store_true",
                   help="each input holds two exposures stacked vertically (top and bottom "
                        "half, as the RL fusion paper's test images); an odd middle row is "
                        "dropped")
    p.add_argument("--reference", type=int, metavar="K",
                   help="the frame whose content is kept where frames disagree (deghosting) "
                        "and that alignment registers to: 1 = darkest ... N = brightest "
                        "(default the middle one)")
    p.add_argument("--reference-mask", metavar="FILE",
                   help="selective deghosting: a grey image of the result's shape, white where "
                        "the result must come from the reference frame alone")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary on stdout: outputs, method, size, seconds, notes "
                        "and the quality read-out (MEF-SSIM of the rendering against the "
                        "exposures, clipped and crushed shares)")
    add_tone_options(p)
    p.set_defaults(**FLAGS_UNSET, handler=run_fuse, needs_ctx=True)


def run_fuse(args: argparse.Namespace, ctx: TaskContext) -> int:
    from app.core.io import output_format
    from app.core.io.files import expand_paths
    from app.models.pipeline import check_outputs, process

    # a folder stands for the images inside it, as in the GUI
    inputs = [Path(p) for p in expand_paths(args.inputs, strict=True)]
    for out in args.output:  # (a preset's bit depth is checked with the recipe below)
        check_encoding(out, args.bit_depth or 8)
    # the files are named by -o; the recipe holds their formats once each
    recipe = recipe_from_flags(
        args, formats=list(dict.fromkeys(output_format(o) for o in args.output)))
    try:
        fixed = recipe.for_inputs(len(inputs) * (2 if args.split_stacked else 1))
    except InputError as exc:
        raise InputError(f"{exc} (inputs: {', '.join(p.name for p in inputs)})") from None
    times = ev = None
    n_frames = len(inputs) * (2 if args.split_stacked else 1)
    if args.times:
        times = parse_number_list(args.times, "--times", n_frames, TIME_RANGE_S, " s")
    if args.ev:
        ev = parse_number_list(args.ev, "--ev", n_frames, (-EV_LIMIT, EV_LIMIT), " EV")
    if args.reference is not None and not 1 <= args.reference <= n_frames:
        raise InputError(f"--reference {args.reference}: choose 1 (darkest) to {n_frames} "
                         "(brightest)")
    check_outputs(args.output, inputs, args.force)  # before any pixel is read
    mask = None
    if args.reference_mask:
        from app.core.io import read_mask

        mask = read_mask(args.reference_mask)

    done = process(inputs, fixed, args.output, ctx, times=times, ev=ev, force=args.force,
                   quality=args.json, split_stacked=args.split_stacked,
                   reference=None if args.reference is None else args.reference - 1,
                   reference_mask=mask)
    result = done.result
    if not result.is_hdr and (args.tmo is not None or args.tmo_param) and not args.quiet:
        sys.stderr.write(
            f"note: --tmo/--tmo-param not applied: {fixed.method} gives a display image, not "
            "HDR radiance (exposure, saturation and gamma apply)\n"
        )
    if not args.quiet:
        for message in result.messages:
            sys.stderr.write(f"note: {message}\n")
    h, w = result.image.shape[:2]
    prov = result.provenance
    if args.json:
        _print_json(done, fixed, inputs)
    if not args.quiet:
        sys.stderr.write(
            f"wrote {', '.join(map(str, done.outputs))} ({fixed.method}, {result.kind.value}, "
            f"{w}x{h}, {prov.duration_s:.2f} s on {prov.device})\n"
        )
    return 0


def _print_json(done, recipe, inputs) -> None:
    """The run as JSON on stdout (what --json promises)."""
    import json

    result = done.result
    h, w = result.image.shape[:2]
    json.dump({
        "outputs": [str(o) for o in done.outputs],
        "method": recipe.method,
        "kind": result.kind.value,
        "width": w,
        "height": h,
        "seconds": round(done.seconds, 3),
        "device": result.provenance.device,
        "quality": done.quality.as_dict() if done.quality is not None else None,
        "notes": list(result.messages),
        "decisions": dict(result.provenance.decisions),
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")
