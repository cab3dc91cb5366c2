"""The main window end to end (synchronous jobs): drop, methods, tone, histogram, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.types import ResultKind
from app.models.registry import METHODS
from tests.ui.conftest import drop_files


def _pixels(window) -> np.ndarray:
    """The preview's current 'after' pixmap as an RGB array."""
    img = window.preview.view.after.pixmap().toImage().convertToFormat(
        window.preview.view.after.pixmap().toImage().Format.Format_RGB888
    )
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def _loaded(window, sample_copy):
    drop_files(window.stack, sample_copy)
    assert len(window.frames) == len(sample_copy), window.errors
    return window


def test_drop_loads_and_fuses_with_default_method(window, sample_copy):
    drop_files(window.stack, sample_copy)
    assert sorted(f.name for f in window.frames) == sorted(p.name for p in sample_copy)
    assert window.errors == []
    assert len(window.stack.cards) == len(sample_copy)
    assert window.output is not None
    assert window.output.result.provenance.method == "mertens"
    assert window.preview.view.has_image()
    status = window.status_label.text()
    assert "mertens" in status and " s" in status and window.output.result.provenance.device in status
    assert window.histogram.counts.sum() > 0
    assert not window.progress.isVisible()  # nothing running any more


def test_drop_on_window_and_folder(window, sample_copy):
    drop_files(window, [sample_copy[0].parent])  # a folder dropped anywhere on the window
    assert len(window.frames) == len(sample_copy)


def test_frames_sorted_dark_to_bright(window, sample_copy):
    drop_files(window.stack, list(reversed(sample_copy)))
    means = [f.mean_luma for f in window.frames]
    assert means == sorted(means)


@pytest.mark.parametrize("method_id", [m.id for m in METHODS])
def test_each_available_method_runs(window, sample_copy, method_id):
    _loaded(window, sample_copy)
    ok, reason = window.method.is_runnable(method_id)
    if not ok:
        # Disabled methods must say why, and refuse to be selected.
        assert reason.startswith("Unavailable:") and len(reason) > len("Unavailable: ")
        assert not window.method.set_method(method_id)
        return
    assert window.method.set_method(method_id)
    before = window.output
    window.run_method()
    assert window.errors == []
    assert window.output is not before
    result = window.output.result
    assert result.provenance.method == method_id
    assert result.image.shape[:2] == window.frames[0].image.shape[:2]
    assert window.preview.view.has_image()
    spec = next(m for m in METHODS if m.id == method_id)
    assert result.kind == spec.output
    assert window.tone.operator.isEnabled() == (spec.output == ResultKind.HDR_LINEAR)


def test_method_form_built_from_param_specs(window, sample_copy):
    _loaded(window, sample_copy)
    for spec in METHODS:
        if not window.method.set_method(spec.id):
            continue
        assert set(window.method.params()) == {p.name for p in spec.params}
        assert window.method.params() == spec.defaults()


def test_method_params_reach_the_run(window, sample_copy):
    _loaded(window, sample_copy)
    window.method.set_method("mertens")
    window.method.form.set_values({"sigma": 0.5})
    window.run_method()
    assert window.errors == []
    params = window.output.result.provenance.params
    assert params["sigma"] == pytest.approx(0.5) and params["align"] == "none"


@pytest.mark.parametrize("mode", ["mtb", "homography"])
def test_alignment_choice_reaches_the_run(window, sample_copy, mode):
    _loaded(window, sample_copy)
    window.method.set_align_mode(mode)
    assert window.method.align_mode() == mode
    window.run_method()
    assert window.errors == []
    assert window.output.result.provenance.params["align"] == mode


def test_tone_sliders_change_preview_and_histogram(window, qtbot, sample_copy):
    _loaded(window, sample_copy)
    pix0 = _pixels(window)
    counts0 = window.histogram.counts.copy()
    window.tone.exposure.slider.setValue(window.tone.exposure.slider.value() + 120)  # drag
    qtbot.waitUntil(lambda: not np.array_equal(window.histogram.counts, counts0), timeout=2000)
    pix1 = _pixels(window)
    assert pix1.mean() > pix0.mean()  # brighter
    assert window.tone.params().exposure_ev > 0
    window.tone.saturation.slider.setValue(0)
    qtbot.waitUntil(lambda: np.abs(_pixels(window).astype(int).std(axis=2)).mean() < 2, timeout=2000)
    window.tone.reset()
    # a change right after another is drawn as a draft first; the proxy render follows at rest
    qtbot.waitUntil(lambda: not window.renderer.drafted
                    and np.array_equal(_pixels(window), pix0), timeout=2000)


def test_hdr_operators_global_and_local(window, qtbot, sample_copy):
    from app.core.tonemap import LOCAL_OPERATORS, OPERATORS

    _loaded(window, sample_copy)
    assert window.method.set_method("debevec")
    window.run_method()
    assert window.output.result.is_hdr and window.tone.operator.isEnabled()
    seen = {}
    for name in OPERATORS:
        window.tone.operator.setCurrentText(name)
        qtbot.wait(40)  # debounce tick (local operators run inline in sync mode)
        assert window.renderer.tone.tmo == name
        assert window.renderer.is_local() == (name in LOCAL_OPERATORS)
        seen[name] = _pixels(window)
        assert window.errors == []
    assert len({a.tobytes() for a in seen.values()}) == len(OPERATORS)  # each operator differs


def test_gamma_slider(window, qtbot, sample_copy):
    _loaded(window, sample_copy)
    window.tone.srgb.setChecked(False)
    qtbot.wait(30)
    pix_a = _pixels(window)
    window.tone.gamma.setValue(1.2)
    qtbot.wait(30)
    assert window.tone.params().gamma == pytest.approx(1.2)
    assert _pixels(window).mean() < pix_a.mean()  # lower gamma: darker mid-tones


def test_corrupt_file_reported_while_others_load(window, sample_copy, tmp_path):
    bad = tmp_path / "bracket" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    drop_files(window.stack, [*sample_copy, bad])
    assert len(window.frames) == len(sample_copy)
    assert window.stack.errors.isVisibleTo(window)
    assert "broken.jpg" in window.stack.errors.text()
    assert window.output is not None  # the others still fused


def test_job_error_shows_message_and_traceback(window, sample_copy, monkeypatch):
    _loaded(window, sample_copy)
    from app.ui import session

    def broken_job(*args, **kwargs):
        def job(ctx):
            raise ValueError("synthetic failure for the test")
        return job

    monkeypatch.setattr(session, "merge_job", broken_job)
    window.run_method()
    assert window.messages.isVisibleTo(window)
    assert "synthetic failure" in window.messages.label.text()
    assert "Traceback" in window.messages.details.toPlainText()
    assert window.output is not None  # the previous result stays


def test_single_photo_default_method(window, sample_copy):
    drop_files(window.stack, sample_copy[:1])
    assert len(window.frames) == 1
    assert not window.method.is_runnable("mertens")[0]
    assert "at least 2" in window.method.is_runnable("mertens")[1]
    ok, _reason = window.method.is_runnable("hdrcnn")
    if ok:
        assert window.method.method_id() == "hdrcnn"
        assert window.output is not None and window.output.result.provenance.method == "hdrcnn"
    else:
        assert window.messages.isVisibleTo(window)
        assert "hdrcnn" in window.messages.label.text()


def test_stack_edit_reorder_remove_exposure(window, sample_copy):
    _loaded(window, sample_copy)
    names = [f.name for f in window.frames]
    window.stack.cards[0].move_requested.emit(1)
    assert [f.name for f in window.frames] == [names[1], names[0], *names[2:]]
    window.stack.cards[0].remove_requested.emit()
    assert [f.name for f in window.frames] == [names[0], *names[2:]]
    card = window.stack.cards[0]
    if card.exposure.isReadOnly():  # EXIF time present: shown, not editable
        assert card.exposure.text().endswith(" s")
    window.frames[0].user_exposure = None
    window.stack.exposure_edited.emit(0, "+1 EV")
    assert window.frames[0].exposure == pytest.approx(2.0)
    window.stack.exposure_edited.emit(0, "banana")
    assert "banana" in window.messages.label.text()


def test_missing_exif_time_editable(window, synthetic_pngs):
    drop_files(window.stack, synthetic_pngs)
    card = window.stack.cards[0]
    assert not card.exposure.isReadOnly() and card.exposure.text() == ""
    card.exposure.setText("1/64")
    card.exposure.editingFinished.emit()
    assert window.frames[0].exposure == pytest.approx(1 / 64)


def test_preview_zoom_pan_and_compare(window, qtbot, sample_copy):
    _loaded(window, sample_copy)
    view = window.preview.view
    view.fit()
    fit_zoom = view.zoom()
    view.actual_size()
    assert view.zoom() == pytest.approx(view.source_scale)
    view.zoom_by(2.0)
    assert view.zoom() == pytest.approx(2 * view.source_scale)
    view.fit()
    assert view.zoom() == pytest.approx(fit_zoom)
    window.preview.set_compare_mode("split")
    assert view.clip.isVisible() and view.divider.isVisible()
    window.preview.split.setValue(250)
    assert view.clip.rect().width() == pytest.approx(view.scene().sceneRect().width() * 0.25)
    window.preview.before.setCurrentIndex(0)
    dark = window.frames[0].proxy
    assert view.before.pixmap().width() == dark.shape[1]
    window.preview.set_compare_mode("toggle")
    assert view.clip.isVisible() and not view.divider.isVisible()
    window.preview.set_compare_mode("off")
    assert not view.clip.isVisible()


def test_shortcuts_are_bound(window):
    keys = {a.text().replace("&", ""): a.shortcut().toString() for a in window.actions()}
    assert keys["Open…"] == "Ctrl+O"
    assert keys["Export…"] == "Ctrl+E"
    assert keys["Run method"] == "Ctrl+R"
    assert keys["Fit"] == "F"
    assert keys["100 %"] == "1"
    assert keys["Cancel"] == "Esc"


def test_settings_persist(window, sample_copy, settings):
    _loaded(window, sample_copy)
    assert settings.recent()[0] == [f.path for f in window.frames]
    assert settings.last_folder() == str(sample_copy[0].parent)
    window.tone.exposure.setValue(1.5)
    window.tone.save_default_button.click()
    assert settings.tone_defaults().exposure_ev == pytest.approx(1.5)
    window.tone.exposure.setValue(0.0)
    window.tone.reset()
    assert window.tone.params().exposure_ev == pytest.approx(1.5)
    window.close()
    assert settings.geometry() is not None


def test_no_result_means_export_refused(window, tmp_path):
    assert window.export_to(tmp_path / "x.png", "png8") is None
    assert "run a method" in window.messages.label.text()
    assert not (tmp_path / "x.png").exists()


def test_method_tooltip_for_disabled(window, sample_copy):
    _loaded(window, sample_copy)
    model = window.method._model
    for row, spec in enumerate(METHODS):
        item = model.item(row)
        if not item.isEnabled():
            assert item.toolTip().startswith("Unavailable:")
        else:
            assert item.toolTip() == spec.description
    assert window.method.combo.itemData(0, Qt.ItemDataRole.UserRole) == METHODS[0].id


def test_full_size_render_at_100_percent(window, qtbot):
    """A result larger than the proxy: fit shows the proxy, 100 % swaps in a full-size render."""
    from app.core.types import Provenance, Result
    from app.ui import session

    yy, xx = np.mgrid[0:1800, 0:2400].astype(np.float32)
    image = np.dstack([xx / 2400, yy / 1800, 0.5 + 0 * xx]).astype(np.float32)
    result = Result(image=image, kind=ResultKind.LDR_FUSED, provenance=Provenance(method="test"))
    proxy = session._resize_long_side(image, session.PROXY_LONG_SIDE)
    out = session.MergeOutput(result, proxy, session._resize_long_side(proxy, session.HIST_LONG_SIDE))
    window.renderer.set_output(out)
    view = window.preview.view
    assert view.after.pixmap().width() == 1600 and view.source_scale == pytest.approx(1.5)
    assert not view.needs_detail()
    view.actual_size()
    assert view.needs_detail()
    qtbot.waitUntil(lambda: view.after.pixmap().width() == 2400, timeout=3000)
    # the full-size pixmap is scaled into the proxy-sized scene: same place, more pixels
    assert view.after.sceneBoundingRect().width() == pytest.approx(1600)
    window.tone.exposure.setValue(1.0)  # a tone change shows the fast proxy first, then detail
    qtbot.waitUntil(lambda: view.after.pixmap().width() == 1600, timeout=1000)
    qtbot.waitUntil(lambda: view.after.pixmap().width() == 2400, timeout=3000)


def test_wheel_zoom_and_drag_pan(window, qtbot, sample_copy):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    _loaded(window, sample_copy)
    view = window.preview.view
    view.fit()
    before = view.zoom()
    centre = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    wheel = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() == pytest.approx(before * 1.25 ** 2)  # two notches in
    bar = view.verticalScrollBar()  # the sample is portrait: it overflows vertically first
    assert bar.maximum() > 0  # zoomed in far enough to pan
    start = bar.value()
    c = centre.toPoint()
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=c)
    QTest.mouseMove(view.viewport(), c + QPoint(0, 60))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=c + QPoint(0, 60))
    assert bar.value() != start  # dragging moved the image


def test_single_key_shortcuts_do_not_steal_typing(window, qtbot, synthetic_pngs):
    """'1' and 'F' are view shortcuts, but typing them into a field must still type them."""
    from PySide6.QtTest import QTest

    drop_files(window.stack, synthetic_pngs)
    window.activateWindow()
    field = window.stack.cards[0].exposure
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    zoom = window.preview.view.zoom()
    QTest.keyClicks(field, "1/4")
    assert field.text() == "1/4"
    assert window.preview.view.zoom() == pytest.approx(zoom)  # the '1' did not jump to 100 %
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert window.frames[0].exposure == pytest.approx(0.25)
    window.preview.view.setFocus()
    QTest.keyClick(window.preview.view, Qt.Key.Key_1)
    assert window.preview.view.zoom() == pytest.approx(window.preview.view.source_scale)
