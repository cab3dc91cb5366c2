"""A one-shot HDR export releases each frame's rows as it merges them (issue 10: 3 x 200 MP under
3 GiB): the same result, and the frames and the whole radiance are never resident at once."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.core.allocator import release_rows
from app.core.io import load_stack
from app.models.runner import run

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "samples").glob("desk_*.jpg"))
TIMES = (1 / 500, 1 / 50, 1 / 5)


def _rss_mib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024


def test_released_rows_leave_memory_and_read_as_zeros():
    # (the product runs on Linux here and in CI; madvise is how the rows are handed back)
    a = np.full((2000, 4000, 3), 7, np.uint8)  # 23 MiB, every page touched (rows: 11.4 MiB)
    before = _rss_mib()
    freed = release_rows(a, 500, 1500)
    row = a.strides[0]
    assert 0.99 * 1000 * row <= freed <= 1000 * row
    assert _rss_mib() <= before - 10
    assert not a[501:1499].any()  # whole rows inside the range: released
    # rows outside the range keep their values (a shared page at either end is kept)
    assert (a[:500] == 7).all() and (a[1500:] == 7).all()
    assert release_rows(a[:, ::2], 0, 100) == 0  # not contiguous: left alone
    assert release_rows(a, 10, 10) == 0


@pytest.mark.parametrize("method", ["debevec", "robertson"])
@pytest.mark.parametrize("half", [False, True])
def test_merge_that_releases_its_frames_gives_the_same_radiance(method, half):
    kept = load_stack(SAMPLES, times=TIMES)
    released = load_stack(SAMPLES, times=TIMES)
    originals = [f.copy() for f in kept.frames]
    expected = run(kept, method, half=half)
    got = run(released, method, half=half, release_frames=True)
    assert got.image.shape[0] >= 128  # the merge ran in strips
    np.testing.assert_array_equal(got.image, expected.image)
    assert got.notes["ev"] == expected.notes["ev"]
    # the released frames are gone (zeros) but for the pages strips shared; the kept ones not
    for frame, kept_frame, original in zip(released.frames, kept.frames, originals):
        assert np.mean(frame == 0) > 0.95 > np.mean(original == 0)
        np.testing.assert_array_equal(kept_frame, original)


def test_frames_are_kept_where_a_caller_reads_them_after_the_run():
    # the ghost-map overlay reads the frames after the method: they must stay whole
    stack = load_stack(SAMPLES, times=TIMES)
    copies = [f.copy() for f in stack.frames]
    run(stack, "debevec", ghost_map=True, release_frames=True)
    for frame, copy in zip(stack.frames, copies):
        np.testing.assert_array_equal(frame, copy)
    # a method that reads its frames more than once (fusion) never releases them
    run(stack, "mertens", release_frames=True)
    for frame, copy in zip(stack.frames, copies):
        np.testing.assert_array_equal(frame, copy)
