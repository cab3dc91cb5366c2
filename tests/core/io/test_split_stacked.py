"""Two exposures stacked in one file (the RL fusion paper's format): split on load."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import InputError
from app.core.io import load_stack, split_stacked_frame


@pytest.mark.parametrize("h", [10, 11])
def test_split_gives_equal_halves_and_drops_an_odd_middle_row(h):
    img = np.arange(h, dtype=np.float32)[:, None, None] * np.ones((1, 4, 3), np.float32)
    top, bottom = split_stacked_frame(img)
    assert top.shape == bottom.shape == (h // 2, 4, 3)
    assert top[-1, 0, 0] == h // 2 - 1 and bottom[0, 0, 0] == h - h // 2
    if h % 2:
        assert h // 2 not in np.concatenate([top[:, 0, 0], bottom[:, 0, 0]])


def test_one_row_is_refused():
    with pytest.raises(InputError, match="cannot hold two"):
        split_stacked_frame(np.zeros((1, 4, 3), np.float32), "x.jpg")


def test_load_stack_splits_every_file_into_two_frames(tmp_path):
    dark = np.full((7, 9, 3), 40, np.uint8)
    bright = np.full((7, 9, 3), 170, np.uint8)
    bright[2:5, 3:6] = 120  # some structure so the frames are not identical up to gain
    dark[2:5, 3:6] = 25
    path = tmp_path / "pair.png"
    cv2.imwrite(str(path), np.concatenate([dark, np.zeros((1, 9, 3), np.uint8), bright]))
    stack = load_stack([path], split_stacked=True)
    assert stack.n == 2 and stack.frames[0].shape == (7, 9, 3)
    assert stack.frames[0].mean() < stack.frames[1].mean()  # dark to bright
    assert [i.path.endswith(("(top)", "(bottom)")) for i in stack.infos] == [True, True]
