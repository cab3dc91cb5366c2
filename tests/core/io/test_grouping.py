"""Bracket grouping (app.core.io.grouping): synthetic EXIF sequences through the public
``plan_groups`` (with a scanner that makes the Shot records), real files written here, and the
shared data folders flattened into one (when present)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.io.exif import ExifData, read_exif
from app.core.io.grouping import Shot, plan_groups, scan, view_similarity
from tests.core.io.helpers import rgb8

RNG = np.random.default_rng(7)


def _scene(seed: int) -> np.ndarray:
    """A textured grey thumbnail of one view (display [0, 1])."""
    rng = np.random.default_rng(seed)
    base = rng.random((12, 16)).astype(np.float32)
    import cv2

    return cv2.resize(base, (96, 72), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 0.6 + 0.2


def _frame(view: np.ndarray, ev: float) -> np.ndarray:
    """The view exposed ``ev`` stops off (display gamma 2.2, clipped)."""
    return np.clip((view ** 2.2) * 2.0 ** ev, 0, 1) ** (1 / 2.2)


class Shoot:
    """A synthetic shoot: shot(name, ev, t, scene=..., camera=...) appends a file's Shot."""

    def __init__(self) -> None:
        self.shots: dict[str, Shot] = {}

    def shot(self, ev: float, t: float | None, scene: int = 0, *, camera: str = "Cam A",
             size=(6000, 4000), exif_times: bool = True, bias: float | None = None) -> str:
        name = f"IMG_{len(self.shots) + 1:04d}.JPG"
        exposure = 2.0 ** ev / 100 if exif_times else None
        exif = ExifData(exposure_time=exposure, iso=100, f_number=8.0, captured=t,
                        bias=bias, camera=camera)
        thumb = _frame(_scene(scene), ev).astype(np.float32)
        self.shots[name] = Shot(name, exif, size, thumb, math.log2(float((thumb ** 2.2).mean())))
        return name

    def plan(self, **kw):
        return plan_groups(list(self.shots), scanner=self.shots.__getitem__, **kw)


def _files(plan) -> list[list[str]]:
    return [list(g.files) for g in plan.groups]


def test_back_to_back_brackets_in_camera_order_split_on_the_repeat():
    s = Shoot()
    expected = []
    t = 0.0
    for bracket in range(4):  # 0/-/+ order, next bracket fired 2 s later
        names = [s.shot(ev, t + k * 0.5) for k, ev in enumerate((0, -2, 2))]
        expected.append(names)
        t += 3.5
    plan = s.plan()
    assert _files(plan) == expected
    assert plan.groups[0].ev == (2.0, 0.0, 4.0)
    assert plan.groups[0].ev_source == "exif"


def test_single_shot_before_a_bracket_stays_single():
    s = Shoot()
    single = s.shot(0, 0.0)
    bracket = [s.shot(ev, 8 + k * 0.4) for k, ev in enumerate((-2, 0, 2))]
    bracket2 = [s.shot(ev, 12 + k * 0.4) for k, ev in enumerate((-2, 0, 2))]
    plan = s.plan()
    assert _files(plan) == [[single], bracket, bracket2]
    assert plan.groups[0].is_single and len(plan.brackets) == 2


def test_single_shot_after_a_bracket_with_an_exposure_inside_it_stays_single():
    """Fired 20 s after a bracket, of the same view, at an exposure the bracket lacks: the pause
    says it is not part of the bracket (every exposure would still be distinct)."""
    s = Shoot()
    first = [s.shot(ev, k * 0.5) for k, ev in enumerate((-2, 0, 2))]
    second = [s.shot(ev, 30 + k * 0.5) for k, ev in enumerate((-2, 0, 2, 4))]
    single = s.shot(1, 52)
    assert _files(s.plan()) == [first, second, [single]]


def test_irregular_sizes_and_interleaved_scenes():
    """A 3-frame bracket, a 5-frame one of another view, a stray shot of a third view, then a
    3-frame bracket of the first view again: nothing merged across views."""
    s = Shoot()
    a = [s.shot(ev, 0 + k, scene=1) for k, ev in enumerate((-1, 0, 1))]
    b = [s.shot(ev, 10 + k, scene=2) for k, ev in enumerate((-2, -1, 0, 1, 2))]
    stray = s.shot(0, 20, scene=3)
    c = [s.shot(ev, 25 + k, scene=1) for k, ev in enumerate((-1, 0, 1))]
    assert _files(s.plan()) == [a, b, [stray], c]


def test_auto_exposure_shift_between_brackets_of_one_view():
    """Base exposure moved by 1/3 EV between two back-to-back brackets (no exposure repeats):
    each bracket runs dark to bright, the two together would not; they split."""
    s = Shoot()
    a = [s.shot(ev, k * 0.5) for k, ev in enumerate((-2, 0, 2))]
    b = [s.shot(ev + 1 / 3, 2 + k * 0.5) for k, ev in enumerate((-2, 0, 2))]
    assert _files(s.plan()) == [a, b]


def test_a_long_pause_splits_and_a_camera_change_splits():
    s = Shoot()
    a = s.shot(-1, 0), s.shot(1, 1)
    b = s.shot(-1, 200), s.shot(1, 201)  # 199 s later: beyond the 60 s default
    c = s.shot(-1, 202, camera="Cam B"), s.shot(1, 203, camera="Cam B")
    plan = s.plan()
    assert _files(plan) == [list(a), list(b), list(c)]
    assert _files(s.plan(max_gap_s=1000)) == [list(a), list(b), list(c)]  # exposures repeat


def test_without_exif_the_view_and_measured_brightness_decide():
    s = Shoot()
    a = [s.shot(ev, None, scene=4, exif_times=False) for ev in (-2, 0, 2)]
    b = [s.shot(ev, None, scene=5, exif_times=False) for ev in (-2, 0, 2)]
    plan = s.plan()
    assert _files(plan) == [a, b]
    assert plan.groups[0].ev_source == "measured"
    assert plan.groups[0].ev[2] > plan.groups[0].ev[1] > plan.groups[0].ev[0] == 0


def test_group_size_fallback_takes_n_files_in_name_order():
    s = Shoot()
    names = [s.shot(0, None, scene=k, exif_times=False) for k in range(5)]
    assert _files(s.plan(group_size=2)) == [names[:2], names[2:4], names[4:]]


def test_view_similarity_is_exposure_invariant_and_tells_scenes_apart():
    view, other = _scene(1), _scene(2)
    assert view_similarity(_frame(view, -2), _frame(view, 2)) > 0.8
    assert abs(view_similarity(_frame(view, 0), _frame(other, 0))) < 0.3
    assert view_similarity(np.zeros((72, 96), np.float32), _frame(view, 0)) is None


def _save_jpeg(path: Path, img: np.ndarray, *, exposure: float, captured: str) -> str:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "TestCam", "One"
    sub = exif.get_ifd(0x8769)
    from PIL.TiffImagePlugin import IFDRational

    sub[0x829A] = IFDRational(*(exposure.as_integer_ratio()))
    sub[0x9003] = captured
    Image.fromarray(img).save(path, "JPEG", quality=95, exif=exif.tobytes())
    return str(path)


def test_real_jpeg_files_with_exif_group_by_capture_time_and_pattern(tmp_path):
    base = rgb8(120, 160, seed=3).astype(np.float32) / 255
    files = []
    for b in range(2):
        for k, ev in enumerate((0, -2, 2)):
            img = (np.clip(base ** 2.2 * 2.0 ** ev, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
            files.append(_save_jpeg(tmp_path / f"DSC_{10 + 3 * b + k}.jpg", img,
                                    exposure=2.0 ** ev / 64, captured=f"2026:05:01 10:00:{10 * b + k:02d}"))
    (tmp_path / "notes.jpg").write_text("not an image")
    info = read_exif(files[0])
    assert info.camera == "TestCam One" and info.captured is not None
    plan = plan_groups(files + [str(tmp_path / "notes.jpg")])
    assert [list(g.files) for g in plan.groups] == [files[:3], files[3:]]
    assert plan.groups[0].ev == (2.0, 0.0, 4.0)
    assert str(tmp_path / "notes.jpg") in plan.left_out
    assert "not an image" in plan.left_out[str(tmp_path / "notes.jpg")]
    assert scan(files[0]).size == (160, 120)


def test_shared_scenes_flattened_into_one_folder_are_found(shared_data, tmp_path):
    """Six real stacks of three sources (with and without EXIF) in one folder: every stack
    found, none merged."""
    manifest = json.loads((shared_data / "manifest.json").read_text())
    wanted = {"mef-extra/Villa", "mef-extra/Land", "mefb/town", "waterloo-mef/Arno",
              "waterloo-mef/Studio", "colour-hdri-frobisher/frobisher_001"}
    truth = {}
    for scene in manifest["scenes"]:
        if scene["id"] in wanted:
            for f in scene["files"]:
                if f.get("width"):
                    link = tmp_path / f"{scene['id'].replace('/', '_')}_{Path(f['path']).name}"
                    os.symlink(shared_data / f["path"], link)
                    truth[str(link)] = scene["id"]
    assert len(set(truth.values())) == len(wanted)
    plan = plan_groups(list(truth))
    found = sorted(sorted(g.files) for g in plan.groups)
    expected = sorted(sorted(p for p in truth if truth[p] == sid) for sid in wanted)
    assert found == expected
