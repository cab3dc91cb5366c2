"""HDRCNN benchmark: reconstruction quality on held-out HDR images, 12 MP speed, README figures.

    python -m app.bench.hdrcnn [--no-speed] [--figures] [--json bench_out/hdrcnn.json]
                               [--update-manifest]

Quality. The 5 held-out openexr-images scenes (app.training.hdrcnn_data.EVAL_EXRS, never
trained on) are photographed by the virtual camera at fixed seeds, three exposures each (the
exposure quantile q = 0.85 / 0.90 / 0.95, i.e. 15 / 10 / 5 % of the values above saturation;
noise, camera curve and JPEG quality drawn from seed 1000 + k; no colour jitter). The ground
truth is the exposed radiance (1.0 = the LDR saturation level). Compared:

* hdrcnn: the shipped weights through :func:`app.models.hdrcnn.reconstruct` (gamma 1);
* do nothing: the input linearised with the same curve (x^2), clipped highlights left as is.

Metrics, over the whole image and over the saturated region only (input max channel > 0.95,
the pixels the blend changes; elsewhere both outputs are identical by construction):

* log-PSNR: PSNR of log2(max(H, 2^-12)) with the peak = the range of the reference's log values;
* PU21-PSNR: PU21 encoding (Mantiuk & Azimi 2021, "banding_glare" parameters) of RGB values in
  absolute units with relative 1.0 (saturation) = 1000 cd/m^2, clamped to [0.005, 10000] cd/m^2,
  PSNR with peak 256 as pu21_metric; no camera-curve correction (SI-HDR's crf_correction);
* PSNR-mu (app.core.metrics.psnr_mu), whole image only.

Speed: a real photo upscaled to 4000x3000 (12 MP), whole reconstruct() wall time (best of 2) and
peak resident memory, next to the do-nothing linearisation of the same image as the baseline.
Figures (--figures): two hdrcnn-samples photos before/after at -3 EV into resources/readme/.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import cv2
import numpy as np

from app.core.io import read_exr, read_frame
from app.core.metrics import psnr_mu
from app.core.progress import TaskContext
from app.models import hdrcnn
from app.training import hdrcnn_data as data

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
QUANTILES = (0.85, 0.90, 0.95)
NITS_AT_SATURATION = 1000.0
PU21_BANDING_GLARE = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627,
                      0.09150303166, 0.9099517204, 596.3148142)
FIGURE_SAMPLES = ("img_001", "img_004")


def pu21_encode(lum: np.ndarray) -> np.ndarray:
    """PU21 (banding_glare): absolute luminance cd/m^2 -> perceptually uniform units (~0..600)."""
    p = PU21_BANDING_GLARE
    y = np.clip(lum, 0.005, 10000.0).astype(np.float64)
    yp = np.power(y, p[3])
    return p[6] * (np.power((p[0] + p[1] * yp) / (1.0 + p[2] * yp), p[4]) - p[5])


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def log_psnr(ref: np.ndarray, test: np.ndarray, region: np.ndarray | None = None) -> float:
    lr = np.log2(np.maximum(ref, 2.0 ** -12))
    lt = np.log2(np.maximum(test, 2.0 ** -12))
    peak = float(lr.max() - lr.min())
    if region is not None:
        lr, lt = lr[region], lt[region]
    return _psnr(lr, lt, peak)


def pu21_psnr(ref: np.ndarray, test: np.ndarray, region: np.ndarray | None = None) -> float:
    pr = pu21_encode(ref * NITS_AT_SATURATION)
    pt = pu21_encode(test * NITS_AT_SATURATION)
    if region is not None:
        pr, pt = pr[region], pt[region]
    return _psnr(pr, pt, 256.0)


def eval_cases(root: Path) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """(name, q, ldr display [0,1], ground truth linear) for every held-out image x exposure."""
    out = []
    for name in data.EVAL_EXRS:
        hdr = read_exr(root / data.EXR_SET / name / f"{name}.exr")[0]
        for k, q in enumerate(QUANTILES):
            rng = np.random.default_rng(1000 + k)
            cam = data.draw_camera(rng)
            cam = data.CameraParams(**{**cam.__dict__, "q": q})
            ldr, gt = data.render(hdr, cam, rng, jitter=False)
            out.append((name, q, ldr, gt))
    return out


def quality(model, root: Path) -> dict:
    rows = []
    for name, q, ldr, gt in eval_cases(root):
        pred = hdrcnn.reconstruct(model, ldr, TaskContext())
        base = hdrcnn.linearise(ldr)
        sat = np.broadcast_to(hdrcnn.saturation_mask(ldr) > 0, gt.shape)
        row = {"image": name, "q": q, "saturated_pct": round(100 * float(sat.mean()), 2)}
        for label, img in (("hdrcnn", pred), ("nothing", base)):
            row[f"{label}_logpsnr"] = log_psnr(gt, img)
            row[f"{label}_logpsnr_sat"] = log_psnr(gt, img, sat)
            row[f"{label}_pu21"] = pu21_psnr(gt, img)
            row[f"{label}_pu21_sat"] = pu21_psnr(gt, img, sat)
            row[f"{label}_psnr_mu"] = psnr_mu(gt, img)
            row[f"{label}_unsat_maxdiff"] = float(np.abs(img - base)[~sat].max(initial=0.0))
        rows.append(row)
        print(f"{name:12s} q={q:.2f} sat {row['saturated_pct']:5.1f}%  "
              f"logPSNR sat {row['hdrcnn_logpsnr_sat']:6.2f} vs {row['nothing_logpsnr_sat']:6.2f}  "
              f"PU21 sat {row['hdrcnn_pu21_sat']:6.2f} vs {row['nothing_pu21_sat']:6.2f}  "
              f"PU21 all {row['hdrcnn_pu21']:6.2f} vs {row['nothing_pu21']:6.2f}", flush=True)
    keys = [k for k in rows[0] if k.startswith(("hdrcnn_", "nothing_"))]
    mean = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}
    return {"cases": rows, "mean": mean}


def _sample(root: Path, name: str) -> np.ndarray:
    """An hdrcnn-samples photo, display-referred float32 [0, 1]."""
    return read_frame(root / "hdrcnn-samples" / name / f"{name}.png")[0]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def speed(model, root: Path) -> dict:
    img = _sample(root, "img_001")
    x = np.clip(cv2.resize(img, (4000, 3000), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    rss0 = _peak_rss_mb()
    times = []
    for _ in range(2):
        t = time.perf_counter()
        hdrcnn.reconstruct(model, x, TaskContext())
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    hdrcnn.linearise(x)
    t_base = time.perf_counter() - t
    res = {"megapixels": 12.0, "hdrcnn_s": round(min(times), 2), "nothing_s": round(t_base, 3),
           "ratio": round(min(times) / t_base, 1),
           "peak_rss_mb": round(_peak_rss_mb(), 0), "rss_before_mb": round(rss0, 0)}
    print(f"12 MP: hdrcnn {res['hdrcnn_s']} s (best of 2), do-nothing {res['nothing_s']} s "
          f"(x{res['ratio']}); peak RSS {res['peak_rss_mb']:.0f} MB (before {rss0:.0f} MB)")
    return res


def _display(lin: np.ndarray, ev: float) -> np.ndarray:
    from app.core.tonemap.display import srgb_encode

    return srgb_encode(np.clip(lin * 2.0 ** ev, 0.0, 1.0).astype(np.float32))


def figures(model, root: Path, out_dir: Path, ev: float = -3.0, width: int = 400) -> list[str]:
    """Before (do nothing) | after (hdrcnn) at ``ev`` stops, sRGB, side by side PNGs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FIGURE_SAMPLES:
        img = _sample(root, name)
        pred = hdrcnn.reconstruct(model, img, TaskContext())
        pair = [_display(hdrcnn.linearise(img), ev), _display(pred, ev)]
        h = round(img.shape[0] * width / img.shape[1])
        tiles = [cv2.resize(p, (width, h), interpolation=cv2.INTER_AREA) for p in pair]
        gap = np.ones((h, 8, 3), np.float32)
        both = np.concatenate([tiles[0], gap, tiles[1]], axis=1)
        path = out_dir / f"hdrcnn_{name}_before_after.png"
        bgr = cv2.cvtColor((both * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        paths.append(str(path))
        print(f"figure {path} ({path.stat().st_size // 1024} KB)")
    return paths


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--figures", action="store_true", help="write the README before/after PNGs")
    ap.add_argument("--json", type=Path, default=REPO / "bench_out" / "hdrcnn.json")
    ap.add_argument("--update-manifest", action="store_true",
                    help="store the mean scores in the weights manifest entry")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model, digest = hdrcnn.load_model("cpu")
    print(f"weights sha256 {digest[:16]}...")
    report: dict = {"weights_sha256": digest, "quality": quality(model, args.data)}
    m = report["quality"]["mean"]
    print("mean over", len(report["quality"]["cases"]), "cases (hdrcnn vs do nothing):")
    for key, label in (("logpsnr", "log-PSNR"), ("pu21", "PU21-PSNR")):
        print(f"  {label:10s} whole {m[f'hdrcnn_{key}']:6.2f} vs {m[f'nothing_{key}']:6.2f} dB   "
              f"saturated {m[f'hdrcnn_{key}_sat']:6.2f} vs {m[f'nothing_{key}_sat']:6.2f} dB")
    print(f"  PSNR-mu    whole {m['hdrcnn_psnr_mu']:6.2f} vs {m['nothing_psnr_mu']:6.2f} dB")
    if not args.no_speed:
        report["speed"] = speed(model, args.data)
    if args.figures:
        report["figures"] = figures(model, args.data, REPO / "resources" / "readme")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    if args.update_manifest:
        from app.models import weights
        from app.training.export import update_manifest_fields

        entry = dict(weights.entry("hdrcnn"))
        metrics = {**entry.get("metrics", {}),
                   "eval": f"{len(report['quality']['cases'])} renders of "
                           f"{', '.join(data.EVAL_EXRS)}",
                   **{k: v for k, v in m.items() if not k.endswith("maxdiff")}}
        if "speed" in report:
            metrics["seconds_12mp"] = report["speed"]["hdrcnn_s"]
        update_manifest_fields("hdrcnn", {"metrics": metrics})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
