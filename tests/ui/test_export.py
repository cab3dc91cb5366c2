"""Export from the window: every format written, read back, matching the preview; overwrite rules."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.io import read_exr, read_frame
from app.core.tonemap import render, to_uint
from app.ui.panels.export import FORMATS, ExportDialog, format_for_suffix, get_format
from tests.ui.conftest import drop_files


@pytest.fixture
def fused(window, sample_copy):
    drop_files(window.stack, sample_copy)
    assert window.output is not None, window.errors
    return window


@pytest.fixture
def merged_hdr(window, sample_copy):
    drop_files(window.stack, sample_copy)
    assert window.method.set_method("debevec")
    window.run_method()
    assert window.output is not None and window.output.result.is_hdr, window.errors
    return window


@pytest.mark.parametrize("which", ["fused", "merged_hdr"])
def test_export_each_format_reads_back(request, tmp_path, which):
    window = request.getfixturevalue(which)  # one run, every format exported from it
    window.tone.exposure.setValue(0.7)  # non-default tone: LDR files must carry it
    result, tone = window.output.result, window.tone.params()
    h, w = result.image.shape[:2]
    for fmt in FORMATS:
        out = tmp_path / f"result_{fmt.key}{fmt.suffix}"
        window.export_to(out, fmt, quality=92)
        assert window.errors == [], (fmt.key, window.errors)
        assert out.is_file() and "Exported" in window.status_label.text(), fmt.key
        if fmt.key == "hdr":  # Radiance RGBE: 8-bit mantissas, ~1 % steps
            pixels, info = read_frame(out)
            assert info.linear and pixels.shape == (h, w, 3)
            # one exponent per pixel: each channel within ~1/128 of the pixel's largest
            err = np.abs(pixels - result.image)
            assert (err <= result.image.max(axis=2, keepdims=True) / 100 + 1e-4).all()
        elif fmt.linear:
            pixels, header = read_exr(out)
            assert pixels.shape == (h, w, 3), fmt.key
            if fmt.half:
                np.testing.assert_allclose(pixels, result.image, rtol=2e-3, atol=1e-4)
            else:
                np.testing.assert_array_equal(pixels, result.image)
            assert any(result.provenance.method in str(v) for v in header.values()), header
        elif fmt.key == "avif":  # lossy like JPEG; read back with Pillow's AVIF plugin
            from PIL import Image

            with Image.open(out) as im:
                got = np.asarray(im.convert("RGB"), np.float64)
            expected = to_uint(render(result.image, result.kind, tone), 8)
            assert got.shape == (h, w, 3) and np.abs(got - expected).mean() < 4.0
        else:
            pixels, info = read_frame(out)
            assert pixels.shape == (h, w, 3), fmt.key
            assert info.bit_depth == fmt.bit_depth, fmt.key
            expected = to_uint(render(result.image, result.kind, tone), fmt.bit_depth)
            got = np.round(pixels * (255 if fmt.bit_depth == 8 else 65535))
            diff = np.abs(got - expected.astype(np.float64))
            if fmt.key == "jpeg":
                assert diff.mean() < 3.0  # lossy, but the same picture
            else:
                assert diff.max() <= 1.0, fmt.key  # what you see is what you export


def test_export_matches_preview_pixels(fused, tmp_path):
    """The 8-bit export, shrunk like the proxy, equals the preview the user looked at."""
    from app.ui import session

    window = fused
    window.tone.exposure.setValue(-0.5)
    window.tone.saturation.setValue(1.4)
    window.renderer.render_now()
    out = tmp_path / "look.png"
    window.export_to(out, "png8")
    pixels, _ = read_frame(out)
    proxy_of_export = session._resize_long_side(pixels, max(window.output.proxy.shape[:2]))
    preview = session.render_u8(window.output.proxy, window.output.result.kind, window.tone.params())
    assert np.abs(np.round(proxy_of_export * 255) - preview).mean() < 2.0


def test_overwrite_asks_and_respects_no(fused, tmp_path, monkeypatch):
    window = fused
    out = tmp_path / "exists.png"
    out.write_bytes(b"keep me")
    asked = []
    monkeypatch.setattr(window, "_confirm_overwrite", lambda p: asked.append(p) or False)
    assert window.export_to(out, "png8") is None
    assert asked == [out] and out.read_bytes() == b"keep me"
    monkeypatch.setattr(window, "_confirm_overwrite", lambda p: True)
    window.export_to(out, "png8")
    assert out.read_bytes() != b"keep me"
    assert read_frame(out)[0].shape[:2] == window.output.result.image.shape[:2]


def test_never_overwrites_an_input(fused, sample_copy, monkeypatch):
    window = fused
    target = sample_copy[0]
    original = target.read_bytes()
    monkeypatch.setattr(window, "_confirm_overwrite", lambda p: True)  # even if the user said yes
    assert window.export_to(target.with_suffix(".jpg"), "jpeg") is None
    assert target.read_bytes() == original
    assert "input" in window.messages.label.text()


def test_export_error_is_shown(fused, tmp_path):
    window = fused
    window.export_to(tmp_path / "no_such_folder" / "x.png", "png8")
    assert window.messages.isVisibleTo(window)
    assert "no_such_folder" in window.messages.label.text()


def test_dialog_options_follow_format(qtbot, tmp_path):
    dialog = ExportDialog(tmp_path / "a.png", is_hdr=True)
    qtbot.addWidget(dialog)
    assert dialog.selected_format().key == "exr_half"
    assert dialog.options().path.suffix == ".exr"  # the default path follows the format
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    assert dialog.quality.isEnabled() and dialog.options().path.name == "a.jpg"
    dialog.path.setText(str(tmp_path / "b.tif"))
    dialog.path.editingFinished.emit()
    assert dialog.selected_format().key == "tiff16"
    assert format_for_suffix(".tiff", get_format("png8")).key == "tiff16"
    assert format_for_suffix(".exr", get_format("exr_float")).key == "exr_float"
