"""Two-exposure pairs with a reference, for training and measuring the RL fusion agent.

* Real stacks (manifest role static-mef, 3 or more exposures): the pair is the darkest and the
  brightest frame, the reference the product's Mertens fusion (registry defaults) of the whole
  stack: the whole stack holds what a middle frame would add.
* Virtual-camera stacks from HDR radiance maps (``app.bench.virtual_camera``: a random camera
  curve, white balance, noise, JPEG): a dense bracket of 1 EV steps; the pair is its two ends
  (gaps of 4, 6 or 8 EV), the reference the Mertens fusion of the whole dense bracket.

Images are display RGB float32 [0, 1], resized so the long side is at most ``long_side`` (the
aspect kept), or squashed to a square when ``square`` is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from app.bench import virtual_camera as vc
from app.core.errors import InputError
from app.core.io.exposure import estimate_relative_exposures
from app.core.merge import fuse_mertens
from app.models.rl_agent import FUSION_PARAMS

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
TRAIN_SOURCES = ("deepfuse-iccv17", "hdrps-ds8")
EVAL_SOURCES = ("waterloo-mef", "mef-extra", "mefb", "colour-hdri-frobisher")
TRAIN_RADIANCE = ("hdr-extra",)
EVAL_RADIANCE = ("openexr-images",)


@dataclass(frozen=True)
class Pair:
    source: str
    scene: str
    under: np.ndarray
    over: np.ndarray
    reference: np.ndarray
    ev_gap: float  # EV between the two frames (EXIF, the virtual camera's truth, or luma-estimated)
    frames: tuple[np.ndarray, ...] = ()  # the whole stack, dark to bright (what made the reference)


def read_rgb(path: Path) -> np.ndarray:
    """Display RGB float32 [0, 1] of an 8-bit image file."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read")
    return img[..., ::-1].astype(np.float32) * np.float32(1.0 / 255.0)


def _fit(img: np.ndarray, long_side: int | None, square: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if square:
        size = (square, square)
    elif long_side and max(h, w) > long_side:
        s = long_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
    else:
        return np.ascontiguousarray(img)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _ev_gap(scene: dict, names: Sequence[str]) -> float:
    times = {Path(f["path"]).name: f.get("exposure_time") for f in scene["files"]}
    a, b = times.get(names[0]), times.get(names[-1])
    if a and b and a > 0 and b > 0:
        return float(abs(np.log2(b / a)))
    return float("nan")


def real_pairs(sources: Sequence[str], usage: str, *, long_side: int | None = 512,
               square: int | None = None, data: Path = DATA) -> Iterator[Pair]:
    man = json.loads((data / "manifest.json").read_text())
    for s in man["scenes"]:
        if s["source"] not in sources or s.get("usage") != usage or s.get("role") != "static-mef":
            continue
        if len(s["files"]) < 3:
            continue
        by_name = {Path(f["path"]).name: f["path"] for f in s["files"]}
        order = s.get("order_dark_to_bright_by_mean_luma") or sorted(by_name)
        frames = [_fit(read_rgb(data / by_name[n]), long_side, square) for n in order]
        if any(f.shape != frames[0].shape for f in frames):
            continue
        ref = fuse_mertens(frames, **FUSION_PARAMS)
        gap = _ev_gap(s, order)
        if not np.isfinite(gap):  # no EXIF: chained estimate over the whole stack
            try:
                rel = estimate_relative_exposures(frames)
                gap = float(np.log2(max(rel) / min(rel)))
            except InputError:
                gap = float("nan")
        yield Pair(s["source"], s["id"], frames[0], frames[-1], ref, gap, tuple(frames))


def radiance_pairs(sources: Sequence[str], *, gaps: Sequence[int] = (4, 6, 8), seed: int = 0,
                   long_side: int | None = 512, square: int | None = None,
                   data: Path = DATA) -> Iterator[Pair]:
    k = 0
    side = max(long_side or 0, square or 0, 256)
    for source, path, radiance in vc.radiance_maps(data, sources, side):
        for gap in gaps:
            b = vc.bracket(path.stem, radiance, gap + 1, 1.0, seed * 100003 + k)
            k += 1
            frames = [_fit(fr, long_side, square) for fr in b.frames]
            ref = fuse_mertens(frames, **FUSION_PARAMS)
            yield Pair(f"{source} (virtual)", f"{path.stem} {gap} EV", frames[0],
                       frames[-1], ref, float(gap), tuple(frames))


def saturation_jittered(pair: Pair, factor: float) -> Pair:
    """The same scene with every frame's chroma scaled by ``factor`` (BT.601, luma kept, clipped)
    and the reference fused again from the changed stack: the relation between the pair and
    its reference stays that of a real bracket, only the scene's colourfulness moves."""
    from app.models.rl_agent import saturate

    frames = tuple(saturate(f, factor) for f in pair.frames)
    ref = fuse_mertens(list(frames), **FUSION_PARAMS)
    return Pair(pair.source, f"{pair.scene} (saturation x{factor:.2f})", frames[0], frames[-1],
                ref, pair.ev_gap, frames)
