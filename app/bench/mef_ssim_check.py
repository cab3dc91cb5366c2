"""Check MEF-SSIM against every published MEFB score: ``python -m app.bench.mef_ssim_check``.

Reads ../shared/data/mefb-fused/FMMEF_mef_ssim_published.csv (inputs, FMMEF fused output and the
score the MEFB release stores, computed by the authors' MATLAB code) and prints our score, the
published one and the difference for every row, then the maximum and mean absolute error.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from app.core.metrics import mef_ssim

DEFAULT_DATA = Path(os.environ.get("LUMAFUSE_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{path}: cannot be read as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    table = args.data / "mefb-fused" / "FMMEF_mef_ssim_published.csv"
    if not table.is_file():
        print(f"{table}: not found (set --data or LUMAFUSE_DATA)", file=sys.stderr)
        return 2
    rows = list(csv.DictReader(table.open()))
    errors = []
    t0 = time.perf_counter()
    for r in rows:
        a, b, f = (_read_rgb(args.data / r[k]) for k in ("input_A", "input_B", "fused"))
        ours = mef_ssim([a, b], f)
        pub = float(r["mef_ssim_published"])
        errors.append(abs(ours - pub))
        print(f"{r['scene']:24s} ours {ours:.6f}  published {pub:.5f}  diff {ours - pub:+.2e}")
    err = np.array(errors)
    print(f"{len(err)} rows in {time.perf_counter() - t0:.1f} s: max |diff| {err.max():.2e}, "
          f"mean |diff| {err.mean():.2e} (published values have 5 decimals: 5e-6 is rounding)")
    return 0 if err.max() < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
