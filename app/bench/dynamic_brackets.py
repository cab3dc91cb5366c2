"""Dynamic brackets with ground truth, synthesised from static HDR radiance maps.

No real hand-held bracket of a moving scene comes with its truth, so one is built: a radiance map
is the background; a few foreground objects are cut out of *other* radiance maps (textured
patches under a random star-shaped outline) and placed on it. The reference frame (the middle
one) sees the objects at their reference pose; every other frame sees them moved (position,
scale, rotation: occluding and disoccluding background) and the whole scene shaken by a small
homography (a hand-held camera). Each frame is then photographed by the virtual camera of
:mod:`app.bench.virtual_camera` (random tone curve, white balance, shot and read noise, 8-bit
JPEG), the same camera for the whole bracket.

The truth is the reference frame's scene: background unmoved, objects at the reference pose,
times the camera's white balance, in the reference frame's exposure units (1.0 = the level at
which the reference frame clips: the convention of the product's HDR merges). For exposure
fusion, whose output is a display picture, the truth is the fusion of ``static_frames``: the
same camera photographing the truth scene at the same times (nothing moved, no shake).

``moved`` marks the pixels an object covers in any frame or at its reference pose: where a
merge without deghosting shows ghosts. Radiance is linear (>= 0); frames display [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from app.bench import virtual_camera as vc

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
TEST_SOURCES = ("openexr-images",)  # evaluation-role radiance maps: the fixed-seed test split
TRAIN_SOURCES = ("hdr-extra",)  # training-role radiance maps
TEST_SEED = 7001  # the test split is drawn once from this seed; never train or tune on it


@dataclass(frozen=True)
class DynamicBracket:
    scene: str
    frames: tuple[np.ndarray, ...]  # display [0, 1] float32 HxWx3, dark to bright
    times: tuple[float, ...]  # relative exposures (the truth)
    reference: int  # index of the reference frame
    truth: np.ndarray  # linear radiance of the reference's scene, 1.0 = reference clipping
    static_frames: tuple[np.ndarray, ...]  # the truth scene photographed at ``times``
    moved: np.ndarray  # HxW bool: covered by an object in some frame or at its reference pose
    shake: tuple[np.ndarray, ...]  # 3x3 reference -> frame homographies (identity at reference)


def list_radiance_maps(sources: Sequence[str], data: Path = DATA) -> list[Path]:
    """The .exr radiance maps of ``sources`` (manifest role hdr-radiance), in manifest order."""
    return [path for _, path in vc.radiance_map_paths(data, sources)]


def _fit(radiance: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre crop to the aspect of size = (w, h), then area-resize to it."""
    h, w = radiance.shape[:2]
    tw, th = size
    if w * th > h * tw:  # too wide
        cw = int(round(h * tw / th))
        radiance = radiance[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = int(round(w * th / tw))
        radiance = radiance[(h - ch) // 2:(h - ch) // 2 + ch]
    return cv2.resize(radiance, size, interpolation=cv2.INTER_AREA)


def _outline(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random star-shaped object outline: float32 side x side coverage in [0, 1]."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(6, 12))))
    radii = rng.uniform(0.55, 1.0, len(angles)) * (side / 2 - 2)
    pts = np.stack([side / 2 + radii * np.cos(angles), side / 2 + radii * np.sin(angles)], 1)
    mask = np.zeros((side * 4, side * 4), np.uint8)  # drawn at 4x, reduced: soft edges
    cv2.fillPoly(mask, [np.round(pts * 4).astype(np.int32)], 255, cv2.LINE_AA)
    return cv2.resize(mask, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _object(rng: np.random.Generator, source: np.ndarray, side: int,
            level: float) -> tuple[np.ndarray, np.ndarray]:
    """A textured cut-out of ``source`` (radiance), its median luminance set to ``level``."""
    h, w = source.shape[:2]
    crop = int(min(h, w) * rng.uniform(0.25, 0.6))
    y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    tex = cv2.resize(source[y:y + crop, x:x + crop], (side, side), interpolation=cv2.INTER_AREA)
    lum = float(np.median(tex @ vc.REC709))
    tex = tex * np.float32(level / max(lum, 1e-6))
    return tex.astype(np.float32), _outline(rng, side)


def _pose_matrix(cx: float, cy: float, angle: float, scale: float, side: int) -> np.ndarray:
    """2x3 affine placing an object's side x side patch centred at (cx, cy)."""
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    m[:, 2] += (cx - side / 2, cy - side / 2)
    return m


def _composite(background: np.ndarray, objects, poses) -> tuple[np.ndarray, np.ndarray]:
    """Objects pasted over the background at their poses; also the union of their coverage."""
    h, w = background.shape[:2]
    out = background.copy()
    cover_all = np.zeros((h, w), np.float32)
    for (tex, alpha), m in zip(objects, poses):
        t = cv2.warpAffine(tex, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        out = out * (1 - a) + t * a
        cover_all = np.maximum(cover_all, a[..., 0])
    return out.astype(np.float32), cover_all


def _shake(rng: np.random.Generator, w: int, h: int, amount: float) -> np.ndarray:
    """A small hand-held camera motion: reference -> frame homography."""
    angle = rng.normal(0, 0.6) * amount
    tx, ty = rng.normal(0, 0.012 * w) * amount, rng.normal(0, 0.012 * h) * amount
    m = np.eye(3)
    m[:2] = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0 + rng.normal(0, 0.004) * amount)
    m[0, 2] += tx
    m[1, 2] += ty
    m[2, :2] = rng.normal(0, 2e-6, 2) * amount  # a trace of perspective
    return m


def dynamic_bracket(scene: str, background: np.ndarray, sources: Sequence[np.ndarray], *,
                    size: tuple[int, int] = (512, 384), n_frames: int = 3,
                    spacing_ev: float = 2.0, shake: float = 1.0, seed: int = 0,
                    n_objects: int | None = None) -> DynamicBracket:
    """One dynamic bracket of ``background`` (radiance) with objects cut from ``sources``.

    size: (width, height); spacing_ev: EV between neighbouring frames; shake: scale of the
    camera motion (0 = tripod); n_objects: None = 1-3 drawn from the seed.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    bg = _fit(np.maximum(background, 0.0), size)
    cam = vc.draw_camera(rng)
    lum = bg @ vc.REC709
    median = float(np.median(lum[lum > 0])) if np.any(lum > 0) else 1.0
    base = vc.MID_GREY / median
    ref = n_frames // 2
    times = tuple(float(base * 2.0 ** ((k - ref) * spacing_ev)) for k in range(n_frames))

    k_obj = int(rng.integers(1, 4)) if n_objects is None else n_objects
    objects, ref_poses, frame_poses = [], [], [[] for _ in range(n_frames)]
    for _ in range(k_obj):
        side = int(min(w, h) * rng.uniform(0.18, 0.35))
        src = sources[int(rng.integers(0, len(sources)))]
        objects.append(_object(rng, src, side, median * 2.0 ** rng.uniform(-1.5, 1.5)))
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.25, 0.75) * h
        angle, scale = rng.uniform(-20, 20), rng.uniform(0.9, 1.1)
        direction = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(0.05, 0.15) * w  # pixels per frame step
        for k in range(n_frames):
            step = k - ref
            pose = _pose_matrix(cx + np.cos(direction) * speed * step,
                                cy + np.sin(direction) * speed * step,
                                angle + rng.uniform(-8, 8) * abs(step),
                                scale * (1 + rng.uniform(-0.08, 0.08) * abs(step)), side)
            frame_poses[k].append(pose)
        ref_poses.append(frame_poses[ref][-1])

    truth_scene, ref_cover = _composite(bg, objects, ref_poses)
    frames, homographies = [], []
    moved = ref_cover > 0.02
    for k in range(n_frames):
        hm = np.eye(3) if k == ref else _shake(rng, w, h, shake)
        homographies.append(hm)
        # the frame sees the background through the moved camera, objects where they are now
        seen_bg = cv2.warpPerspective(bg, np.linalg.inv(hm), (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT)
        scene_k, cover = _composite(seen_bg, objects, frame_poses[k])
        if k != ref:  # where the objects are in frame k, mapped back to the reference's view
            back = cv2.warpPerspective(cover, hm, (w, h), flags=cv2.INTER_LINEAR)
            moved |= back > 0.02
        frames.append(vc.photograph(scene_k, times[k], cam, rng))
    static = tuple(vc.photograph(truth_scene, t, cam, rng) for t in times)
    truth = truth_scene * np.asarray(cam.wb, np.float32) * np.float32(times[ref])
    return DynamicBracket(scene, tuple(frames), times, ref, truth.astype(np.float32), static,
                          moved, tuple(homographies))


VAL_SOURCES = ("hdr-extra",)
# ESBN's validation maps (app/training/configs/esbn*.toml): training-role maps held out of its
# patches, so choices about the networks are made here and never on the test split
VAL_MAPS = ("chinese_garden", "leadenhall_market", "rainforest_trail")
VAL_SEED = 9001


def validation_split(n_per_map: int = 12, *, size: tuple[int, int] = (512, 384),
                     spacing_ev: Sequence[float] = (2.0, 3.0), shake: float = 1.0,
                     n_objects: int | None = None, data: Path = DATA
                     ) -> Iterator[DynamicBracket]:
    """As :func:`evaluation_split`, on ESBN's three validation maps (backgrounds and objects
    from them only), drawn from VAL_SEED: where a learned deghoster is chosen."""
    paths = [p for p in list_radiance_maps(VAL_SOURCES, data) if p.stem in VAL_MAPS]
    yield from _split(paths, n_per_map, VAL_SEED, size=size, spacing_ev=spacing_ev, shake=shake,
                      n_objects=n_objects, crop_poles=True)


def evaluation_split(n_per_map: int = 2, *, size: tuple[int, int] = (512, 384),
                     spacing_ev: Sequence[float] = (2.0, 3.0), shake: float = 1.0,
                     n_objects: int | None = None, data: Path = DATA
                     ) -> Iterator[DynamicBracket]:
    """The fixed test split: every evaluation-role radiance map as background, objects cut
    from the other evaluation maps, ``n_per_map`` brackets each (EV spacing alternating over
    ``spacing_ev``), drawn from TEST_SEED. Nothing here is ever used for training.
    shake = 0 and n_objects = 0 give the static counterpart (tripod, nothing moves)."""
    yield from _split(list_radiance_maps(TEST_SOURCES, data), n_per_map, TEST_SEED, size=size,
                      spacing_ev=spacing_ev, shake=shake, n_objects=n_objects)


def _split(paths: Sequence[Path], n_per_map: int, seed: int, *, size: tuple[int, int],
           spacing_ev: Sequence[float], shake: float, n_objects: int | None,
           crop_poles: bool = False) -> Iterator[DynamicBracket]:
    """``n_per_map`` brackets on every map of ``paths`` as background, objects cut from the
    others, EV spacing alternating over ``spacing_ev``, bracket k drawn from ``seed + k``."""
    maps = [vc.load_radiance(p, long_side=max(size) * 2, crop_poles=crop_poles) for p in paths]
    k = 0
    for i, (path, bg) in enumerate(zip(paths, maps)):
        others = [m for j, m in enumerate(maps) if j != i]
        for r in range(n_per_map):
            ev = spacing_ev[k % len(spacing_ev)]
            yield dynamic_bracket(f"{path.stem} #{r + 1}", bg, others, size=size,
                                  spacing_ev=ev, shake=shake, seed=seed + k,
                                  n_objects=n_objects)
            k += 1
