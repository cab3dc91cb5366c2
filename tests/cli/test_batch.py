"""``lumafuse batch``: plan, process, resume, a failing bracket, Ctrl-C, worker processes, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.io import read_frame
from tests import synthetic
from tests.cli.helpers import REPO, assert_one_line_error, cli, cli_inproc, folder_files, write_png


def _shoot(folder: Path, scenes: int = 2, h: int = 72, w: int = 96) -> list[list[Path]]:
    """``scenes`` 3-frame PNG brackets of different views in one folder (no EXIF), named like a
    camera numbers them."""
    folder.mkdir(parents=True, exist_ok=True)
    out, k = [], 1
    for s in range(scenes):
        rad = synthetic.radiance_field(h, w, seed=s)
        # each view its own texture orientation, so the views differ in structure
        rad = np.ascontiguousarray(np.rot90(rad, 2) if s % 2 else rad)
        rad = rad * (1 + 0.5 * np.random.default_rng(s).random((h, w, 1), dtype=np.float32))
        files = []
        for frame in synthetic.photograph(rad, synthetic.TIMES[1:]):
            files.append(write_png(folder / f"IMG_{k:04d}.png", frame))
            k += 1
        out.append(files)
    return out


def _report(folder: Path) -> dict:
    return json.loads((folder / "lumafuse-batch.json").read_text())


def test_plan_lists_the_brackets_and_writes_nothing(tmp_path, capsys):
    brackets = _shoot(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--plan", "--json")
    assert proc.code == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [g["files"] for g in plan["groups"]] == [[str(p) for p in b] for b in brackets]
    assert plan["groups"][0]["method"] == "mertens"
    assert plan["groups"][1]["outputs"] == [str(tmp_path / "out" / "IMG_0004_mertens.tif")]
    assert list(plan["left_out"]) == [str(tmp_path / "in" / "broken.png")]
    assert not (tmp_path / "out").exists()
    text = cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--plan")
    assert "group   1: IMG_0001.png, IMG_0002.png, IMG_0003.png" in text.stdout
    assert "left out: broken.png" in text.stdout


def test_batch_processes_every_bracket_then_resumes(tmp_path, capsys):
    brackets = _shoot(tmp_path / "in")
    out = tmp_path / "out"
    args = ("batch", tmp_path / "in", "-o", out, "--format", "tif,exr", "-j", "1")
    proc = cli_inproc(capsys, *args)
    assert proc.code == 0, proc.stderr
    report = _report(out)
    assert report["summary"]["ok"] == 2 and report["summary"]["failed"] == 0
    assert [g["status"] for g in report["groups"]] == ["ok", "ok"]
    assert report["groups"][1]["inputs"] == [str(p) for p in brackets[1]]
    written = folder_files(out)
    assert {"IMG_0001_mertens.tif", "IMG_0001_mertens.exr", "IMG_0004_mertens.tif",
            "IMG_0004_mertens.exr", "lumafuse-batch.json"} == written
    # the same pixels as `fuse` on that bracket: one pipeline
    single = tmp_path / "single.tif"
    assert cli_inproc(capsys, "fuse", *brackets[1], "-o", single).code == 0
    assert np.array_equal(read_frame(single)[0], read_frame(out / "IMG_0004_mertens.tif")[0])
    # again: everything is skipped, nothing rewritten
    before = (out / "IMG_0001_mertens.tif").stat().st_mtime_ns
    (out / "IMG_0004_mertens.exr").unlink()  # one output lost: only it is made again
    proc = cli_inproc(capsys, *args)
    assert proc.code == 0, proc.stderr
    assert [g["status"] for g in _report(out)["groups"]] == ["skipped", "ok"]
    assert (out / "IMG_0004_mertens.exr").exists()
    assert (out / "IMG_0001_mertens.tif").stat().st_mtime_ns == before
    proc = cli_inproc(capsys, *args, "--force")
    assert [g["status"] for g in _report(out)["groups"]] == ["ok", "ok"]
    assert (out / "IMG_0001_mertens.tif").stat().st_mtime_ns != before


def test_a_failing_bracket_is_reported_and_the_rest_processed(tmp_path, capsys):
    _shoot(tmp_path / "in", scenes=1)
    # a second "bracket" whose frames differ in size: fixed groups of 3 put them together
    small = synthetic.photograph(synthetic.radiance_field(40, 60), synthetic.TIMES[1:])
    write_png(tmp_path / "in" / "IMG_0004.png", small[0])
    write_png(tmp_path / "in" / "IMG_0005.png", small[1])
    write_png(tmp_path / "in" / "IMG_0006.png", cv2.resize(small[2], (50, 40)))
    out = tmp_path / "out"
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", out, "--group-size", "3", "-j", "1")
    assert proc.code == 4, proc.stderr
    groups = _report(out)["groups"]
    assert [g["status"] for g in groups] == ["ok", "failed"]
    assert "IMG_0006.png" in groups[1]["error"]
    assert folder_files(out) == {"IMG_0001_mertens.tif", "lumafuse-batch.json"}
    assert "1 failed" in proc.stderr


def test_preset_and_flags_build_one_recipe(tmp_path, capsys):
    _shoot(tmp_path / "in", scenes=1)
    preset = tmp_path / "look.toml"
    preset.write_text('[method]\nid = "mertens"\n[method.params]\ncontrast = 0.5\n'
                      '[tone.look]\nvibrance = 25\n'
                      '[output]\nformats = ["png"]\nnaming = "{group}-{method}.{ext}"\n')
    out = tmp_path / "out"
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", out, "--preset", preset,
                      "--format", "jpg", "--param", "saturation=2", "-j", "1")
    assert proc.code == 0, proc.stderr
    assert folder_files(out) == {"001-mertens.jpg", "lumafuse-batch.json"}
    from PIL import Image

    with Image.open(out / "001-mertens.jpg") as im:
        comment = im.info.get("comment", b"").decode()
    assert '"contrast": 0.5' in comment or "'contrast': 0.5" in comment
    assert "saturation" in comment
    assert "'vibrance': 25.0" in comment  # the preset's look reaches the files
    bad = tmp_path / "bad.toml"
    bad.write_text('[method]\nid = "mertens"\nalign = "sideways"\n')
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", out, "--preset", bad)
    assert_one_line_error(proc, "bad.toml", "sideways")


def test_quality_read_out_in_the_report(tmp_path, capsys):
    _shoot(tmp_path / "in", scenes=1)
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "-j", "1",
                      "--read-out")
    assert proc.code == 0, proc.stderr
    q = _report(tmp_path / "out")["groups"][0]["quality"]
    assert 0.5 < q["mef_ssim"] <= 1 and 0 <= q["clipped"] <= 1
    assert "MEF-SSIM" in proc.stderr


def test_worker_processes_give_the_same_results(tmp_path):
    _shoot(tmp_path / "in", scenes=3)
    proc = cli("batch", tmp_path / "in", "-o", tmp_path / "par", "-j", "2")
    assert proc.code == 0, proc.stderr
    assert "running on 2 worker processes" in proc.stderr
    assert "[3/3]" in proc.stderr
    seq = cli("batch", tmp_path / "in", "-o", tmp_path / "seq", "-j", "1")
    assert seq.code == 0, seq.stderr
    for name in ("IMG_0001_mertens.tif", "IMG_0004_mertens.tif", "IMG_0007_mertens.tif"):
        assert np.array_equal(read_frame(tmp_path / "par" / name)[0],
                              read_frame(tmp_path / "seq" / name)[0])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly(tmp_path, jobs):
    """SIGINT while brackets run: exit 130, no temporary or partial file, the report says
    which brackets finished (their outputs stay) and which were cancelled."""
    _shoot(tmp_path / "in", scenes=8, h=900, w=1200)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "main.py", "batch", str(tmp_path / "in"), "-o", str(out), "-j", jobs,
         "--format", "tif,exr"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        # as from an interactive terminal: a test run started in the background (no job
        # control) has SIGINT ignored, and the batch, like any command, keeps ignoring it then
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    while True:  # wait until the first bracket is done and the next ones are running
        line = proc.stderr.readline()
        lines.append(line)
        if not line or line.startswith("[1/8]"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + err
    report = _report(out)
    statuses = [g["status"] for g in report["groups"]]
    assert "cancelled" in statuses and set(statuses) <= {"ok", "cancelled"}
    names = folder_files(out)
    assert not [n for n in names if n.startswith(".")], names  # no temporary file left
    for group in report["groups"]:  # finished brackets complete, cancelled ones absent
        present = [Path(o).name in names for o in group["outputs"]]
        assert all(present) if group["status"] == "ok" else not any(present)


def test_ray_runs_the_same_plan(tmp_path, capsys):
    """``--ray`` in a fresh process starts a local Ray instance (no address given) and runs
    one Ray task per bracket: the same report and pixels as the local run. In a subprocess
    with a time limit, so a Ray start-up that stalls fails the test instead of hanging it."""
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")
    _shoot(tmp_path / "in")
    proc = cli("batch", tmp_path / "in", "-o", tmp_path / "ray", "--ray", timeout=240)
    assert proc.code == 0, proc.stderr
    assert "running on Ray" in proc.stderr
    local = cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "local", "-j", "1")
    assert local.code == 0
    strip = lambda rep: [{k: v for k, v in g.items() if k not in ("seconds", "outputs")}
                         for g in rep["groups"]]
    assert strip(_report(tmp_path / "ray")) == strip(_report(tmp_path / "local"))
    for name in ("IMG_0001_mertens.tif", "IMG_0004_mertens.tif"):
        assert np.array_equal(read_frame(tmp_path / "ray" / name)[0],
                              read_frame(tmp_path / "local" / name)[0])


def test_bad_batch_usage(tmp_path, capsys):
    _shoot(tmp_path / "in", scenes=1)
    assert_one_line_error(cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "o",
                                     "--naming", "{first}.{bad}"), "{bad}")
    assert_one_line_error(cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "o",
                                     "--jobs", "0"), "--jobs")
    assert_one_line_error(cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "o",
                                     "--naming", "same.{ext}", "--group-size", "1",
                                     "--singles", "-q"), "same.tif", "{group}")
