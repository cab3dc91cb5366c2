"""``fuse -o x.exr -o x.tif``: one merge, several outputs, published all together or not at all."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import app.core.io.writers as writers
from app.core.io import read_exr, read_frame
from app.core.tonemap import render
from app.core.types import ResultKind, ToneParams
from tests.cli.helpers import TIMES_ARG, assert_one_line_error, cli_inproc, folder_files


def test_exr_and_tiff_from_one_merge(bracket, tmp_path, capsys):
    exr, tif = tmp_path / "x.exr", tmp_path / "x.tif"
    proc = cli_inproc(capsys, "fuse", *bracket, "-m", "debevec", "--times", TIMES_ARG,
                      "-o", exr, "-o", tif, "--float")
    assert proc.code == 0, proc.stderr
    assert proc.stderr.count("wrote ") == 1 and "x.exr, " in proc.stderr
    radiance, _ = read_exr(exr)
    shown, info = read_frame(tif)
    expected = render(radiance, ResultKind.HDR_LINEAR, ToneParams())
    assert info.bit_depth == 8
    assert np.abs(shown - np.round(expected * 255) / 255).max() <= 1.01 / 255  # the same merge


def test_an_existing_second_output_refuses_before_the_run(bracket, tmp_path, capsys):
    (tmp_path / "x.tif").write_bytes(b"keep me")
    before = folder_files(tmp_path)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png", "-o", tmp_path / "x.tif")
    assert_one_line_error(proc, "x.tif", "file exists")
    assert folder_files(tmp_path) == before and (tmp_path / "x.tif").read_bytes() == b"keep me"


def test_the_same_output_twice_is_refused(bracket, tmp_path, capsys):
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png", "-o", tmp_path / "x.png")
    assert_one_line_error(proc, "x.png", "twice")


def test_all_or_none_when_one_publish_fails(bracket, tmp_path, capsys, monkeypatch):
    """The second name is taken by another process while encoding: exit 2, and the first
    output, already linked in the batch, is removed again: no half-done command."""
    theirs = tmp_path / "x.tif"
    real = writers._encode

    def encode(p, fmt, *a, **k):
        data = real(p, fmt, *a, **k)
        if fmt == "tiff":
            theirs.write_bytes(b"another process")
        return data

    monkeypatch.setattr(writers, "_encode", encode)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png", "-o", theirs)
    assert_one_line_error(proc, "x.tif", "file exists")
    assert not (tmp_path / "x.png").exists()
    assert theirs.read_bytes() == b"another process"
    assert folder_files(tmp_path) == {p.name for p in bracket} | {"x.tif"}


@pytest.fixture
def as_from_a_terminal():
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_writing_the_second_output_leaves_nothing(bracket, tmp_path, capsys,
                                                               monkeypatch, as_from_a_terminal):
    real = writers._encode

    def encode(p, fmt, *a, **k):
        data = real(p, fmt, *a, **k)
        if fmt == "jpeg":
            os.kill(os.getpid(), signal.SIGINT)
        return data

    monkeypatch.setattr(writers, "_encode", encode)
    before = folder_files(tmp_path)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "a.png", "-o", tmp_path / "b.jpg")
    assert proc.code == 130, proc.stderr
    assert folder_files(tmp_path) == before
