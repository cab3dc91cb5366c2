"""Qt-free helpers behind the window: exposure entry, file discovery, stack building, proxies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.tonemap import render, to_uint
from app.core.types import ResultKind, ToneParams
from app.ui import session


@pytest.mark.parametrize(
    "text, value",
    [("1/60", 1 / 60), ("0.5", 0.5), ("2 s", 2.0), ("+1 EV", 2.0), ("-2ev", 0.25), ("", None)],
)
def test_parse_exposure(text, value):
    got = session.parse_exposure(text)
    assert got == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize("text", ["banana", "0", "-1/60", "1/0"])
def test_parse_exposure_rejects(text):
    with pytest.raises(InputError, match="exposure"):
        session.parse_exposure(text)


def test_format_exposure():
    assert session.format_exposure(1 / 250) == "1/250 s"
    assert session.format_exposure(2.0) == "2 s"
    assert session.format_exposure(None) == ""


def test_expand_paths_filters_folders(tmp_path, synthetic_pngs):
    folder = synthetic_pngs[0].parent
    (folder / "notes.txt").write_text("not an image")
    got = session.expand_paths([folder, tmp_path / "single.jpg"])
    assert got[:-1] == [str(p) for p in sorted(synthetic_pngs)]
    assert got[-1].endswith("single.jpg")  # files are kept as given (the reader reports them)


def test_load_files_keeps_good_ones(tmp_path, synthetic_pngs):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    report = session.load_files([str(p) for p in synthetic_pngs] + [str(bad)], TaskContext())
    assert len(report.frames) == len(synthetic_pngs)
    assert [p for p, _ in report.errors] == [str(bad)]
    assert "bad.png" in report.errors[0][1]
    f = report.frames[0]
    assert f.thumb.dtype == np.uint8 and max(f.thumb.shape[:2]) <= session.THUMB_LONG_SIDE
    assert f.proxy.dtype == np.uint8 and f.proxy.shape == f.image.shape  # small image: no shrink


def test_sort_and_build_stack(synthetic_pngs):
    report = session.load_files([str(p) for p in reversed(synthetic_pngs)], TaskContext())
    frames = session.sort_dark_to_bright(report.frames)
    assert [f.mean_luma for f in frames] == sorted(f.mean_luma for f in frames)
    stack = session.build_stack(frames)
    assert stack.n == len(frames) and stack.exposures is None  # PNGs: no EXIF times
    for f, t in zip(frames, (1 / 64, 1 / 16, 1 / 4, 1.0)):
        f.user_exposure = t
    stack = session.build_stack(frames)
    assert stack.exposures == pytest.approx((1 / 64, 1 / 16, 1 / 4, 1.0))
    with pytest.raises(InputError, match="no exposures"):
        session.build_stack([])
    mixed = [frames[0], replace(frames[1], info=replace(frames[1].info, linear=True))]
    with pytest.raises(InputError, match="mixes"):
        session.build_stack(mixed)


def test_merge_job_proxies_and_histogram(synthetic_pngs):
    report = session.load_files([str(p) for p in synthetic_pngs], TaskContext())
    stack = session.build_stack(session.sort_dark_to_bright(report.frames))
    out = session.merge_job(stack, "mertens", {}, "none")(TaskContext())
    assert out.result.kind == ResultKind.LDR_FUSED
    assert out.proxy.shape == out.result.image.shape  # 128 px: already below the proxy size
    assert max(out.small.shape[:2]) <= session.HIST_LONG_SIDE
    hist = {}
    for ev in (0.0, 2.0):
        tone = ToneParams(exposure_ev=ev)
        exported = to_uint(render(out.proxy, out.result.kind, tone), 8)
        general = session.render_u8_general(out.proxy, out.result.kind, tone)
        np.testing.assert_array_equal(general, exported)
        rgb = session.render_u8(out.proxy, out.result.kind, tone)  # the compiled tick, when ready
        assert np.abs(rgb.astype(np.int16) - exported).max() <= 1
        hist[ev] = session.histogram(out.small, out.result.kind, tone, rgb)
    (_e0, counts0, _l0, high0), (_e1, counts1, _l1, high1) = hist[0.0], hist[2.0]
    assert counts0.sum() == counts1.sum() > 0
    assert not np.array_equal(counts0, counts1) and high1 > high0  # brighter: more clipping


def test_resize_long_side():
    img = np.zeros((3000, 2000, 3), np.float32)
    small = session._resize_long_side(img, 1600)
    assert small.shape == (1600, 1067, 3)
