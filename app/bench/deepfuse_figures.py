"""Before/after 100 % crops of DeepFuse on a wide-gap pair it never saw:
``python -m app.bench.deepfuse_figures [--v1 runs/deepfuse-v1.safetensors]``
writes resources/readme/deepfuse-wide-gap.jpg.

The pair is chosen by a rule, not by looking: of the mef-extra source's pairs (EV from the
manifest or estimated), the widest gap on which ``select=auto`` keeps the network's own blend
(elsewhere the figure would show OpenCV's or our Mertens twice), with that source's
leave-one-source-out fold (runs/deepfuse-loso/mef-extra, trained without it). The crop (100 %) is the window where the
v2 result and OpenCV's Mertens differ most (mean absolute luma difference over the window). Columns: the two inputs, OpenCV
MergeMertens, DeepFuse v1 (the network shipped before issue 11, trained on deepfuse-iccv17 and
hdrps-ds8 only), DeepFuse v2 as users get it (select=auto; the chosen candidate in the label).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from app.bench.deepfuse import DATA, FOLDS_DIR, REPO, load_fold_model, opencv_mertens, real_pairs

CROP = (320, 240)
SOURCE = "mef-extra"


def _v1_model(path: Path):
    from safetensors.torch import load_file

    from app.models.deepfuse import build_model

    model = build_model()
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def main(argv: list[str] | None = None) -> int:
    from app.models.deepfuse import fuse_pair, fuse_pair_auto

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--v1", type=Path, default=REPO / "runs" / "deepfuse-v1.safetensors",
                    help="the v1 weights (git show b1c0346:weights/deepfuse-v1.safetensors)")
    ap.add_argument("-o", "--output", type=Path,
                    default=REPO / "resources" / "readme" / "deepfuse-wide-gap.jpg")
    args = ap.parse_args(argv)
    pairs = [p for p in real_pairs(DATA) if p.source == SOURCE and np.isfinite(p.ev_gap)]
    fold, _ = load_fold_model(FOLDS_DIR / pairs[0].fold)
    for pair in sorted(pairs, key=lambda p: -p.ev_gap):
        a8, b8 = pair.dark, pair.bright
        fa, fb = a8.astype(np.float32) / 255, b8.astype(np.float32) / 255
        v2, choice = fuse_pair_auto([fa, fb], fold)
        if choice["candidate"] == "net":
            break
    v1 = fuse_pair([fa, fb], _v1_model(args.v1))
    cvm = opencv_mertens(a8, b8)
    # crop where v2 and OpenCV differ most (16 px block means of luma)
    diff = np.abs(cv2.cvtColor(v2, cv2.COLOR_RGB2GRAY) - cv2.cvtColor(cvm, cv2.COLOR_RGB2GRAY))
    h, w = diff.shape
    cw, ch = min(CROP[0], w), min(CROP[1], h)
    score = cv2.blur(diff, (cw, ch))
    score[: ch // 2], score[h - ch // 2:], score[:, : cw // 2], score[:, w - cw // 2:] = -1, -1, -1, -1
    cy, cx = np.unravel_index(int(np.argmax(score)), score.shape)
    y0, x0 = max(0, cy - ch // 2), max(0, cx - cw // 2)
    tiles = []
    for img, text in ((fa, "under"), (fb, "over"), (cvm, "OpenCV Mertens"), (v1, "DeepFuse v1"),
                      (v2, f"DeepFuse v2 ({choice['candidate']})")):
        crop = (np.clip(img[y0:y0 + ch, x0:x0 + cw], 0, 1) * 255 + 0.5).astype(np.uint8)
        tiles.append(_label(crop, text))
        tiles.append(np.full((ch, 4, 3), 255, np.uint8))
    strip = np.concatenate(tiles[:-1], axis=1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"{pair.scene} ({pair.ev_gap:.1f} EV), crop {cw}x{ch} at ({x0}, {y0}); candidate "
          f"{choice['candidate']} {choice['mef_ssim']} -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
