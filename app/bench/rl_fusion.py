"""RL fusion benchmark: two-exposure methods against what the whole bracket gives, in one run.

    python -m app.bench.rl_fusion [--long-side 512] [--no-speed] [--json out.json]

Pairs (``app.bench.rl_pairs``, evaluation material only, never trained or tuned on): the darkest
and brightest frame of every evaluation stack with 3+ exposures (waterloo-mef, mef-extra, mefb,
colour-hdri-frobisher), and virtual-camera brackets of the evaluation radiance maps
(openexr-images; gaps 4 / 6 / 8 EV). Reference: the Mertens fusion of the whole stack (registry
defaults), at the same size (long side 512).

Methods on the pair: OpenCV MergeMertens (defaults, clipped), our ``mertens``, ``deepfuse``
(shipped weights), the three-frame fusion with the IMF middle frame and no agent (and the spec's
MEF3 of the same frames), the same with one brightness gain on the middle frame chosen by
MEF-SSIM against the pair (no reference needed: a method a user could run), ``rl_fusion``
(shipped weights) and, as an upper bound that looks at the reference, the best single gain.
Scores: mean CIELab Delta-E to the reference (the agent's reward distance), PSNR (8-bit RGB),
SSIM (luma), MEF-SSIM against the pair; per source and per EV gap of the pair. Outputs are
rounded to 8 bits, as saved.
Speed: ``lumafuse fuse -m rl_fusion`` and ``-m mertens`` on a 12 MP pair (whole commands).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from app.models.classical import mertens_fusion_defaults
from app.bench.rl_pairs import EVAL_RADIANCE, EVAL_SOURCES, Pair, radiance_pairs, real_pairs
from app.core.errors import LumafuseError
from app.core.merge import fuse_mertens
from app.core.merge.imf import virtual_middle
from app.core.merge.mef3 import fuse_mef3
from app.core.metrics import mef_ssim
from app.core.progress import TaskContext
from app.core.types import ExposureStack
from app.models import rl_agent as ra
from app.models import rl_fusion, weights
from app.models.runner import run

REPO = Path(__file__).resolve().parents[2]
GAINS = tuple(float(g) for g in np.exp(np.linspace(0.0, np.log(4.0), 13)))
MERTENS = mertens_fusion_defaults()


def to8(img: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(np.ascontiguousarray(img, np.float32), alpha=255.0)


def psnr8(a8: np.ndarray, b8: np.ndarray) -> float:
    mse = float(np.mean((a8.astype(np.float64) - b8.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim_luma(a8: np.ndarray, b8: np.ndarray) -> float:
    """SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03) of the Rec.601 luma."""
    ya = cv2.cvtColor(a8, cv2.COLOR_RGB2GRAY).astype(np.float64)
    yb = cv2.cvtColor(b8, cv2.COLOR_RGB2GRAY).astype(np.float64)
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = blur(ya), blur(yb)
    va, vb, cov = blur(ya * ya) - ma * ma, blur(yb * yb) - mb * mb, blur(ya * yb) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s[5:-5, 5:-5].mean())


def opencv_mertens(u: np.ndarray, o: np.ndarray) -> np.ndarray:
    out = cv2.createMergeMertens().process([to8(u)[..., ::-1].copy(), to8(o)[..., ::-1].copy()])
    return np.clip(out[..., ::-1], 0.0, 1.0)


def _stack(u: np.ndarray, o: np.ndarray) -> ExposureStack:
    return ExposureStack(frames=(u, o))


def method_outputs(p: Pair) -> dict[str, np.ndarray]:
    """Every method's display result for one pair (float [0, 1])."""
    u, o = p.under, p.over
    ref_lab = ra.lab(p.reference)
    v = virtual_middle(u, o)
    out = {
        "OpenCV Mertens": opencv_mertens(u, o),
        "mertens": fuse_mertens([u, o], **MERTENS),
        "deepfuse": run(_stack(u, o), "deepfuse", {}, TaskContext()).image,
        "MEF3 + IMF (spec)": np.clip(fuse_mef3([u, v, o]), 0.0, 1.0),
        "IMF middle, no agent": ra.fuse_three(u, v, o),
    }
    pair8 = [to8(u), to8(o)]
    scored = [(mef_ssim(pair8, to8(f)), g, f) for g in GAINS
              for f in [ra.fuse_three(u, np.clip(v * g, 0.0, 1.0), o)]]
    out["gain by MEF-SSIM"] = max(scored, key=lambda t: t[0])[2]
    out["rl_fusion"] = run(_stack(u, o), "rl_fusion", {}, TaskContext()).image
    ablation = _quality_only_weights()
    if ablation is not None:  # the same agent trained on the quality histogram alone
        trace = rl_fusion.plan(u, o, ablation, content=False)
        out["rl_fusion, quality feature only"] = ra.fuse_three(u, ra.replay(v, trace), o)
    out["best gain (sees the reference)"] = min(
        (f for _, _, f in scored), key=lambda f: ra.delta_e(f, ref_lab))
    return out


_ABLATION: dict = {}


def _quality_only_weights():
    """The ablation agent's weights (weights/manifest.json key rl_fusion_quality_only) or None."""
    if "w" not in _ABLATION:
        try:
            _ABLATION["w"] = weights.load_numpy("rl_fusion_quality_only")[0]
        except LumafuseError:
            _ABLATION["w"] = None
    return _ABLATION["w"]


def band(gap: float) -> str:
    if not np.isfinite(gap):
        return "unknown"
    return "<= 3 EV" if gap <= 3 else ("3-6 EV" if gap <= 6 else "> 6 EV")


def quality(long_side: int) -> tuple[list[dict], dict]:
    pairs = list(real_pairs(EVAL_SOURCES, "eval", long_side=long_side))
    pairs += list(radiance_pairs(EVAL_RADIANCE, seed=1, long_side=long_side))
    rows = []
    steps = []
    for p in pairs:
        ref8 = to8(p.reference)
        ref_lab = ra.lab(p.reference)
        pair8 = [to8(p.under), to8(p.over)]
        for name, img in method_outputs(p).items():
            img8 = to8(img)
            rows.append({
                "source": p.source, "scene": p.scene, "gap": p.ev_gap, "method": name,
                "delta_e": ra.delta_e(img8.astype(np.float32) / 255.0, ref_lab),
                "psnr": psnr8(img8, ref8), "ssim": ssim_luma(img8, ref8),
                "mef_ssim": mef_ssim(pair8, img8),
            })
        res = run(_stack(p.under, p.over), "rl_fusion", {}, TaskContext())
        steps.append(res.notes["agent_steps"])
    return rows, {"pairs": len(pairs), "mean_steps": float(np.mean(steps)),
                  "max_steps_hit": int(sum(s >= 20 for s in steps))}


def table(rows: list[dict], key: str) -> str:
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[r[key] if key != "gap" else band(r["gap"])][r["method"]].append(r)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [f"| {key} | method | n | Delta-E (lower better) | PSNR dB | SSIM | MEF-SSIM |",
             "|---|---|---|---|---|---|---|"]
    for g in sorted(groups):
        best = min(np.mean([r["delta_e"] for r in groups[g][m]]) for m in methods
                   if "sees the reference" not in m)
        for m in methods:
            rs = groups[g][m]
            de = np.mean([r["delta_e"] for r in rs])
            mark = " **best**" if de == best else ""
            lines.append(f"| {g} | {m} | {len(rs)} | {de:.2f}{mark} | "
                         f"{np.mean([r['psnr'] for r in rs]):.2f} | "
                         f"{np.mean([r['ssim'] for r in rs]):.4f} | "
                         f"{np.mean([r['mef_ssim'] for r in rs]):.4f} |")
    return "\n".join(lines)


def _write_pair(folder: Path) -> tuple[Path, Path]:
    """A real evaluation pair upscaled to 4000 x 3000 (12 MP), as JPEG files."""
    p = next(real_pairs(("mef-extra",), "eval", long_side=None))
    paths = []
    for name, img in (("under", p.under), ("over", p.over)):
        big = cv2.resize(to8(img), (4000, 3000), interpolation=cv2.INTER_CUBIC)
        path = folder / f"{name}.jpg"
        cv2.imwrite(str(path), big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths[0], paths[1]


def speed(repeats: int = 3) -> dict:
    out: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        u, o = _write_pair(Path(tmp))
        for _ in range(repeats):  # alternating, so machine load hits both alike
            for method in ("rl_fusion", "mertens"):
                dst = Path(tmp) / f"{method}.jpg"
                dst.unlink(missing_ok=True)
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "main.py", "fuse", "-q", "-m", method, str(u),
                                str(o), "-o", str(dst)], cwd=REPO, check=True)
                out[method].append(time.perf_counter() - t0)
    return {m: float(np.median(v)) for m, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    t0 = time.time()
    rows, summary = quality(args.long_side)
    print(f"{summary['pairs']} evaluation pairs; rl_fusion took {summary['mean_steps']:.1f} "
          f"edits on average ({summary['max_steps_hit']} hit the 20-step limit); "
          f"{time.time() - t0:.0f} s\n")
    print("Per source\n")
    print(table(rows, "source"))
    print("\nPer EV gap of the pair\n")
    print(table(rows, "gap"))
    sp = None
    if not args.no_speed:
        sp = speed()
        print(f"\n12 MP pair, whole command (median of 3): rl_fusion {sp['rl_fusion']:.2f} s, "
              f"mertens {sp['mertens']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary, "speed": sp}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
