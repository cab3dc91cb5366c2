"""Writers: round trips with provenance, atomicity, never over an input, clear OutputErrors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from app.core.errors import OutputError
from app.core.io import (
    check_output_path,
    read_exr,
    read_frame,
    write_display,
    write_exr,
    write_hdr_file,
    write_result,
)
from app.core.io import writers
from app.core.types import Provenance, Result, ResultKind, ToneParams

PROV = Provenance(
    method="mertens",
    params={"sigma": 0.2},
    inputs=("a.jpg", "b.jpg"),
    device="cpu",
    duration_s=1.5,
)


def _image(h=20, w=30, scale=1.0, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * scale).astype(np.float32)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("half,tol", [(True, 1e-3), (False, 0.0)])
def test_exr_round_trip_with_provenance(tmp_path, half, tol):
    rad = _image(scale=500.0) + 1e-3
    out = write_exr(tmp_path / "r.exr", rad, PROV, half=half)
    back, header = read_exr(out)
    if half:
        np.testing.assert_allclose(back, rad, rtol=tol)
    else:
        np.testing.assert_array_equal(back, rad)
    assert header["lumafuse:method"] == "mertens"
    assert header["lumafuse:inputs"] == "a.jpg;b.jpg"
    assert header["lumafuse:params"] == "{'sigma': 0.2}"
    assert header["Software"] == "lumafuse"
    assert "PIZ" in str(header["compression"])  # lossless, faster to write than ZIP
    assert _leftovers(tmp_path) == []


def test_exr_half_clips_above_half_range(tmp_path):
    rad = np.full((4, 4, 3), 1e6, np.float32)
    back, _ = read_exr(write_exr(tmp_path / "big.exr", rad))
    assert np.isfinite(back).all() and back.max() == 65504.0


def test_exr_half_conversion_in_row_blocks_equals_the_whole(tmp_path, monkeypatch):
    from app.core.io import exr

    rad = (np.random.default_rng(0).random((37, 11, 3)) ** 8 * 2e5).astype(np.float32)
    monkeypatch.setattr(exr, "_HALF_BLOCK_VALUES", 40)  # one row (33 values) per block
    path = write_exr(tmp_path / "blocks.exr", rad)
    back, _ = read_exr(path)
    np.testing.assert_array_equal(back, np.clip(rad, 0, 65504).astype(np.float16))
    import OpenEXR  # the planes are the file's standard R, G, B half channels

    with OpenEXR.File(str(path), separate_channels=True) as f:
        chans = f.channels()
        assert sorted(chans) == ["B", "G", "R"]
        assert all(c.pixels.dtype == np.float16 for c in chans.values())


@pytest.mark.parametrize("bits", [8, 16])
def test_png_round_trip_with_text_chunks(tmp_path, bits):
    img = _image()
    out = write_display(tmp_path / f"p{bits}.png", img, bit_depth=bits, provenance=PROV)
    back, info = read_frame(out)
    assert info.bit_depth == bits
    np.testing.assert_allclose(back, img, atol=0.5 / (2**bits - 1) + 1e-6)
    text = Image.open(out).text  # Pillow parses the chunks independently
    assert text["lumafuse:method"] == "mertens"
    assert text["lumafuse:duration_s"] == "1.500"


def test_png_non_latin1_provenance_goes_to_itxt(tmp_path):
    prov = Provenance(method="mertens", inputs=("Łódź.jpg", "東京.jpg"))
    out = write_display(tmp_path / "u.png", _image(), provenance=prov)
    assert Image.open(out).text["lumafuse:inputs"] == "Łódź.jpg;東京.jpg"
    assert b"iTXt" in out.read_bytes()


@pytest.mark.parametrize("bits", [8, 16])
def test_tiff_round_trip_with_description(tmp_path, bits):
    img = _image()
    out = write_display(tmp_path / f"t{bits}.tif", img, bit_depth=bits, provenance=PROV)
    back, info = read_frame(out)
    assert info.bit_depth == bits
    np.testing.assert_allclose(back, img, atol=0.5 / (2**bits - 1) + 1e-6)
    tags = Image.open(out).tag_v2
    assert json.loads(tags[270])["lumafuse:method"] == "mertens"
    assert tags[305] == "lumafuse"
    assert tags[259] == 5  # LZW: lossless, 4x faster to encode than Deflate (writers.py)


@pytest.mark.parametrize("bits", [8, 16])
def test_large_tiffs_are_encoded_in_halves_with_the_same_pixels_and_tags(tmp_path, monkeypatch,
                                                                          bits):
    """From TIFF_SPLIT_PIXELS the halves are encoded in parallel and their strips joined; the
    file reads back identically (OpenCV and Pillow), with its description, ICC profile and the
    single-call encoding's strips."""
    import cv2

    from app.core.io import filemeta

    img = _image(61, 3001)  # rows of >= 8 kB: one row per strip, as at full size
    whole = write_display(tmp_path / f"whole{bits}.tif", img, bit_depth=bits, provenance=PROV)
    monkeypatch.setattr(writers, "TIFF_SPLIT_PIXELS", 100)
    joins = []
    join = filemeta.tiff_join_rows
    monkeypatch.setattr(filemeta, "tiff_join_rows", lambda *a: joins.append(1) or join(*a))
    split = write_display(tmp_path / f"split{bits}.tif", img, bit_depth=bits, provenance=PROV)
    assert joins == [1]  # the halves were encoded apart and joined
    a = cv2.imread(str(whole), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(split), cv2.IMREAD_UNCHANGED)
    assert a.dtype == b.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(a, b)
    pil = Image.open(split)
    assert pil.size == (3001, 61)
    if bits == 8:
        np.testing.assert_array_equal(np.asarray(pil), a[..., ::-1])
    assert json.loads(pil.tag_v2[270])["lumafuse:method"] == "mertens"
    assert pil.info.get("icc_profile") == Image.open(whole).info.get("icc_profile") is not None
    # the strips are the single call's, byte for byte: only the directory moved
    _e, _ifd, ents = filemeta._tiff_ifd(split.read_bytes())
    _e, _ifd, ents_w = filemeta._tiff_ifd(whole.read_bytes())
    counts = filemeta._tiff_numbers(split.read_bytes(), "<", ents[279])
    assert counts == filemeta._tiff_numbers(whole.read_bytes(), "<", ents_w[279])


def test_joining_tiff_halves_that_do_not_match_is_refused():
    import cv2

    from app.core.io import filemeta

    img = (np.random.default_rng(3).random((10, 12, 3)) * 255).astype(np.uint8)
    top = cv2.imencode(".tif", img[:5])[1].tobytes()
    with pytest.raises(ValueError, match="tag 256"):
        filemeta.tiff_join_rows(top, cv2.imencode(".tif", img[5:, :8])[1].tobytes())
    with pytest.raises(ValueError, match="not a TIFF"):
        filemeta.tiff_join_rows(top, b"PNG not a tiff")


def test_jpeg_round_trip_with_comment(tmp_path):
    img = np.clip(_image(64, 64) * 0.2 + 0.4, 0, 1)  # smooth-ish content compresses well
    out = write_display(tmp_path / "j.jpg", img, quality=95, provenance=PROV)
    back, info = read_frame(out)
    assert info.bit_depth == 8 and np.abs(back - img).mean() < 0.03
    pil = Image.open(out)
    assert json.loads(pil.info["comment"])["lumafuse:method"] == "mertens"
    assert pil.getexif()[0x0131] == "lumafuse"
    low = write_display(tmp_path / "low.jpg", img, quality=20)
    assert low.stat().st_size < out.stat().st_size


def test_uint_input_keeps_its_depth(tmp_path):
    img16 = (np.random.default_rng(1).random((8, 9, 3)) * 65535).astype(np.uint16)
    out = write_display(tmp_path / "u16.png", img16)
    back, info = read_frame(out)
    assert info.bit_depth == 16
    np.testing.assert_allclose(back, img16 / 65535.0, atol=1e-7)


def test_radiance_hdr_round_trip(tmp_path):
    rad = _image(scale=100.0) + 0.5
    out = write_hdr_file(tmp_path / "r.hdr", rad, PROV)
    back, info = read_frame(out)
    assert info.linear
    assert (np.abs(back - rad).max(axis=2) / rad.max(axis=2)).max() < 0.01
    assert b"# lumafuse:method=mertens" in out.read_bytes()[:400]


# ---------------------------------------------------------------- safety


def test_existing_output_refused_and_untouched_unless_force(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError, match=r"out\.png: file exists \(use --force"):
        write_display(target, _image())
    assert target.read_bytes() == b"precious"
    write_display(target, _image(), force=True)
    assert read_frame(target)[0].shape == (20, 30, 3)
    assert _leftovers(tmp_path) == []


def test_never_overwrites_an_input_even_with_force(tmp_path):
    src = tmp_path / "in.png"
    write_display(src, _image())
    before = src.read_bytes()
    with pytest.raises(OutputError, match=r"in\.png: refusing to overwrite the input file"):
        write_display(src, _image(seed=5), inputs=[src], force=True)
    # The same file reached through another name (relative path, hard link, symlink).
    os.link(src, tmp_path / "hard.png")
    os.symlink(src, tmp_path / "soft.png")
    for alias in ("hard.png", "soft.png"):
        with pytest.raises(OutputError, match="refusing to overwrite the input"):
            write_display(tmp_path / alias, _image(seed=5), inputs=[src], force=True)
    assert src.read_bytes() == before


def test_provenance_inputs_are_protected(tmp_path):
    src = tmp_path / "photo.exr"
    write_exr(src, _image())
    before = src.read_bytes()
    prov = Provenance(method="m", inputs=(str(src),))
    with pytest.raises(OutputError, match=r"photo\.exr: refusing to overwrite the input"):
        write_exr(src, _image(seed=2), prov, force=True)
    assert src.read_bytes() == before


def test_failed_write_leaves_no_temp_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.exr"
    write_exr(target, _image())
    before = target.read_bytes()

    def boom(path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half-written")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(writers, "write_exr_file", boom)
    with pytest.raises(OutputError, match=r"keep\.exr: writing failed \(disk on fire\)"):
        write_exr(target, _image(seed=1), force=True)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_interrupt_during_write_removes_temp(tmp_path, monkeypatch):
    def interrupted(path, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers, "write_exr_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_exr(tmp_path / "x.exr", _image())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name,pattern",
    [
        ("out.bmp", r"out\.bmp: unknown output format \('\.bmp'\); use one of"),
        ("noext", r"noext: unknown output format \(no extension\)"),
        ("missing/out.png", r"the output folder .*missing does not exist"),
    ],
)
def test_bad_output_paths(tmp_path, name, pattern):
    with pytest.raises(OutputError, match=pattern):
        check_output_path(tmp_path / name)


def test_output_is_a_folder_or_under_a_file(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match=r"dir\.png: is a folder"):
        check_output_path(tmp_path / "dir.png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file is not a folder"):
        check_output_path(tmp_path / "file" / "out.png")


def test_unwritable_folder():
    # /sys refuses new files even for root (a chmod'ed folder would not stop root).
    with pytest.raises(OutputError, match=r"/sys/lumafuse_out\.png: cannot write to the folder /sys"):
        write_display("/sys/lumafuse_out.png", _image())


def test_jpeg_16_bit_and_bad_shapes_refused(tmp_path):
    with pytest.raises(OutputError, match="JPEG holds 8 bits"):
        write_display(tmp_path / "x.jpg", _image(), bit_depth=16)
    with pytest.raises(OutputError, match=r"expected an HxWx3 image"):
        write_display(tmp_path / "x.png", np.zeros((4, 4), np.float32))
    with pytest.raises(OutputError, match="NaN or infinite"):
        write_exr(tmp_path / "x.exr", np.full((2, 2, 3), np.nan, np.float32))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- write_result


def test_write_result_exr_is_linear_as_is(tmp_path):
    rad = _image(scale=40.0)
    res = Result(image=rad, kind=ResultKind.HDR_LINEAR, provenance=PROV)
    back, header = read_exr(write_result(tmp_path / "r.exr", res, ToneParams(), half=False))
    np.testing.assert_array_equal(back, rad)
    assert header["lumafuse:method"] == "mertens"


def test_write_result_display_formats_use_the_renderer(tmp_path):
    from app.core import tonemap

    rad = _image(scale=40.0)
    res = Result(image=rad, kind=ResultKind.HDR_LINEAR, provenance=PROV)
    tone = ToneParams(exposure_ev=0.5, tmo="reinhard")
    expected = tonemap.to_uint(tonemap.render(rad, res.kind, tone), 16)
    out = write_result(tmp_path / "r.png", res, tone, bit_depth=16)
    back, info = read_frame(out)
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.round(back * 65535).astype(np.uint16), expected)
    text = Image.open(out).text
    assert "'tmo': 'reinhard'" in text["lumafuse:tone"] and text["lumafuse:kind"] == "hdr_linear"

    ldr = Result(image=_image(), kind=ResultKind.LDR_FUSED, provenance=PROV)
    jpg = write_result(tmp_path / "f.jpg", ldr, ToneParams())
    assert read_frame(jpg)[0].shape == (20, 30, 3)
    with pytest.raises(OutputError, match="JPEG holds 8 bits"):
        write_result(tmp_path / "g.jpg", ldr, ToneParams(), bit_depth=16)


@pytest.mark.parametrize("bits", [8, 16])
def test_fused_result_with_neutral_tone_is_quantised_without_a_rendered_copy(tmp_path, monkeypatch,
                                                                              bits):
    from app.core import tonemap

    fused = _image(scale=1.3) - np.float32(0.1)  # values below 0 and above 1 are clipped
    fused[0, :3] = np.nan
    res = Result(image=fused, kind=ResultKind.LDR_FUSED, provenance=PROV)
    expected = tonemap.to_uint(tonemap.render(fused, res.kind, ToneParams()), bits)
    calls = []
    real_render = tonemap.render
    monkeypatch.setattr(tonemap, "render", lambda *a, **k: calls.append(1) or real_render(*a, **k))
    back, _ = read_frame(write_result(tmp_path / "f.tif", res, ToneParams(), bit_depth=bits),
                         codes=True)
    np.testing.assert_array_equal(back, expected)  # the same codes as the rendering gives
    assert calls == []
    # any tone change, or another colour space, goes through the renderer
    assert tonemap.only_clips(ResultKind.LDR_FUSED, ToneParams())
    for tone in (ToneParams(exposure_ev=0.1), ToneParams(saturation=1.1), ToneParams(gamma=2.0),
                 ToneParams(temperature=5000.0)):
        assert not tonemap.only_clips(ResultKind.LDR_FUSED, tone)
    assert not tonemap.only_clips(ResultKind.HDR_LINEAR, ToneParams())
    write_result(tmp_path / "p3.tif", res, ToneParams(), colour_space="display-p3")
    assert calls == [1]


def test_write_result_checks_the_path_before_rendering(tmp_path, monkeypatch):
    from app.core import tonemap

    calls = []
    monkeypatch.setattr(tonemap, "render", lambda *a, **k: calls.append(a))
    (tmp_path / "exists.png").write_bytes(b"x")
    res = Result(image=_image(), kind=ResultKind.LDR_FUSED, provenance=PROV)
    with pytest.raises(OutputError, match="file exists"):
        write_result(tmp_path / "exists.png", res, ToneParams())
    assert calls == []


@pytest.mark.parametrize("ext", [".tif", ".png"])
def test_codes_the_writer_does_not_own_are_never_reordered(tmp_path, ext, monkeypatch):
    """PNG/TIFF swap RGB to BGR in place only in pixels the writer made itself (issue 10: no
    second full-size copy at 200 MP); a caller's codes, a codes Result written to two files,
    stay as they were, and every file holds the RGB picture."""
    import cv2

    monkeypatch.setattr(writers, "TIFF_SPLIT_PIXELS", 100)  # the two-halves path too
    codes = (_image(40, 50) * 255).astype(np.uint8)
    before = codes.copy()
    write_display(tmp_path / f"a{ext}", codes, provenance=PROV)
    np.testing.assert_array_equal(codes, before)
    res = Result(image=codes, kind=ResultKind.LDR_FUSED, provenance=PROV)
    for name in ("b", "c"):
        write_result(tmp_path / f"{name}{ext}", res, ToneParams())
        np.testing.assert_array_equal(res.image, before)
    # scratch pixels may be reordered, and the file still holds RGB
    scratch = before.copy()
    write_display(tmp_path / f"d{ext}", scratch, provenance=PROV, scratch=True)
    for name in "abcd":
        np.testing.assert_array_equal(cv2.imread(str(tmp_path / f"{name}{ext}"))[..., ::-1], before)
    # an HDR rendering is made into fresh codes: encoded in place, the file is the rendering
    rad = np.exp(np.random.default_rng(1).normal(0, 1.5, (40, 50, 3))).astype(np.float32)
    hdr = Result(image=rad, kind=ResultKind.HDR_LINEAR, provenance=PROV)
    write_result(tmp_path / f"e{ext}", hdr, ToneParams(tmo="reinhard"))
    from app.core import tonemap

    expected = tonemap.render_codes(rad, ResultKind.HDR_LINEAR, ToneParams(tmo="reinhard"), 8)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / f"e{ext}"))[..., ::-1], expected)
