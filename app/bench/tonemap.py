"""Tone-mapping timings: ``python -m app.bench.tonemap [--exr PATH] [--full]``.

Prints, in one run on this machine, the median / best time of ``render`` on a 1600x1067 preview
proxy for every global operator and the LDR path, next to a plain single-pass numpy version of
the same pipeline and OpenCV's own Reinhard / Drago tone mappers (baselines). ``--full`` adds the
12 MP (4000x3000) timings, including the local operators against OpenCV's full-size Mantiuk.
The machine load average is printed because the timings depend on it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from app.core.tonemap import render, scene_stats
from app.core.types import ResultKind, ToneParams

DEFAULT_EXR = (
    Path(__file__).resolve().parents[2].parent / "shared/data/openexr-images/MtTamWest/MtTamWest.exr"
)


def _load(path: Path | None) -> np.ndarray:
    """Linear RGB float32 of a real EXR (falls back to a synthetic 14 EV scene when absent)."""
    if path is not None and path.is_file():
        from app.core.io import read_frame

        img, _ = read_frame(path)
        return np.ascontiguousarray(img, dtype=np.float32)
    print(f"(no EXR at {path}: using a synthetic 14 EV scene)")
    yy, xx = np.mgrid[0:732, 0:1214].astype(np.float32)
    lum = np.exp2(-8 + 14 * xx / 1214) * (1 + 0.3 * np.sin(yy / 7) * np.cos(xx / 5))
    return (lum[..., None] * np.float32([1.0, 0.85, 0.7])).astype(np.float32)


def _time(fn, repeat: int) -> tuple[float, float, float]:
    """(median wall ms, best wall ms, CPU ms per call summed over threads). On a busy machine the
    CPU time is the steadier figure: wall time there mostly measures waiting for a core."""
    fn()  # warm-up (thread pool, caches)
    ts = []
    c0 = time.process_time()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / repeat
    return float(np.median(ts)) * 1e3, float(min(ts)) * 1e3, cpu * 1e3


def _plain_reinhard(img: np.ndarray, ev: float) -> np.ndarray:
    """Baseline: the same Reinhard + sRGB pipeline written as plain whole-image numpy."""
    st = scene_stats(img)
    lum = img @ np.float32([0.2126, 0.7152, 0.0722])
    ls = lum * np.float32(0.18 / st.log_average * 2.0**ev)
    lw = np.float32(0.18 / st.log_average * st.peak)
    ls = np.minimum(ls, lw)
    lout = np.clip(ls * (1 + ls / lw**2) / (1 + ls), 0, 1)
    out = np.clip(img * (lout / np.maximum(lum, 1e-30))[..., None], 0, 1)
    return np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exr", type=Path, default=DEFAULT_EXR)
    ap.add_argument("--full", action="store_true", help="also time 12 MP renders and local operators")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)

    src = _load(args.exr)
    proxy = cv2.resize(src, (1600, 1067), interpolation=cv2.INTER_LINEAR)
    ldr = render(proxy, ResultKind.HDR_LINEAR, ToneParams(tmo="reinhard"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; proxy 1600x1067")
    print(f"{'render (1600x1067 proxy)':44s} {'median ms':>10s} {'best ms':>9s} {'CPU ms':>8s}")
    rows = [(f"HDR {tmo}, +0.5 EV, sRGB", ResultKind.HDR_LINEAR, proxy, ToneParams(0.5, 0.0, tmo))
            for tmo in ("none", "reinhard", "drago", "filmic")]
    rows += [
        ("HDR reinhard, gamma 2.2, saturation 1.2", ResultKind.HDR_LINEAR, proxy,
         ToneParams(0.0, 2.2, "reinhard", {}, 1.2)),
        ("LDR fused, +0.7 EV, sRGB", ResultKind.LDR_FUSED, ldr, ToneParams(0.7)),
        ("LDR fused, -0.5 EV, gamma 2.2", ResultKind.LDR_FUSED, ldr, ToneParams(-0.5, 2.2)),
    ]
    for label, kind, img, tone in rows:
        med, best, cpu = _time(lambda: render(img, kind, tone), args.repeat)
        print(f"{label:44s} {med:10.1f} {best:9.1f} {cpu:8.1f}")

    print("baselines on the same proxy:")
    med_plain, best_plain, cpu_plain = _time(lambda: _plain_reinhard(proxy, 0.5), max(5, args.repeat // 3))
    med_ours, _, cpu_ours = _time(
        lambda: render(proxy, ResultKind.HDR_LINEAR, ToneParams(0.5, 0.0, "reinhard")), args.repeat
    )
    print(f"{'plain numpy Reinhard + sRGB':44s} {med_plain:10.1f} {best_plain:9.1f} {cpu_plain:8.1f}"
          f"   (render: {med_plain / med_ours:.1f}x less wall, {cpu_plain / cpu_ours:.1f}x less CPU)")
    for name, op in (("reinhard", cv2.createTonemapReinhard()), ("drago", cv2.createTonemapDrago())):
        med, best, cpu = _time(lambda: op.process(proxy), max(5, args.repeat // 3))
        label = "OpenCV Tonemap" + name.capitalize() + " (no encode)"
        print(f"{label:44s} {med:10.1f} {best:9.1f} {cpu:8.1f}")

    if not args.full:
        return
    big = cv2.resize(src, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    print("12 MP (4000x3000) export renders:")
    for tmo in ("reinhard", "drago", "filmic", "reinhard_local", "mantiuk"):
        med, best, cpu = _time(lambda: render(big, ResultKind.HDR_LINEAR, ToneParams(0.0, 0.0, tmo)), 3)
        print(f"{'render ' + tmo:44s} {med:10.1f} {best:9.1f} {cpu:8.1f}")
    t0 = time.perf_counter()
    cv2.createTonemapMantiuk(1.0, 0.7, 1.0).process(big)
    cv_mant = (time.perf_counter() - t0) * 1e3
    print(f"{'OpenCV TonemapMantiuk full size (once)':44s} {cv_mant:10.1f}")


if __name__ == "__main__":
    main()
