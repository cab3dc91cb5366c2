"""load_stack: exposure precedence, ordering, progress/cancel and every bracket-level error."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import Cancelled, InputError
from app.core.io import load_stack
from app.core.progress import TaskContext
from tests.core.io.helpers import SAMPLE_FILES, SAMPLE_TIMES, rgb8, save_exr_channels, save_jpeg
from tests import synthetic


@pytest.fixture()
def plain_bracket(tmp_path):
    """Three PNGs without EXIF (synthetic scene at 3 exposures), written in bright, dark, mid order."""
    rad = synthetic.radiance_field()
    frames = synthetic.photograph(rad, times=(1 / 64, 1 / 16, 1 / 4))
    names = {2: "bright.png", 0: "dark.png", 1: "mid.png"}
    paths = []
    for k in (2, 0, 1):
        p = tmp_path / names[k]
        cv2.imwrite(str(p), np.round(frames[k][..., ::-1] * 255).astype(np.uint8))
        paths.append(p)
    return paths


def test_sample_bracket_exif_and_order():
    stack = load_stack([SAMPLE_FILES[2], SAMPLE_FILES[0], SAMPLE_FILES[1]])
    assert [i.exposure_time for i in stack.infos] == pytest.approx(list(SAMPLE_TIMES))
    np.testing.assert_allclose(np.array(stack.exposures) / stack.exposures[0], [1, 10, 100], rtol=1e-9)
    assert stack.metadata["exposure_source"] == "exif"
    assert not stack.linear and stack.reference == 1 and stack.n == 3


def test_without_exif_ordered_by_brightness(plain_bracket):
    stack = load_stack(plain_bracket)
    assert [p.split("/")[-1] for p in stack.paths] == ["dark.png", "mid.png", "bright.png"]
    assert stack.exposures is None and stack.metadata["exposure_source"] == "none"


def test_user_times_override_and_follow_file_order(plain_bracket):
    # plain_bracket is bright, dark, mid.
    stack = load_stack(plain_bracket, times=[0.25, 1 / 64, 1 / 16])
    assert [p.split("/")[-1] for p in stack.paths] == ["dark.png", "mid.png", "bright.png"]
    # relative exposure = t * ISO / N^2 with ISO 100 and N 1 assumed when EXIF has none
    assert stack.exposures == pytest.approx([100 / 64, 100 / 16, 100 / 4])
    assert stack.infos[0].exposure_time == pytest.approx(1 / 64)
    assert stack.metadata["exposure_source"] == "user times"


def test_user_times_override_exif():
    stack = load_stack(SAMPLE_FILES, times=[1 / 1000, 1 / 100, 1 / 10])
    assert [i.exposure_time for i in stack.infos] == pytest.approx([1 / 1000, 1 / 100, 1 / 10])


def test_user_ev_offsets(plain_bracket):
    stack = load_stack(plain_bracket, ev=[2, -2, 0])
    assert stack.exposures == pytest.approx([0.25, 1.0, 4.0])
    assert stack.paths[0].endswith("dark.png")


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"times": [0.1, 0.2]}, r"2 exposure times given for 3 input files"),
        ({"ev": [0, 1, 2, 3]}, r"4 EV offsets given for 3 input files"),
        ({"times": [0.1, 0.2, 0.3], "ev": [0, 1, 2]}, r"either exposure times or EV offsets"),
        ({"times": [0.1, -0.2, 0.3]}, r"positive seconds"),
        ({"times": [0.1, 0.1, 0.3]}, r"identical exposures"),
    ],
)
def test_bad_user_exposures(plain_bracket, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        load_stack(plain_bracket, **kwargs)


def test_no_files():
    with pytest.raises(InputError, match="no input files"):
        load_stack([])


def test_frames_of_different_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), rgb8(30, 40))
    cv2.imwrite(str(tmp_path / "b.png"), rgb8(20, 40, seed=1))
    with pytest.raises(InputError, match=r"frames differ in size: a\.png is 40x30, b\.png is 40x20.*--align"):
        load_stack([tmp_path / "a.png", tmp_path / "b.png"])


def test_mixing_linear_and_display_inputs(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), rgb8(30, 40))
    save_exr_channels(tmp_path / "b.exr", {"RGB": np.ones((30, 40, 3), np.float32)})
    with pytest.raises(InputError, match=r"cannot mix linear and display-referred inputs: b\.exr .* a\.png"):
        load_stack([tmp_path / "a.png", tmp_path / "b.exr"])


def test_same_file_twice(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), rgb8())
    with pytest.raises(InputError, match=r"identical exposures: .*a\.png is given twice"):
        load_stack([tmp_path / "a.png", tmp_path / "a.png"])


def test_copies_with_the_same_pixels(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), rgb8())
    shutil.copy(tmp_path / "a.png", tmp_path / "copy.png")
    with pytest.raises(InputError, match=r"identical exposures: a\.png and copy\.png hold the same pixels"):
        load_stack([tmp_path / "a.png", tmp_path / "copy.png"])


def test_same_exif_exposure(tmp_path):
    save_jpeg(tmp_path / "x.jpg", rgb8(), time=(1, 100), iso=100, f_number=8)
    save_jpeg(tmp_path / "y.jpg", rgb8(seed=3), time=(1, 100), iso=100, f_number=8)
    with pytest.raises(InputError, match=r"identical exposures: x\.jpg and y\.jpg have the same exposure"):
        load_stack([tmp_path / "x.jpg", tmp_path / "y.jpg"])


def test_a_bad_file_is_named(tmp_path, plain_bracket):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    with pytest.raises(InputError, match=r"broken\.jpg"):
        load_stack([*plain_bracket, tmp_path / "broken.jpg"])


def test_single_frame_is_allowed():
    stack = load_stack([SAMPLE_FILES[1]])
    assert stack.n == 1 and stack.exposures is not None


def test_progress_reported_and_cancel_honoured(plain_bracket):
    seen = []
    load_stack(plain_bracket, ctx=TaskContext(lambda f, m: seen.append((f, m))))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 4
    assert any("bright.png" in m for _, m in seen)

    reads = []

    def cancel_after_first(fraction, message):
        reads.append(message)
        if len(reads) == 2:
            ctx.cancel()

    ctx = TaskContext(cancel_after_first)
    with pytest.raises(Cancelled):
        load_stack(plain_bracket, ctx=ctx)
    assert len(reads) == 2  # stopped before reading the third frame


def test_frames_errors_and_refusals_come_in_file_order(tmp_path, monkeypatch):
    """Frames, errors and early refusals come in file order: a corrupt file is named and the
    files after it are never decoded; a bracket too large for memory is refused after the
    first frame, before the others are decoded."""
    import app.core.io.stack as stack_module

    names = [f"f{k}.png" for k in range(5)]
    for k, name in enumerate(names):
        cv2.imwrite(str(tmp_path / name), rgb8(24, 32, seed=k))
    started = []
    real_read = stack_module.read_frame

    def counting_read(path, **kw):
        started.append(Path(path).name)
        return real_read(path, **kw)

    monkeypatch.setattr(stack_module, "read_frame", counting_read)
    stack = load_stack([tmp_path / n for n in names], ev=[0, 1, 2, 3, 4])
    assert [i.path for i in stack.infos] == [str(tmp_path / n) for n in names]
    for k, frame in enumerate(stack.frames):  # each frame holds its own file's pixels
        assert np.array_equal(frame, cv2.imread(str(tmp_path / names[k]))[..., ::-1])

    # a corrupt file in the middle is named, not a later one, and nothing after it is decoded
    (tmp_path / "f2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    started.clear()
    with pytest.raises(InputError, match=r"f2\.png"):
        load_stack([tmp_path / n for n in names], ev=[0, 1, 2, 3, 4])
    assert "f4.png" not in started

    # the memory refusal after the first frame
    cv2.imwrite(str(tmp_path / "f2.png"), rgb8(24, 32, seed=2))
    monkeypatch.setattr(stack_module, "available_memory", lambda: 1000)
    started.clear()
    with pytest.raises(InputError, match="GB of memory"):
        load_stack([tmp_path / n for n in names])
    assert started == ["f0.png"]


def test_user_times_in_the_wrong_order_are_caught(plain_bracket):
    # plain_bracket is bright, dark, mid: giving the bright file the shortest time contradicts it.
    with pytest.raises(InputError, match=r"do not match the pictures: .*bright\.png .*darker.*--times"):
        load_stack(plain_bracket, times=[1 / 64, 1 / 16, 1 / 4])
    with pytest.raises(InputError, match=r"do not match the pictures.*--ev"):
        load_stack(plain_bracket, ev=[-2, 0, 2])


def test_frames_are_kept_as_the_files_codes(tmp_path, plain_bracket):
    """8-bit files stay uint8 and 16-bit files uint16 (a quarter / half of float32's memory);
    as_float() gives exactly what read_frame gives; linear files stay float32."""
    from app.core.io import read_frame

    stack = load_stack(plain_bracket)
    assert stack.holds_codes and all(f.dtype == np.uint8 for f in stack.frames)
    floats = stack.as_float()
    for f, path in zip(floats.frames, stack.paths):
        np.testing.assert_array_equal(f, read_frame(path)[0])
    assert floats.as_float() is floats and not floats.holds_codes

    sixteen = []
    for k, p in enumerate(plain_bracket):
        img8 = cv2.imread(str(p))
        q = tmp_path / f"deep{k}.png"
        cv2.imwrite(str(q), img8.astype(np.uint16) * 257 + k)  # 16-bit values, not 8-bit ones
        sixteen.append(q)
    stack16 = load_stack(sixteen)
    assert all(f.dtype == np.uint16 for f in stack16.frames)
    assert stack16.infos[0].bit_depth == 16
    for f, info in zip(stack16.as_float().frames, stack16.infos):
        np.testing.assert_array_equal(f, read_frame(info.path)[0])

    exrs = []
    for k, t in enumerate((1.0, 4.0)):
        q = tmp_path / f"lin{k}.exr"
        save_exr_channels(q, {c: np.full((20, 30), 0.1 * t, np.float32) + np.linspace(
            0, 0.05, 30, dtype=np.float32)[None] for c in "RGB"})
        exrs.append(q)
    lin = load_stack(exrs)
    assert lin.linear and not lin.holds_codes and lin.frames[0].dtype == np.float32


def test_a_stack_refuses_pixels_that_are_not_codes_or_floats():
    from app.core.types import ExposureStack

    with pytest.raises(InputError, match="not display codes"):
        ExposureStack(frames=(np.zeros((4, 4, 3), np.int32),) * 2)
    with pytest.raises(InputError, match="not display codes"):
        ExposureStack(frames=(np.zeros((4, 4, 3), np.uint8),) * 2, linear=True)
    with pytest.raises(InputError, match="holds float32 values"):
        ExposureStack(frames=(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32)))
