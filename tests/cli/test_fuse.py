"""``fuse`` end to end: formats, methods, exposure options, defaults, progress, error mapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from app.models import registry
from tests import synthetic
from tests.cli.helpers import (
    TIMES_ARG,
    assert_one_line_error,
    cli,
    cli_inproc,
    folder_files,
)


def _png_text(path) -> dict[str, str]:
    with Image.open(path) as im:
        return dict(im.text)


def test_default_method_for_a_bracket_is_mertens_png(bracket, tmp_path, capsys):
    out = tmp_path / "fused.png"
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out)
    assert proc.code == 0, proc.stderr
    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint8 and img.shape == (96, 128, 3)
    meta = _png_text(out)
    assert meta["lumafuse:method"] == "mertens"
    assert "exp0.png" in meta["lumafuse:inputs"]
    # fused: the dark end keeps detail from the bright frame, the bright end from the dark one
    grey = img.mean(axis=2)
    assert 5 < grey[:, :10].mean() and grey[:, -10:].mean() < 250
    assert "wrote" in proc.stderr and proc.stdout == ""


def test_sixteen_bit_png_and_jpeg(bracket, tmp_path, capsys):
    out16 = tmp_path / "f16.png"
    assert cli_inproc(capsys, "fuse", *bracket, "-o", out16, "--bit-depth", "16").code == 0
    img16 = cv2.imread(str(out16), cv2.IMREAD_UNCHANGED)
    assert img16.dtype == np.uint16 and img16.max() > 255
    jpg = tmp_path / "f.jpg"
    assert cli_inproc(capsys, "fuse", *bracket, "-o", jpg, "--quality", "80").code == 0
    assert cv2.imread(str(jpg)).shape == (96, 128, 3)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "g.jpg", "--bit-depth", "16")
    assert_one_line_error(proc, "g.jpg", "8 bits")


def test_debevec_exr_is_linear_radiance(bracket, tmp_path, capsys):
    from app.core.io import read_exr

    out = tmp_path / "hdr.exr"
    proc = cli_inproc(capsys, "fuse", *bracket, "-m", "debevec", "--times", TIMES_ARG,
                      "-o", out, "--float")
    assert proc.code == 0, proc.stderr
    hdr, header = read_exr(out)
    assert hdr.shape == (96, 128, 3) and np.isfinite(hdr).all() and hdr.min() >= 0
    # linear: proportional to the scene radiance, over a range no single frame holds
    rad = synthetic.radiance_field()
    lum_true = rad.mean(axis=2)
    lum = hdr.mean(axis=2)
    ok = lum > 0
    corr = np.corrcoef(np.log(lum[ok]), np.log(lum_true[ok]))[0, 1]
    assert corr > 0.98, corr
    assert np.percentile(lum, 99) / np.percentile(lum[ok], 1) > 100  # > 6.6 EV kept
    assert "debevec" in str(header)


def test_hdr_to_png_is_tone_mapped_and_options_matter(bracket, tmp_path, capsys):
    a, b = tmp_path / "reinhard.png", tmp_path / "bright.png"
    args = ("fuse", *bracket, "-m", "robertson", "--times", TIMES_ARG)
    assert cli_inproc(capsys, *args, "-o", a).code == 0
    assert cli_inproc(capsys, *args, "-o", b, "--exposure", "1.5").code == 0
    ia = cv2.imread(str(a)).astype(float)
    ib = cv2.imread(str(b)).astype(float)
    assert ib.mean() > ia.mean() + 3  # +1.5 EV renders brighter
    assert _png_text(a)["lumafuse:kind"] == "hdr_linear"


def test_ev_offsets_work_like_times(bracket, tmp_path, capsys):
    out = tmp_path / "ev.exr"
    proc = cli_inproc(capsys, "fuse", *bracket, "-m", "debevec", "--ev", "-4,-2,0", "-o", out)
    assert proc.code == 0, proc.stderr
    assert out.is_file()


def test_alignment_option_runs(bracket, tmp_path, capsys):
    out = tmp_path / "aligned.png"
    proc = cli_inproc(capsys, "fuse", *bracket, "--align", "mtb", "-o", out)
    assert proc.code == 0, proc.stderr
    assert _png_text(out)["lumafuse:params"].find("'align': 'mtb'") >= 0


def test_param_reaches_the_method(bracket, tmp_path, capsys):
    out = tmp_path / "p.png"
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "--param", "sigma=0.5",
                      "--param", "contrast=0")
    assert proc.code == 0, proc.stderr
    params = _png_text(out)["lumafuse:params"]
    assert "'sigma': 0.5" in params and "'contrast': 0.0" in params


def test_force_overwrites(bracket, tmp_path, capsys):
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    assert cli_inproc(capsys, "fuse", *bracket, "-o", out, "--force").code == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_single_image_default(bracket, tmp_path, capsys):
    """One input, no -m: hdrcnn when it is registered and available, else a clear error."""
    out = tmp_path / "single.exr"
    proc = cli_inproc(capsys, "fuse", bracket[1], "-o", out)
    spec = next((m for m in registry.METHODS if m.id == "hdrcnn"), None)
    if spec is not None and registry.availability(spec)[0]:
        assert proc.code == 0, proc.stderr
        assert out.is_file()
    else:
        line = assert_one_line_error(proc, "2 exposures", code=proc.code)
        assert proc.code in (2, 3)
        assert "hdrcnn" in line or "single-image" in line
        assert not out.exists()


def test_subprocess_progress_goes_to_stderr(bracket, tmp_path):
    out = tmp_path / "fused.tif"
    proc = cli("fuse", *bracket, "-o", out, "--bit-depth", "16")
    assert proc.code == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    progress = [l for l in lines if l.lstrip()[:1].isdigit() and "%" in l]
    assert len(progress) >= 3, proc.stderr  # a non-terminal gets plain percentage lines ...
    assert "\r" not in proc.stderr  # ... never the in-place bar
    assert progress[-1].lstrip().startswith("100%")
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    quiet = cli("fuse", *bracket, "-o", tmp_path / "q.png", "-q")
    assert quiet.code == 0 and quiet.stderr == ""


def test_internal_error_is_one_line_with_exit_1(bracket, tmp_path, capsys, monkeypatch):
    from app.models import runner

    def broken(*a, **k):
        raise ValueError("boom")

    monkeypatch.setattr(runner, "run", broken)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png")
    assert_one_line_error(proc, "internal error", "boom", code=1)


def test_memory_error_says_too_large(bracket, tmp_path, capsys, monkeypatch):
    import app.core.io as io

    def oom(*a, **k):
        raise MemoryError("Unable to allocate 9.1 GiB")

    monkeypatch.setattr(io, "load_stack", oom)
    before = folder_files(tmp_path)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png")
    line = assert_one_line_error(proc, "too large for memory", "exp0.png", "limit")
    assert "MP" in line
    assert folder_files(tmp_path) == before


def test_os_error_on_write_names_the_file(bracket, tmp_path, capsys, monkeypatch):
    import app.core.io as io

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(io, "write_result", denied)
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png")
    assert_one_line_error(proc, "x.png", "Permission denied")


@pytest.mark.parametrize("method_id", [m.id for m in registry.METHODS if m.kind == "classical"])
def test_every_classical_method_writes_exr_and_png(bracket, tmp_path, capsys, method_id):
    for ext in (".exr", ".png"):
        out = tmp_path / f"{method_id}{ext}"
        proc = cli_inproc(capsys, "fuse", *bracket, "-m", method_id, "--times", TIMES_ARG,
                          "-o", out)
        assert proc.code == 0, proc.stderr
        assert out.stat().st_size > 0


LEARNED = [m.id for m in registry.METHODS if m.kind == "learned"]


@pytest.mark.parametrize("method_id", LEARNED or [pytest.param("", marks=pytest.mark.skip(reason="no learned method registered"))])
def test_learned_method_through_the_cli_with_random_weights(bracket, tmp_path, capsys,
                                                            monkeypatch, method_id):
    """The CLI path of a learned method (device choice, weights hash in the output), with the
    random-initialisation hook of tests/models/test_contract.py instead of a trained file."""
    import torch

    from app.core.io import read_exr
    from app.models import weights

    monkeypatch.setattr(weights, "load_into", lambda module, key, *, arch=None: ({}, "ab" * 32))
    monkeypatch.setattr(weights, "status", lambda key: (True, ""))

    from tests.models.fakes import fake_numpy_weights

    # networks run in numpy (the RL fusion agent, deepfuse on the CPU)
    monkeypatch.setattr(weights, "load_numpy", fake_numpy_weights)
    spec = registry.get_method(method_id)
    inputs = bracket[: max(spec.min_exposures, 1)] if spec.max_exposures else bracket
    out = tmp_path / "learned.exr"
    proc = cli_inproc(capsys, "fuse", *inputs, "-m", method_id, "--device", "cpu", "-o", out)
    assert proc.code == 0, proc.stderr
    img, header = read_exr(out)
    assert img.shape == (96, 128, 3) and np.isfinite(img).all()
    assert "ab" * 32 in str(header)
    if not torch.cuda.is_available():
        proc = cli_inproc(capsys, "fuse", *inputs, "-m", method_id, "--device", "cuda",
                          "-o", tmp_path / "gpu.exr")
        assert_one_line_error(proc, "cuda")
        assert not (tmp_path / "gpu.exr").exists()


def test_json_summary_with_the_quality_read_out(bracket, tmp_path, capsys):
    import json

    from tests.cli.helpers import cli_inproc

    proc = cli_inproc(capsys, "fuse", *bracket, "-o", tmp_path / "x.png", "--json", "-q")
    assert proc.code == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["method"] == "mertens" and doc["outputs"] == [str(tmp_path / "x.png")]
    q = doc["quality"]
    assert 0.5 < q["mef_ssim"] <= 1 and 0 <= q["clipped"] <= 1 and 0 <= q["crushed"] <= 1


def test_preset_drives_fuse_and_flags_win(bracket, tmp_path, capsys):
    """The same TOML preset as batch and the app: method, tone and look apply; a flag given on
    the command line replaces the preset's value."""
    import json

    from tests.cli.helpers import cli_inproc

    preset = tmp_path / "look.toml"
    preset.write_text('[method]\nid = "debevec"\n[tone]\ntmo = "drago"\nexposure_ev = 0.5\n'
                      '[tone.look]\ncontrast = 30\n')
    out = tmp_path / "x.png"
    proc = cli_inproc(capsys, "fuse", *bracket, "-o", out, "--preset", preset, "--json", "-q",
                      "--times", TIMES_ARG, "--exposure", "1.0")
    assert proc.code == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "debevec"
    from PIL import Image

    with Image.open(out) as im:
        tone = im.info["lumafuse:tone"]
    assert "'tmo': 'drago'" in tone and "'exposure_ev': 1.0" in tone and "'contrast': 30.0" in tone
