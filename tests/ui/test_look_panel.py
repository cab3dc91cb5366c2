"""The look controls in the window: sliders and the tone curve reach the preview and the
export, each edit is one undo step, clarity renders in the background slot."""

from __future__ import annotations

import numpy as np

from app.ui.session import render_u8
from tests.ui.conftest import drop_files


def _shown(window) -> np.ndarray:
    return render_u8(window.output.proxy, window.output.result.kind, window.tone.params())


def test_sliders_and_curve_change_the_rendering(window, sample_copy):
    drop_files(window.stack, sample_copy)
    panel = window.tone.look_panel
    plain = _shown(window).astype(np.float32)
    panel.sliders["contrast"].setValue(50)
    assert window.tone.params().look.contrast == 50
    contrasty = _shown(window).astype(np.float32)
    assert contrasty.std() > plain.std() + 2
    assert window.history.stack.text(window.history.stack.count() - 1) == "Contrast 50"
    panel.ensure_plot()
    panel.add_point()
    assert len(window.tone.params().look.curve) == 1
    x, _ = window.tone.params().look.curve[0]
    panel.set_curve([(x, 0.75)])  # pull the mid-tones up
    assert _shown(window).mean() > contrasty.mean() + 5
    panel.straight_button.click()
    assert window.tone.params().look.curve == ()


def test_dragging_a_curve_handle_updates_the_look(window, sample_copy):
    drop_files(window.stack, sample_copy)
    panel = window.tone.look_panel
    panel.ensure_plot()
    panel.add_point()
    handles = [list(p) for p in panel._roi_points()]
    handles[1][1] = 0.3  # drag the middle point down
    panel.roi.setPoints(handles)  # emits sigRegionChanged like a drag
    look = window.tone.params().look
    assert look.curve and abs(look.curve[0][1] - 0.3) < 1e-6


def test_clarity_renders_in_the_background(window, sample_copy):
    drop_files(window.stack, sample_copy)
    window.tone.look_panel.sliders["clarity"].setValue(60)
    assert window.renderer.is_local()
    window.tone.look_panel.sliders["clarity"].setValue(0)
    assert not window.renderer.is_local()


def test_quality_read_out_follows_the_result_and_the_tone(window, sample_copy):
    drop_files(window.stack, sample_copy)
    window.update_quality()  # what the timer does once the controls rest
    text = window.quality_label.text()
    assert text.startswith("MEF-SSIM 0.9") and "clipped" in text and "crushed" in text
    window.tone.exposure.setValue(3.0)
    window.update_quality()
    brighter = window.quality_label.text()
    clipped = lambda t: float(t.split("clipped ")[1].split(" %")[0])
    assert clipped(brighter) > clipped(text) + 5  # +3 EV clips much more


def test_a_dragged_slider_draws_drafts_then_the_full_proxy(window, sample_copy, qtbot):
    drop_files(window.stack, sample_copy)
    ctl = window.renderer
    ctl.proxy_ms = 50.0  # as on a slow machine: the proxy takes three frames
    for value in (10, 20, 30):
        window.tone.look_panel.sliders["contrast"].setValue(value)
        qtbot.wait(30)  # ticks 30 ms apart: a drag
    assert ctl.drafted  # the drag showed a draft: the quarter-size render, scaled up
    ctl.draft_ms = 0.0  # (the larger draft, whatever the timing on this machine)
    ctl.render_now(allow_draft=True)  # what the next frame tick draws for the last value
    draft = ctl._shown_rgb.copy()
    full = _shown(window)
    assert draft.shape == full.shape and not np.array_equal(draft, full)
    assert np.abs(draft.astype(int) - full).mean() < 6  # the same picture, softer
    qtbot.waitUntil(lambda: not ctl.drafted, timeout=2000)  # at rest: the full proxy
    assert np.array_equal(ctl._shown_rgb, full)


def test_the_smaller_draft_takes_over_where_the_larger_is_slow(window, sample_copy, qtbot):
    import cv2

    drop_files(window.stack, sample_copy)
    ctl, out = window.renderer, window.output
    ctl.proxy_ms, ctl.draft_ms = 50.0, 30.0  # both slower than their budgets
    window.tone.look_panel.sliders["vibrance"].setValue(40)
    qtbot.waitUntil(lambda: ctl.drafted, timeout=1000)
    h, w = out.proxy.shape[:2]
    small = render_u8(out.draft_small, out.result.kind, window.tone.params())
    assert np.array_equal(ctl._shown_rgb, cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def test_a_tick_draws_the_compiled_one_pass_rendering(window, sample_copy):
    """Once the kernel is compiled, a tick of the global controls draws its pixels (within one
    8-bit step of the export's path)."""
    from app.core.tonemap import preview_kernel
    from app.ui.session import render_u8_general

    preview_kernel.warm_up()
    drop_files(window.stack, sample_copy)
    window.tone.look_panel.sliders["shadows"].setValue(40)
    window.tone.exposure.setValue(0.4)
    ctl = window.renderer
    ctl.render_now()
    out, tone = window.output, window.tone.params()
    kernel = preview_kernel.render_u8(out.proxy, out.result.kind, tone)
    assert kernel is not None
    np.testing.assert_array_equal(ctl._shown_rgb, kernel)
    general = render_u8_general(out.proxy, out.result.kind, tone)
    assert np.abs(ctl._shown_rgb.astype(np.int16) - general).max() <= 1


def test_the_window_compiles_the_kernel_in_the_background(qtbot, settings, monkeypatch):
    import threading

    from app.core.tonemap import preview_kernel
    from app.ui.jobs import JobRunner
    from app.ui.main_window import MainWindow

    monkeypatch.setattr(preview_kernel, "_ready", threading.Event())
    monkeypatch.setattr(preview_kernel, "_kernel", None)
    w = MainWindow(runner=JobRunner(synchronous=True), settings=settings)
    qtbot.addWidget(w)
    assert not preview_kernel.ready()
    w.show()
    qtbot.waitUntil(preview_kernel.ready, timeout=60000)
