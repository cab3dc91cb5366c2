"""``batch``: a whole shoot in one go: find the brackets, process each with one recipe.

    lumafuse batch SHOOT/ -o OUT/ [--preset look.toml] [--plan [--json]] [--jobs N] [--ray]

The recipe comes from ``--preset`` (a TOML file, also saved by the GUI) with any flag given
here on top. ``--plan`` prints the groups and what was left out, and processes nothing. A
JSON report (``OUT/lumafuse-batch.json`` unless ``--report``) is rewritten as each bracket
ends; existing outputs are skipped unless ``--force``; the exit code is 0 when every bracket
was written or skipped, 4 when some failed (the others were processed), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app.cli.options import FLAGS_UNSET, add_recipe_options, add_tone_options, recipe_from_flags
from app.core.errors import InputError
from app.core.progress import TaskContext

EXIT_SOME_FAILED = 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="find the brackets in folders of photos and process each",
        description="Group photos into brackets (EXIF capture time, exposure pattern, camera, "
        "size and image content; or --group-size N) and run one recipe on each through the "
        "same pipeline as `fuse`. Exit 0: all written or skipped; 4: some brackets failed "
        "(see the report); 130: cancelled.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    p.add_argument("-o", "--output-dir", required=True, metavar="OUT_DIR",
                   help="folder for the results and the report (created if missing)")
    add_recipe_options(p)
    p.add_argument("--format", metavar="EXT[,EXT]",
                   help="output formats, e.g. tif or exr,jpg (default from the preset, else tif)")
    p.add_argument("--naming", metavar="PATTERN",
                   help="output name pattern (default {first}_{method}.{ext}); fields: "
                        "{first} {last} {group} {method} {n} {ext} {folder}")
    g = p.add_argument_group("grouping")
    g.add_argument("--group-size", type=int, metavar="N",
                   help="fixed groups of N files in name order (no detection)")
    g.add_argument("--gap", type=float, default=None, metavar="SECONDS",
                   help="a pause longer than this between frames starts a new bracket "
                        "(default 60)")
    g.add_argument("--singles", action="store_true",
                   help="process single shots too (single-image HDR); default: left out")
    g.add_argument("--plan", action="store_true", help="print the groups; process nothing")
    g.add_argument("--json", action="store_true", help="with --plan: the plan as JSON on stdout")
    r = p.add_argument_group("running")
    r.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="worker processes (default: by cores and memory)")
    r.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster (ADDRESS, or $RAY_ADDRESS, or a local one)")
    r.add_argument("--report", metavar="FILE", help="JSON report (default OUT_DIR/"
                                                    "lumafuse-batch.json)")
    r.add_argument("--force", action="store_true", help="redo brackets whose outputs exist")
    r.add_argument("--read-out", action="store_true",
                   help="add the quality read-out (MEF-SSIM of the rendering against the "
                        "exposures, clipped and crushed shares) to each bracket's report row")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_tone_options(p)
    # None = "not given": the preset's value stands
    p.set_defaults(**FLAGS_UNSET, handler=run_batch, needs_ctx=True)


def run_batch(args: argparse.Namespace, ctx: TaskContext) -> int:
    from app.core.io.files import expand_paths
    from app.core.io.grouping import DEFAULT_MAX_GAP_S, plan_groups
    from app.models import batch

    formats = tuple(f.strip() for f in args.format.split(",")) if args.format else None
    # a bad preset or flag fails before any file is read
    recipe = recipe_from_flags(args, formats=formats, naming=args.naming)
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: not a folder")
    files = expand_paths(args.inputs, strict=True)
    say = (lambda text: None) if args.quiet else (lambda text: _say(text))
    say(f"scanning {len(files)} files…")
    plan = plan_groups(files, max_gap_s=args.gap or DEFAULT_MAX_GAP_S,
                       group_size=args.group_size)
    if args.plan:
        _print_plan(plan, recipe, args)
        return 0
    tasks = batch.make_tasks(plan, recipe, out_dir, singles=args.singles, force=args.force,
                             quality=args.read_out)
    if not tasks:
        raise InputError("no brackets found (single shots are left out unless --singles)")
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = Path(args.report) if args.report else out_dir / batch.REPORT_NAME
    jobs = args.jobs or batch.default_jobs(tasks)
    where = "Ray" if args.ray is not None else f"{jobs} worker process{'es' * (jobs > 1)}"
    say(f"{len(tasks)} bracket(s), {len(plan.left_out)} file(s) left out; running on {where}")

    t0 = time.monotonic()
    finished: dict[int, batch.Record] = {}

    def on_record(record: batch.Record) -> None:
        finished[record.group] = record
        rows = [finished.get(t.group) or batch.Record(t.group, list(t.files), list(t.outputs))
                for t in tasks]
        batch.write_report(report_path, rows, batch.summarize(rows, time.monotonic() - t0))
        eta = batch.eta_text(len(finished), len(tasks), time.monotonic() - t0)
        detail = record.error if record.status in ("failed", "skipped") else \
            f"{record.method}, {record.seconds:.1f} s"
        if record.quality and record.quality.get("mef_ssim") is not None:
            detail += f", MEF-SSIM {record.quality['mef_ssim']:.3f}"
        say(f"[{len(finished)}/{len(tasks)}] {Path(record.inputs[0]).name}: {record.status} "
            f"({detail})" + (f"; about {eta} left" if eta else ""))

    try:
        if args.ray is not None:
            records = batch.run_ray(tasks, args.ray or None, ctx, on_record)
        else:
            records = batch.run_local(tasks, jobs, ctx, on_record)
    except batch.BatchCancelled as exc:
        batch.write_report(report_path, exc.records,
                           batch.summarize(exc.records, time.monotonic() - t0))
        raise
    summary = batch.summarize(records, time.monotonic() - t0)
    batch.write_report(report_path, records, summary)
    say(f"done in {summary['seconds']:.1f} s: {summary['ok']} written, {summary['skipped']} "
        f"skipped, {summary['failed']} failed; report {report_path}")
    return EXIT_SOME_FAILED if summary["failed"] else 0


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _print_plan(plan, recipe, args: argparse.Namespace) -> None:
    """The groups (files, EVs, method, outputs) and the files left out, as text or JSON."""
    rows = []
    number = 0
    for group in plan.groups:
        single = group.is_single and not args.singles
        if not single:
            number += 1
        rows.append({
            "group": None if single else number,
            "files": list(group.files),
            "ev": list(group.ev),
            "ev_source": group.ev_source,
            "method": None if single else recipe.method_for(len(group.files)),
            "outputs": [] if single else [str(Path(args.output_dir) / n)
                                          for n in recipe.output_names(group.files, number)],
            "left_out": "single shot (not a bracket; --singles processes it)" if single else None,
        })
    left = {path: reason for path, reason in plan.left_out.items()}
    if args.json:
        json.dump({"groups": rows, "left_out": left}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    for row in rows:
        evs = ", ".join("?" if e is None else f"{e:+.1f}" for e in row["ev"])
        head = f"group {row['group']:3d}" if row["group"] else "single   "
        names = ", ".join(Path(f).name for f in row["files"])
        tail = f" -> {row['method']}" if row["group"] else f"  (left out: {row['left_out']})"
        print(f"{head}: {names}  [EV {evs}, {row['ev_source']}]{tail}")
    for path, reason in left.items():
        print(f"left out: {Path(path).name}: {reason}")
    n = sum(1 for r in rows if r["group"])
    print(f"{n} bracket(s), {len(rows) - n} single shot(s), {len(left)} unreadable file(s)")
