"""DeepFuse benchmark: quality on the eval sets and 12 MP speed/memory, in one run.

    python -m app.bench.deepfuse [--sets mefb waterloo-mef mef-extra] [--no-speed] [--json out]

Quality: for every eval pair (MEFB: the 92 benchmark pairs of manifest ``mefb_benchmark``;
waterloo-mef and mef-extra: darkest + brightest of each stack) the reference MEF-SSIM
(app.core.metrics.mef_ssim; inputs as stored 8-bit, outputs rounded to 8 bit as when saved) of
deepfuse (shipped weights), our mertens (app.core.merge.fuse_mertens with the registry defaults, on the same two frames),
OpenCV MergeMertens (8-bit inputs, output clipped to [0, 1]) and "keep the better input"; per set
the mean and the worst scene, plus the mean grey level (0-255) of deepfuse and mertens.
Speed: a real pair upscaled to 4000x3000 (12 MP); wall time (best of 2) and peak extra memory
(VmHWM over the resident size before the call, in a fresh process per method), deepfuse vs our
mertens, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from app.models.classical import mertens_fusion_defaults
from app.core.merge import fuse_mertens
from app.core.metrics import mef_ssim

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
SETS = ("mefb", "waterloo-mef", "mef-extra")

MERTENS_DEFAULTS = mertens_fusion_defaults()  # the product's Mertens, as users get it


def eval_pairs(data: Path, sets=SETS) -> list[tuple[str, str, Path, Path]]:
    """(set, scene, darker, brighter) for the requested eval sets."""
    man = json.loads((data / "manifest.json").read_text())
    luma = {f["path"]: f.get("mean_luma", 0.0) for s in man["scenes"] for f in s["files"]}
    out = []
    if "mefb" in sets:
        for row in man["mefb_benchmark"]:
            a, b = sorted((row["A"], row["B"]), key=lambda p: luma.get(p, 0.0))
            out.append(("mefb", row["scene"], data / a, data / b))
    for s in man["scenes"]:
        if s["source"] in sets and s["source"] != "mefb" and s["usage"] == "eval" \
                and s["role"] == "static-mef":
            order = s["order_dark_to_bright_by_mean_luma"]
            by_name = {Path(f["path"]).name: f["path"] for f in s["files"]}
            out.append((s["source"], s["id"], data / by_name[order[0]], data / by_name[order[-1]]))
    return out


def read_rgb8(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)


def opencv_mertens(a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    res = cv2.createMergeMertens().process([a8[..., ::-1].copy(), b8[..., ::-1].copy()])
    return np.clip(res[..., ::-1], 0.0, 1.0)


def grey_mean(img8: np.ndarray) -> float:
    return float((img8.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])).mean())


def quality(pairs, model, device: str, proxy: int) -> dict:
    from app.models.deepfuse import fuse_pair

    rows = []
    for i, (sset, scene, pa, pb) in enumerate(pairs):
        a8, b8 = read_rgb8(pa), read_rgb8(pb)
        fa, fb = a8.astype(np.float32) / 255.0, b8.astype(np.float32) / 255.0
        df = to8(fuse_pair([fa, fb], model, device=device, proxy=proxy))
        me = to8(fuse_mertens([fa, fb], **MERTENS_DEFAULTS))
        cvm = to8(opencv_mertens(a8, b8))
        better = max(mef_ssim([a8, b8], a8), mef_ssim([a8, b8], b8))
        rows.append({
            "set": sset, "scene": scene, "deepfuse": mef_ssim([a8, b8], df),
            "mertens": mef_ssim([a8, b8], me), "opencv_mertens": mef_ssim([a8, b8], cvm),
            "better_input": better, "grey_deepfuse": grey_mean(df), "grey_mertens": grey_mean(me),
        })
        print(f"[{i + 1}/{len(pairs)}] {sset}/{scene}: deepfuse {rows[-1]['deepfuse']:.4f} "
              f"mertens {rows[-1]['mertens']:.4f}", file=sys.stderr, flush=True)
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    methods = ("deepfuse", "mertens", "opencv_mertens", "better_input")
    out: dict = {"rows": rows, "sets": {}}
    groups = sorted({r["set"] for r in rows}) + ["all"]
    for g in groups:
        sel = [r for r in rows if g == "all" or r["set"] == g]
        stats = {"n": len(sel)}
        for m in methods:
            v = np.array([r[m] for r in sel])
            worst = int(np.argmin(v))
            stats[m] = {"mean": float(v.mean()), "worst": float(v[worst]),
                        "worst_scene": sel[worst]["scene"]}
        # worst scene relative to "keep the better input" (issue: margin over doing nothing)
        for m in ("deepfuse", "mertens"):
            d = np.array([r[m] - r["better_input"] for r in sel])
            stats[m]["worst_vs_better_input"] = float(d.min())
        stats["wins_deepfuse_vs_mertens"] = int(sum(r["deepfuse"] > r["mertens"] for r in sel))
        stats["grey_deepfuse"] = float(np.mean([r["grey_deepfuse"] for r in sel]))
        stats["grey_mertens"] = float(np.mean([r["grey_mertens"] for r in sel]))
        out["sets"][g] = stats
    return out


_SPEED_CHILD = r"""
import sys, time, json, numpy as np, cv2, torch
torch.set_num_threads(2)
def vm(key):
    for line in open('/proc/self/status'):
        if line.startswith(key): return int(line.split()[1]) * 1024
a = cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB)
b = cv2.cvtColor(cv2.imread(sys.argv[3]), cv2.COLOR_BGR2RGB)
a = cv2.resize(a, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
b = cv2.resize(b, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
if sys.argv[1] == 'deepfuse':
    from app.models.deepfuse import fuse_pair, load_model
    model, _ = load_model('cpu')
    fn = lambda: fuse_pair([a, b], model, device='cpu')
else:
    from app.core.merge import fuse_mertens
    from app.models.registry import get_method
    fn = lambda: fuse_mertens([a, b], **mertens_fusion_defaults())
fn()  # warm-up (lazy imports, thread pools)
times = []
for _ in range(2):
    open('/proc/self/clear_refs', 'w').write('5')  # reset the peak-RSS counter
    base = vm('VmRSS:')
    t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    peak = vm('VmHWM:') - base
    del out
print(json.dumps({'seconds': min(times), 'peak_extra_bytes': peak}))
"""


def speed(pair: tuple[Path, Path]) -> dict:
    res = {}
    for name in ("deepfuse", "mertens"):
        proc = subprocess.run(
            [sys.executable, "-c", _SPEED_CHILD, name, str(pair[0]), str(pair[1])],
            cwd=REPO, capture_output=True, text=True, check=True,
        )
        res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["time_ratio_deepfuse_over_mertens"] = res["deepfuse"]["seconds"] / res["mertens"]["seconds"]
    return res


def print_table(q: dict, sp: dict | None) -> None:
    print("| set | n | deepfuse mean / worst | our mertens mean / worst | OpenCV Mertens mean / worst "
          "| better input mean / worst | grey deepfuse / mertens |")
    print("|---|---|---|---|---|---|---|")
    for g, s in q["sets"].items():
        cells = [f"{s[m]['mean']:.4f} / {s[m]['worst']:.3f}"
                 for m in ("deepfuse", "mertens", "opencv_mertens", "better_input")]
        print(f"| {g} | {s['n']} | " + " | ".join(cells)
              + f" | {s['grey_deepfuse']:.1f} / {s['grey_mertens']:.1f} |")
    a = q["sets"]["all"]
    print(f"deepfuse beats our mertens on {a['wins_deepfuse_vs_mertens']}/{a['n']} pairs; worst "
          f"margin over 'better input': deepfuse {a['deepfuse']['worst_vs_better_input']:+.4f}, "
          f"mertens {a['mertens']['worst_vs_better_input']:+.4f}")
    if sp:
        d, m = sp["deepfuse"], sp["mertens"]
        print(f"12 MP pair: deepfuse {d['seconds']:.2f} s, peak +{d['peak_extra_bytes'] / 2**20:.0f} MiB;"
              f" our mertens {m['seconds']:.2f} s, peak +{m['peak_extra_bytes'] / 2**20:.0f} MiB;"
              f" time ratio deepfuse/mertens {sp['time_ratio_deepfuse_over_mertens']:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="DeepFuse vs Mertens: MEF-SSIM, brightness, speed")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    ap.add_argument("--proxy", type=int, default=256)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", type=Path, help="also write all numbers (per scene) here")
    ap.add_argument("--untrained", action="store_true",
                    help="ablation: the network at initialisation (the well-exposedness prior only)")
    ap.add_argument("--weights-dir", type=Path, help="load the weights manifest from here")
    args = ap.parse_args(argv)
    import torch

    if args.weights_dir:
        from app.models import weights

        weights.WEIGHTS_DIR = args.weights_dir.resolve()

    from app.models.deepfuse import build_model, load_model

    torch.set_num_threads(1)  # the shared 2-core machine: one thread avoids OpenMP wait storms
    if args.untrained:
        torch.manual_seed(0)
        model, digest = build_model().eval(), "untrained"
    else:
        model, digest = load_model("cpu")
    pairs = eval_pairs(args.data, args.sets)
    q = quality(pairs, model, "cpu", args.proxy)
    sp = None if args.no_speed or args.untrained else speed(next((p[2], p[3]) for p in pairs))
    print(f"weights sha256 {digest[:12]}")
    print_table(q, sp)
    if args.json:
        args.json.write_text(json.dumps({"quality": q, "speed": sp, "sha256": digest}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
