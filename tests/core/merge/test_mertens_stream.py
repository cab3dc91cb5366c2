"""Mertens fusion in bounded memory (app.core.merge.mertens_stream) and display codes out."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import Cancelled
from app.core.io import read_frame
from app.core.merge import fuse_mertens
from app.core.merge import mertens as mertens_mod
from app.core.merge import mertens_stream
from app.core.merge.ghost import ghost_maps
from app.core.progress import TaskContext
from app.core.tonemap.display import to_uint
from tests import synthetic
from tests.core.align.textures import textured_radiance

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "resources" / "samples").glob("desk_*.jpg"))


@pytest.fixture(scope="module")
def desk():
    """The bundled real bracket (3 JPEGs, 644 x 874) as 8-bit codes."""
    return [read_frame(p, codes=True)[0] for p in SAMPLES]


def _codes(frames):
    return [np.round(np.clip(f, 0, 1) * 255).astype(np.uint8) for f in frames]


def test_streamed_equals_the_usual_path_on_a_real_bracket(desk, monkeypatch):
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 16)  # 14 strips: seams would show
    usual = fuse_mertens(desk, streamed=False)
    streamed = fuse_mertens(desk, streamed=True)
    assert streamed.dtype == np.float32 and streamed.shape == desk[0].shape
    # the usual path keeps its weights as 16-bit fixed point (~1e-5); the streamed one does not
    assert np.abs(streamed - usual).max() < 2e-5


@pytest.mark.parametrize("shape", [(203, 157), (9, 700), (700, 9), (5, 5), (64, 96)])
def test_streamed_equals_the_usual_path_on_odd_and_tiny_sizes(shape, monkeypatch):
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1)  # the fewest rows a strip may have
    h, w = shape
    frames = _codes(synthetic.photograph(textured_radiance(h=h, w=w), (1 / 8, 1 / 2, 2.0)))
    usual = fuse_mertens(frames, streamed=False, exposedness=0.5)
    streamed = fuse_mertens(frames, streamed=True, exposedness=0.5)
    assert np.abs(streamed - usual).max() < 2e-5


def test_the_halos_are_wide_enough(desk, monkeypatch):
    # strip results equal a strip so tall that nothing is cut; halos half as wide are not enough
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 30)
    whole = fuse_mertens(desk, streamed=True)
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 15)
    np.testing.assert_array_equal(fuse_mertens(desk, streamed=True), whole)
    monkeypatch.setattr(mertens_stream, "HALO_UP", mertens_stream.HALO_UP // 2)
    assert np.abs(fuse_mertens(desk, streamed=True) - whole).max() > 1e-4


@pytest.mark.parametrize("bits", [8, 16])
def test_codes_out_are_the_quantised_float_result(desk, bits, monkeypatch):
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 16)
    expected = to_uint(fuse_mertens(desk, streamed=False), bits)
    usual = fuse_mertens(desk, streamed=False, bits=bits)
    assert usual.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(usual, expected)
    streamed = fuse_mertens(desk, streamed=True, bits=bits)
    diff = np.abs(streamed.astype(np.int64) - expected)
    # (the streamed path's floats differ by < 2e-5: a code can round the other way)
    assert diff.max() <= 1 and np.mean(diff > 0) < (1e-3 if bits == 8 else 0.05)


def test_streamed_with_deghost_maps_made_row_span_by_row_span(desk, monkeypatch):
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 16)
    moved = list(desk)
    moved[0] = moved[0].copy()
    moved[0][300:400, 200:330] = 128  # a well-exposed patch in the dark frame alone
    maps = ghost_maps(moved, 1, detect=True)
    assert maps.motion_share > 0.005
    h, w = desk[0].shape[:2]
    arrays = [None if k == 1 else maps.weight_at(k, h, w) for k in range(3)]
    rows = [None if k == 1 else maps.weight_rows(k, h, w) for k in range(3)]
    usual = fuse_mertens(moved, streamed=False, weight_scale=arrays)
    streamed = fuse_mertens(moved, streamed=True, weight_scale=rows)
    assert np.abs(streamed - usual).max() < 2e-5
    plain = fuse_mertens(moved, streamed=True)
    assert np.abs(plain - streamed).max() > 1e-2  # the maps were applied


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamed_memory_grows_by_the_output_alone(monkeypatch):
    # numpy (and OpenCV's arrays, numpy-allocated) report to tracemalloc. Between two heights of
    # the same width the strips' working set is the same, so the growth per added pixel is what
    # the path holds whole: the 8-bit output (3 B/px) and level 3 (~0.3 B/px per frame).
    monkeypatch.setattr(mertens_stream, "STRIP_PIXELS", 1 << 16)
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((100, 150, 3)).astype(np.float32), (1500, 2000))
    frames = _codes([base * g for g in (0.4, 1.0, 2.2)])
    small, big = [f[:500] for f in frames], frames
    added = big[0].shape[0] * big[0].shape[1] - small[0].shape[0] * small[0].shape[1]

    def growth(**kw) -> float:
        a = _peak_bytes(lambda: fuse_mertens(small, bits=8, **kw))
        b = _peak_bytes(lambda: fuse_mertens(big, bits=8, **kw))
        return (b - a) / added

    assert growth(streamed=True) < 5.0
    assert growth(streamed=False) > 12.0  # full-size weights, half-size frame and weights


def test_huge_images_are_streamed_on_their_own(desk, monkeypatch):
    calls = []
    real = mertens_stream.fuse_streamed
    monkeypatch.setattr(mertens_stream, "fuse_streamed",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fuse_mertens(desk)
    assert calls == []
    h, w = desk[0].shape[:2]
    monkeypatch.setattr(mertens_mod, "STREAM_ABOVE_BYTES", mertens_mod.usual_extra_bytes(h, w, 3, 8))
    fuse_mertens(desk, bits=8)
    assert calls == []
    fuse_mertens(desk, bits=16)  # 3 B/px more than the budget allows
    assert calls == [1]


def test_streamed_cancel_and_progress(desk):
    seen = []
    fuse_mertens(desk, streamed=True, ctx=TaskContext(lambda f, m: seen.append(f)))
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        fuse_mertens(desk, streamed=True, ctx=ctx)
