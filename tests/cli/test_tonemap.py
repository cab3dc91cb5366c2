"""``tonemap``: an HDR file to a display image, with the same options as ``fuse``."""

from __future__ import annotations

import cv2
import numpy as np
import OpenEXR
import pytest

from tests import synthetic
from tests.cli.helpers import assert_one_line_error, cli, cli_inproc


@pytest.fixture
def exr(tmp_path):
    path = tmp_path / "scene.exr"
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": synthetic.radiance_field()}).write(str(path))
    return path


def test_tonemap_exr_to_png_in_a_subprocess(exr, tmp_path):
    out = tmp_path / "scene.png"
    proc = cli("tonemap", exr, "-o", out, "--tmo", "reinhard")
    assert proc.code == 0, proc.stderr
    img = cv2.imread(str(out))
    assert img.shape == (96, 128, 3)
    grey = img.mean(axis=2)
    assert grey[:, :8].mean() < grey[:, -8:].mean()  # the radiance ramp survives
    assert grey.max() < 255 or (grey == 255).mean() < 0.05  # reinhard compresses highlights


def test_operator_and_exposure_change_the_rendering(exr, tmp_path, capsys):
    outs = {}
    for name, args in {"none": ("--tmo", "none"), "reinhard": ("--tmo", "reinhard"),
                       "dark": ("--tmo", "reinhard", "--exposure", "-2")}.items():
        outs[name] = tmp_path / f"{name}.png"
        proc = cli_inproc(capsys, "tonemap", exr, "-o", outs[name], *args, "-q")
        assert proc.code == 0, proc.stderr
    img = {k: cv2.imread(str(v)).astype(float) for k, v in outs.items()}
    assert np.abs(img["none"] - img["reinhard"]).mean() > 2
    assert img["dark"].mean() < img["reinhard"].mean()


def test_sixteen_bit_tiff(exr, tmp_path, capsys):
    out = tmp_path / "scene.tif"
    assert cli_inproc(capsys, "tonemap", exr, "-o", out, "--bit-depth", "16", "-q").code == 0
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_bad_tmo_param(exr, tmp_path, capsys):
    proc = cli_inproc(capsys, "tonemap", exr, "-o", tmp_path / "x.png", "--tmo-param", "zz=1")
    assert_one_line_error(proc, "zz")


def test_missing_input(tmp_path, capsys):
    proc = cli_inproc(capsys, "tonemap", tmp_path / "none.exr", "-o", tmp_path / "x.png")
    assert_one_line_error(proc, "none.exr")


def test_radiance_hdr_round_trip(bracket, tmp_path, capsys):
    """fuse -> Radiance .hdr (linear, as is) -> tonemap -> JPEG."""
    from tests.cli.helpers import TIMES_ARG

    hdr = tmp_path / "merged.hdr"
    proc = cli_inproc(capsys, "fuse", *bracket, "-m", "debevec", "--times", TIMES_ARG, "-o", hdr)
    assert proc.code == 0, proc.stderr
    assert hdr.read_bytes()[:2] == b"#?"
    jpg = tmp_path / "merged.jpg"
    proc = cli_inproc(capsys, "tonemap", hdr, "-o", jpg, "--tmo", "filmic", "--quality", "90")
    assert proc.code == 0, proc.stderr
    img = cv2.imread(str(jpg))
    assert img.shape == (96, 128, 3) and img[:, :8].mean() < img[:, -8:].mean()


def test_white_balance_options(tmp_path, capsys):
    """--temperature/--tint reach the rendering; out-of-range values are one-line errors."""
    from tests.cli.helpers import assert_one_line_error, cli_inproc

    src = tmp_path / "grey.exr"
    import OpenEXR

    from app.core.tonemap.white_balance import _light_rgb

    light = (_light_rgb(3000, 0) / _light_rgb(6504, 0)).astype(np.float32)  # tungsten-lit grey
    card = np.full((8, 8, 3), 0.18, np.float32) * light
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": card}).write(str(src))
    plain, balanced = tmp_path / "plain.png", tmp_path / "wb.png"
    assert cli_inproc(capsys, "tonemap", src, "-o", plain, "--tmo", "none").code == 0
    assert cli_inproc(capsys, "tonemap", src, "-o", balanced, "--tmo", "none",
                      "--temperature", "3000").code == 0
    from app.core.io import read_frame

    a, b = read_frame(plain)[0][4, 4], read_frame(balanced)[0][4, 4]
    assert np.ptp(b) < np.ptp(a) / 3  # much closer to neutral
    assert_one_line_error(cli_inproc(capsys, "tonemap", src, "-o", tmp_path / "x.png",
                                     "--temperature", "900"), "temperature")
