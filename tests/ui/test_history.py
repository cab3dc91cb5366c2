"""Undo / redo: every method, parameter and tone change is a step; undo restores the exact
state, redo the exact later one; a slider drag is one step; a preset load is one step."""

from __future__ import annotations

from app.core.types import ToneParams
from app.ui.history import EditState
from tests.ui.conftest import drop_files


def test_undo_redo_restore_exact_states(window, sample_copy):
    drop_files(window.stack, sample_copy)
    states = [EditState.of(window)]
    window.tone.exposure.setValue(0.7)
    states.append(EditState.of(window))
    assert window.method.set_method("debevec")
    states.append(EditState.of(window))
    window.method.form.set_values({"samples": 140})
    window.method.form.changed.emit()
    states.append(EditState.of(window))
    window.method.set_align_mode("mtb")
    states.append(EditState.of(window))
    window.tone.set_white_balance(3300, 12.0)
    states.append(EditState.of(window))
    window.tone.operator.setCurrentText("drago")
    states.append(EditState.of(window))
    stack = window.history.stack
    assert stack.count() == len(states) - 1
    for expected in reversed(states[:-1]):
        stack.undo()
        assert EditState.of(window) == expected
    assert window.tone.params() == states[0].tone and window.method.method_id() == "mertens"
    for expected in states[1:]:
        stack.redo()
        assert EditState.of(window) == expected
    assert [stack.text(i) for i in range(stack.count())][:2] == ["Exposure 0.7", "Method: debevec"]


def test_a_slider_drag_is_one_step_and_a_new_edit_drops_the_redo_branch(window):
    for value in (0.1, 0.2, 0.3, 0.45):  # one drag: many changes of one control, at once
        window.tone.exposure.setValue(value)
    stack = window.history.stack
    assert stack.count() == 1 and stack.text(0) == "Exposure 0.45"
    window.tone.saturation.setValue(1.4)
    stack.undo()
    stack.undo()
    assert window.tone.params().exposure_ev == 0.0
    window.tone.set_white_balance(5000, 0)
    assert stack.count() == 1 and not stack.canRedo()


def test_preset_load_is_one_step(window, tmp_path):
    preset = tmp_path / "look.toml"
    preset.write_text('[method]\nid = "robertson"\n[tone]\nexposure_ev = 1.5\ntmo = "drago"\n')
    before = EditState.of(window)
    assert window.load_preset(preset)
    assert window.method.method_id() == "robertson" and window.tone.params().tmo == "drago"
    assert window.history.stack.count() == 1
    window.history.stack.undo()
    assert EditState.of(window) == before


def test_history_view_and_shortcuts(window):
    dock = window.show_history()
    assert dock.isVisible()
    texts = {a.text().replace("&", ""): a.shortcut().toString() for a in window.actions()}
    assert texts.get("Undo") == "Ctrl+Z" and texts.get("Redo") == "Ctrl+Shift+Z"
    window.tone.set_params(ToneParams(exposure_ev=1.0))
    assert window.history.stack.canUndo()
