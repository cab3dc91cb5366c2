"""The dynamic-bracket generator: truth aligned with the reference frame, moved-object masks
that cover exactly what moved, reproducible, test split from evaluation material only."""

from __future__ import annotations

import json

import cv2
import numpy as np

from app.bench import dynamic_brackets as db
from tests.core.align.textures import textured_radiance

SIZE = (320, 240)


def _bracket(seed=5, **kw):
    background = textured_radiance(11, 300, 400)
    sources = [textured_radiance(12, 200, 200) * np.float32([0.3, 1.0, 2.0])]
    return db.dynamic_bracket("t", background, sources, size=SIZE, seed=seed, **kw)


def test_truth_is_the_reference_frames_scene():
    b = _bracket()
    ref = b.reference
    assert ref == 1 and np.array_equal(b.shake[ref], np.eye(3))
    # the reference frame and the static photo of the truth differ only by noise and JPEG
    assert float(np.abs(b.frames[ref] - b.static_frames[ref]).mean()) < 0.02
    # the truth is in the reference's exposure units: 1.0 = where the reference clips
    over, under = b.truth > 1.2, b.truth < 0.05  # per channel (white balance differs)
    assert over.any() and under.any()
    assert float(b.frames[ref][over].mean()) > 0.97 and float(b.frames[ref][under].mean()) < 0.4


def test_moved_mask_covers_what_moved_and_nothing_else():
    b = _bracket(shake=0.0, n_objects=2)
    assert 0.02 < float(b.moved.mean()) < 0.6
    for k in (0, 2):
        diff = np.abs(b.frames[k] - b.static_frames[k]).mean(axis=2)
        blurred = cv2.blur(diff, (9, 9))
        assert float(blurred[b.moved].mean()) > 4 * float(blurred[~b.moved].mean())
        still = cv2.erode((~b.moved).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        assert float(diff[still].mean()) < 0.02


def test_shake_is_undone_by_its_homography():
    b = _bracket(n_objects=0)
    h, w = b.frames[0].shape[:2]
    k = 2
    back = cv2.warpPerspective(b.frames[k], b.shake[k], (w, h), flags=cv2.INTER_LINEAR)
    inner = (slice(30, h - 30), slice(30, w - 30))
    assert not np.array_equal(b.shake[k], np.eye(3))
    raw = float(np.abs(b.frames[k] - b.static_frames[k])[inner].mean())
    undone = float(np.abs(back - b.static_frames[k])[inner].mean())
    assert undone < 0.03 and raw > 2 * undone


def test_reproducible_and_seed_dependent():
    a, b, c = _bracket(seed=3), _bracket(seed=3), _bracket(seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert not np.array_equal(a.moved, c.moved)


def test_test_split_comes_from_evaluation_maps_only():
    man = json.loads((db.DATA / "manifest.json").read_text())
    usage = {s["source"]: s.get("usage") for s in man["scenes"] if s.get("role") == "hdr-radiance"}
    assert all(usage[s] == "eval" for s in db.TEST_SOURCES)
    assert all(usage[s] == "train" for s in db.TRAIN_SOURCES)
    assert not set(db.TEST_SOURCES) & set(db.TRAIN_SOURCES)
    first = next(db.evaluation_split(1, size=(160, 120)))
    again = next(db.evaluation_split(1, size=(160, 120)))
    assert first.frames[0].shape == (120, 160, 3)
    assert np.array_equal(first.truth, again.truth)


def test_validation_split_comes_from_esbns_held_out_training_maps_only():
    import tomllib
    from pathlib import Path

    # ESBN's training configs hold the same maps out of its patches
    configs = Path(db.__file__).resolve().parents[1] / "training" / "configs"
    for name in ("esbn_mu.toml", "esbn_focus.toml"):
        cfg = tomllib.loads((configs / name).read_text())
        assert tuple(cfg["data"]["val_maps"]) == db.VAL_MAPS
        assert tuple(cfg["data"]["sources"]) == db.VAL_SOURCES
    assert not set(db.VAL_SOURCES) & set(db.TEST_SOURCES)
    brackets = list(db.validation_split(2, size=(160, 120)))
    assert len(brackets) == 2 * len(db.VAL_MAPS)
    assert {b.scene.split(" #")[0] for b in brackets} == set(db.VAL_MAPS)
    again = next(db.validation_split(2, size=(160, 120)))
    assert np.array_equal(brackets[0].truth, again.truth)
