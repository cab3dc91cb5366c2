"""Batch: grouping accuracy on real shoots, and throughput as the user times it.

    python -m app.bench.batch [--grouping-only] [--brackets 8,4] [--out bench_out/batch]

1. Grouping. Every static stack in ../shared/data (role static-mef, all sources) is put into
   one folder, the scenes in a random order (seed 0) and every file renamed ``IMG_00001.ext`` ...
   the way a camera numbers a shoot, so no folder or scene name helps; EXIF stays as shot
   (90 of the files carry a capture time, 68 an exposure time). ``plan_groups`` must find each
   stack exactly and merge no two. Reported per source, and for the EXIF subset alone. The
   thresholds were chosen on these folders; the held-out check is a set of virtual shoots
   (:func:`virtual_shoots`: every HDR radiance map photographed as brackets of 2-7 frames in two
   shooting orders, with and without EXIF, same-view repeats and single shots in between).
2. Throughput. The bundled Desk bracket upscaled to 2 MP and 12 MP (JPEG q92), copied N times
   into one folder; whole commands (start-up, scan, decode, merge, encode, report):
   ``batch -j 1``, ``batch -j 2``, ``batch --ray`` (a local Ray instance started by the
   command: its start-up is part of the time), and a shell loop of ``fuse`` per bracket and of
   ``enfuse`` per bracket (when installed) for comparison. Brackets per minute, and the peak
   RSS of the largest process (the parent or one worker; /usr/bin/time).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from app.bench.whole import SAMPLE_TIMES, make_bracket, timed

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def flatten_shoot(folder: Path, seed: int = 0) -> dict[str, tuple[str, str]]:
    """Symlink every static stack's frames into ``folder`` as IMG_nnnnn.ext (scenes in a random
    order, frames in the stack's file order); returns link -> (source, scene id)."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    scenes = [s for s in manifest["scenes"] if s["role"] == "static-mef"]
    random.Random(seed).shuffle(scenes)
    truth, k = {}, 1
    for scene in scenes:
        for f in sorted((f for f in scene["files"] if f.get("width")), key=lambda f: f["path"]):
            link = folder / f"IMG_{k:05d}{Path(f['path']).suffix}"
            os.symlink(DATA / f["path"], link)
            truth[str(link)] = (scene["source"], scene["id"])
            k += 1
    return truth


def grouping_table(tmp: Path) -> tuple[list[str], dict]:
    from app.core.io.exif import read_exif
    from app.core.io.grouping import plan_groups

    folder = tmp / "shoot"
    folder.mkdir()
    truth = flatten_shoot(folder)
    t0 = time.perf_counter()
    plan = plan_groups(list(truth))
    seconds = time.perf_counter() - t0
    members = defaultdict(set)
    for path, (_src, sid) in truth.items():
        members[sid].add(path)
    exact, merged_groups = set(), 0
    for group in plan.groups:
        ids = {truth[f][1] for f in group.files}
        if len(ids) > 1:
            merged_groups += 1
        elif set(group.files) == members[next(iter(ids))]:
            exact.add(next(iter(ids)))
    has_time = {sid for sid, files in members.items()
                if all(read_exif(f).captured is not None for f in files)}
    per_source = defaultdict(lambda: [0, 0])
    for sid, files in members.items():
        src = truth[next(iter(files))][0]
        per_source[src][0] += sid in exact
        per_source[src][1] += 1
    lines = ["| source | stacks | found exactly |", "|---|---|---|"]
    for src in sorted(per_source):
        found, total = per_source[src]
        lines.append(f"| {src} | {total} | {found} |")
    total = len(members)
    lines.append(f"| **all** | **{total}** | **{len(exact)}** ({100 * len(exact) / total:.1f} %) |")
    lines.append(f"| with EXIF capture times | {len(has_time)} | {len(exact & has_time)} |")
    summary = {"files": len(truth), "stacks": total, "exact": len(exact),
               "groups_mixing_scenes": merged_groups, "groups": len(plan.groups),
               "seconds": round(seconds, 2)}
    lines.append("")
    lines.append(f"{len(truth)} files, {len(plan.groups)} groups found, {merged_groups} of them "
                 f"mixing two scenes; planning took {seconds:.1f} s (thumbnails, EXIF).")
    return lines, summary


def _save_jpeg(path: Path, frame, exposure: float | None, captured: float | None) -> None:
    """A decoded virtual-camera frame (display [0, 1]) as a JPEG with EXIF time and exposure."""
    import datetime

    import numpy as np
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Virtual", "Camera"
    sub = exif.get_ifd(0x8769)
    if exposure is not None:
        sub[0x829A] = IFDRational(max(1, round(exposure * 1e6)), 1_000_000)
    if captured is not None:
        stamp = datetime.datetime(2026, 6, 1, 9, 0, 0) + datetime.timedelta(seconds=captured)
        sub[0x9003] = stamp.strftime("%Y:%m:%d %H:%M:%S")
    img = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(img).save(path, "JPEG", quality=92, exif=exif.tobytes())


def virtual_shoots(folder: Path, with_exif: bool, order: str, seed: int) -> list[list[str]]:
    """A shoot the grouping was never tuned on: every HDR radiance map in ../shared/data
    photographed by the virtual camera (app.bench.virtual_camera) as a bracket of 2-7 frames,
    1-3 EV apart, in ``order`` ("up": dark to bright, "centre": 0, -, +, --, ++ as many cameras
    shoot); one map in five shot twice back to back (same view), one in ten followed by a single
    shot of it. Returns the true groups (file lists)."""
    import numpy as np

    from app.bench import virtual_camera as vc
    from app.bench.hdr_merge import scenes

    rng = np.random.default_rng(seed)
    maps = scenes(DATA)
    rng.shuffle(maps)
    truth, k, clock = [], 1, 0.0
    for _set, name, path, latlong in maps:
        radiance = vc.load_radiance(path, 480, crop_poles=latlong)
        n = int(rng.choice([2, 3, 3, 5, 7]))
        spacing = float(rng.choice([1.0, 1.5, 2.0, 3.0]))
        repeats = 2 if rng.random() < 0.2 else 1
        for r in range(repeats):
            b = vc.bracket(name, radiance, n, spacing, seed=int(rng.integers(1 << 30)))
            idx = list(range(n))
            if order == "centre":
                mid = (n - 1) // 2
                idx = [mid] + [i for d in range(1, n) for i in (mid - d, mid + d) if 0 <= i < n]
                idx = list(dict.fromkeys(idx))[:n]
            files = []
            for j, i in enumerate(idx):
                f = folder / f"IMG_{k:05d}.jpg"
                _save_jpeg(f, b.frames[i], b.times[i] / b.times[0] / 500 if with_exif else None,
                           clock + 0.5 * j if with_exif else None)
                files.append(str(f))
                k += 1
            truth.append(files)
            clock += 0.5 * n + float(rng.uniform(2, 20))
        if rng.random() < 0.1:
            single = vc.bracket(name, radiance, 1, 1.0, seed=int(rng.integers(1 << 30)))
            f = folder / f"IMG_{k:05d}.jpg"
            _save_jpeg(f, single.frames[0], 1 / 250 if with_exif else None,
                       clock if with_exif else None)
            truth.append([str(f)])
            k += 1
            clock += float(rng.uniform(5, 30))
    return truth


def virtual_table(tmp: Path) -> tuple[list[str], dict]:
    from app.core.io.grouping import plan_groups

    lines = ["| shoot (held out) | groups | found exactly | groups mixing scenes or brackets |",
             "|---|---|---|---|"]
    summary = {}
    for with_exif, order in ((True, "up"), (True, "centre"), (False, "up"), (False, "centre")):
        folder = tmp / f"virtual_{with_exif}_{order}"
        folder.mkdir()
        # seeds 1-4 and 101-104 made the shoots looked at while the grouping was developed;
        # the reported ones (201-204) were generated once, for this table
        truth = virtual_shoots(folder, with_exif, order,
                               seed=201 + with_exif * 2 + (order == "up"))
        plan = plan_groups([f for g in truth for f in g])
        found = {tuple(g.files) for g in plan.groups}
        true = {tuple(g) for g in truth}
        owner = {f: i for i, g in enumerate(truth) for f in g}
        mixed = sum(len({owner[f] for f in g.files}) > 1 for g in plan.groups)
        label = f"{'EXIF times' if with_exif else 'no EXIF'}, order {order}"
        lines.append(f"| {label} | {len(truth)} | {len(found & true)} | {mixed} |")
        summary[label] = {"groups": len(truth), "exact": len(found & true), "mixed": mixed}
    return lines, summary


def throughput_table(tmp: Path, counts: dict[float, int]) -> list[str]:
    lines = ["| size | brackets | command | seconds | brackets / min | peak RSS (MiB) |",
             "|---|---|---|---|---|---|"]
    py = sys.executable
    have_ray = subprocess.run([py, "-c", "import ray"], capture_output=True).returncode == 0
    enfuse = shutil.which("enfuse")
    for mp, n in counts.items():
        src = tmp / f"src{mp}"
        src.mkdir()
        frames = make_bracket(src, mp)
        shoot = tmp / f"shoot{mp}"
        shoot.mkdir()
        brackets = []
        for b in range(n):
            files = []
            for k, f in enumerate(frames):
                dst = shoot / f"IMG_{3 * b + k + 1:04d}.jpg"
                shutil.copy(f, dst)
                files.append(dst)
            brackets.append(files)
        rows = [(f"batch -j {j}", [py, "main.py", "batch", str(shoot), "-o", str(tmp / f"o{mp}j{j}"),
                                   "--group-size", "3", "-j", str(j), "-q"]) for j in (1, 2)]
        if have_ray:
            rows.append(("batch --ray (local, 2 CPUs)",
                         [py, "main.py", "batch", str(shoot), "-o", str(tmp / f"o{mp}ray"),
                          "--group-size", "3", "--ray", "-q"]))
        loop = " && ".join(
            f"{py} main.py fuse {' '.join(map(str, b))} --times {','.join(SAMPLE_TIMES)} "
            f"-o {tmp / f'loop{mp}_{i}.tif'} -q" for i, b in enumerate(brackets))
        rows.append(("loop of `fuse` per bracket", ["bash", "-c", loop]))
        if enfuse:
            eloop = " && ".join(f"enfuse -o {tmp / f'enf{mp}_{i}.tif'} {' '.join(map(str, b))}"
                                " >/dev/null 2>&1" for i, b in enumerate(brackets))
            rows.append(("loop of `enfuse` per bracket", ["bash", "-c", eloop]))
        for name, cmd in rows:
            seconds, rss = timed(cmd, REPO)
            lines.append(f"| {mp:g} MP | {n} | {name} | {seconds:.1f} | {60 * n / seconds:.1f} "
                         f"| {rss:.0f} |")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grouping-only", action="store_true")
    ap.add_argument("--brackets", default="8,4", help="brackets at 2 MP and at 12 MP")
    ap.add_argument("--out", default="bench_out/batch")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lines, summary = grouping_table(tmp)
        vlines, vsummary = virtual_table(tmp)
        summary["virtual"] = vsummary
        text = ["### Grouping", "", *lines, "", *vlines, ""]
        print("\n".join(text), flush=True)
        if not args.grouping_only:
            n2, n12 = (int(x) for x in args.brackets.split(","))
            text += ["### Throughput", "", *throughput_table(tmp, {2.0: n2, 12.0: n12}), ""]
    (out / "batch.md").write_text("\n".join(text) + "\n")
    (out / "grouping.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {out / 'batch.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
