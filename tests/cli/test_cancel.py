"""Ctrl-C during ``fuse``: exit 130, one line, no output and no temporary file left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests import synthetic
from tests.cli.helpers import REPO, folder_files, write_png


def test_sigint_cancels_cleanly(tmp_path):
    # Big enough (3 x 6 MP) that the run is still going when the first progress line appears.
    rad = synthetic.radiance_field(2000, 3000)
    paths = [write_png(tmp_path / f"big{i}.png", f)
             for i, f in enumerate(synthetic.photograph(rad, synthetic.TIMES[:3]))]
    out = tmp_path / "out.png"
    before = folder_files(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "main.py", "fuse", *map(str, paths), "-o", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        # as from an interactive terminal: CI may run the tests with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = proc.stderr.readline()  # the first progress line: reading has started
    assert "%" in first, first
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    rest = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert code == 130, first + rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == "lumafuse: cancelled"
    assert time.monotonic() - t0 < 60  # stops at the next check, not at the end
    assert not out.exists()
    assert folder_files(tmp_path) == before
