"""Exports keep what the photo is: the reference frame's EXIF (orientation normalised, GPS
optional) and an sRGB ICC profile in JPEG/PNG/TIFF; EXR chromaticities."""

from __future__ import annotations

from pathlib import Path

import exifread
import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from app.core.io import read_exr, read_frame, write_exr, write_result
from app.core.io.photo_meta import SRGB_CHROMATICITIES, srgb_profile
from app.core.types import Provenance, Result, ResultKind, ToneParams


def _camera_jpeg(path: Path, img: np.ndarray, orientation: int = 1, gps: bool = True) -> Path:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Nikon", "D850"
    exif[0x0132] = "2026:05:01 10:00:00"
    exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 60)
    sub[0x9003] = "2026:05:01 10:00:00"
    sub[0xA434] = "24-70mm f/2.8"  # LensModel
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = "N", (IFDRational(48, 1), IFDRational(51, 1), IFDRational(0, 1))
    Image.fromarray(img).save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def _result(frames: list[Path], h: int, w: int) -> Result:
    img = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    img[: h // 4, : w // 4] = (1.0, 0.0, 0.0)  # red top-left: shows the orientation
    prov = Provenance(method="mertens", params={}, inputs=tuple(map(str, frames)))
    return Result(image=img, kind=ResultKind.LDR_FUSED, provenance=prov)


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "avif"])
def test_exports_carry_the_reference_frames_exif_and_an_srgb_profile(tmp_path, ext):
    stored = np.zeros((40, 60, 3), np.uint8)
    frames = [_camera_jpeg(tmp_path / f"f{i}.jpg", stored, orientation=6) for i in range(3)]
    out = write_result(tmp_path / f"out.{ext}", _result(frames, 60, 40), ToneParams())
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == srgb_profile()
        exif = im.getexif()
    if ext == "avif":  # exifread does not parse HEIF boxes: Pillow reads the EXIF back
        assert exif.get(0x010F) == "Nikon" and exif.get(0x0112) in (None, 1)  # irot box: none
        assert exif.get_ifd(0x8769).get(0x829A) == 1 / 60
        return
    with open(out, "rb") as fh:
        tags = exifread.process_file(fh, details=False)
    assert str(tags.get("Image Make")) == "Nikon" and str(tags.get("Image Model")) == "D850"
    assert str(tags.get("EXIF ExposureTime")) == "1/60"
    assert "24-70mm" in str(tags.get("EXIF LensModel"))
    assert "GPS GPSLatitude" in tags
    if ext != "tif":  # TIFF has no orientation tag at all (the pixels are stored upright)
        assert exif.get(0x0112) == 1  # upright pixels: never turned a second time
    pixels = read_frame(out)[0]
    assert pixels.shape == (60, 40, 3)  # as written: portrait, red block still top-left
    assert pixels[5, 5, 0] > 0.9 and pixels[5, 5, 1] < 0.1


def test_strip_location_drops_gps_and_keeps_the_rest(tmp_path):
    frames = [_camera_jpeg(tmp_path / "f.jpg", np.zeros((8, 8, 3), np.uint8))]
    out = write_result(tmp_path / "o.jpg", _result(frames, 8, 8), ToneParams(),
                       strip_location=True)
    with open(out, "rb") as fh:
        tags = exifread.process_file(fh, details=False)
    assert not [k for k in tags if k.startswith("GPS")]
    assert str(tags.get("Image Model")) == "D850"


def test_without_a_source_exif_only_the_profile_is_added(tmp_path):
    out = write_result(tmp_path / "o.png", _result([], 8, 8), ToneParams())
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == srgb_profile()


def test_exr_has_srgb_chromaticities(tmp_path):
    out = write_exr(tmp_path / "o.exr", np.ones((4, 4, 3), np.float32))
    header = read_exr(out)[1]
    np.testing.assert_allclose(header["chromaticities"], SRGB_CHROMATICITIES, atol=1e-6)


@pytest.mark.parametrize("space", ["display-p3", "adobe-rgb"])
def test_wide_gamut_outputs_convert_and_carry_their_profile(tmp_path, space):
    """Converted back to sRGB by LittleCMS through the embedded profile, the file shows the
    colours of the sRGB rendering (8-bit quantisation apart)."""
    import io

    from PIL import ImageCms

    from app.core.tonemap import render

    result = _result([], 64, 64)
    out = write_result(tmp_path / "wide.png", result, ToneParams(), colour_space=space)
    expected = render(result.image, result.kind, ToneParams())
    with Image.open(out) as im:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        assert space.split("-")[0] in ImageCms.getProfileDescription(profile).lower()
        to_srgb = ImageCms.buildTransform(profile, ImageCms.createProfile("sRGB"), "RGB", "RGB")
        shown = np.asarray(ImageCms.applyTransform(im.convert("RGB"), to_srgb), np.float64) / 255
        stored = np.asarray(im.convert("RGB"), np.float64) / 255
    err = np.abs(shown - expected) * 255
    # two 8-bit roundings (the file, the transform), steeper in the darks of gamma 2.2
    assert err.mean() < 1.0 and np.percentile(err, 99) < 4.0
    assert np.abs(stored - expected).mean() * 255 > 2  # really re-encoded, not just tagged
