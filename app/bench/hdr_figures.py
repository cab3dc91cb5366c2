"""100 % crops of HDR merges of real brackets, for the README's before/after figures.

    python -m app.bench.hdr_figures --out resources/figures/hdr --label after

Each case: a real bracket from ../shared/data merged by the CLI's path (load_stack: EXIF times
when the files have them, else estimated; run(); render with Reinhard), one crop at 100 %
saved as ``<case>_<label>.png``. The 'before' crops come from the same script run in a worktree
of the commit before the HDR-trust work (0d2240f).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

CASES = {
    # name: (folder, method, crop x, y, w, h in full-resolution pixels, exposure EV)
    "misalign_debevec": ("pmef-dynamic/misalign", "debevec", 150, 40, 320, 240, 0.0),
    "frobisher_robertson": ("colour-hdri-frobisher/frobisher_001", "robertson", 0, 0, 420, 300, 0.0),
    "frobisher_debevec": ("colour-hdri-frobisher/frobisher_001", "debevec", 0, 0, 420, 300, 0.0),
    "villa_debevec": ("mef-extra/Villa", "debevec", 300, 0, 420, 300, 0.0),
}


def render_case(data: Path, folder: str, method: str, ev: float, ignore_exif: bool) -> np.ndarray:
    from app.core.io import load_stack
    from app.core.io.files import expand_paths
    from app.core.tonemap import render
    from app.core.types import ResultKind, ToneParams
    from app.models.runner import run

    stack = load_stack(expand_paths([data / folder]))
    if ignore_exif:
        stack = stack.with_frames(stack.frames, exposures=None)
    result = run(stack, method, align="mtb")
    return render(result.image, ResultKind.HDR_LINEAR, ToneParams(tmo="reinhard", exposure_ev=ev))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench.hdr_figures")
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("bench_out/hdr_figures"))
    ap.add_argument("--label", default="after")
    ap.add_argument("--no-exif", action="store_true", help="ignore EXIF times (estimate them)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (folder, method, x, y, w, h, ev) in CASES.items():
        img = render_case(args.data, folder, method, ev, args.no_exif)
        crop = img[y : y + h, x : x + w]
        out = args.out / f"{name}{'_noexif' if args.no_exif else ''}_{args.label}.png"
        cv2.imwrite(str(out), np.round(np.clip(crop, 0, 1)[..., ::-1] * 255).astype(np.uint8))
        print(out, img.shape[1], "x", img.shape[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
