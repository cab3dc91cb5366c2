"""The hostile-input defects of the hardening issue, one test each: every case exits with a clear
one-line refusal (or succeeds), never leaves a file behind and never both cancels and publishes.

In-process runs (``cli_inproc``) are used where a signal or a competing writer has to arrive at
an exact moment: the encoder is wrapped to deliver it while the output is being written.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

import app.core.io.writers as writers
from app.core.errors import Cancelled, InputError
from app.core.io import load_stack, write_result
from app.core.progress import TaskContext
from app.core.types import ExposureStack, FrameInfo, Provenance, Result, ResultKind, ToneParams
from app.models.runner import run
from tests.cli.helpers import (
    assert_one_line_error,
    cli,
    cli_inproc,
    folder_files,
    start_fuse,
    write_big_bracket,
)


@pytest.fixture
def as_from_a_terminal():
    """SIGINT/SIGTERM with their usual handlers (CI may start the tests with SIGINT ignored)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, h in before.items():
        signal.signal(s, h)


def _during_encode(monkeypatch, action):
    """Run ``action(path)`` while the output is being encoded (after the checks, before publish)."""
    real = writers._encode

    def encode(p, *a, **k):
        data = real(p, *a, **k)
        action(p)
        return data

    monkeypatch.setattr(writers, "_encode", encode)


# -- outputs: cancel, signals, competing writers, names --------------------------------------
@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT)])
def test_ctrl_c_while_writing_leaves_nothing(bracket, tmp_path, capsys, monkeypatch,
                                             as_from_a_terminal, signals):
    out = tmp_path / "out.png"
    before = folder_files(tmp_path)

    def ctrl_c(_p):
        for s in signals:
            os.kill(os.getpid(), s)

    _during_encode(monkeypatch, ctrl_c)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q")
    assert proc.code == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "lumafuse: cancelled"
    assert folder_files(tmp_path) == before  # neither the output nor a temporary file


def test_sigterm_while_writing_cleans_up(bracket, tmp_path, capsys, monkeypatch,
                                         as_from_a_terminal):
    out = tmp_path / "out.exr"
    before = folder_files(tmp_path)
    real = writers.write_exr_file

    def slow_write(path, *a, **k):
        real(path, *a, **k)
        assert Path(path).name.startswith(".out.exr.") and Path(path).stat().st_size > 0
        os.kill(os.getpid(), signal.SIGTERM)  # the temp file exists and is complete

    monkeypatch.setattr(writers, "write_exr_file", slow_write)
    proc = cli_inproc(capsys, "fuse", *bracket, "-m", "debevec", "--ev", "0,2,4", "-o", out, "-q")
    assert proc.code == 143, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "lumafuse: terminated"
    assert folder_files(tmp_path) == before


def test_sigterm_in_a_subprocess_leaves_no_temp_file(tmp_path):
    """A real SIGTERM to a real process while it works: exit 143 and nothing left."""
    paths = write_big_bracket(tmp_path, 1500, 2000)
    out = tmp_path / "out.tif"
    before = folder_files(tmp_path)
    proc, first = start_fuse(paths, out)
    assert "%" in first, first
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    code = proc.wait(timeout=120)
    if code == 0:  # it had already published: success is a legal outcome, the file complete
        assert out.is_file() and cv2.imread(str(out)) is not None
        assert folder_files(tmp_path) == before | {"out.tif"}
    else:
        assert code == 143, first + rest
        assert "Traceback" not in rest
        assert folder_files(tmp_path) == before


def test_cancel_after_publish_reports_success(bracket, tmp_path, capsys, monkeypatch,
                                              as_from_a_terminal):
    """A Ctrl-C that arrives once the output is published cannot turn it into a 'cancelled'."""
    out = tmp_path / "out.png"
    real = writers._publish

    def publish_then_ctrl_c(tmp, path, force):
        real(tmp, path, force)
        os.kill(os.getpid(), signal.SIGINT)  # held back until the commit is complete
        os.kill(os.getpid(), signal.SIGINT)  # a second one would otherwise abort

    monkeypatch.setattr(writers, "_publish", publish_then_ctrl_c)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q")
    assert proc.code == 0, proc.stderr
    assert cv2.imread(str(out)) is not None


def test_write_result_checks_cancel_before_publishing(tmp_path, monkeypatch):
    ctx = TaskContext()
    _during_encode(monkeypatch, lambda _p: ctx.cancel())
    result = Result(np.full((8, 8, 3), 0.5, np.float32), ResultKind.LDR_FUSED, Provenance("t"))
    with pytest.raises(Cancelled):
        write_result(tmp_path / "x.jpg", result, ToneParams(), ctx=ctx)
    assert list(tmp_path.iterdir()) == []
    # once published, the task is committed: a cancel is ignored
    ctx2 = TaskContext()
    write_result(tmp_path / "y.jpg", result, ToneParams(), ctx=ctx2)
    ctx2.cancel()
    assert not ctx2.cancelled
    ctx2.check()


def test_second_writer_does_not_replace_the_first(bracket, tmp_path, capsys, monkeypatch):
    """Another process publishes the same name while we encode: exit 2 'file exists', its file
    stays as it was, no temporary file left."""
    out = tmp_path / "out.png"
    theirs = b"written by the other process"
    _during_encode(monkeypatch, lambda _p: out.write_bytes(theirs))
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q")
    assert_one_line_error(proc, "out.png", "file exists")
    assert out.read_bytes() == theirs
    assert sorted(folder_files(tmp_path)) == sorted({p.name for p in bracket} | {"out.png"})


def test_force_replaces_atomically(bracket, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q", "--force")
    assert proc.code == 0, proc.stderr
    assert cv2.imread(str(out)) is not None


@pytest.mark.parametrize("length", [242, 250, 255])
def test_longest_legal_output_names(bracket, tmp_path, capsys, length):
    out = tmp_path / ("n" * (length - 4) + ".png")
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q")
    assert proc.code == 0, proc.stderr
    assert out.is_file() and len(out.name) == length
    assert folder_files(tmp_path) == {p.name for p in bracket} | {out.name}


def test_multibyte_long_output_name(bracket, tmp_path, capsys):
    out = tmp_path / ("é" * 125 + ".png")  # 254 bytes in UTF-8
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "-q")
    assert proc.code == 0, proc.stderr
    assert out.is_file()


# -- inputs -----------------------------------------------------------------------------------
def _loop(folder: Path, name: str) -> Path:
    a, b = folder / name, folder / f"{name}.other"
    os.symlink(b.name, a)
    os.symlink(a.name, b)
    return a


def test_symlink_loop_as_input(bracket, tmp_path, capsys):
    loop = _loop(tmp_path, "loop.png")
    proc = cli_inproc(capsys, "fuse", bracket[0], loop, "-o", tmp_path / "o.png")
    assert_one_line_error(proc, "loop.png", "file not found")


def test_symlink_loop_as_output(bracket, tmp_path, capsys):
    loop = _loop(tmp_path, "out.png")
    before = {p: os.readlink(p) for p in (loop, tmp_path / "out.png.other")}
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", loop)
    assert_one_line_error(proc, "out.png", "link")
    assert {p: os.readlink(p) for p in before} == before


def test_int32_tiff_is_refused_in_one_short_line(bracket, tmp_path, capsys):
    tif = tmp_path / "int32.tif"
    data = np.random.default_rng(0).integers(0, 2**31, (40, 50, 3)).astype(np.int32)
    assert cv2.imwrite(str(tif), data)
    proc = cli_inproc(capsys, "fuse", bracket[0], tif, "-o", tmp_path / "o.png")
    line = assert_one_line_error(proc, "int32.tif", "sample type", "32-bit")
    assert len(line) < 200


@pytest.mark.parametrize("option, value, fragment", [
    ("--ev", "0,1e400,2", "--ev"),
    ("--times", "1e400,1,2", "--times"),
    ("--times", "1e300,1e308,1", "--times"),
    ("--ev", "nan,0,1", "--ev"),
    ("--times", "1/0,1,2", "--times"),
])
def test_out_of_range_exposures(bracket, tmp_path, capsys, option, value, fragment):
    proc = cli_inproc(capsys, "fuse", *bracket, option, value, "-o", tmp_path / "o.png")
    line = assert_one_line_error(proc, fragment)
    assert "positive and finite" not in line


def test_times_out_of_range_in_the_core(bracket):
    with pytest.raises(InputError, match="seconds from"):
        load_stack(bracket, times=[1e300, 1e308, 1.0])


@pytest.mark.parametrize("extra", [
    ("--param", "contrast=nan"),
    ("--param", "sigma=inf"),
    ("-m", "hdrcnn", "--param", "gamma=nan"),
    ("-m", "debevec", "--tmo-param", "bias=nan", "--tmo", "drago"),
    ("-m", "debevec", "--tmo-param", "key=nan"),
    ("-m", "debevec", "--tmo-param", "white=nan"),
    ("--gamma", "nan"),
    ("--saturation", "nan"),
])
def test_nan_parameters_are_refused(bracket, tmp_path, capsys, extra):
    proc = cli_inproc(capsys, "fuse", *bracket, *extra, "-o", tmp_path / "o.png")
    assert_one_line_error(proc, "nan" if "nan" in " ".join(extra) else "inf")
    assert not (tmp_path / "o.png").exists()


def test_png_with_bytes_after_iend_is_read(bracket, tmp_path, capsys):
    padded = tmp_path / "padded.png"
    padded.write_bytes(bracket[1].read_bytes() + b"\0" * 300 + b"trailing bytes")
    proc = cli_inproc(capsys, "fuse", bracket[0], padded, bracket[2], "-o", tmp_path / "o.png",
                      "-q")
    assert proc.code == 0, proc.stderr
    # a PNG cut inside its IDAT is still refused as truncated
    cut = tmp_path / "cut.png"
    data = bracket[1].read_bytes()
    cut.write_bytes(data[: len(data) - 30])
    proc = cli_inproc(capsys, "fuse", bracket[0], cut, "-o", tmp_path / "o2.png")
    assert_one_line_error(proc, "cut.png", "truncated")


@pytest.mark.parametrize("damage", [20, 300, 0.3, 0.99, "flip"])
def test_corrupt_exr_says_so_quietly(tmp_path, damage):
    """Run as a subprocess: OpenEXR writes to the process's own stdout/stderr file descriptors
    (a file cut inside its pixel chunks made it print 2-3 lines before)."""
    good = tmp_path / "good.exr"
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    noise = np.random.default_rng(0).random((256, 256, 3)).astype(np.float16)  # 16 chunks
    OpenEXR.File(header, {"RGB": noise}).write(str(good))
    data = bytearray(good.read_bytes())
    if damage == "flip":
        for i in range(2000, len(data), 997):
            data[i] ^= 0xFF
    else:
        data = data[: int(damage * len(data)) if damage < 1 else damage]
    cut = tmp_path / "cut.exr"
    cut.write_bytes(bytes(data))
    proc = cli("tonemap", cut, "-o", tmp_path / "o.png", "-q")
    line = assert_one_line_error(proc, "cut.exr", "OpenEXR", "corrupt")
    assert "list index" not in line
    assert proc.stdout == ""


def test_libpng_warnings_do_not_leak(bracket, tmp_path):
    """A PNG with a damaged ancillary chunk decodes (libpng drops the chunk) without libpng's
    own 'CRC error' warning on stderr."""
    data = bracket[1].read_bytes()
    end_ihdr = 8 + 12 + 13
    chunk = struct.pack(">I", 5) + b"tEXt" + b"a\x00bcd" + b"\0\0\0\0"  # wrong CRC
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(data[:end_ihdr] + chunk + data[end_ihdr:])
    proc = cli("fuse", bracket[0], damaged, bracket[2], "-o", tmp_path / "o.png", "-q")
    assert proc.code == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == ""


@pytest.mark.parametrize("method", ["debevec", "robertson", "mertens"])
def test_black_and_near_black_frames_are_refused(tmp_path, capsys, method):
    black = tmp_path / "black.png"
    near = tmp_path / "near.png"
    cv2.imwrite(str(black), np.zeros((60, 80, 3), np.uint8))
    dots = np.zeros((60, 80, 3), np.uint8)
    dots[::7, ::5] = 1
    cv2.imwrite(str(near), dots)
    proc = cli_inproc(capsys, "fuse", black, near, "-m", method, "--ev", "0,1",
                      "-o", tmp_path / "o.exr")
    assert_one_line_error(proc, "no usable exposure", "black.png")
    assert not (tmp_path / "o.exr").exists()


def test_messages_name_the_files(tmp_path, capsys):
    a, b = tmp_path / "tiny_a.png", tmp_path / "tiny_b.png"
    cv2.imwrite(str(a), np.full((1, 1, 3), 60, np.uint8))
    cv2.imwrite(str(b), np.full((1, 1, 3), 180, np.uint8))
    proc = cli_inproc(capsys, "fuse", a, b, "-o", tmp_path / "o.png")
    assert_one_line_error(proc, "tiny_a.png")


def test_fifo_and_device_are_not_called_empty(bracket, tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    proc = cli_inproc(capsys, "fuse", bracket[0], fifo, "-o", tmp_path / "o.png")
    assert_one_line_error(proc, "pipe.png", "FIFO")
    proc = cli_inproc(capsys, "fuse", bracket[0], "/dev/zero", "-o", tmp_path / "o.png")
    line = assert_one_line_error(proc, "/dev/zero", "device")
    assert "empty" not in line


def test_read_only_file_system_is_named(bracket, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True
    ).returncode == 0
    if not mounted:  # no privilege to mount: the same answer from a file system that says so
        real = os.statvfs
        monkeypatch.setattr(writers.os, "statvfs", lambda p: type("S", (), {
            "f_flag": os.ST_RDONLY})() if Path(p) == ro else real(p))
        monkeypatch.setattr(writers.os, "access", lambda p, m: Path(p) != ro)
    try:
        proc = cli_inproc(capsys, "fuse", *bracket, "-o", ro / "o.png")
        line = assert_one_line_error(proc, "o.png", "read-only file system")
        assert "permission denied" not in line
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)


# -- one rule for every front end -----------------------------------------------------------
def test_identical_pixels_refused_by_run_itself(bracket):
    """The GUI builds its stack without load_stack; run() refuses the same brackets the CLI does."""
    frame = cv2.cvtColor(cv2.imread(str(bracket[1])), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    infos = (FrameInfo(path="a.png"), FrameInfo(path="copy_of_a.png"))
    stack = ExposureStack((frame, frame.copy()), infos=infos)
    with pytest.raises(InputError, match="identical exposures.*a.png.*copy_of_a.png"):
        run(stack, "mertens")
