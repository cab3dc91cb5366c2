"""The hand-over map that weights ESBN's fine-tuning (app.training.train_esbn.focus_map)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from app.training.train_esbn import focus_map  # noqa: E402


def _batch(ref_value: float, moved: bool) -> tuple[np.ndarray, np.ndarray]:
    """One 8x8 patch: ldr (1, 3, 3, 8, 8) and aligned (1, 2, 3, 8, 8) in [-1, 1]."""
    ldr = np.zeros((1, 3, 3, 8, 8), np.float32)
    ldr[:, 1] = ref_value * 2 - 1  # the reference frame, display value ref_value
    aligned = np.zeros((1, 2, 3, 8, 8), np.float32)
    if moved:
        ldr[:, 0, :, 2:6, 2:6] = 0.6  # an object in the low frame that its static target lacks
    return ldr, aligned


def test_focus_is_on_moved_pixels_whose_reference_is_clipped_or_black():
    for ref in (0.99, 0.01):  # clipped, near black
        m = focus_map(*_batch(ref, moved=True))
        assert m.shape == (1, 1, 8, 8) and m.dtype == np.float32
        assert m[0, 0, 3, 3] == 1.0 and m[0, 0, 0, 0] == 0.0  # inside / outside the object
    assert focus_map(*_batch(0.5, moved=True)).max() == 0.0  # well exposed reference
    assert focus_map(*_batch(0.99, moved=False)).max() == 0.0  # nothing moved
