"""Sessions: save the bracket (order, typed exposures) and the recipe in one file, open it
again (also after moving the folder), the same result comes back."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.types import Look, ToneParams
from app.ui.session_file import load_session
from tests.ui.conftest import drop_files


def test_session_round_trip_restores_everything(window, sample_copy, tmp_path):
    drop_files(window.stack, sample_copy)
    window._on_stack_exposure_edited(0, "-2 EV")
    window._on_stack_move_requested(1, 1)  # a custom order
    assert window.method.set_method("debevec")
    window.method.form.set_values({"samples": 130})
    window.tone.set_params(ToneParams(exposure_ev=0.4, tmo="drago", temperature=4200, tint=6,
                                      look=Look(contrast=25, curve=((0.4, 0.5),))))
    window.run_method()
    order = [f.path for f in window.frames]
    expected = window.output.result.image.copy()
    path = window.save_session(tmp_path / "shoot")
    assert path.name == "shoot.lumafuse" and "[[frames]]" in path.read_text()

    # the folder moves, with the session in it
    moved = tmp_path / "moved"
    shutil.copytree(sample_copy[0].parent, moved / sample_copy[0].parent.name)
    shutil.copy(path, moved / path.name)
    shutil.rmtree(sample_copy[0].parent)
    window.method.set_method("mertens")
    window.tone.reset()
    window.open_session(moved / path.name)
    assert window.errors == []
    assert [f.name for f in window.frames] == [p.rsplit("/", 1)[-1] for p in order]
    assert window.frames[0].user_ev == -2.0
    assert window.method.method_id() == "debevec" and window.method.params()["samples"] == 130
    tone = window.tone.params()
    assert (tone.tmo, tone.temperature, tone.look.contrast) == ("drago", 4200.0, 25.0)
    assert window.output.result.provenance.method == "debevec"
    np.testing.assert_allclose(window.output.result.image, expected, rtol=1e-5, atol=1e-6)


def test_broken_sessions_are_refused(tmp_path):
    bad = tmp_path / "x.lumafuse"
    bad.write_text('[lumafuse]\nsession = 1\n[[frames]]\npath = "/nowhere/a.jpg"\n')
    with pytest.raises(InputError, match="missing"):
        load_session(bad)
    bad.write_text("[lumafuse]\nsession = 7\n")
    with pytest.raises(InputError, match="not a Lumafuse session"):
        load_session(bad)
