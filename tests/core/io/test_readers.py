"""read_frame: formats, value domains, orientation, EXIF, and every bad-input message."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import Image, ImageOps

from app.core.errors import InputError
from app.core.io import MAX_PIXELS, apply_orientation, read_exif, read_exr, read_frame
from tests.core.io.helpers import (
    SAMPLE_FILES,
    SAMPLE_TIMES,
    png_with_header_size,
    rgb8,
    save_dng,
    save_exr_channels,
    save_jpeg,
)


# ---------------------------------------------------------------- formats and value domains


def test_png_8_and_16_bit_are_display_referred(tmp_path):
    img8 = rgb8()
    img16 = img8.astype(np.uint16) * 257 + 3
    cv2.imwrite(str(tmp_path / "a.png"), img8[..., ::-1])
    cv2.imwrite(str(tmp_path / "b.png"), img16[..., ::-1])
    a, ia = read_frame(tmp_path / "a.png")
    b, ib = read_frame(tmp_path / "b.png")
    assert a.dtype == np.float32 and a.shape == (24, 32, 3)
    np.testing.assert_allclose(a, img8 / 255.0, atol=1e-6)
    np.testing.assert_allclose(b, img16 / 65535.0, atol=1e-6)
    assert (ia.linear, ia.bit_depth, ib.linear, ib.bit_depth) == (False, 8, False, 16)


def test_tiff_16_bit_and_float_tiff(tmp_path):
    img16 = (np.random.default_rng(1).random((20, 30, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "a.tif"), img16[..., ::-1])
    a, info = read_frame(tmp_path / "a.tif")
    np.testing.assert_allclose(a, img16 / 65535.0, atol=1e-6)
    assert info.bit_depth == 16 and not info.linear
    flt = np.random.default_rng(2).random((20, 30, 3)).astype(np.float32) * 5
    cv2.imwrite(str(tmp_path / "f.tif"), flt[..., ::-1])
    f, finfo = read_frame(tmp_path / "f.tif")
    np.testing.assert_allclose(f, flt, rtol=1e-6)
    assert finfo.linear


def test_jpeg_is_rgb_not_bgr(tmp_path):
    img = np.zeros((16, 16, 3), np.uint8)
    img[..., 0] = 250  # pure red in RGB
    save_jpeg(tmp_path / "red.jpg", img)
    a, _ = read_frame(tmp_path / "red.jpg")
    assert a[..., 0].mean() > 0.95 and a[..., 2].mean() < 0.05


def test_grey_grey_alpha_and_rgba_become_rgb(tmp_path):
    grey = rgb8()[..., 1]
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    Image.fromarray(np.stack([grey, np.full_like(grey, 7)], -1), "LA").save(tmp_path / "ga.png")
    rgba = np.dstack([rgb8(), np.full((24, 32), 9, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    g, _ = read_frame(tmp_path / "g.png")
    ga, _ = read_frame(tmp_path / "ga.png")
    ra, _ = read_frame(tmp_path / "rgba.png")
    for x in (g, ga):
        assert x.shape == (24, 32, 3)
        np.testing.assert_allclose(x[..., 0], grey / 255.0, atol=1e-6)
        np.testing.assert_array_equal(x[..., 0], x[..., 2])
    np.testing.assert_allclose(ra, rgb8() / 255.0, atol=1e-6)  # alpha dropped, not blended


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_jpeg_codes_are_the_decoders_own_in_rgb_order(tmp_path, mode):
    """A JPEG frame holds libjpeg's codes in RGB order (its BGR output reordered), for colour,
    grey (three equal channels) and CMYK files."""
    yy, xx = np.mgrid[0:24, 0:32]
    src = np.dstack([200 + xx, 40 + 2 * yy, 30 + xx]).astype(np.uint8)  # smooth, red
    Image.fromarray(src).convert(mode).save(tmp_path / "x.jpg", quality=92)
    frame, _ = read_frame(tmp_path / "x.jpg", codes=True)
    bgr = cv2.imdecode(np.fromfile(tmp_path / "x.jpg", np.uint8), cv2.IMREAD_UNCHANGED)
    expected = (cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB) if bgr.ndim == 2
                else np.ascontiguousarray(bgr[..., ::-1]))
    assert frame.dtype == np.uint8 and frame.shape == (24, 32, 3)
    np.testing.assert_array_equal(frame, expected)
    if mode == "RGB":  # and near the picture that was saved (red stays red)
        assert np.abs(frame.astype(int) - src).mean() < 4


def test_radiance_hdr_is_linear(tmp_path):
    rad = np.random.default_rng(3).random((10, 12, 3)).astype(np.float32) * 50 + 0.5
    cv2.imwrite(str(tmp_path / "x.hdr"), rad[..., ::-1])
    a, info = read_frame(tmp_path / "x.hdr")
    assert info.linear
    # RGBE keeps ~8 bits of mantissa relative to the pixel's largest channel.
    assert (np.abs(a - rad).max(axis=2) / rad.max(axis=2)).max() < 0.01


# ---------------------------------------------------------------- OpenEXR layouts


def test_exr_rgb_rgba_half_and_float(tmp_path):
    rad = np.random.default_rng(4).random((9, 11, 3)).astype(np.float32) * 100
    save_exr_channels(tmp_path / "f.exr", {"RGB": rad})
    rgba = np.dstack([rad, np.full((9, 11), 0.25, np.float32)]).astype(np.float16)
    save_exr_channels(tmp_path / "h.exr", {"RGBA": rgba})
    f, finfo = read_frame(tmp_path / "f.exr")
    h, _ = read_frame(tmp_path / "h.exr")
    np.testing.assert_array_equal(f, rad)
    np.testing.assert_array_equal(h, rgba[..., :3].astype(np.float32))
    assert finfo.linear and finfo.bit_depth == 32
    assert read_frame(tmp_path / "h.exr")[1].bit_depth == 16


def test_exr_luminance_only_and_luminance_chroma(tmp_path):
    rng = np.random.default_rng(5)
    y = rng.random((8, 10)).astype(np.float32) + 0.1
    save_exr_channels(tmp_path / "y.exr", {"Y": y})
    a, _ = read_frame(tmp_path / "y.exr")
    np.testing.assert_array_equal(a, np.dstack([y, y, y]))
    # Luminance/chroma as OpenEXR's RgbaYca defines it: RY = (R-Y)/Y, BY = (B-Y)/Y, Rec.709 Yw.
    rgb = rng.random((8, 10, 3)).astype(np.float32) + 0.2
    yw = np.array([0.2126, 0.7152, 0.0722], np.float32)
    lum = rgb @ yw
    chans = {"Y": lum, "RY": (rgb[..., 0] - lum) / lum, "BY": (rgb[..., 2] - lum) / lum}
    save_exr_channels(tmp_path / "yc.exr", chans)
    b, _ = read_frame(tmp_path / "yc.exr")
    np.testing.assert_allclose(b, rgb, rtol=2e-3, atol=2e-4)


def test_exr_negative_values_clipped_and_header_returned(tmp_path):
    rad = np.full((4, 5, 3), 2.0, np.float32)
    rad[0, 0] = -1.0
    save_exr_channels(tmp_path / "n.exr", {"RGB": rad}, {"comments": "hello"})
    a, header = read_exr(tmp_path / "n.exr")
    assert a.min() == 0.0 and a.max() == 2.0
    assert header["comments"] == "hello"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_exr_with_nan_or_inf_is_refused(tmp_path, bad):
    rad = np.ones((4, 5, 3), np.float32)
    rad[1, 2, 1] = bad
    save_exr_channels(tmp_path / "bad.exr", {"RGB": rad})
    with pytest.raises(InputError, match=r"bad\.exr.*NaN or infinite"):
        read_frame(tmp_path / "bad.exr")


# ---------------------------------------------------------------- orientation and EXIF


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_exif_orientation_applied_once_like_pillow(tmp_path, orientation, ext):
    img = rgb8(20, 36)
    path = tmp_path / f"o{orientation}.{ext}"
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = orientation
    pil.save(path, exif=exif, **({"quality": 100, "subsampling": 0} if ext == "jpg" else {}))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")) / 255.0
    got, _ = read_frame(path)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6)
    if orientation in (5, 6, 7, 8):
        assert got.shape[:2] == (36, 20)


def test_apply_orientation_rotates_the_marker():
    img = np.zeros((4, 6), np.uint8)
    img[0, 0] = 1  # top-left
    assert apply_orientation(img, 6)[0, -1] == 1  # 90 deg clockwise: top-left -> top-right
    assert apply_orientation(img, 8)[-1, 0] == 1  # counter-clockwise: -> bottom-left
    assert apply_orientation(img, 3)[-1, -1] == 1


def test_exif_exposure_fields(tmp_path):
    path = save_jpeg(tmp_path / "e.jpg", rgb8(), time=(1, 250), iso=400, f_number=5.6)
    _, info = read_frame(path)
    assert info.exposure_time == pytest.approx(1 / 250)
    assert info.iso == 400 and info.f_number == pytest.approx(5.6)
    assert info.relative_exposure == pytest.approx((1 / 250) * 400 / 5.6**2)
    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), rgb8())
    assert read_exif(plain).exposure_time is None


def test_exif_times_of_the_bundled_sample():
    for path, t in zip(SAMPLE_FILES, SAMPLE_TIMES):
        img, info = read_frame(path)
        assert info.exposure_time == pytest.approx(t)
        assert (info.iso, info.f_number) == (100, 8)
        assert img.shape == (874, 644, 3)


# ---------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jpg: file not found"):
        read_frame(tmp_path / "nope.jpg")


def test_folder(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match=r"dir\.png: is a folder"):
        read_frame(tmp_path / "dir.png")


def test_zero_bytes(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: file is empty"):
        read_frame(tmp_path / "empty.jpg")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("just some text, not a picture\n")
    with pytest.raises(InputError, match=r"notes\.jpg: not an image file"):
        read_frame(tmp_path / "notes.jpg")


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "hdr", "exr"])
def test_truncated_files(tmp_path, ext):
    full = tmp_path / f"full.{ext}"
    img = rgb8(64, 80)
    if ext == "exr":
        save_exr_channels(full, {"RGB": img.astype(np.float32)})
    elif ext == "hdr":
        cv2.imwrite(str(full), img.astype(np.float32))
    else:
        cv2.imwrite(str(full), img)
    read_frame(full)  # the intact file reads
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.\w+: .*(truncated|corrupt|not a readable)"):
        read_frame(cut)


def test_garbage_after_a_valid_header_is_corrupt(tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), rgb8())
    data = bytearray(good.read_bytes())
    data[40:-20] = bytes(len(data) - 60)  # zero the compressed pixels, keep IEND
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad\.png"):
        read_frame(tmp_path / "bad.png")


def test_too_large_refused_from_header_before_decoding(tmp_path):
    # 20000 x 20000 = 400 MP claimed by the header; the file itself is a few bytes.
    big = png_with_header_size(tmp_path / "huge.png", 20000, 20000)
    assert os.path.getsize(big) < 200
    with pytest.raises(InputError, match=r"huge\.png: image is 20000x20000 \(400\.0 MP\), "
                                         r"larger than the limit of 300 MP"):
        read_frame(big)
    assert MAX_PIXELS == 300_000_000


def test_pillows_own_bomb_guard_does_not_stand_in_for_our_limit(tmp_path):
    # 15000 x 13500 = 202.5 MP: over Pillow's guard (~179 MP), under our limit. The header is
    # read (not refused as too large); the file holds no pixels, so decoding it fails.
    frame = png_with_header_size(tmp_path / "big.png", 15000, 13500)
    with pytest.raises(InputError, match=r"big\.png: .*(corrupt|truncated)") as err:
        read_frame(frame, codes=True)
    assert "limit" not in str(err.value)


def test_too_large_with_a_lower_limit(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgb8(30, 40))
    with pytest.raises(InputError, match=r"a\.png: image is 40x30 .*limit"):
        read_frame(path, max_pixels=1000)
    save_exr_channels(tmp_path / "a.exr", {"RGB": np.ones((30, 40, 3), np.float32)})
    with pytest.raises(InputError, match=r"a\.exr: image is 40x30 .*limit"):
        read_frame(tmp_path / "a.exr", max_pixels=1000)


def test_not_a_raw_file(tmp_path):
    fake = tmp_path / "IMG_0001.CR2"
    fake.write_bytes(b"II*\x00" + os.urandom(2000))
    with pytest.raises(InputError, match=r"IMG_0001\.CR2: not a camera RAW file"):
        read_frame(fake)


def test_unreadable_exr_structure(tmp_path):
    path = tmp_path / "x.exr"
    path.write_bytes(b"\x76\x2f\x31\x01" + b"\x02\x00\x00\x00" + b"garbage" * 20)
    with pytest.raises(InputError, match=r"x\.exr: not a readable OpenEXR file"):
        read_frame(path)


def test_file_name_does_not_decide_the_format(tmp_path):
    # A PNG saved as .jpg still reads (formats are sniffed from the bytes).
    path = tmp_path / "really_png.jpg"
    cv2.imwrite(str(tmp_path / "x.png"), rgb8()[..., ::-1])  # OpenCV takes BGR
    shutil.copy(tmp_path / "x.png", path)
    a, _ = read_frame(path)
    np.testing.assert_allclose(a, rgb8() / 255.0, atol=1e-6)


def test_channels_without_rgb_or_y_are_reported(tmp_path):
    path = tmp_path / "z.exr"
    OpenEXR.File({}, {"Z": np.ones((4, 4), np.float32), "N": np.ones((4, 4), np.float32)}).write(str(path))
    with pytest.raises(InputError, match=r"z\.exr: .*no RGB or luminance channels"):
        read_frame(path)


# ---------------------------------------------------------------- camera RAW (LibRaw)


def test_raw_dng_is_linear_with_exif(tmp_path):
    """A hand-made DNG: LibRaw output must stay proportional to the sensor values (no gamma,
    no auto-brightening), and the exposure data comes from the file's IFD0 (TIFF/EP style)."""
    cfa = np.full((48, 64), 6000, np.uint16)
    cfa[:, 32:] = 18000  # right half: 3x the exposure of the left half
    path = save_dng(tmp_path / "shot.dng", cfa, exposure_time=(1, 125), iso=200)
    img, info = read_frame(path)
    assert img.shape == (48, 64, 3) and img.dtype == np.float32
    assert info.linear and info.bit_depth == 16
    assert info.exposure_time == pytest.approx(1 / 125) and info.iso == 200
    left, right = img[8:40, 4:28].mean(), img[8:40, 36:60].mean()
    assert right / left == pytest.approx(3.0, rel=0.01)
    assert left == pytest.approx(6000 / 65535, rel=0.02)  # white level 65535 -> 1.0


def test_raw_pixel_limit(tmp_path):
    path = save_dng(tmp_path / "big.dng", np.full((48, 64), 1000, np.uint16))
    with pytest.raises(InputError, match=r"big\.dng: image is 64x48 .*limit"):
        read_frame(path, max_pixels=1000)


def test_known_but_unsupported_formats_say_what_they_are(tmp_path):
    heic = tmp_path / "IMG_1.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    with pytest.raises(InputError, match=r"IMG_1\.HEIC: HEIF/AVIF images are not supported"):
        read_frame(heic)
    gif = tmp_path / "a.gif"
    Image.new("P", (4, 4)).save(gif)
    with pytest.raises(InputError, match=r"a\.gif: GIF images are not supported"):
        read_frame(gif)


def test_module_limit_is_read_at_call_time(tmp_path, monkeypatch):
    from app.core.io import readers

    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgb8(30, 40))
    monkeypatch.setattr(readers, "MAX_PIXELS", 1000)
    with pytest.raises(InputError, match=r"a\.png: image is 40x30 \(0\.0 MP\), larger than the limit of 1000 pixels"):
        read_frame(path)


def test_decodes_in_threads_share_one_silence_and_restore_it(capfd):
    """Silenced calls overlapping in two threads: native writes to fd 2 vanish while either
    runs; once the last leaves, fd 2 and OpenCV's log level are back (the first to leave must
    not restore them under the other, nor the other restore a silence it saw as 'before')."""
    import threading

    from app.core.io.quiet import native_output_silenced

    level = cv2.utils.logging.getLogLevel()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    levels_inside = []

    def first():
        with native_output_silenced():
            a_in.set()
            b_in.wait(5)
            os.write(2, b"hidden-a\n")
        a_out.set()

    def second():
        a_in.wait(5)
        with native_output_silenced():
            b_in.set()
            a_out.wait(5)  # the first has left: the silence must still hold
            os.write(2, b"hidden-b\n")
            levels_inside.append(cv2.utils.logging.getLogLevel())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    os.write(2, b"shown\n")
    err = capfd.readouterr().err
    assert "hidden" not in err and "shown" in err
    assert levels_inside == [cv2.utils.logging.LOG_LEVEL_SILENT]
    assert cv2.utils.logging.getLogLevel() == level
