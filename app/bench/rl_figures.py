"""Before/after figure for the README: one evaluation pair through the two-exposure methods.

    python -m app.bench.rl_figures [--scene mef-extra/TableLamp] [--out resources/readme/rl-fusion.jpg]

Top row: the under- and over-exposed frame, and what the whole stack gives (the reference).
Bottom row: our Mertens of the pair, the three-frame fusion with the IMF middle frame (no agent),
and rl_fusion with the agent's edits. Every tile is a 100 % crop (no resampling) of the
full-size images, labelled; the scene is from an evaluation set (never trained on).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from app.models.classical import mertens_fusion_defaults
from app.bench.rl_pairs import DATA, REPO, read_rgb
from app.core.merge import fuse_mertens
from app.core.merge.imf import virtual_middle
from app.core.progress import TaskContext
from app.core.types import ExposureStack
from app.models import rl_agent as ra
from app.models.runner import run


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = (np.clip(tile, 0, 1) * 255).astype(np.uint8)[..., ::-1].copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 24), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def figure(scene_id: str, crop: tuple[int, int, int, int] | None, data: Path = DATA) -> np.ndarray:
    man = json.loads((data / "manifest.json").read_text())
    scene = next(s for s in man["scenes"] if s["id"] == scene_id)
    by_name = {Path(f["path"]).name: f["path"] for f in scene["files"]}
    order = scene["order_dark_to_bright_by_mean_luma"]
    frames = [read_rgb(data / by_name[n]) for n in order]
    under, over = frames[0], frames[-1]
    reference = fuse_mertens(frames, **ra.FUSION_PARAMS)
    pair_fused = fuse_mertens([under, over], **mertens_fusion_defaults())
    no_agent = ra.fuse_three(under, virtual_middle(under, over), over)
    res = run(ExposureStack(frames=(under, over)), "rl_fusion", {}, TaskContext())
    h, w = under.shape[:2]
    y, x, ch, cw = crop or (h // 4, w // 4, min(h // 2, 360), min(w // 2, 480))
    ref_lab = ra.lab(reference)
    tiles = [
        (under, "under-exposed"), (over, "over-exposed"),
        (reference, f"whole stack ({len(frames)} frames)"),
        (pair_fused, f"mertens, pair  dE {ra.delta_e(pair_fused, ref_lab):.1f}"),
        (no_agent, f"IMF middle, no agent  dE {ra.delta_e(no_agent, ref_lab):.1f}"),
        (res.image, f"rl_fusion, {res.notes['agent_steps']} edits  dE "
                    f"{ra.delta_e(res.image, ref_lab):.1f}"),
    ]
    cut = [_label(t[y:y + ch, x:x + cw], text) for t, text in tiles]
    return np.vstack([np.hstack(cut[:3]), np.hstack(cut[3:])])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scene", default="mef-extra/TableLamp")
    ap.add_argument("--crop", type=int, nargs=4, metavar=("Y", "X", "H", "W"))
    ap.add_argument("--out", type=Path, default=REPO / "resources/readme/rl-fusion.jpg")
    args = ap.parse_args(argv)
    img = figure(args.scene, tuple(args.crop) if args.crop else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), img, [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
