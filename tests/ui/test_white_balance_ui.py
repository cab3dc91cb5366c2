"""White balance in the window: Pick grey on a neutral object makes it neutral in the preview
and the export; Auto; As shot; the CLI takes the same settings."""

from __future__ import annotations

import numpy as np

from app.core.io import read_frame
from tests.ui.conftest import drop_files


def _pixel(window, x: float, y: float) -> np.ndarray:
    from app.ui.session import render_u8

    out = render_u8(window.output.proxy, window.output.result.kind, window.tone.params())
    return out[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3].reshape(-1, 3).mean(axis=0)


def test_pick_grey_on_the_book_page_makes_it_neutral(window, sample_copy, tmp_path):
    drop_files(window.stack, sample_copy)
    h, w = window.output.proxy.shape[:2]
    x, y = w * 0.47, h * 0.66  # the open book's left page (white paper, lit warm)
    before = _pixel(window, x, y)
    assert np.ptp(before) > 8  # a visible cast as shot
    window.tone.pick_grey_button.click()
    assert window.preview.view.picking
    assert window.pick_grey_at(x, y)
    assert not window.preview.view.picking
    tone = window.tone.params()
    assert tone.temperature != 6504.0
    after = _pixel(window, x, y)
    assert np.ptp(after) < 3  # neutral within 3 of 255
    out = tmp_path / "balanced.png"
    window.export_to(out, "png8")
    exported = read_frame(out)[0]
    H, W = exported.shape[:2]
    patch = exported[int(H * 0.66) - 2:int(H * 0.66) + 3, int(W * 0.47) - 2:int(W * 0.47) + 3]
    assert np.ptp(patch.reshape(-1, 3).mean(axis=0)) < 4 / 255  # what you see is exported
    window.tone.as_shot_button.click()
    assert window.tone.params().temperature == 6504.0 and window.tone.params().tint == 0.0


def test_pick_outside_or_on_clipped_is_refused(window, sample_copy):
    drop_files(window.stack, sample_copy)
    assert not window.pick_grey_at(-5, -5)
    assert any("inside the picture" in e for e in window.errors)


def test_auto_white_balance_sets_sliders(window, sample_copy):
    drop_files(window.stack, sample_copy)
    window.tone.auto_wb_button.click()
    tone = window.tone.params()
    assert (tone.temperature, tone.tint) != (6504.0, 0.0)
    assert "Auto white balance" in window.status_label.text()
