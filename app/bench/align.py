"""Homography accuracy and whole-command alignment speed (issue 10).

    python -m app.bench.align [--megapixels 12] [--pairs 2]

Accuracy: the bundled Desk sample's middle frame upscaled to the size, against a copy rotated
(0.15 and 0.5 deg, plus a small shift) and exposed differently (x0.12, x0.35: darker; x3, x8:
1.6 and 3 EV brighter, so regions clip in one or two channels first). The estimate of
``app.core.align.estimate_homography`` is compared with the true transform at the frame's
corners (the farthest any pixel can be off). Time per estimate in-process.

Speed: ``fuse a b c -m mertens --align homography -o x.tif`` against ``align_image_stack -a``
followed by ``enfuse`` (Debian packages hugin-tools, enfuse; skipped with a note when absent),
whole processes, alternating, on the size's 3-frame bracket (app.bench.whole.make_bracket).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from app.bench.whole import REPO, installed_env, make_bracket, timed

ROTATIONS = ((0.15, 3.0, -2.0), (0.5, -6.0, 4.0))  # degrees, dx, dy (px)
GAINS = (0.12, 0.35, 3.0, 8.0)


def accuracy(frame: np.ndarray) -> list[dict]:
    from app.core.align import estimate_homography

    h, w = frame.shape[:2]
    pts = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], float).T
    rows = []
    for deg, dx, dy in ROTATIONS:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        m[0, 2] += dx
        m[1, 2] += dy
        truth = np.vstack([m, [0, 0, 1]])  # reference coords -> frame coords
        moved = cv2.warpPerspective(frame, truth, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT)
        for gain in GAINS:
            t0 = time.perf_counter()
            est = estimate_homography(frame, np.clip(moved * np.float32(gain), 0.0, 1.0))
            seconds = time.perf_counter() - t0
            err = None
            if est is not None:
                a, b = est @ pts, truth @ pts
                err = float(np.linalg.norm(a[:2] / a[2] - b[:2] / b[2], axis=0).max())
            rows.append(dict(deg=deg, gain=gain, corner_px=err, seconds=seconds))
    return rows


def main(argv: list[str] | None = None) -> int:
    from app.core.io import read_frame

    ap = argparse.ArgumentParser(prog="python -m app.bench.align")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
        folder = Path(tmp)
        files = make_bracket(folder, args.megapixels)
        frame = read_frame(files[1])[0]
        print(f"Homography corner error, {frame.shape[1]}x{frame.shape[0]} px "
              "(reference vs a rotated, shifted copy exposed x gain):")
        print("| rotation | x0.12 | x0.35 | x3 (1.6 EV brighter) | x8 (3 EV brighter) | s per estimate |")
        print("| --- | --- | --- | --- | --- | --- |")
        rows = accuracy(frame)
        for deg, _, _ in ROTATIONS:
            rs = [r for r in rows if r["deg"] == deg]
            cells = " | ".join("refused" if r["corner_px"] is None else f"{r['corner_px']:.2f} px"
                               for r in rs)
            print(f"| {deg} deg | {cells} | {statistics.median(r['seconds'] for r in rs):.2f} |")
        ais, enfuse = shutil.which("align_image_stack"), shutil.which("enfuse")
        env = installed_env(Path(cache))
        names = [p.name for p in files]
        ours, theirs = [], []
        for _ in range(args.pairs):
            (folder / "o.tif").unlink(missing_ok=True)
            ours.append(timed([sys.executable, str(REPO / "main.py"), "fuse", *names, "-m",
                               "mertens", "--align", "homography", "-q", "-o", "o.tif"],
                              folder, env)[0])
            if ais and enfuse:
                for p in folder.glob("a0*.tif"):
                    p.unlink()
                (folder / "e.tif").unlink(missing_ok=True)
                t1 = timed([ais, "-a", "a", "-m", *names], folder)[0]
                aligned = sorted(p.name for p in folder.glob("a0*.tif"))
                t2 = timed([enfuse, "-o", "e.tif", *aligned], folder)[0]
                theirs.append(t1 + t2)
        line = f"\n3 x {args.megapixels:g} MP, --align homography + mertens to TIFF: ours " \
               f"{statistics.median(ours):.2f} s"
        if theirs:
            ratios = [a / b for a, b in zip(ours, theirs)]
            line += (f", align_image_stack + enfuse {statistics.median(theirs):.2f} s, ratio "
                     f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        else:
            line += " (align_image_stack / enfuse not installed: no anchor)"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
