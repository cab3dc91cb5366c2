"""Whole-command speed as the user times it: ours vs enfuse and Luminance HDR, paired runs.

    python -m app.bench.whole [--sizes 2,12] [--pairs 3] [--out bench_out]

Brackets: the bundled Desk sample (resources/samples, 3 JPEGs) upscaled to each size in
megapixels (JPEG q92, no EXIF, so exposure times are given on the command line to everyone).
Rows (each one process from start-up to files on disk, decode and encode included):

* fusion to an 8-bit TIFF: ``python main.py fuse -m mertens -o x.tif`` vs ``enfuse -o x.tif``;
* HDR to an EXR and a tone-mapped TIFF: ``python main.py fuse -m debevec -o x.exr -o x.tif``
  vs ``luminance-hdr-cli -e ... -s x.exr -o x.tif --tmo reinhard02``;
* HDR to an EXR alone vs a Python script running OpenCV's CalibrateDebevec + MergeDebevec on the
  same files and times and writing the EXR with the same writer (issue 9's speed anchor);
* learned methods (``--learned-sizes``, default 12 MP): ``deepfuse`` on the darkest + brightest
  frame to JPEG vs our ``mertens`` on the same pair (issue 10: at most 1.2x), and ``hdrcnn`` on
  the middle frame to EXR (no anchor; the goal is 5 s).

Runs alternate ours / anchor, ``--pairs`` times; the table gives the median and range of the
per-pair time ratio ours/anchor, peak RSS of each (``/usr/bin/time``), and the 1-minute load
average when the row started. Installs nothing: an anchor that is not on PATH (Debian packages
``enfuse``, ``luminance-hdr``) is skipped with a note.

Our commands run with their Python bytecode compiled beforehand (into a temporary
PYTHONPYCACHEPREFIX), as an installed app has it: where PYTHONDONTWRITEBYTECODE is set (as on
this machine) every run would otherwise recompile about 80 modules (~0.1 s, and more for the
start-up it delays).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "resources" / "samples").glob("desk_*.jpg"))
SAMPLE_TIMES = ("1/500", "1/50", "1/5")  # the Desk sample's EXIF times, dark to bright


# Issue 9's speed anchor: OpenCV's Debevec calibration and merge on the same files and times,
# written with our EXR writer (half float, PIZ), as one process.
OPENCV_DEBEVEC = """
import sys, cv2, numpy as np
from app.core.io.exr import write_exr_file
imgs = [cv2.imread(p) for p in sys.argv[1:]]
times = np.array([1 / 500, 1 / 50, 1 / 5], np.float32)
resp = cv2.createCalibrateDebevec().process(imgs, times)
hdr = cv2.createMergeDebevec().process(imgs, times, resp)
write_exr_file("c.exr", hdr[..., ::-1])
"""


def make_bracket(folder: Path, megapixels: float) -> list[Path]:
    out = []
    for i, src in enumerate(SAMPLES):
        img = cv2.imread(str(src))
        h, w = img.shape[:2]
        s = (megapixels * 1e6 / (h * w)) ** 0.5
        big = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)
        p = folder / f"f{i}.jpg"
        cv2.imwrite(str(p), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
        out.append(p)
    return out


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one whole process, by /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as log:
        proc = subprocess.run(["/usr/bin/time", "-o", log.name, "-f", "%e %M", *cmd], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.strip()[-300:]}")
        seconds, kib = log.read().split()[-2:]
    return float(seconds), float(kib) / 1024


def _clean(folder: Path, names: list[str]) -> None:
    for n in names:
        (folder / n).unlink(missing_ok=True)


def installed_env(cache: Path) -> dict[str, str]:
    """Environment for our commands: bytecode read from (and compiled once into) ``cache``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "app"),
                    str(REPO / "main.py")], env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def row(label: str, ours: list[str], anchor: list[str] | None, folder: Path, outputs: list[str],
        pairs: int, env: dict[str, str] | None = None,
        anchor_env: dict[str, str] | None = None) -> dict:
    load = os.getloadavg()[0]
    res = {"job": label, "load": load, "ours": [], "anchor": [], "ours_rss": 0.0, "anchor_rss": 0.0}
    for _ in range(pairs):
        _clean(folder, outputs)
        t, rss = timed(ours, folder, env)
        res["ours"].append(t)
        res["ours_rss"] = max(res["ours_rss"], rss)
        if anchor is not None:
            _clean(folder, outputs)
            t, rss = timed(anchor, folder, anchor_env)
            res["anchor"].append(t)
            res["anchor_rss"] = max(res["anchor_rss"], rss)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench.whole")
    ap.add_argument("--sizes", default="2,12", help="megapixels, comma separated (48 is slow)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--learned-sizes", default="12",
                    help="sizes (MP) that also get the deepfuse / hdrcnn rows; '' for none")
    ap.add_argument("--fusion-only", action="store_true",
                    help="only the fusion rows (e.g. --sizes 200 for the memory bound)")
    args = ap.parse_args(argv)
    enfuse = shutil.which("enfuse")
    lhdr = shutil.which("luminance-hdr-cli")
    for name, exe in (("enfuse", enfuse), ("luminance-hdr-cli", lhdr)):
        if exe is None:
            print(f"note: {name} not found: its rows run ours only")
    py = [sys.executable, str(REPO / "main.py")]
    cache = Path(tempfile.mkdtemp(prefix="lumafuse-pycache-"))
    env = installed_env(cache)
    rows = []
    learned = {float(x) for x in args.learned_sizes.split(",") if x.strip()}
    for mp in (float(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            files = [p.name for p in make_bracket(folder, mp)]
            times = ",".join(SAMPLE_TIMES)
            rows.append(row(
                f"{len(files)} x {mp:g} MP fusion to 8-bit TIFF",
                [*py, "fuse", *files, "-m", "mertens", "-q", "-o", "o.tif"],
                [enfuse, "-o", "e.tif", *files] if enfuse else None,
                folder, ["o.tif", "e.tif"], args.pairs, env))
            if args.fusion_only:
                continue
            evs = "0,3.3219,6.6439"  # log2 of the time ratios
            rows.append(row(
                f"{len(files)} x {mp:g} MP HDR merge to EXR + tone-mapped TIFF",
                [*py, "fuse", *files, "-m", "debevec", "--times", times, "-q",
                 "-o", "o.exr", "-o", "o.tif"],
                [lhdr, "-e", evs, "-s", "l.exr", "-o", "l.tif", "--tmo", "reinhard02", *files]
                if lhdr else None,
                folder, ["o.exr", "o.tif", "l.exr", "l.tif"], args.pairs, env))
            rows.append(row(
                f"{len(files)} x {mp:g} MP Debevec merge to EXR (anchor: OpenCV "
                "CalibrateDebevec + MergeDebevec, the same EXR write)",
                [*py, "fuse", *files, "-m", "debevec", "--times", times, "-q", "-o", "d.exr"],
                [sys.executable, "-c", OPENCV_DEBEVEC, *files], folder, ["d.exr", "c.exr"],
                args.pairs, env, anchor_env=env))
            if mp in learned:
                pair = [files[0], files[-1]]
                rows.append(row(
                    f"2 x {mp:g} MP deepfuse to JPEG (anchor: our mertens on the pair)",
                    [*py, "fuse", *pair, "-m", "deepfuse", "-q", "-o", "d.jpg"],
                    [*py, "fuse", *pair, "-m", "mertens", "-q", "-o", "m.jpg"],
                    folder, ["d.jpg", "m.jpg"], args.pairs, env, anchor_env=env))
                rows.append(row(
                    f"1 x {mp:g} MP hdrcnn to EXR (goal 5 s)",
                    [*py, "fuse", files[len(files) // 2], "-m", "hdrcnn", "-q", "-o", "h.exr"],
                    None, folder, ["h.exr"], args.pairs, env))
    print("| job | ours s (median) | anchor s (median) | ratio ours/anchor median (min-max) "
          "| ours peak MiB | anchor peak MiB | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ours = statistics.median(r["ours"])
        if r["anchor"]:
            ratios = [a / b for a, b in zip(r["ours"], r["anchor"])]
            anchor = f"{statistics.median(r['anchor']):.2f}"
            ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            arss = f"{r['anchor_rss']:.0f}"
        else:
            anchor = ratio = arss = "-"
        print(f"| {r['job']} | {ours:.2f} | {anchor} | {ratio} | {r['ours_rss']:.0f} | {arss} "
              f"| {r['load']:.2f} |")
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
