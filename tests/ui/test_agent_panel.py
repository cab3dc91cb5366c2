"""RL fusion in the window: stacked files split on load, the agent's edits listed, the step slider
re-runs with the chosen number of edits, and the choice reaches the result's provenance."""

from __future__ import annotations

import numpy as np

from tests import synthetic
from tests.cli.helpers import write_png
from tests.ui.conftest import drop_files


def _stacked_file(tmp_path):
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:])
    return write_png(tmp_path / "pair.png", np.concatenate([frames[0], frames[-1]]))


def test_stacked_file_loads_as_two_frames_and_the_step_slider_reruns(window, tmp_path, qtbot):
    window.stack.split_stacked.setChecked(True)
    drop_files(window.stack, [_stacked_file(tmp_path)])
    assert [f.name for f in window.frames] == ["pair.png (top)", "pair.png (bottom)"]
    assert window.method.set_method("rl_fusion")
    window.run_method()
    result = window.output.result
    assert result.provenance.method == "rl_fusion"
    n = result.notes["agent_steps"]
    assert window.agent.isVisible() and window.agent.list.count() == n
    assert window.agent.slider.maximum() == n and window.agent.slider.value() == n
    # pick an earlier step: the method re-runs with stop_at = k, and says so in provenance
    k = max(0, n - 1)
    window.use_agent_steps(k)
    again = window.output.result
    assert again.provenance.params["stop_at"] == (k if k < n else -1)
    assert again.notes["steps_used"] == k
    assert again.provenance.decisions["agent_steps_used"] == f"{k} of {n}"
    assert window.agent.slider.value() == k
    # another method hides the panel
    assert window.method.set_method("mertens")
    assert not window.agent.isVisible()


def test_a_session_of_a_stacked_file_reopens_both_halves(window, tmp_path):
    window.stack.split_stacked.setChecked(True)
    drop_files(window.stack, [_stacked_file(tmp_path)])
    window._on_stack_exposure_edited(1, "+3 EV")  # the bright half, typed
    path = window.save_session(tmp_path / "pair")
    assert 'half = "top"' in path.read_text() and 'half = "bottom"' in path.read_text()
    window.stack.split_stacked.setChecked(False)
    window.open_session(path)
    assert [f.name for f in window.frames] == ["pair.png (top)", "pair.png (bottom)"]
    assert window.frames[1].user_ev == 3.0
    assert window.stack.split_stacked.isChecked()
