"""File > Batch and File > Save/Load preset: groups shown as rows, files and groups left out,
a row's method changed, the batch run with per-group status, cancel, open a finished bracket;
presets written by the window load in the CLI's batch and back in the window."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from app.core.io import read_frame
from app.core.types import ToneParams
from app.models.preset import load_preset
from tests.cli.test_batch import _shoot


def _dialog(window, folder: Path):
    dialog = window.batch_dialog()
    dialog.out_dir.setText(str(folder.parent / "out"))
    dialog.set_inputs([str(folder)])
    return dialog


def test_batch_dialog_groups_edits_and_runs(window, tmp_path):
    brackets = _shoot(tmp_path / "in", scenes=3)
    dialog = _dialog(window, tmp_path / "in")
    assert dialog.table.rowCount() == 3
    assert dialog.row_files(1) == [str(p) for p in brackets[1]]
    dialog.set_row_used(2, False)  # skip the third group
    dialog.set_file_used(0, "IMG_0003.png", False)  # leave one file of the first out
    dialog.set_row_method(1, "debevec")
    dialog.formats.setText("tif,exr")
    dialog.run()
    out = tmp_path / "out"
    report = json.loads((out / "lumafuse-batch.json").read_text())
    assert [g["status"] for g in report["groups"]] == ["ok", "ok"]
    assert report["groups"][0]["inputs"] == [str(p) for p in brackets[0][:2]]
    assert report["groups"][1]["method"] == "debevec"
    assert sorted(p.name for p in out.iterdir()) == [
        "IMG_0001_mertens.exr", "IMG_0001_mertens.tif", "IMG_0004_debevec.exr",
        "IMG_0004_debevec.tif", "lumafuse-batch.json"]
    assert dialog.table.item(1, 3).text().startswith("done: debevec")
    assert dialog.table.item(2, 3).text() == "3 frame(s)"  # never ran
    assert dialog.status.text().startswith("Done: 2 written, 0 failed")
    # a finished row opens its bracket in the main window with its method
    dialog._on_table_cell_double_clicked(1, 0)
    assert [f.path for f in window.frames] == [str(p) for p in brackets[1]]
    assert window.output is not None and window.output.result.provenance.method == "debevec"


def test_batch_dialog_uses_window_settings_or_a_preset(window, tmp_path):
    _shoot(tmp_path / "in", scenes=1)
    window.tone.set_params(ToneParams(exposure_ev=1.0))
    dialog = _dialog(window, tmp_path / "in")
    dialog.formats.setText("png")
    dialog.run()
    bright = read_frame(tmp_path / "out" / "IMG_0001_mertens.png")[0].mean()
    window.tone.set_params(ToneParams(exposure_ev=0.0))
    shutil.rmtree(tmp_path / "out")
    dialog.run()
    plain = read_frame(tmp_path / "out" / "IMG_0001_mertens.png")[0].mean()
    assert bright > plain + 0.05  # the window's exposure reached the batch's files
    preset = tmp_path / "look.toml"
    preset.write_text('[method]\nid = "robertson"\n[output]\nformats = ["jpg"]\n')
    dialog.set_preset(load_preset(preset), "look.toml")
    assert dialog.formats.text() == "jpg"
    dialog.run()
    assert (tmp_path / "out" / "IMG_0001_robertson.jpg").is_file()


def test_batch_dialog_cancel_leaves_finished_brackets(window, tmp_path):
    _shoot(tmp_path / "in", scenes=2)
    dialog = _dialog(window, tmp_path / "in")
    calls = []

    def cancel_after_first(record):  # the user presses Cancel once the first bracket is done
        calls.append(record.status)
        if len(calls) == 1:
            dialog.cancel()

    dialog._events.record.connect(cancel_after_first)
    dialog.run()
    report = json.loads((tmp_path / "out" / "lumafuse-batch.json").read_text())
    assert [g["status"] for g in report["groups"]] == ["ok", "cancelled"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "IMG_0001_mertens.tif", "lumafuse-batch.json"]
    assert dialog.status.text().startswith("Batch cancelled")
    assert dialog.run_button.isEnabled()


def test_preset_saved_by_the_window_runs_in_the_cli_and_loads_back(window, tmp_path, capsys):
    assert window.method.set_method("debevec")
    window.method.form.set_values({"samples": 150, "deghost": "on"})
    window.method.set_align_mode("mtb")
    window.tone.set_params(ToneParams(exposure_ev=0.5, tmo="drago", saturation=1.3))
    path = window.save_preset(tmp_path / "look.toml")
    recipe = load_preset(path)
    assert (recipe.method, recipe.align) == ("debevec", "mtb")
    assert recipe.params == {"samples": 150, "deghost": "on"}
    assert recipe.tone.tmo == "drago" and recipe.tone.exposure_ev == 0.5
    # the window forgets, then loads it back
    assert window.method.set_method("mertens")
    window.tone.reset()
    assert window.load_preset(path)
    assert window.method.method_id() == "debevec" and window.method.align_mode() == "mtb"
    assert window.method.params()["samples"] == 150 and window.method.params()["deghost"] == "on"
    assert window.tone.params().tmo == "drago"
    # and the command line runs the same recipe
    from tests.cli.helpers import cli_inproc

    _shoot(tmp_path / "in", scenes=1)
    proc = cli_inproc(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--preset", path,
                      "-j", "1")
    assert proc.code == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "lumafuse-batch.json").read_text())
    assert report["groups"][0]["method"] == "debevec"
    assert np.isfinite(read_frame(tmp_path / "out" / "IMG_0001_debevec.tif")[0]).all()


def test_a_saved_bool_deghost_shows_as_on_in_the_window(window):
    """Sessions and presets written when debevec's deghost was a checkbox hold True / False:
    the auto / on / off choice shows them as on / off, not as the default."""
    assert window.method.set_method("debevec")
    window.method.form.set_values({"deghost": True})
    assert window.method.params()["deghost"] == "on"
    window.method.form.set_values({"deghost": False})
    assert window.method.params()["deghost"] == "off"
    window.method.form.set_values({"deghost": "auto"})
    assert window.method.params()["deghost"] == "auto"


def test_bad_preset_file_is_reported_in_the_window(window, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[tone]\ntmo = "nope"\n')
    assert not window.load_preset(bad)
    assert any("bad.toml" in e and "nope" in e for e in window.errors)


def test_batch_dialog_with_worker_processes(window, tmp_path):
    """Two workers: spawned processes, the same files and report as one worker here."""
    _shoot(tmp_path / "in", scenes=2)
    dialog = _dialog(window, tmp_path / "in")
    dialog.workers.setValue(2)
    dialog.run()
    report = json.loads((tmp_path / "out" / "lumafuse-batch.json").read_text())
    assert [g["status"] for g in report["groups"]] == ["ok", "ok"]
    assert dialog.status.text().startswith("Done: 2 written, 0 failed")
    assert (tmp_path / "out" / "IMG_0004_mertens.tif").is_file()
