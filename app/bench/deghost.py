"""Deghosting, measured side by side in one run: ``python -m app.bench.deghost`` (or
``python -m app.bench.esbn``, the same bench).

1. Dynamic brackets with truth (:mod:`app.bench.dynamic_brackets`, the fixed evaluation split
   built only from evaluation-role radiance maps: 16 maps x 2 brackets, 3 frames 2 or 3 EV apart,
   moving cut-out objects + hand-held shake, virtual camera). HDR merges get the true times and are
   scored against the reference frame's radiance (PSNR-mu with mu = 5000, PSNR-L, PU21-PSNR;
   truth and result clipped at the darkest frame's clipping level, the most any merge of the
   bracket can know; one global scale fitted on the reference's well-exposed pixels, the same
   for every method). Exposure fusion is scored against the fusion of the same camera's static
   bracket of the truth scene (PSNR, all pixels and inside the moved objects' area).
2. Static brackets: what deghosting costs where nothing moves. Virtual static brackets (the same
   maps, no objects, tripod) scored as above; real static evaluation stacks (waterloo-mef,
   mef-extra, 3+ frames): how often ``auto`` switches deghosting on, and the difference it makes
   (PSNR between mertens with deghost=auto and deghost=off, MEF-SSIM of both).

Methods: plain Debevec (no alignment, no deghosting), Debevec with its defaults (``deghost``
auto: the ghost-aware merge where the test finds motion), Debevec with homography alignment, the
same with the ghost-aware merge (``deghost``), Mertens plain, Mertens with alignment, Mertens
with alignment and deghost=auto, and ``esbn`` (when its weights are installed) as shipped and
with its networks' output everywhere (``outside_motion=network``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from app.bench import dynamic_brackets as db
from app.bench.hdrcnn import pu21_psnr
from app.core.align import align_stack
from app.core.metrics import psnr_mu
from app.core.metrics.mef_ssim import mef_ssim
from app.core.metrics.psnr import psnr_l
from app.core.types import ExposureStack
from app.models.classical import mertens_fusion_defaults
from app.models.registry import availability, get_method
from app.models.runner import run

HDR_ROWS = (
    ("debevec (plain)", "debevec", "none", {"deghost": "off"}),
    ("debevec (defaults: deghost auto)", "debevec", "none", {}),
    ("debevec + homography", "debevec", "homography", {"deghost": "off"}),
    ("debevec + homography + deghost", "debevec", "homography", {"deghost": "on"}),
    ("esbn", "esbn", "none", {}),
    ("esbn, networks everywhere", "esbn", "none", {"outside_motion": "network"}),
)
FUSION_ROWS = (
    ("mertens (plain)", "none", {"deghost": "off"}),
    ("mertens + homography", "homography", {"deghost": "off"}),
    ("mertens + homography + deghost auto", "homography", {"deghost": "auto"}),
)


def _crop(img: np.ndarray, stack: ExposureStack) -> np.ndarray:
    x, y, w, h = stack.metadata.get("crop", (0, 0, img.shape[1], img.shape[0]))
    return img[y:y + h, x:x + w]


def _scaled(result: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """result times the one scale that matches the truth's median on well-exposed pixels."""
    lum_t, lum_r = truth.mean(axis=2), result.mean(axis=2)
    sel = (lum_t > 0.05) & (lum_t < 0.9) & (lum_r > 0)
    if sel.sum() < 100:
        return result
    return result * np.float32(np.median(lum_t[sel] / lum_r[sel]))


def _psnr_display(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    if region is not None:
        if not region.any():
            return float("nan")
        a, b = a[region], b[region]
    mse = float(np.mean((np.asarray(a, np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _stack(b: db.DynamicBracket) -> ExposureStack:
    return ExposureStack(frames=b.frames, exposures=b.times, reference=b.reference)


def score_hdr(b: db.DynamicBracket) -> dict[str, dict[str, float]]:
    top = b.times[b.reference] / b.times[0]  # the darkest frame clips here (reference units)
    out = {}
    for label, method, align, params in HDR_ROWS:
        if not availability(get_method(method))[0]:
            continue
        stack = _stack(b)
        if align != "none":
            stack = align_stack(stack, align)
        t0 = time.perf_counter()
        res = run(stack, method, params)
        sec = time.perf_counter() - t0
        truth = np.minimum(_crop(b.truth, stack), top)
        est = np.minimum(_scaled(res.image, truth), top)
        out[label] = {"psnr_mu": psnr_mu(truth, est), "psnr_l": psnr_l(truth, est),
                      "pu21": pu21_psnr(truth, est), "seconds": sec}
    return out


def score_fusion(b: db.DynamicBracket) -> dict[str, dict[str, float]]:
    from app.core.merge import fuse_mertens

    target_full = fuse_mertens(b.static_frames, **mertens_fusion_defaults())
    out = {}
    for label, align, params in FUSION_ROWS:
        stack = _stack(b)
        if align != "none":
            stack = align_stack(stack, align)
        res = run(stack, "mertens", params)
        target, moved = _crop(target_full, stack), _crop(b.moved, stack)
        out[label] = {"psnr": _psnr_display(target, res.image),
                      "psnr_moved": _psnr_display(target, res.image, moved),
                      "deghosted": float(res.provenance.decisions.get("deghost") == "on")}
    return out


REGIONS = ("static, reference well exposed", "static, reference poorly exposed",
           "moved, reference well exposed", "moved, reference poorly exposed")
REGION_ROWS = (
    ("debevec + homography + deghost", "debevec", True, {"deghost": "on"}),
    ("esbn (shipped hand-over)", "esbn", False, {}),
    ("esbn, networks everywhere", "esbn", False, {"outside_motion": "network"}),
)


def region_masks(b: db.DynamicBracket) -> tuple[np.ndarray, ...]:
    """The four HxW bool regions of :data:`REGIONS`: moved = covered by an object in some frame
    (the generator's truth), poorly exposed = the reference frame near clipping or near black
    (``app.models.esbn.poorly_exposed_level`` > 0.5, where the hand-over may use the networks)."""
    from app.models.esbn import poorly_exposed_level

    ref = b.frames[b.reference]
    poor = poorly_exposed_level(ref.max(axis=2), ref.mean(axis=2)) > 0.5
    return (~b.moved & ~poor, ~b.moved & poor, b.moved & ~poor, b.moved & poor)


def mu_error(truth: np.ndarray, result: np.ndarray) -> np.ndarray:
    """HxW squared error in the mu-law domain, as :func:`app.core.metrics.psnr_mu` averages it
    (both divided by the truth's maximum, the result clipped to [0, 1]); channel mean."""
    from app.core.metrics.psnr import mu_law

    peak = float(truth.max())
    return ((mu_law(truth / peak) - mu_law(np.clip(result / peak, 0.0, 1.0))) ** 2).mean(axis=2)


def error_by_region(brackets) -> dict:
    """Where the HDR rows' error lies, and how far a better network could take the hand-over.

    Per bracket, on the reference's full frame (the homography row registers with crop=False
    so the regions line up; the main table scores the common area instead): each row's
    squared mu-law error summed per region of :func:`region_masks`. Two bounds for the
    hand-over, which uses the classical merge wherever its ghost test finds no motion: "moved
    perfect" (zero error on every moved pixel: no network can do better there, the merge's
    static error stays) and "networks on every moved, poorly exposed pixel" (the ghost test
    replaced by the generator's own mask). Returns mean PSNR-mu per row and bound, the pixel
    share and error share of every region."""
    share = np.zeros(len(REGIONS))
    err = {label: np.zeros(len(REGIONS)) for label, *_ in REGION_ROWS}
    psnr: dict[str, list[float]] = {label: [] for label, *_ in REGION_ROWS}
    psnr["hand-over, moved pixels perfect (bound)"] = []
    psnr["hand-over, networks on every moved poorly exposed pixel (oracle mask)"] = []
    for b in brackets:
        top = b.times[b.reference] / b.times[0]
        truth = np.minimum(b.truth, top)
        masks = region_masks(b)
        share += [m.sum() for m in masks]
        maps = {}
        for label, method, register, params in REGION_ROWS:
            stack = _stack(b)
            if register:
                stack = align_stack(stack, "homography", crop=False)
            res = run(stack, method, params)
            e = mu_error(truth, np.minimum(_scaled(res.image, truth), top))
            maps[label] = e
            err[label] += [e[m].sum() for m in masks]
            psnr[label].append(float(10 * np.log10(1.0 / e.mean())))
        hand = maps[REGION_ROWS[1][0]]
        perfect = np.where(b.moved, 0.0, hand)
        oracle = np.where(masks[3], maps[REGION_ROWS[2][0]], hand)
        psnr["hand-over, moved pixels perfect (bound)"].append(
            float(10 * np.log10(1.0 / perfect.mean())))
        psnr["hand-over, networks on every moved poorly exposed pixel (oracle mask)"].append(
            float(10 * np.log10(1.0 / oracle.mean())))
    return {"regions": REGIONS, "pixel_share": (share / share.sum()).tolist(),
            "error_share": {k: (v / v.sum()).tolist() for k, v in err.items()},
            "region_mse": {k: (v / np.maximum(share, 1)).tolist() for k, v in err.items()},
            "psnr_mu": {k: float(np.mean(v)) for k, v in psnr.items()}}


def print_regions(r: dict, n: int, split: str) -> None:
    print(f"Where the error lies: {n} dynamic brackets ({split} split), PSNR-mu on the "
          "reference's full frame; share of the squared mu-law error per region")
    print("| row | PSNR-mu | " + " | ".join(r["regions"]) + " |")
    print("|---|---|" + "---|" * len(r["regions"]))
    print("| share of the pixels | | "
          + " | ".join(f"{x:.1%}" for x in r["pixel_share"]) + " |")
    for label, shares in r["error_share"].items():
        mse = r["region_mse"][label]
        print(f"| {label} | {r['psnr_mu'][label]:.2f} | "
              + " | ".join(f"{s:.1%} (MSE {m:.1e})" for s, m in zip(shares, mse)) + " |")
    for label, value in r["psnr_mu"].items():
        if label not in r["error_share"]:
            print(f"| {label} | {value:.2f} |" + " |" * len(r["regions"]))


def _mean(rows: list[dict[str, dict[str, float]]], label: str, key: str) -> float:
    vals = [r[label][key] for r in rows if label in r and np.isfinite(r[label][key])]
    return float(np.mean(vals)) if vals else float("nan")


def real_static(limit: int | None = None) -> dict[str, float]:
    """mertens and debevec, deghost=auto vs off, on the real static evaluation stacks (3+
    frames): how often auto engages and how much it changes (display PSNR for mertens, PSNR-mu
    between the two radiance maps for debevec)."""
    from app.bench.rl_pairs import read_rgb

    man = json.loads((db.DATA / "manifest.json").read_text())
    engaged, psnrs, ssim_auto, ssim_off, n = 0, [], [], [], 0
    hdr_engaged, hdr_psnrs = 0, []
    for s in man["scenes"]:
        if s["source"] not in ("waterloo-mef", "mef-extra") or s.get("role") != "static-mef":
            continue
        paths = [db.DATA / f["path"] for f in s["files"]]
        if len(paths) < 3:
            continue
        frames = [read_rgb(p) for p in paths]
        if len({f.shape for f in frames}) > 1:
            continue
        frames.sort(key=lambda f: float(f.mean()))
        stack = ExposureStack(frames=tuple(frames))
        auto = run(stack, "mertens", {"deghost": "auto"})
        off = run(stack, "mertens", {"deghost": "off"}).image
        n += 1
        if auto.provenance.decisions.get("deghost") == "on":
            engaged += 1
            psnrs.append(_psnr_display(off, auto.image))
            ssim_auto.append(mef_ssim(frames, auto.image))
            ssim_off.append(mef_ssim(frames, off))
        hdr_auto = run(stack, "debevec", {"deghost": "auto"})
        if hdr_auto.provenance.decisions.get("deghost") == "on":
            hdr_engaged += 1
            hdr_psnrs.append(psnr_mu(run(stack, "debevec", {"deghost": "off"}).image,
                                     hdr_auto.image))
        if limit and n >= limit:
            break
    return {"stacks": n, "engaged": engaged,
            "debevec_engaged": hdr_engaged,
            "debevec_psnr_mu_auto_vs_off":
                float(np.mean(hdr_psnrs)) if hdr_psnrs else float("inf"),
            "debevec_min_psnr_mu_auto_vs_off":
                float(np.min(hdr_psnrs)) if hdr_psnrs else float("inf"),
            "psnr_auto_vs_off": float(np.mean(psnrs)) if psnrs else float("inf"),
            "min_psnr_auto_vs_off": float(np.min(psnrs)) if psnrs else float("inf"),
            "mef_ssim_auto": float(np.mean(ssim_auto)) if ssim_auto else float("nan"),
            "mef_ssim_off": float(np.mean(ssim_off)) if ssim_off else float("nan")}


SPEED_JOBS = (
    ("mertens, deghost off", ["-m", "mertens", "--param", "deghost=off"], "out.jpg"),
    ("mertens, deghost on", ["-m", "mertens", "--param", "deghost=on"], "out.jpg"),
    ("debevec, deghost", ["-m", "debevec", "--deghost", "--ev", "-2,0,2"], "out.exr"),
    ("esbn", ["-m", "esbn", "--ev", "-2,0,2"], "out.exr"),
)


def speed(megapixels: float = 12.0) -> list[dict]:
    """Whole ``fuse`` commands (start-up, decode, run, encode) on a 3-frame bracket of
    ``megapixels``: seconds and peak RSS, one run each (the machine's 2 cores)."""
    import sys
    import tempfile

    from app.bench.whole import make_bracket, timed

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [str(p) for p in make_bracket(folder, megapixels)]
        main_py = str(Path(__file__).resolve().parents[2] / "main.py")
        for label, flags, out in SPEED_JOBS:
            if label == "esbn" and not availability(get_method("esbn"))[0]:
                continue
            (folder / out).unlink(missing_ok=True)
            sec, rss = timed([sys.executable, main_py, "fuse", *files, *flags, "-o", out,
                              "-q"], folder)
            rows.append({"job": label, "seconds": sec, "rss_mib": rss})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-map", type=int, default=2, help="dynamic brackets per radiance map")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--split", choices=("test", "validation"), default="test",
                    help="test: the evaluation maps (openexr-images, 2 per map by default); "
                         "validation: ESBN's three held-out training maps (12 per map), where "
                         "choices about the networks are made")
    ap.add_argument("--hdr-only", action="store_true",
                    help="only the HDR rows (no fusion rows, no real static stacks)")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the whole-command speed on a 12 MP bracket")
    ap.add_argument("--regions", action="store_true",
                    help="only where the HDR rows' error lies (static / moved, reference well / "
                         "poorly exposed) and the bounds of the ESBN hand-over")
    args = ap.parse_args(argv)
    if args.regions:
        if not availability(get_method("esbn"))[0]:
            print("esbn is not installed: no regions to compare")
            return 1
        per_map = (12 if args.per_map == 2 else args.per_map) if args.split == "validation" \
            else args.per_map
        brackets = list((db.validation_split if args.split == "validation"
                         else db.evaluation_split)(per_map))
        r = error_by_region(brackets)
        if args.json:
            args.json.write_text(json.dumps(r, indent=1))
        print_regions(r, len(brackets), args.split)
        return 0
    if args.speed_only:
        print("| 12 MP, 3 frames, whole `fuse` command | seconds | peak RSS MiB |")
        print("|---|---|---|")
        for r in speed():
            print(f"| {r['job']} | {r['seconds']:.1f} | {r['rss_mib']:.0f} |")
        return 0
    if args.split == "validation":
        per_map = 12 if args.per_map == 2 else args.per_map
        split = db.validation_split
    else:
        per_map, split = args.per_map, db.evaluation_split
    fusion = (lambda b: {}) if args.hdr_only else score_fusion
    dyn_hdr, dyn_fus, by_ev = [], [], {}
    for b in split(per_map):
        h, f = score_hdr(b), fusion(b)
        dyn_hdr.append(h)
        dyn_fus.append(f)
        ev = round(np.log2(b.times[1] / b.times[0]), 1)
        by_ev.setdefault(ev, ([], []))
        by_ev[ev][0].append(h)
        by_ev[ev][1].append(f)
    static_hdr, static_fus = [], []
    for b in split(1 if args.split == "test" else 4, shake=0.0, n_objects=0):
        static_hdr.append(score_hdr(b))
        static_fus.append(fusion(b))
    real = None if args.hdr_only or args.split != "test" else real_static()
    if args.json:
        args.json.write_text(json.dumps({"dynamic_hdr": dyn_hdr, "dynamic_fusion": dyn_fus,
                                         "static_hdr": static_hdr, "static_fusion": static_fus,
                                         "real_static": real}, indent=1))

    print(f"Dynamic brackets with truth: {len(dyn_hdr)} ({args.split} split), 3 frames")
    print("| HDR merge | PSNR-mu | PSNR-L | PU21-PSNR | "
          + " | ".join(f"PSNR-mu {ev:g} EV ({len(v[0])})" for ev, v in sorted(by_ev.items()))
          + " | static PSNR-mu | s / bracket |")
    print("|---|---|---|---|" + "---|" * len(by_ev) + "---|---|")
    for label, *_ in HDR_ROWS:
        if label not in dyn_hdr[0]:
            continue
        evs = " | ".join(f"{_mean(v[0], label, 'psnr_mu'):.2f}" for _, v in sorted(by_ev.items()))
        print(f"| {label} | {_mean(dyn_hdr, label, 'psnr_mu'):.2f} | "
              f"{_mean(dyn_hdr, label, 'psnr_l'):.2f} | {_mean(dyn_hdr, label, 'pu21'):.2f} | "
              f"{evs} | {_mean(static_hdr, label, 'psnr_mu'):.2f} | "
              f"{_mean(dyn_hdr, label, 'seconds'):.2f} |")
    if args.hdr_only:
        return 0
    print()
    print("| Exposure fusion | PSNR vs static fusion | PSNR in moved area | "
          + " | ".join(f"{ev:g} EV moved area" for ev, _ in sorted(by_ev.items()))
          + " | static PSNR | deghost engaged (dynamic / static) |")
    print("|---|---|---|" + "---|" * len(by_ev) + "---|---|")
    for label, *_ in FUSION_ROWS:
        evs = " | ".join(f"{_mean(v[1], label, 'psnr_moved'):.2f}" for _, v in sorted(by_ev.items()))
        print(f"| {label} | {_mean(dyn_fus, label, 'psnr'):.2f} | "
              f"{_mean(dyn_fus, label, 'psnr_moved'):.2f} | {evs} | "
              f"{_mean(static_fus, label, 'psnr'):.2f} | "
              f"{_mean(dyn_fus, label, 'deghosted'):.0%} / {_mean(static_fus, label, 'deghosted'):.0%} |")
    if real is None:
        return 0
    print()
    print(f"Real static stacks (waterloo-mef + mef-extra, 3+ frames): {real['stacks']}; "
          f"auto deghosting engaged on {real['engaged']}; there, PSNR(auto vs off) "
          f"{real['psnr_auto_vs_off']:.1f} dB (min {real['min_psnr_auto_vs_off']:.1f}), "
          f"MEF-SSIM {real['mef_ssim_auto']:.4f} (auto) vs {real['mef_ssim_off']:.4f} (off); "
          f"debevec: engaged on {real['debevec_engaged']}, PSNR-mu(auto vs off) "
          f"{real['debevec_psnr_mu_auto_vs_off']:.1f} dB "
          f"(min {real['debevec_min_psnr_mu_auto_vs_off']:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
