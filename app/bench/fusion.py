"""Fusion benchmark: our Mertens vs OpenCV ``createMergeMertens``, speed, memory and MEF-SSIM.

    python -m app.bench.fusion              # everything (about 5-10 minutes on 2 cores)
    python -m app.bench.fusion --only speed # or --only quality; --jobs N for the quality part

Speed: 2 and 3 exposures at 2 MP and 12 MP, frames made by resizing the real bracket
mef-extra/Preschool (2128x1416) to 1732x1155 and 4000x3000. Every run is a fresh process that
loads the frames (uint8, the same arrays for both methods), records its peak RSS, runs the fusion
once and reports time and the rise of peak RSS (``ru_maxrss``: it sees OpenCV's allocations,
which tracemalloc does not). Runs alternate between the two methods; median of ``--repeats``.

Quality: MEF-SSIM (app.core.metrics.mef_ssim) of both outputs, clipped to [0, 1], on every scene
of waterloo-mef and mef-extra (all exposures) and on the MEFB pairs listed in manifest.json.
OpenCV is run with its defaults (contrast 1, saturation 1, exposure weight 0); ours with the
registry defaults (contrast 1, saturation 1, well-exposedness 0.5, sigma 0.2), as a user gets them,
and once more with OpenCV's weights (exposedness 0) to compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LUMAFUSE_DATA", REPO.parent / "shared" / "data"))
SIZES = {"2 MP": (1732, 1155), "12 MP": (4000, 3000)}
# Preschool exposures used for the speed frames (file names in mef-extra/Preschool)
PICKS = {
    2: ("Preschool_1_200.JPG", "Preschool_1_013.JPG"),
    3: ("Preschool_1_400.JPG", "Preschool_1_050.JPG", "Preschool_1_006.JPG"),
}


def _rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{path}: cannot be read")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def fuse_ours(rgb_frames, **weights):
    """Our fusion (registry defaults unless ``weights`` given): display [0, 1] float32 RGB."""
    from app.core.merge import fuse_mertens
    from app.models.classical import mertens_fusion_defaults

    return fuse_mertens(rgb_frames, **{**mertens_fusion_defaults(), **weights})


def fuse_opencv(rgb_frames):
    """OpenCV's MergeMertens with its default weights, on BGR uint8, returned as RGB clipped."""
    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in rgb_frames]
    out = cv2.createMergeMertens().process(bgr)
    return np.clip(out[..., ::-1], 0.0, 1.0)


# ----------------------------------------------------------------------------- speed (child side)
def _reset_peak_rss() -> int:
    """Reset the process's peak-RSS mark to its current RSS (Linux clear_refs "5") and return
    that RSS in KiB, so a later ``ru_maxrss`` measures only what the fusion adds. Importing cv2
    leaves a transient peak ~70 MB above the resident size that would otherwise hide small runs.
    Without clear_refs, fall back to the current ``ru_maxrss`` (an underestimate of the rise)."""
    import resource

    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(method: str, folder: str, n: int) -> None:
    import resource

    frames = [np.load(Path(folder) / f"frame{i}.npy") for i in range(n)]
    if method == "opencv":
        frames = [np.ascontiguousarray(f[..., ::-1]) for f in frames]  # BGR, before the baseline
        merge = cv2.createMergeMertens()
        run = lambda: merge.process(frames)  # noqa: E731
    else:
        from app.core.merge import fuse_mertens

        run = lambda: fuse_mertens(frames)  # noqa: E731
    base = _reset_peak_rss()
    t0 = time.perf_counter()
    out = run()
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert out.shape == frames[0].shape
    print(json.dumps({"time": dt, "extra_mb": (peak - base) / 1024.0}))


# ---------------------------------------------------------------------------- speed (parent side)
def _prepare(tmp: Path) -> dict[tuple[int, str], Path]:
    src = DATA / "mef-extra" / "Preschool"
    folders = {}
    for n, names in PICKS.items():
        originals = [_rgb(src / name) for name in names]
        for label, (w, h) in SIZES.items():
            folder = tmp / f"n{n}_{w}x{h}"
            folder.mkdir()
            for i, img in enumerate(originals):
                big = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
                np.save(folder / f"frame{i}.npy", big)
            folders[(n, label)] = folder
    return folders


def _run_child(method: str, folder: Path, n: int) -> dict:
    cmd = [sys.executable, "-m", "app.bench.fusion", "--child", method, str(folder), str(n)]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"benchmark child failed: {' '.join(cmd)}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def speed(repeats: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="lumafuse-bench-") as tmp:
        folders = _prepare(Path(tmp))
        for label in SIZES:
            for n in PICKS:
                runs: dict[str, list[dict]] = {"opencv": [], "ours": []}
                for _ in range(repeats):
                    for method in ("opencv", "ours"):  # interleaved: load drifts hit both
                        runs[method].append(_run_child(method, folders[(n, label)], n))
                t = {m: statistics.median(r["time"] for r in rs) for m, rs in runs.items()}
                mem = {m: statistics.median(r["extra_mb"] for r in rs) for m, rs in runs.items()}
                rows.append((label, n, t["opencv"], t["ours"], t["opencv"] / t["ours"],
                             mem["opencv"], mem["ours"]))
                print(f"  speed {label} x{n}: opencv {t['opencv']:.2f} s, ours {t['ours']:.2f} s",
                      file=sys.stderr, flush=True)
    lines = [
        "| Size | Exposures | OpenCV time | Ours time | Speed-up | OpenCV peak extra | Ours peak extra |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, n, tc, to, ratio, mc, mo in rows:
        lines.append(f"| {label} | {n} | {tc:.2f} s | {to:.2f} s | **{ratio:.2f}x** | "
                     f"{mc:.0f} MB | {mo:.0f} MB |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- quality
def quality_scenes() -> list[tuple[str, str, list[str]]]:
    """(set, scene, [paths]) for waterloo-mef, mefb (manifest pairs) and mef-extra."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    out = []
    for entry in manifest["mefb_benchmark"]:
        out.append(("mefb", entry["scene"], [str(DATA / entry["A"]), str(DATA / entry["B"])]))
    for scene in manifest["scenes"]:
        if scene["source"] in ("waterloo-mef", "mef-extra"):
            paths = [str(DATA / f["path"]) for f in scene["files"]]
            out.append((scene["source"], scene["id"].split("/", 1)[1], paths))
    return out


def _score(item: tuple[str, str, list[str]]) -> tuple[str, str, int, float, float, float]:
    """(set, scene, exposures, ours default, OpenCV default, ours with OpenCV's weights)."""
    from app.core.metrics import mef_ssim

    cv2.setNumThreads(1)  # parallelism comes from the process pool here
    group, scene, paths = item
    frames = [_rgb(Path(p)) for p in paths]
    ours = mef_ssim(frames, fuse_ours(frames))
    theirs = mef_ssim(frames, fuse_opencv(frames))
    same_weights = mef_ssim(frames, fuse_ours(frames, exposedness=0.0))
    return group, scene, len(frames), ours, theirs, same_weights


HEAVY_BYTES = 1.5e9  # MEF-SSIM holds ~2 K^2 float64 maps; stacks above this run one at a time


def _metric_bytes(item: tuple[str, str, list[str]]) -> float:
    """Rough memory of app.core.metrics.mef_ssim for a stack (K x K cross maps, float64)."""
    img = cv2.imread(item[2][0], cv2.IMREAD_REDUCED_GRAYSCALE_8)
    px = float(img.size * 64) if img is not None else 0.0
    k = len(item[2])
    return 2.0 * k * k * px * 8.0


def quality(jobs: int) -> str:
    items = quality_scenes()
    heavy = [it for it in items if _metric_bytes(it) > HEAVY_BYTES]
    light = [it for it in items if _metric_bytes(it) <= HEAVY_BYTES]
    results = []

    def log(res) -> None:
        results.append(res)
        print(f"  quality {len(results)}/{len(items)} {res[0]}/{res[1]}: ours {res[3]:.4f} "
              f"opencv {res[4]:.4f}", file=sys.stderr, flush=True)

    # Heavy stacks (several GB each inside the metric) run here, one at a time, while a pool of
    # jobs-1 workers takes the light ones: peak memory stays at one heavy stack + small ones.
    workers = max(1, jobs - 1)
    with get_context("spawn").Pool(workers) as pool:
        pending = pool.imap_unordered(_score, light)
        for it in heavy:
            log(_score(it))
        for res in pending:
            log(res)
    lines = [
        "| Set | Scenes | OpenCV default | Ours, defaults | Ours >= OpenCV | "
        "Ours, OpenCV's weights (exposedness 0) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    groups = ["waterloo-mef", "mefb", "mef-extra"]
    for g in groups + ["all"]:
        rs = [r for r in results if g == "all" or r[0] == g]
        if not rs:
            continue
        mo = float(np.mean([r[3] for r in rs]))
        mc = float(np.mean([r[4] for r in rs]))
        ms = float(np.mean([r[5] for r in rs]))
        wins = sum(r[3] >= r[4] for r in rs)
        name = "**all**" if g == "all" else g
        lines.append(f"| {name} | {len(rs)} | {mc:.4f} | {mo:.4f} | {wins}/{len(rs)} | {ms:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench.fusion", description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("speed", "quality"))
    ap.add_argument("--repeats", type=int, default=3, help="runs per method and size (median)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for MEF-SSIM")
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "FOLDER", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if not (DATA / "manifest.json").is_file():
        print(f"benchmark data not found at {DATA} (set LUMAFUSE_DATA)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    print(f"# Mertens fusion: Lumafuse vs OpenCV {cv2.__version__} createMergeMertens "
          f"({os.cpu_count()} CPU cores)\n")
    if args.only in (None, "speed"):
        print(f"## Speed and peak extra memory (fresh process per run, median of {args.repeats})\n")
        print(speed(args.repeats), "\n", flush=True)
    if args.only in (None, "quality"):
        from app.models.registry import get_method

        ours = ", ".join(f"{k} {v}" for k, v in get_method("mertens").defaults().items())
        print("## Mean MEF-SSIM (outputs clipped to [0, 1]; OpenCV default weights = contrast 1, "
              f"saturation 1, exposure 0; ours = registry defaults {ours})\n")
        print(quality(max(1, args.jobs)), "\n")
    print(f"Total benchmark time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
