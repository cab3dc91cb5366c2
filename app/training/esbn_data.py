"""Training data for ESBN: dynamic brackets synthesised from the training radiance maps.

Every sample comes from :func:`app.bench.dynamic_brackets.dynamic_bracket` on a training-role map
(hdr-extra; the evaluation maps of openexr-images are never read here): background from one
map, moving cut-outs from the others, shake, a random virtual camera, 3 frames 1-3 EV apart.
A pool of brackets is made once per run (seeded) and patches are cut from it with exact
rot90 / flip augmentation (methods.md 4.6 notes the released code's affine rotation shifts
patches by a pixel; exact rotations do not).

Per patch (all float32, channels first):
* ``ldr``: (3, 3, P, P) low, reference, high display frames in [-1, 1];
* ``times``: (3,) exposure times relative to the low frame (1, 2^a, 2^(a+b));
* ``aligned``: (2, 3, P, P) the alignment targets (the truth scene photographed by the same
  camera at the low and high times: static, no shake), [-1, 1];
* ``hdr``: (3, P, P) the truth radiance in units of the low frame's clipping level, in [0, 1];
* ``table``: (3, 256) the bracket's camera response as the product recovers it from the three
  frames and their times (:func:`app.models.esbn.response_table`; networks with
  ``linearise="response"`` read it, others ignore it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from app.bench import dynamic_brackets as db
from app.bench import virtual_camera as vc
from app.models.esbn import response_table


@dataclass(frozen=True)
class Sample:
    ldr: np.ndarray  # (3, H, W, 3) uint8 low, reference, high
    aligned: np.ndarray  # (2, H, W, 3) uint8 targets for low and high
    hdr: np.ndarray  # (H, W, 3) float16, units of the low frame's clipping, clipped to [0, 1]
    times: np.ndarray  # (3,) float32 relative to low
    table: np.ndarray  # (3, 256) float32 response table (code -> linear, 1 = low's clipping)


def _codes(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def make_pool(paths: Sequence[Path], n: int, *, seed: int, size: tuple[int, int],
              ev_choices: Sequence[float] = (1.0, 2.0, 3.0), long_side: int = 512,
              object_paths: Sequence[Path] | None = None, tables: bool = True) -> list[Sample]:
    """``n`` brackets with backgrounds drawn from ``paths`` (objects from ``object_paths``,
    default the same maps), each from its own seed (seed * 100003 + i). ``tables``: recover
    each bracket's response table (~35 ms a bracket; zeros when False)."""
    maps = [vc.load_radiance(p, long_side=long_side, crop_poles=True) for p in paths]
    objs = maps if object_paths is None else [
        vc.load_radiance(p, long_side=long_side, crop_poles=True) for p in object_paths]
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n):
        j = int(rng.integers(0, len(maps)))
        others = [m for m in objs if m is not maps[j]] or objs
        b = db.dynamic_bracket(f"{paths[j].stem}", maps[j], others, size=size,
                               spacing_ev=float(rng.choice(ev_choices)),
                               shake=float(rng.uniform(0.0, 1.5)), seed=seed * 100003 + i)
        t = np.asarray(b.times, np.float64) / b.times[0]
        hdr = np.clip(b.truth * np.float32(b.times[0] / b.times[b.reference]), 0.0, 1.0)
        codes = np.stack([_codes(f) for f in b.frames])
        table = response_table(list(codes), b.times)[0] if tables else np.zeros((3, 256),
                                                                                np.float32)
        pool.append(Sample(codes,
                           np.stack([_codes(b.static_frames[0]), _codes(b.static_frames[2])]),
                           hdr.astype(np.float16), t.astype(np.float32), table))
    return pool


class PatchSampler:
    """Random patches of a pool with exact rot90 / flip augmentation."""

    def __init__(self, pool: Sequence[Sample], patch: int, seed: int) -> None:
        if patch % 8:
            raise ValueError("the patch size must be a multiple of 8")
        self.pool, self.patch = list(pool), patch
        self.rng = np.random.default_rng(seed)

    def _one(self, s: Sample) -> tuple[np.ndarray, ...]:
        h, w = s.hdr.shape[:2]
        p = self.patch
        y, x = int(self.rng.integers(0, h - p + 1)), int(self.rng.integers(0, w - p + 1))
        k, flip = int(self.rng.integers(0, 4)), bool(self.rng.integers(0, 2))

        def aug(a: np.ndarray) -> np.ndarray:  # (..., H, W, C) crop -> augmented
            a = a[..., y:y + p, x:x + p, :]
            a = np.rot90(a, k, axes=(-3, -2))
            return a[..., ::-1, :] if flip else a

        ldr = aug(s.ldr).astype(np.float32) / 127.5 - 1
        tgt = aug(s.aligned).astype(np.float32) / 127.5 - 1
        hdr = aug(s.hdr[None])[0].astype(np.float32)
        return (np.ascontiguousarray(ldr.transpose(0, 3, 1, 2)),
                np.ascontiguousarray(tgt.transpose(0, 3, 1, 2)),
                np.ascontiguousarray(hdr.transpose(2, 0, 1)), s.times, s.table)

    def batch(self, n: int) -> tuple[np.ndarray, ...]:
        """(ldr (n,3,3,P,P), aligned (n,2,3,P,P), hdr (n,3,P,P), times (n,3), tables
        (n,3,256))."""
        items = [self._one(self.pool[int(self.rng.integers(0, len(self.pool)))])
                 for _ in range(n)]
        return tuple(np.stack(z) for z in zip(*items))  # type: ignore[return-value]
