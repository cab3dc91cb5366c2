"""What an HDR merge assumed is shown: the response curve per channel in the window, the
estimated exposures with their confidence in the strip and as a message, and on the CLI."""

from __future__ import annotations

import numpy as np

from tests.cli.helpers import cli_inproc
from tests.ui.conftest import drop_files


def test_response_panel_and_estimate_message(window, synthetic_pngs):
    drop_files(window.stack, synthetic_pngs)
    assert window.output.result.provenance.method == "mertens"
    assert not window.response.isVisibleTo(window)  # fusion assumes no response
    assert window.method.set_method("debevec")  # classical: re-runs at once
    assert window.output.result.provenance.method == "debevec"
    assert window.response.isVisibleTo(window)
    g = window.response.response
    assert g.shape == (256, 3) and np.all(np.diff(g, axis=0) >= 0)
    xs, ys = window.response.curves[0].getData()
    assert len(xs) == 255 and np.all(np.isfinite(ys))
    assert "estimated" in window.response.caption.text()
    assert "Exposures estimated from the pixels" in window.messages.label.text()
    confidence = window.output.result.notes["exposure_confidence"]
    assert all(c.source.text() == f"estimated · {confidence}" for c in window.stack.cards)
    window.method.set_method("mertens")
    assert not window.response.isVisibleTo(window)


def test_cli_says_when_exposures_are_estimated(tmp_path, capsys, synthetic_pngs):
    proc = cli_inproc(capsys, "fuse", *synthetic_pngs, "-m", "robertson", "-o", tmp_path / "o.exr")
    assert proc.code == 0, proc.stderr
    notes = [l for l in proc.stderr.splitlines() if l.startswith("note: exposures estimated")]
    assert len(notes) == 1 and "EV (confidence " in notes[0], proc.stderr
    proc = cli_inproc(capsys, "fuse", *synthetic_pngs, "-m", "robertson", "--ev", "0,2,4,6",
                      "-o", tmp_path / "o2.exr")
    assert proc.code == 0 and "estimated" not in proc.stderr, proc.stderr
