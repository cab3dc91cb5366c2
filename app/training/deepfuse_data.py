"""Training data for DeepFuse: exposure pairs of the ``train`` stacks of ../shared/data.

Scenes: manifest role ``static-mef`` of the sources the config names. The v1 config took usage
``train`` only (deepfuse-iccv17, hdrps-ds8) and left out scenes the MEFB benchmark also uses; the
leave-one-source-out protocol (issue 11, ``app.bench.deepfuse``) trains on every source but the
held-out one (``hold_out``), whatever its usage. Virtual-camera stacks
(:func:`virtual_stacks`) photograph the HDR radiance maps of the config's ``radiance`` sources
through a random camera (curves, white balance, noise, JPEG) as dense 1 EV brackets, so pairs up
to 8 EV apart are seen. Each stack is held as luma planes (BT.601, display-referred [0, 1], the
same conversion as inference), ordered dark to bright.

Samples: a random scene, a pair of its exposures (the darkest and brightest with probability
``p_extremes``, else any two different ones), a random crop taken at a random scale (resized with
INTER_AREA to ``crop`` px), random flips / transpose and a random input order. Seeded numpy RNG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from app.models.deepfuse import rgb_to_ycbcr


def read_luma(path: Path) -> np.ndarray:
    """Luma (float32 HxW, [0, 1]) of an 8/16-bit image file."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read the image")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    scale = 1.0 / (65535.0 if img.dtype == np.uint16 else 255.0)
    rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(scale)
    return rgb_to_ycbcr(rgb)[0]


def train_scenes(data_root: Path, sources: Sequence[str], *, any_usage: bool = False,
                 hold_out: Sequence[str] = ()) -> list[dict]:
    """Manifest static-mef scenes of ``sources`` minus those of ``hold_out``.

    any_usage False (the v1 protocol): usage ``train`` only, and scenes the MEFB benchmark uses are
    left out. True (leave-one-source-out): every usage; only the held-out sources are left out."""
    man = json.loads((data_root / "manifest.json").read_text())
    bench_dirs = set()
    if not any_usage:
        for row in man.get("mefb_benchmark", []):
            for key in ("A", "B"):
                bench_dirs.add(str(Path(row[key]).parent))
    out = []
    for s in man["scenes"]:
        if s.get("role") != "static-mef" or s["source"] not in sources or s["source"] in hold_out:
            continue
        if not any_usage and s.get("usage") != "train":
            continue
        if s["id"] in bench_dirs:
            continue
        out.append(s)
    return out


def virtual_stacks(data_root: Path, sources: Sequence[str], *, seeds: Sequence[int] = (0,),
                   frames: int = 9, long_side: int = 768) -> list[list[np.ndarray]]:
    """Luma stacks of virtual-camera brackets (``frames`` exposures 1 EV apart) of every HDR
    radiance map of ``sources``, one per seed (a new camera and noise each)."""
    from app.bench import virtual_camera as vc

    stacks, k = [], 0
    for _source, path, radiance in vc.radiance_maps(data_root, sources, long_side):
        for seed in seeds:
            b = vc.bracket(path.stem, radiance, frames, 1.0, 7919 * seed + k)
            k += 1
            stacks.append([rgb_to_ycbcr(fr)[0] for fr in b.frames])
    return stacks


def load_stacks(data_root: Path, scenes: Sequence[dict]) -> list[list[np.ndarray]]:
    """Per scene the luma planes ordered dark to bright (order_dark_to_bright_by_mean_luma)."""
    stacks = []
    for s in scenes:
        by_name = {Path(f["path"]).name: f["path"] for f in s["files"]}
        order = s.get("order_dark_to_bright_by_mean_luma") or sorted(by_name)
        stacks.append([read_luma(data_root / by_name[name]) for name in order])
    return stacks


class PairSampler:
    """Random aligned crops of exposure pairs. ``batch()`` -> float32 (B, 2, crop, crop)."""

    def __init__(
        self, stacks: list[list[np.ndarray]], *, crop: int = 256, p_extremes: float = 0.5,
        scale_range: tuple[float, float] = (0.6, 1.0), seed: int = 0,
    ) -> None:
        if crop % 8:
            raise ValueError("crop must be a multiple of 8")
        self.stacks = [s for s in stacks if len(s) >= 2]
        self.crop = crop
        self.p_extremes = p_extremes
        self.scale_range = scale_range
        self.rng = np.random.default_rng(seed)

    def _one(self) -> np.ndarray:
        rng = self.rng
        stack = self.stacks[rng.integers(len(self.stacks))]
        n = len(stack)
        if n == 2 or rng.random() < self.p_extremes:
            i, j = 0, n - 1
        else:
            i, j = sorted(rng.choice(n, size=2, replace=False))
        h, w = stack[i].shape
        scale = rng.uniform(*self.scale_range)
        src = min(int(round(self.crop / scale)), h, w)  # source window, resized down to crop
        y0 = rng.integers(0, h - src + 1)
        x0 = rng.integers(0, w - src + 1)
        pair = []
        for k in (i, j):
            patch = stack[k][y0 : y0 + src, x0 : x0 + src]
            if src != self.crop:
                patch = cv2.resize(patch, (self.crop, self.crop), interpolation=cv2.INTER_AREA)
            pair.append(patch)
        out = np.stack(pair)
        if rng.random() < 0.5:
            out = out[:, :, ::-1]
        if rng.random() < 0.5:
            out = out[:, ::-1, :]
        if rng.random() < 0.5:
            out = out.transpose(0, 2, 1)
        if rng.random() < 0.5:
            out = out[::-1]
        return np.ascontiguousarray(out, dtype=np.float32)

    def batch(self, size: int) -> np.ndarray:
        return np.stack([self._one() for _ in range(size)])
