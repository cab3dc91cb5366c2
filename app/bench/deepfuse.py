"""DeepFuse, leave-one-source-out (issue 11): MEF-SSIM per held-out source and per EV gap, with
OpenCV's Mertens, our Mertens and "keep the better input" side by side, in one run.

    python -m app.bench.deepfuse [--train-folds] [--folds-dir runs/deepfuse-loso] [--no-speed]
                                 [--json out.json]

Protocol. Every source of ../shared/data with static exposure stacks is one fold (the single
colour-hdri-frobisher stack rides with mef-extra), and so is each set of HDR radiance maps shot
through the virtual camera (``app.bench.virtual_camera``: random curves, white balance, noise,
JPEG). For each fold a network is trained on everything else (``--train-folds`` runs
``app.training.train_deepfuse --config app/training/configs/deepfuse_v2.toml --hold-out ...``,
one after another) and scored only on the held-out fold. The shipped weights are trained on all
folds; the number that stands for them is the mean over the held-out folds printed here.

Pairs: the darkest and brightest frame of every stack, at the stored resolution; virtual pairs are
the ends of 1 EV-step brackets 2, 5 and 8 EV wide (seeds never used in training). EV gap from the
manifest's exposure times, the virtual camera's truth, or estimated over the whole stack.

Scored (reference MEF-SSIM, inputs as stored 8-bit, outputs rounded to 8 bit as when saved):
``deepfuse`` as users get it (``select=auto``: the network's blend, OpenCV's MergeMertens or
the product's Mertens, whichever scores best at 512 px), ``net`` (the network alone), OpenCV MergeMertens (defaults,
clipped), our mertens (registry defaults), and the better of the two inputs. Grey level = mean
rgb2gray luma 0-255. Speed: a real pair upscaled to 12 MP, in-process (best of 2), deepfuse (auto)
vs our mertens.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.bench import virtual_camera as vc
from app.core.errors import InputError
from app.core.io.exposure import estimate_relative_exposures
from app.core.merge import fuse_mertens
from app.core.metrics import mef_ssim
from app.models.classical import mertens_fusion_defaults

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
CONFIG = "app/training/configs/deepfuse_v2.toml"
FOLDS_DIR = REPO / "runs" / "deepfuse-loso"
# fold name -> sources left out of its training (and scored)
FOLDS: dict[str, tuple[str, ...]] = {
    "deepfuse-iccv17": ("deepfuse-iccv17",),
    "hdrps-ds8": ("hdrps-ds8",),
    "bigmms-rl-hdr": ("bigmms-rl-hdr",),
    "mef-extra": ("mef-extra", "colour-hdri-frobisher"),
    "mefb": ("mefb",),
    "waterloo-mef": ("waterloo-mef",),
    "openexr-images": ("openexr-images",),
    "hdr-extra": ("hdr-extra",),
}
VIRTUAL_GAPS = (2, 5, 8)
VIRTUAL_SEED = 50_000  # training's virtual brackets use seeds 0.. (app.training.deepfuse_data)
VIRTUAL_SIDE = 768
BANDS = (("<= 3 EV", 0.0, 3.0), ("3-6 EV", 3.0, 6.0), ("> 6 EV", 6.0, 99.0))
METHODS = ("deepfuse", "net", "opencv_mertens", "mertens", "better_input")

MERTENS_DEFAULTS = mertens_fusion_defaults()  # the product's Mertens, as users get it


@dataclass(frozen=True)
class Pair:
    fold: str
    source: str
    scene: str
    dark: np.ndarray  # uint8 HxWx3 RGB
    bright: np.ndarray
    ev_gap: float


def read_rgb8(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)


def fold_of(source: str) -> str:
    return next(name for name, members in FOLDS.items() if source in members)


def _stack_gap(scene: dict, order: list[str], frames: list[np.ndarray]) -> float:
    times = {Path(f["path"]).name: f.get("exposure_time") for f in scene["files"]}
    a, b = times.get(order[0]), times.get(order[-1])
    if a and b and a > 0 and b > 0:
        return float(abs(np.log2(b / a)))
    try:
        rel = estimate_relative_exposures([f.astype(np.float32) / 255 for f in frames])
        return float(np.log2(max(rel) / min(rel)))
    except InputError:
        return float("nan")


def real_pairs(data: Path) -> list[Pair]:
    man = json.loads((data / "manifest.json").read_text())
    out = []
    for s in man["scenes"]:
        if s.get("role") != "static-mef" or not any(s["source"] in m for m in FOLDS.values()):
            continue
        by_name = {Path(f["path"]).name: f["path"] for f in s["files"]}
        order = s.get("order_dark_to_bright_by_mean_luma") or sorted(by_name)
        frames = [read_rgb8(data / by_name[n]) for n in order]
        if len(frames) < 2 or any(f.shape != frames[0].shape for f in frames):
            continue
        out.append(Pair(fold_of(s["source"]), s["source"], s["id"], frames[0], frames[-1],
                        _stack_gap(s, order, frames)))
    return out


def virtual_pairs(data: Path, sources=("openexr-images", "hdr-extra")) -> list[Pair]:
    out, k = [], 0
    for source, path, radiance in vc.radiance_maps(data, sources, VIRTUAL_SIDE):
        for gap in VIRTUAL_GAPS:
            b = vc.bracket(path.stem, radiance, gap + 1, 1.0, VIRTUAL_SEED + k)
            k += 1
            out.append(Pair(source, f"{source} (virtual)", f"{path.stem} {gap} EV",
                            to8(b.frames[0]), to8(b.frames[-1]), float(gap)))
    return out


def opencv_mertens(a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    res = cv2.createMergeMertens().process([a8[..., ::-1].copy(), b8[..., ::-1].copy()])
    return np.clip(res[..., ::-1], 0.0, 1.0)


def grey_mean(img8: np.ndarray) -> float:
    return float((img8.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])).mean())


def load_fold_model(weights_dir: Path):
    from app.models import weights
    from app.models.deepfuse import load_model

    saved = weights.WEIGHTS_DIR
    weights.WEIGHTS_DIR = weights_dir.resolve()
    try:
        return load_model("cpu")
    finally:
        weights.WEIGHTS_DIR = saved


def score_pair(p: Pair, model) -> dict:
    from app.models.deepfuse import fuse_pair, fuse_pair_auto

    a8, b8 = p.dark, p.bright
    fa, fb = a8.astype(np.float32) / 255.0, b8.astype(np.float32) / 255.0
    auto, choice = fuse_pair_auto([fa, fb], model)
    outs = {
        "deepfuse": to8(auto), "net": to8(fuse_pair([fa, fb], model)),
        "opencv_mertens": to8(opencv_mertens(a8, b8)),
        "mertens": to8(fuse_mertens([fa, fb], **MERTENS_DEFAULTS)),
    }
    row = {"fold": p.fold, "source": p.source, "scene": p.scene, "ev_gap": p.ev_gap,
           "candidate": choice["candidate"]}
    for k, img in outs.items():
        row[k] = mef_ssim([a8, b8], img)
    row["better_input"] = max(mef_ssim([a8, b8], a8), mef_ssim([a8, b8], b8))
    row["grey_deepfuse"] = grey_mean(outs["deepfuse"])
    row["grey_opencv_mertens"] = grey_mean(outs["opencv_mertens"])
    return row


def band_of(gap: float) -> str:
    if not np.isfinite(gap):
        return "gap unknown"
    return next(name for name, lo, hi in BANDS if lo < gap <= hi or (lo == 0 and gap <= hi))


def summarise(rows: list[dict], key) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    groups["all held-out pairs"] = rows
    out = {}
    for g, sel in groups.items():
        st: dict = {"n": len(sel)}
        for m in METHODS:
            v = np.array([r[m] for r in sel])
            st[m] = {"mean": float(v.mean()), "worst": float(v.min()),
                     "worst_scene": sel[int(np.argmin(v))]["scene"]}
        for m in ("deepfuse", "net", "opencv_mertens"):
            st[m]["worst_vs_better_input"] = float(min(r[m] - r["better_input"] for r in sel))
        st["behind_opencv"] = int(sum(r["deepfuse"] < r["opencv_mertens"] for r in sel))
        st["net_behind_opencv"] = int(sum(r["net"] < r["opencv_mertens"] for r in sel))
        st["grey_deepfuse"] = float(np.mean([r["grey_deepfuse"] for r in sel]))
        st["grey_opencv_mertens"] = float(np.mean([r["grey_opencv_mertens"] for r in sel]))
        st["picked"] = {c: int(sum(r["candidate"] == c for r in sel))
                        for c in ("net", "opencv-mertens", "mertens")}
        out[g] = st
    return out


def print_table(title: str, table: dict) -> None:
    print(f"\n### {title}\n")
    print("| held out | n | deepfuse (auto) mean / worst | net alone mean / worst | OpenCV Mertens "
          "mean / worst | our mertens mean | better input mean | behind OpenCV (auto / net) | "
          "worst vs better input (auto / OpenCV) | grey auto / OpenCV | picked net / OpenCV / mertens |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for g, s in table.items():
        pk = s["picked"]
        print(f"| {g} | {s['n']} | {s['deepfuse']['mean']:.4f} / {s['deepfuse']['worst']:.3f} | "
              f"{s['net']['mean']:.4f} / {s['net']['worst']:.3f} | "
              f"{s['opencv_mertens']['mean']:.4f} / {s['opencv_mertens']['worst']:.3f} | "
              f"{s['mertens']['mean']:.4f} | {s['better_input']['mean']:.4f} | "
              f"{s['behind_opencv']} / {s['net_behind_opencv']} | "
              f"{s['deepfuse']['worst_vs_better_input']:+.3f} / "
              f"{s['opencv_mertens']['worst_vs_better_input']:+.3f} | "
              f"{s['grey_deepfuse']:.1f} / {s['grey_opencv_mertens']:.1f} | "
              f"{pk['net']} / {pk['opencv-mertens']} / {pk['mertens']} |")


def train_folds(folds_dir: Path, folds: list[str]) -> None:
    """Train each missing fold, one after another (one training at a time on this machine)."""
    for name in folds:
        out = folds_dir / name
        if (out / "manifest.json").exists():
            continue
        print(f"training fold {name} (holding out {', '.join(FOLDS[name])})", file=sys.stderr)
        with open(folds_dir / f"{name}.log", "w") as log:
            subprocess.run(
                [sys.executable, "-m", "app.training.train_deepfuse", "--config", CONFIG,
                 "--hold-out", *FOLDS[name], "--weights-dir", str(out)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True,
            )


_SPEED_CHILD = r"""
import sys, time, json, numpy as np, cv2, torch
torch.set_num_threads(2)
a = cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB)
b = cv2.cvtColor(cv2.imread(sys.argv[3]), cv2.COLOR_BGR2RGB)
a = cv2.resize(a, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
b = cv2.resize(b, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
if sys.argv[1] == 'deepfuse':
    from app.models.deepfuse import fuse_pair_auto, load_model
    model, _ = load_model('cpu')
    fn = lambda: fuse_pair_auto([a, b], model, device='cpu')
else:
    from app.core.merge import fuse_mertens
    from app.models.classical import mertens_fusion_defaults
    fn = lambda: fuse_mertens([a, b], **mertens_fusion_defaults())
fn()  # warm-up (lazy imports, thread pools)
times = []
for _ in range(2):
    t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    del out
print(json.dumps({'seconds': min(times)}))
"""


def speed(pair: tuple[Path, Path]) -> dict:
    res = {}
    for name in ("deepfuse", "mertens"):
        proc = subprocess.run(
            [sys.executable, "-c", _SPEED_CHILD, name, str(pair[0]), str(pair[1])],
            cwd=REPO, capture_output=True, text=True, check=True,
        )
        res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["ratio"] = res["deepfuse"]["seconds"] / res["mertens"]["seconds"]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="DeepFuse leave-one-source-out vs Mertens (MEF-SSIM)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--folds-dir", type=Path, default=FOLDS_DIR)
    ap.add_argument("--folds", nargs="+", default=list(FOLDS), choices=list(FOLDS))
    ap.add_argument("--train-folds", action="store_true", help="train the folds that are missing")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", type=Path, help="also write every number (per pair) here")
    ap.add_argument("--update-manifest", action="store_true",
                    help="store the held-out means in the shipped weights' manifest entry")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.train_folds:
        args.folds_dir.mkdir(parents=True, exist_ok=True)
        train_folds(args.folds_dir, args.folds)
    pairs = [p for p in real_pairs(args.data) + virtual_pairs(args.data) if p.fold in args.folds]
    rows = []
    for name in args.folds:
        model, digest = load_fold_model(args.folds_dir / name)
        fold_pairs = [p for p in pairs if p.fold == name]
        for i, p in enumerate(fold_pairs):
            rows.append(score_pair(p, model))
            r = rows[-1]
            print(f"[{name} {i + 1}/{len(fold_pairs)}] {p.scene} ({p.ev_gap:.1f} EV): deepfuse "
                  f"{r['deepfuse']:.4f} ({r['candidate']}) net {r['net']:.4f} OpenCV "
                  f"{r['opencv_mertens']:.4f}", file=sys.stderr, flush=True)
    by_source = summarise(rows, lambda r: r["source"])
    by_band = summarise(rows, lambda r: band_of(r["ev_gap"]))
    print_table("Per held-out source (each scored by the fold trained without it)", by_source)
    print_table("Per EV gap of the pair (held-out scores)", by_band)
    sp = None
    if not args.no_speed:
        data = args.data
        sp = speed((data / "waterloo-mef/Arno/arno1.png", data / "waterloo-mef/Arno/arno3.png"))
        print(f"\n12 MP pair, in-process: deepfuse (auto) {sp['deepfuse']['seconds']:.2f} s, our "
              f"mertens {sp['mertens']['seconds']:.2f} s, ratio {sp['ratio']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(
            {"rows": rows, "by_source": by_source, "by_band": by_band, "speed": sp}, indent=1))
    if args.update_manifest:
        from app.training.export import update_manifest_fields

        def brief(table: dict) -> dict:
            return {g: {"n": st["n"], **{m: round(st[m]["mean"], 4) for m in METHODS},
                        "behind_opencv": st["behind_opencv"],
                        "grey_deepfuse": round(st["grey_deepfuse"], 1),
                        "grey_opencv_mertens": round(st["grey_opencv_mertens"], 1)}
                    for g, st in table.items()}

        update_manifest_fields("deepfuse", {"metrics": {
            "benchmark": "python -m app.bench.deepfuse: leave-one-source-out, each source scored "
                         "by the fold trained without it (darkest + brightest pair, MEF-SSIM); "
                         "deepfuse = select=auto, net = the network alone",
            "heldout_by_source": brief(by_source), "heldout_by_ev_gap": brief(by_band)}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
