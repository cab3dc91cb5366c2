"""The one-job memory settings of the command line (app.core.allocator) take effect on this
machine's C library and numpy, and a command run with them writes the same pixels."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import json
from numpy._core import multiarray
from app.core.allocator import tune_for_one_job
before = bool(multiarray._get_madvise_hugepage())
applied = tune_for_one_job()
print(json.dumps({"applied": applied, "before": before,
                  "after": bool(multiarray._get_madvise_hugepage())}))
"""


def test_settings_take_effect_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True,
                         text=True, check=True)
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["applied"]["numpy_huge_pages_off"] is True
    assert state["after"] is False
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert state["applied"]["heap_keeps_freed_memory"] is glibc


def test_fuse_with_the_settings_writes_what_the_library_computes(bracket, tmp_path):
    """The CLI applies the settings; its file holds the same codes as run() + to_uint here."""
    from app.core.io import load_stack
    from app.core.tonemap import render, to_uint
    from app.core.types import ToneParams
    from app.models.runner import run

    paths = [str(p) for p in bracket]
    out = tmp_path / "out.png"
    subprocess.run([sys.executable, "main.py", "fuse", *paths, "-m", "mertens", "-o", str(out),
                    "-q"], cwd=REPO, check=True, capture_output=True)
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]
    result = run(load_stack(paths), "mertens")
    expected = to_uint(render(result.image, result.kind, ToneParams()), 8)
    np.testing.assert_array_equal(written, expected)
