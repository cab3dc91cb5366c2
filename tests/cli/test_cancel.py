"""Ctrl-C during ``fuse``: exit 130, one line, no output and no temporary file left behind."""

from __future__ import annotations

import signal
import time

from tests.cli.helpers import folder_files, start_fuse, write_big_bracket


def test_sigint_cancels_cleanly(tmp_path):
    # Big enough (3 x 6 MP) that the run is still going when the first progress line appears.
    paths = write_big_bracket(tmp_path, 2000, 3000)
    out = tmp_path / "out.png"
    before = folder_files(tmp_path)
    proc, first = start_fuse(
        paths, out,
        # as from an interactive terminal: CI may run the tests with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
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
