"""A half-float EXR export asks run() for float16 radiance: half the memory, the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from app.core.io import load_stack, read_frame, write_result
from app.core.merge.hdr import merge_with_response
from app.core.tonemap.display import srgb_decode
from app.core.types import Look, ToneParams
from app.models.pipeline import half_export, process
from app.models.recipe import OutputOptions, make_recipe
from app.models.runner import run

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "samples").glob("desk_*.jpg"))
TIMES = (1 / 500, 1 / 50, 1 / 5)


@pytest.fixture(scope="module")
def stack():
    return load_stack(SAMPLES, times=TIMES)


def _exr_channels(path: Path) -> dict[str, np.ndarray]:
    return {k: v.pixels for k, v in OpenEXR.File(str(path)).channels().items()}


@pytest.mark.parametrize("method", ["debevec", "robertson"])
def test_run_returns_half_radiance_when_asked(stack, method):
    full = run(stack, method)
    half = run(stack, method, half=True)
    assert full.image.dtype == np.float32 and half.image.dtype == np.float16
    assert half.image.shape[0] >= 128  # the merge ran in strips
    np.testing.assert_array_equal(half.image, full.image.astype(np.float16))
    assert half.display_float().dtype == np.float32
    assert half.notes["ev"] == full.notes["ev"]


def test_fusion_ignores_half(stack):
    assert run(stack, "mertens", half=True).image.dtype == np.float32


def test_half_radiance_is_clipped_to_the_half_range(stack):
    # an inverse response scaled far up: radiance above 65504 must not become inf
    codes = np.arange(256, dtype=np.float32) / 255
    g = np.repeat(srgb_decode(codes)[:, None], 3, axis=1) * np.float32(1e6)
    rad = merge_with_response(stack.frames, stack.exposures, g, half=True)
    assert rad.dtype == np.float16 and np.isfinite(rad).all()
    assert rad.max() == np.float16(65504)
    np.testing.assert_array_equal(
        rad, np.minimum(merge_with_response(stack.frames, stack.exposures, g), 65504)
        .astype(np.float16))


def test_which_exports_ask_for_half():
    exr, both = [Path("x.exr")], [Path("x.exr"), Path("x.tif")]
    debevec = make_recipe("debevec")
    assert half_export(debevec, exr, quality=False)
    assert half_export(debevec, [Path("a.exr"), Path("b.exr")], quality=False)
    # an 8-bit rendering through a global operator is made strip by strip from half floats
    assert half_export(debevec, both, quality=False)
    assert half_export(debevec, [Path("x.jpg")], quality=False)
    assert not half_export(debevec, [Path("x.hdr")], quality=False)
    assert not half_export(debevec, exr, quality=True)
    full = make_recipe("debevec", output=OutputOptions(half=False))
    assert not half_export(full, exr, quality=False)
    sixteen = make_recipe("debevec", output=OutputOptions(bit_depth=16))
    assert not half_export(sixteen, both, quality=False)
    assert half_export(sixteen, exr, quality=False)
    for tone in (ToneParams(tmo="mantiuk"), ToneParams(temperature=3200.0),
                 ToneParams(look=Look(contrast=20.0))):
        assert not half_export(make_recipe("debevec", tone=tone), both, quality=False)
    p3 = make_recipe("debevec", output=OutputOptions(colour_space="display-p3"))
    assert not half_export(p3, both, quality=False)


def test_process_writes_the_same_exr_from_half_radiance(stack, tmp_path):
    done = process(SAMPLES, make_recipe("debevec"), [tmp_path / "h.exr"], times=TIMES)
    assert done.result.image.dtype == np.float16
    ref = write_result(tmp_path / "f.exr", run(stack, "debevec"), ToneParams())
    got, want = _exr_channels(done.outputs[0]), _exr_channels(ref)
    assert set(got) == set(want) == {"RGB"}  # (the reader groups R, G and B)
    assert got["RGB"].dtype == np.float16
    np.testing.assert_array_equal(got["RGB"], want["RGB"])
    # a float32 EXR asked for: float32 radiance, as before
    full = process(SAMPLES, make_recipe("debevec", output=OutputOptions(half=False)),
                   [tmp_path / "f32.exr"], times=TIMES)
    assert full.result.image.dtype == np.float32
    assert _exr_channels(full.outputs[0])["RGB"].dtype == np.float32


def test_process_renders_the_tiff_from_half_radiance(stack, tmp_path):
    done = process(SAMPLES, make_recipe("debevec"), [tmp_path / "h.exr", tmp_path / "h.tif"],
                   times=TIMES)
    assert done.result.image.dtype == np.float16
    full = run(stack, "debevec")
    want = read_frame(write_result(tmp_path / "f.tif", full, ToneParams()), codes=True)[0]
    got = read_frame(done.outputs[1], codes=True)[0]
    diff = np.abs(got.astype(int) - want.astype(int))
    # the rendering of the EXR's half-float values: at most one code off, on few pixels
    assert diff.max() <= 1 and np.mean(diff > 0) < 0.01
    # and exactly the rendering of the half-float radiance widened
    from app.core.tonemap import render
    from app.core.tonemap.display import to_uint

    np.testing.assert_array_equal(
        got, to_uint(render(done.result.image.astype(np.float32), done.result.kind,
                            ToneParams()), 8))


def test_hdrcnn_returns_half_radiance_too(tmp_path):
    from app.models import weights

    ok, reason = weights.status("hdrcnn")
    assert ok, reason
    photo = load_stack([SAMPLES[-1]])  # the brightest frame: clipped highlights
    full = run(photo, "hdrcnn")
    half = run(photo, "hdrcnn", half=True)
    assert half.image.dtype == np.float16 and full.image.dtype == np.float32
    assert full.image.max() > 1.0  # highlights reconstructed above the clip level
    np.testing.assert_array_equal(half.image, np.minimum(full.image, 65504).astype(np.float16))
    done = process([SAMPLES[-1]], make_recipe("hdrcnn"), [tmp_path / "h.exr"])
    assert done.result.image.dtype == np.float16
    ref = write_result(tmp_path / "f.exr", full, ToneParams())
    np.testing.assert_array_equal(_exr_channels(done.outputs[0])["RGB"],
                                  _exr_channels(ref)["RGB"])
