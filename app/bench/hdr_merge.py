"""HDR merge benchmark on virtual-camera brackets: ours vs OpenCV vs Luminance HDR, one run.

    python -m app.bench.hdr_merge [--data ../shared/data] [--long-side 600] [--out bench_out]

Brackets come from every HDR radiance map in ../shared/data (openexr-images: the *evaluation*
set; hdr-extra: the *tuning* set the merge's choices were made on) photographed by a random
virtual camera (app.bench.virtual_camera: per-channel curves, white balance, noise, JPEG), as 3
frames 2 EV apart and 5 frames 1 EV apart. Each is merged by

* ours: ``debevec`` and ``robertson`` through ``app.models.runner.run`` (the GUI/CLI path), with
  the true exposure times and with none (estimated from the pixels);
* OpenCV: CalibrateDebevec + MergeDebevec, CalibrateRobertson + MergeRobertson (true times);
* Luminance HDR (``luminance-hdr-cli``, Debian package ``luminance-hdr``) when installed, with its
  defaults and with ``--hdrModel robertsonauto`` (true EVs); skipped with a note otherwise.

Metrics (virtual_camera): log2-luminance PSNR after one global scale, and the mean colour angle
(degrees) on well-exposed pixels. Prints a table per set and writes per-scene JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from app.bench import virtual_camera as vc

CONFIGS = ((3, 2.0), (5, 1.0))  # (frames, EV spacing)


def scenes(data: Path) -> list[tuple[str, str, Path, bool]]:
    """(set, name, exr path, latlong) for every radiance map."""
    out = []
    for p in sorted((data / "openexr-images").glob("*/*.exr")):
        out.append(("eval", p.stem, p, "LatLong" in p.stem))
    for p in sorted((data / "hdr-extra").glob("*.exr")):
        out.append(("tune", p.stem, p, True))
    return out


def ours(b: vc.Bracket, method: str, with_times: bool) -> np.ndarray:
    from app.core.types import ExposureStack
    from app.models.runner import run

    stack = ExposureStack(b.frames, exposures=b.times if with_times else None)
    return run(stack, method).image


def opencv(b: vc.Bracket, method: str) -> np.ndarray:
    imgs = [np.ascontiguousarray(np.rint(f[..., ::-1] * 255).astype(np.uint8)) for f in b.frames]
    times = np.asarray(b.times, np.float32)
    if method == "debevec":
        resp = cv2.createCalibrateDebevec().process(imgs, times)
        hdr = cv2.createMergeDebevec().process(imgs, times, resp)
    else:
        resp = cv2.createCalibrateRobertson().process(imgs, times)
        hdr = cv2.createMergeRobertson().process(imgs, times, resp)
    return np.nan_to_num(hdr[..., ::-1], nan=0.0, posinf=0.0).astype(np.float32)


def luminance_hdr(b: vc.Bracket, model: str | None) -> np.ndarray | None:
    exe = shutil.which("luminance-hdr-cli")
    if exe is None:
        return None
    from app.core.io import read_exr

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, f in enumerate(b.frames):
            p = Path(tmp) / f"f{i}.jpg"
            cv2.imwrite(str(p), np.rint(f[..., ::-1] * 255).astype(np.uint8),
                        [cv2.IMWRITE_JPEG_QUALITY, 100])
            paths.append(str(p))
        evs = np.log2(np.asarray(b.times) / b.times[0])
        out = Path(tmp) / "out.exr"
        cmd = [exe, "-e", ",".join(f"{e:.4f}" for e in evs), "-s", str(out)]
        if model:
            cmd += ["--hdrModel", model]
        subprocess.run(cmd + paths, capture_output=True, timeout=300)
        if not out.is_file():
            return None
        img, _ = read_exr(out)
        return img


def _methods(have_lhdr: bool):
    m = {
        "ours debevec (times)": lambda b: ours(b, "debevec", True),
        "ours robertson (times)": lambda b: ours(b, "robertson", True),
        "ours debevec (no times)": lambda b: ours(b, "debevec", False),
        "ours robertson (no times)": lambda b: ours(b, "robertson", False),
        "OpenCV debevec (times)": lambda b: opencv(b, "debevec"),
        "OpenCV robertson (times)": lambda b: opencv(b, "robertson"),
    }
    if have_lhdr:
        m["Luminance HDR default (EVs)"] = lambda b: luminance_hdr(b, None)
        m["Luminance HDR robertsonauto (EVs)"] = lambda b: luminance_hdr(b, "robertsonauto")
    return m


def run_bench(data: Path, long_side: int, only: str | None = None, limit: int = 0) -> list[dict]:
    have_lhdr = shutil.which("luminance-hdr-cli") is not None
    methods = _methods(have_lhdr)
    rows = []
    todo = [s for s in scenes(data) if only is None or s[0] == only]
    if limit:
        todo = todo[:limit]
    for set_name, name, path, latlong in todo:
        rad = vc.load_radiance(path, long_side, crop_poles=latlong)
        for n, spacing in CONFIGS:
            seed = zlib.crc32(f"{name}/{n}".encode())
            b = vc.bracket(name, rad, n, spacing, seed)
            for label, fn in methods.items():
                try:
                    est = fn(b)
                except Exception as exc:  # noqa: BLE001 - a refusal is a result too
                    rows.append(dict(set=set_name, scene=name, frames=n, method=label,
                                     error=f"{type(exc).__name__}: {exc}"[:200]))
                    continue
                if est is None:
                    continue
                row = dict(set=set_name, scene=name, frames=n, method=label,
                           log_psnr=vc.log_psnr(est, b), colour_deg=vc.colour_error_deg(est, b))
                if label.startswith("ours"):  # how much of the error is the one exponent
                    p = vc.exponent_fit(est, b)
                    fixed = np.maximum(est, 0) ** np.float32(1 / p) if p > 0 else est
                    row.update(exponent=p, log_psnr_exponent_fixed=vc.log_psnr(fixed, b),
                               colour_deg_exponent_fixed=vc.colour_error_deg(fixed, b))
                rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = []
    for set_name in ("eval", "tune"):
        sub = [r for r in rows if r["set"] == set_name]
        if not sub:
            continue
        n_scenes = len({r["scene"] for r in sub})
        title = ("evaluation set: openexr-images" if set_name == "eval"
                 else "tuning set: hdr-extra")
        lines.append(f"\n{title} ({n_scenes} scenes x {len(CONFIGS)} brackets)\n")
        lines.append("| method | log-lum PSNR dB (mean) | worst | colour error deg (mean) | worst | refused |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for method in dict.fromkeys(r["method"] for r in sub):
            ok = [r for r in sub if r["method"] == method and "log_psnr" in r]
            bad = [r for r in sub if r["method"] == method and "error" in r]
            if not ok:
                lines.append(f"| {method} | - | - | - | - | {len(bad)} |")
                continue
            p = np.array([r["log_psnr"] for r in ok])
            c = np.array([r["colour_deg"] for r in ok])
            lines.append(f"| {method} | {p.mean():.1f} | {p.min():.1f} | {c.mean():.2f} | "
                         f"{c.max():.2f} | {len(bad)} |")
        fitted = [r for r in sub if "exponent" in r]
        if fitted:
            lines.append("\nThe exponent a bracket cannot tell (Grossberg and Nayar's exponential "
                         "ambiguity): each result's fitted power p (result ~ truth^p), and the "
                         "scores after undoing it\n")
            lines.append("| method | p mean | p range | log-lum PSNR after undoing p (mean) | "
                         "worst | colour error after undoing p (mean) | worst |")
            lines.append("| --- | --- | --- | --- | --- | --- | --- |")
            for method in dict.fromkeys(r["method"] for r in fitted):
                ok = [r for r in fitted if r["method"] == method]
                e = np.array([r["exponent"] for r in ok])
                p = np.array([r["log_psnr_exponent_fixed"] for r in ok])
                c = np.array([r["colour_deg_exponent_fixed"] for r in ok])
                lines.append(f"| {method} | {e.mean():.3f} | {e.min():.3f}-{e.max():.3f} | "
                             f"{p.mean():.1f} | {p.min():.1f} | {c.mean():.2f} | {c.max():.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench.hdr_merge", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    ap.add_argument("--long-side", type=int, default=600)
    ap.add_argument("--set", choices=("eval", "tune"), default=None)
    ap.add_argument("--limit", type=int, default=0, help="first N scenes only (quick look)")
    ap.add_argument("--out", type=Path, default=Path("bench_out"))
    args = ap.parse_args(argv)
    if shutil.which("luminance-hdr-cli") is None:
        print("note: luminance-hdr-cli not found (Debian package luminance-hdr): its rows are skipped")
    rows = run_bench(args.data, args.long_side, args.set, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hdr_merge.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
