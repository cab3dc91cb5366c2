"""``fuse -m rl_fusion``: the seed's stacked-pair format, the agent's edits in --json and the file."""

from __future__ import annotations

import json

import cv2
import numpy as np
from PIL import Image

from tests import synthetic
from tests.cli.helpers import cli_inproc, write_png


def _stacked(tmp_path, odd: bool):
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:])
    under, over = frames[0], frames[-1]
    rows = [under, np.full((1, under.shape[1], 3), 0.5, np.float32)] if odd else [under]
    return write_png(tmp_path / "pair.png", np.concatenate(rows + [over])), under, over


def test_split_stacked_pair_through_rl_fusion(tmp_path, capsys):
    path, under, _over = _stacked(tmp_path, odd=True)
    out = tmp_path / "fused.png"
    proc = cli_inproc(capsys, "fuse", path, "--split-stacked", "-m", "rl_fusion", "-o", out,
                      "--json", "-q")
    assert proc.code == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["height"], doc["width"]) == under.shape[:2]  # one half, the seam row dropped
    used = doc["decisions"]["agent_steps_used"]
    assert used.split(" of ")[0] == used.split(" of ")[1]  # all the agent's edits, by default
    text = Image.open(out).text  # the agent's edits travel with the file
    assert text["lumafuse:agent_actions"] == doc["decisions"]["agent_actions"]
    assert cv2.imread(str(out)).shape[:2] == under.shape[:2]


def test_without_the_flag_one_file_is_one_exposure(tmp_path, capsys):
    path, _u, _o = _stacked(tmp_path, odd=False)
    proc = cli_inproc(capsys, "fuse", path, "-m", "rl_fusion", "-o", tmp_path / "x.png")
    assert proc.code == 2
    assert "exposures" in proc.stderr and "1" in proc.stderr


def test_ev_values_count_the_halves(tmp_path, capsys):
    path, _u, _o = _stacked(tmp_path, odd=False)
    proc = cli_inproc(capsys, "fuse", path, "--split-stacked", "--ev", "0", "-o",
                      tmp_path / "x.png")
    assert proc.code == 2 and "--ev" in proc.stderr
