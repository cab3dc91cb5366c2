"""Which inverse camera curve makes a single JPEG's EXR truest? (issue 11, HDRCNN linearisation)

    python -m app.bench.linearisation [--json out.json]

For every real static bracket of ../shared/data with 3 or more frames (exposures from the
manifest's times, else estimated), the product's Debevec response recovery
(``app.core.merge.response.recover_response_checked``, what `debevec` merges with) gives the
camera's inverse response g(code). A single-photo method linearises the middle frame with a
fixed curve f instead; the question is how far f is from g where it matters, the mid-tones of
that frame. Per bracket: the middle frame's pixels with every channel in codes 51-204
(0.2-0.8), one global scale s = median(g / f) over them, error = mean |s f / g - 1| (each channel).
A bracket passes at < 5 % (the issue's bar for the EXR's mid-tones against a Debevec merge).

Candidates: x^2 (the HDRCNN paper's test-time curve), inverse sRGB, x^2.2, and a mean camera
curve estimated from the training brackets' recovered responses (deepfuse-iccv17, hdrps-ds8;
log-mean of g / g(128) over brackets and channels), scored on the other sources only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from app.core.errors import InputError
from app.core.io import load_stack
from app.core.io.exposure import ensure_exposures
from app.core.merge.response import recover_response_checked, to_codes
from app.core.tonemap.display import srgb_decode

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
TRAIN = ("deepfuse-iccv17", "hdrps-ds8")
LO, HI = 51, 204
CODES = np.arange(256, dtype=np.float32) / 255.0
FIXED = {
    "x^2 (paper)": CODES ** 2,
    "inverse sRGB": srgb_decode(CODES.copy()),
    "x^2.2": CODES ** 2.2,
}


def brackets(data: Path):
    """(source, scene id, stack with exposures) of every static bracket with >= 3 frames."""
    man = json.loads((data / "manifest.json").read_text())
    for s in man["scenes"]:
        if s.get("role") != "static-mef" or len(s["files"]) < 3:
            continue
        by_name = {Path(f["path"]).name: f for f in s["files"]}
        order = s.get("order_dark_to_bright_by_mean_luma") or sorted(by_name)
        times = [by_name[n].get("exposure_time") for n in order]
        paths = [data / by_name[n]["path"] for n in order]
        try:
            stack = load_stack(paths, times=times if all(times) else None)
            yield s["source"], s["id"], ensure_exposures(stack)
        except InputError as exc:
            print(f"skip {s['id']}: {exc}", file=sys.stderr)


def curve_error(g: np.ndarray, f: np.ndarray, codes: np.ndarray) -> float:
    """Mean |s f/g - 1| over the mid-tone pixels' codes (N x 3), s = median(g/f) there."""
    ch = np.broadcast_to(np.arange(3), codes.shape)
    gv, fv = g[codes, ch], f[codes, ch] if f.ndim == 2 else f[codes]
    ratio = gv / np.maximum(fv, 1e-9)
    s = float(np.median(ratio))
    return float(np.mean(np.abs(s * fv / np.maximum(gv, 1e-12) - 1.0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows, train_curves = [], []
    for source, scene, stack in brackets(args.data):
        g, note = recover_response_checked(stack.frames, stack.exposures)
        mid = to_codes(stack.frames[len(stack.frames) // 2]).reshape(-1, 3)
        codes = mid[np.all((mid >= LO) & (mid <= HI), axis=1)]
        if len(codes) < 1000:
            continue
        if source in TRAIN and not note:
            train_curves.append(np.log(np.maximum(g / g[128], 1e-9)))
        rows.append({"source": source, "scene": scene, "g": g, "codes": codes,
                     "refused": bool(note)})
    mean_curve = np.exp(np.mean(np.concatenate(train_curves, axis=1), axis=1)).astype(np.float32)
    candidates = {**FIXED, "mean camera curve (training brackets)": mean_curve}
    for r in rows:
        r["errors"] = {k: curve_error(r["g"], f, r["codes"]) for k, f in candidates.items()}
    print("| sources | brackets | " + " | ".join(candidates) + " |")
    print("|---|---|" + "---|" * len(candidates))
    groups = {"training (curve estimated here)": [r for r in rows if r["source"] in TRAIN],
              "other sources": [r for r in rows if r["source"] not in TRAIN]}
    summary = {}
    for label, sel in groups.items():
        cells = []
        summary[label] = {}
        for k in candidates:
            e = np.array([r["errors"][k] for r in sel])
            summary[label][k] = {"mean": float(e.mean()), "within_5pct": int((e < 0.05).sum()),
                                 "n": len(sel)}
            cells.append(f"{100 * e.mean():.1f} % ({int((e < 0.05).sum())}/{len(sel)} < 5 %)")
        print(f"| {label} | {len(sel)} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({
            "summary": summary, "mean_curve": mean_curve.tolist(),
            "rows": [{"source": r["source"], "scene": r["scene"], "refused": r["refused"],
                      "errors": r["errors"]} for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
