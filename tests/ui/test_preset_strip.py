"""The preset strip: the current result rendered with every preset (built-in and the user's),
click to apply only what the preset names, one undo step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.core.types import ToneParams
from tests.ui.conftest import drop_files


def _titles(window) -> list[str]:
    strip = window.preset_strip
    return [strip.item(i).text() for i in range(strip.count())]


def test_strip_previews_presets_and_applies_one(window, sample_copy, tmp_path):
    window.settings.set_preset_folder(tmp_path / "mine")
    drop_files(window.stack, sample_copy)
    window.tone.exposure.setValue(0.5)
    window.update_preset_strip()
    titles = _titles(window)
    assert {"Natural", "Vivid", "Warm interior", "Soft matte", "Black and white"} <= set(titles)
    strip = window.preset_strip
    assert all(not strip.item(i).icon().isNull() for i in range(strip.count()))
    bw = strip.item(titles.index("Black and white")).icon().pixmap(96, 96).toImage()
    px = bw.pixelColor(bw.width() // 2, bw.height() // 2)
    assert px.red() == px.green() == px.blue()  # rendered in black and white
    before = window.history.stack.count()
    path = strip.item(titles.index("Warm interior")).data(Qt.ItemDataRole.UserRole)
    assert window.apply_look_preset(path)
    tone = window.tone.params()
    assert tone.temperature == 3400 and tone.look.shadows == 30
    assert tone.exposure_ev == 0.5  # not named by the preset: kept
    assert window.history.stack.count() == before + 1
    window.history.stack.undo()
    assert window.tone.params().temperature == 6504.0


def test_a_saved_preset_joins_the_strip(window, sample_copy, tmp_path):
    window.settings.set_preset_folder(tmp_path / "mine")
    drop_files(window.stack, sample_copy)
    window.tone.set_params(ToneParams(saturation=1.5))
    (tmp_path / "mine").mkdir()
    window.save_preset(tmp_path / "mine" / "my-look.toml")
    window.update_preset_strip()
    assert "My look" in _titles(window)


def test_tone_over_keeps_what_the_preset_does_not_name(tmp_path):
    from app.models.preset import tone_over

    preset = tmp_path / "p.toml"
    preset.write_text("[tone]\nsaturation = 0.5\n")
    current = ToneParams(exposure_ev=1.0, temperature=4000)
    out = tone_over(current, preset)
    assert (out.saturation, out.exposure_ev, out.temperature) == (0.5, 1.0, 4000)
    assert np.isfinite(out.exposure_ev)
