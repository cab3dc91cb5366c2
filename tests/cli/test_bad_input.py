"""Every bad input of the issue: exit 2, one line on stderr naming the file and the problem, no
traceback, no output file left behind. Most cases run ``python main.py`` as a subprocess."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from tests import synthetic
from tests.cli.helpers import TIMES_ARG, assert_one_line_error, cli, folder_files, write_png


def _fuse_expect_error(inputs, out: Path, *fragments, extra=(), env=None, code=2) -> str:
    before = folder_files(out.parent) if out.parent.is_dir() else set()
    proc = cli("fuse", *inputs, "-o", out, *extra, env=env)
    line = assert_one_line_error(proc, *fragments, code=code)
    assert not out.exists(), "an output was written despite the error"
    if out.parent.is_dir():  # no temporary files left either
        assert folder_files(out.parent) == before
    return line


def test_non_image_file(bracket, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is a text file, not a picture\n" * 20)
    _fuse_expect_error([bracket[0], bad], tmp_path / "out.png", "notes.png")


def test_truncated_file(bracket, tmp_path):
    data = bracket[1].read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    _fuse_expect_error([bracket[0], cut], tmp_path / "out.png", "cut.png")


def test_truncated_jpeg(tmp_path):
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:3])
    good = tmp_path / "a.jpg"
    cv2.imwrite(str(good), np.round(frames[0][..., ::-1] * 255).astype(np.uint8))
    full = tmp_path / "b_full.jpg"
    cv2.imwrite(str(full), np.round(frames[1][..., ::-1] * 255).astype(np.uint8))
    cut = tmp_path / "b.jpg"
    cut.write_bytes(full.read_bytes()[:400])
    _fuse_expect_error([good, cut], tmp_path / "out.png", "b.jpg")


def test_zero_bytes(bracket, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    _fuse_expect_error([bracket[0], empty], tmp_path / "out.png", "empty.png")


def test_folder_as_input(bracket, tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    _fuse_expect_error([bracket[0], folder], tmp_path / "out.png", "a_folder", "folder")


def test_missing_file(bracket, tmp_path):
    _fuse_expect_error([bracket[0], tmp_path / "nothere.png"], tmp_path / "out.png", "nothere.png")


def test_frames_of_different_sizes(bracket, tmp_path):
    small = cv2.imread(str(bracket[1]))[:80, :100]
    other = tmp_path / "small.png"
    cv2.imwrite(str(other), small)
    line = _fuse_expect_error([bracket[0], other], tmp_path / "out.png", "size")
    assert "align" in line  # suggests --align ...
    assert "small.png" in line or "100x80" in line  # ... and names the odd frame


def test_one_image_for_a_method_that_needs_two(bracket, tmp_path):
    _fuse_expect_error([bracket[0]], tmp_path / "out.png", "at least 2", extra=("-m", "mertens"))


def test_identical_exposures(bracket, tmp_path):
    twin = tmp_path / "twin.png"
    shutil.copy(bracket[1], twin)
    _fuse_expect_error([bracket[1], twin], tmp_path / "out.png", "identical")


def _write_exr(path: Path, rgb: np.ndarray) -> Path:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": np.ascontiguousarray(rgb, dtype=np.float32)}).write(str(path))
    return path


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_or_inf_in_exr(tmp_path, bad_value):
    rad = synthetic.radiance_field(32, 48)
    a = _write_exr(tmp_path / "a.exr", rad)
    broken = rad.copy()
    broken[5, 7, 1] = bad_value
    b = _write_exr(tmp_path / "b.exr", broken * 4)
    _fuse_expect_error([a, b], tmp_path / "out.exr", "b.exr", extra=("-m", "debevec"))


def test_nan_in_exr_for_tonemap(tmp_path):
    broken = synthetic.radiance_field(32, 48)
    broken[0, 0, 0] = np.nan
    src = _write_exr(tmp_path / "nan.exr", broken)
    proc = cli("tonemap", src, "-o", tmp_path / "out.png")
    assert_one_line_error(proc, "nan.exr")
    assert not (tmp_path / "out.png").exists()


def test_image_too_large_for_the_pixel_limit(tmp_path):
    """The limit is configurable (LUMAFUSE_MAX_PIXELS), so the test needs no huge file."""
    rad = synthetic.radiance_field(1000, 1200)
    frames = synthetic.photograph(rad, synthetic.TIMES[1:3])
    paths = [write_png(tmp_path / f"big{i}.png", f) for i, f in enumerate(frames)]
    line = _fuse_expect_error(
        paths, tmp_path / "out.png", "big0.png", env={"LUMAFUSE_MAX_PIXELS": "1000000"}
    )
    assert "1 MP" in line and "limit" in line, line  # says the limit


def test_output_equal_to_an_input(bracket):
    digest = hashlib.sha256(bracket[2].read_bytes()).hexdigest()
    proc = cli("fuse", *bracket, "-o", bracket[2], "--force")
    assert_one_line_error(proc, "exp2.png", "input")
    assert hashlib.sha256(bracket[2].read_bytes()).hexdigest() == digest  # input untouched


def test_output_folder_missing(bracket, tmp_path):
    _fuse_expect_error(bracket, tmp_path / "no" / "such" / "out.png", "out.png")


def test_output_folder_is_a_file(bracket, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    _fuse_expect_error(bracket, blocker / "out.png", "out.png")


def test_output_folder_not_writable(bracket, tmp_path):
    if os.geteuid() == 0:
        target = Path("/proc/lumafuse-out.png")  # not writable even for root
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "out.png"
    proc = cli("fuse", *bracket, "-o", target)
    assert_one_line_error(proc, str(target.name))
    assert not target.exists()


def test_existing_output_needs_force(bracket, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    proc = cli("fuse", *bracket, "-o", out)
    assert_one_line_error(proc, "out.png", "--force")
    assert out.read_bytes() == b"precious"


def test_unknown_output_extension(bracket, tmp_path):
    _fuse_expect_error(bracket, tmp_path / "out.xyz", "out.xyz")


def test_unknown_method_lists_the_valid_ones(bracket, tmp_path):
    line = _fuse_expect_error(bracket, tmp_path / "out.png", "nosuch", extra=("-m", "nosuch"))
    for valid in ("mertens", "debevec", "robertson"):
        assert valid in line


@pytest.mark.parametrize(
    "param,fragments",
    [
        ("sigma", ("NAME=VALUE",)),  # no '='
        ("sigmaa=0.2", ("sigmaa", "sigma")),  # unknown name lists the valid ones
        ("sigma=wide", ("sigma", "wide")),  # not a number
        ("sigma=7", ("sigma", "<=")),  # out of range
    ],
)
def test_bad_param(bracket, tmp_path, param, fragments):
    _fuse_expect_error(bracket, tmp_path / "out.png", *fragments,
                       extra=("-m", "mertens", "--param", param))


def test_times_count_must_match_inputs(bracket, tmp_path):
    _fuse_expect_error(bracket, tmp_path / "out.exr", "--times", "2 values",
                       extra=("-m", "debevec", "--times", "0.1,0.2"))


def test_times_must_be_numbers(bracket, tmp_path):
    _fuse_expect_error(bracket, tmp_path / "out.exr", "--times", "fast",
                       extra=("-m", "debevec", "--times", "fast,1/4,1"))


def test_unknown_tone_operator(bracket, tmp_path):
    _fuse_expect_error(bracket, tmp_path / "out.png", "nosuchtmo", "reinhard",
                       extra=("--tmo", "nosuchtmo"))


def test_usage_error_is_one_line(tmp_path):
    proc = cli("fuse", "-o", tmp_path / "x.png")  # no inputs
    assert_one_line_error(proc, "INPUT")


def test_tonemap_needs_a_display_output(tmp_path):
    src = _write_exr(tmp_path / "in.exr", synthetic.radiance_field(16, 16))
    proc = cli("tonemap", src, "-o", tmp_path / "out.exr")
    assert_one_line_error(proc, "out.exr", ".png")


def test_sixteen_bit_png_inputs_are_accepted(tmp_path):
    """Counter-check for the cases above: a valid 16-bit bracket is not refused."""
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:], quantise=False)
    paths = [write_png(tmp_path / f"w{i}.png", f, bits=16) for i, f in enumerate(frames)]
    proc = cli("fuse", *paths, "-o", tmp_path / "out.png", "--times", TIMES_ARG, "-m", "debevec")
    assert proc.code == 0, proc.stderr
    assert (tmp_path / "out.png").is_file()


def test_a_bad_frame_is_reported_while_the_next_one_is_still_decoding(bracket, tmp_path):
    """Frames decode two at a time and a decode silences the process's output: the error for
    a frame of the wrong size must still reach stderr while a large later frame decodes."""
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.imread(str(bracket[1]))[:80, :100])
    rng = np.random.default_rng(0)
    big = tmp_path / "big.png"  # noise compresses badly: a slow PNG decode
    cv2.imwrite(str(big), rng.integers(0, 256, (2400, 3200, 3), dtype=np.uint8))
    for _ in range(3):
        _fuse_expect_error([bracket[0], small, big], tmp_path / "out.png", "size", "small.png")
