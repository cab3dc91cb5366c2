"""``fuse``: a bracket in, one fused / merged image out, through the same run() as the GUI.

Everything that can be checked without reading pixels (method, parameters, exposure count,
tone options, output path) is checked first, so a mistake fails in milliseconds and before any
file is written. The output is written once, atomically, after the method finished.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.core.errors import InputError, MethodUnavailable
from app.core.limits import EV_LIMIT, TIME_RANGE_S
from app.core.progress import TaskContext
from app.cli.options import (
    add_tone_options,
    check_encoding,
    parse_assignments,
    parse_number_list,
    tone_params,
)

DEFAULT_MULTI = "mertens"  # exposure fusion: needs no exposure times, always available
DEFAULT_SINGLE = "hdrcnn"  # single-image HDR, when registered and its weights are present


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
    p.add_argument("-m", "--method", metavar="METHOD",
                   help=f"method id (default: {DEFAULT_MULTI} for 2+ inputs, "
                        f"{DEFAULT_SINGLE} for one); see list-methods")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="method parameter, repeatable (list-methods shows them)")
    p.add_argument("--align", choices=("none", "mtb", "homography"), default="none",
                   help="register hand-held frames: mtb = translation, homography = "
                        "perspective (default none)")
    times = p.add_mutually_exclusive_group()
    times.add_argument("--times", metavar="T1,T2,...",
                       help="exposure times in seconds, one per input (fractions allowed: 1/60)")
    times.add_argument("--ev", metavar="E1,E2,...",
                       help="exposure offsets in stops, one per input (e.g. -2,0,2)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="device for learned methods (default auto)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_tone_options(p)
    p.set_defaults(handler=run_fuse, needs_ctx=True)


def choose_method(method: str | None, n_inputs: int):
    """The MethodSpec to run: ``method`` if given, else the default for the input count."""
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


def run_fuse(args: argparse.Namespace, ctx: TaskContext) -> int:
    from app.models.registry import runnable_on
    from app.models.runner import resolve_params, run

    from app.core.io.files import expand_paths

    # a folder stands for the images inside it, as in the GUI
    inputs = [Path(p) for p in expand_paths(args.inputs, strict=True)]
    spec = choose_method(args.method, len(inputs))
    params = resolve_params(spec.id, parse_assignments(args.param, "--param"))
    ok, reason = runnable_on(spec, len(inputs))
    if not ok:
        if len(inputs) < spec.min_exposures or (
            spec.max_exposures is not None and len(inputs) > spec.max_exposures
        ):
            raise InputError(f"{reason} (inputs: {', '.join(p.name for p in inputs)})")
        raise MethodUnavailable(f"{spec.id}: {reason}")
    tone = tone_params(args)
    for out in args.output:
        check_encoding(out, args.bit_depth)
    times = ev = None
    if args.times:
        times = parse_number_list(args.times, "--times", len(inputs), TIME_RANGE_S, " s")
    if args.ev:
        ev = parse_number_list(args.ev, "--ev", len(inputs), (-EV_LIMIT, EV_LIMIT), " EV")
    from app.core.io import check_output_path, load_stack, published_together, write_result

    outputs = [check_output_path(o, inputs=inputs, force=args.force) for o in args.output]
    _check_distinct_outputs(outputs)

    stack = load_stack(inputs, times=times, ev=ev, ctx=ctx.sub(0.0, 0.15))
    result = run(
        stack, spec.id, params, ctx.sub(0.15, 0.95), align=args.align, device=args.device
    )
    ctx.check()  # a Ctrl-C during the last stage: stop before writing anything
    with published_together(ctx):  # all outputs or none, from the one merge
        for output in outputs:
            write_result(
                output,
                result,
                tone,
                bit_depth=args.bit_depth,
                quality=args.quality,
                half=args.half,
                inputs=inputs,
                force=args.force,
                ctx=ctx,
            )
    ctx.done("written")  # published and committed: a late Ctrl-C no longer cancels
    if not result.is_hdr and (args.tmo is not None or args.tmo_param) and not args.quiet:
        sys.stderr.write(
            f"note: --tmo/--tmo-param not applied: {spec.id} gives a display image, not HDR "
            "radiance (exposure, saturation and gamma apply)\n"
        )
    if not args.quiet:
        for message in result.messages:
            sys.stderr.write(f"note: {message}\n")
    h, w = result.image.shape[:2]
    prov = result.provenance
    if not args.quiet:
        sys.stderr.write(
            f"wrote {', '.join(map(str, outputs))} ({spec.id}, {result.kind.value}, {w}x{h}, "
            f"{prov.duration_s:.2f} s on {prov.device})\n"
        )
    return 0


def _check_distinct_outputs(outputs: list[Path]) -> None:
    seen: set[str] = set()
    for out in outputs:
        key = os.path.realpath(out)
        if key in seen:
            raise InputError(f"{out}: given twice as an output")
        seen.add(key)
