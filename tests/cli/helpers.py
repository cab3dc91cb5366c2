"""CLI test helpers: a bracket written to disk, and a runner for ``python main.py`` subprocesses.

The ``bracket`` fixture is re-exported by conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import synthetic

REPO = Path(__file__).resolve().parents[2]


def write_png(path: Path, frame01: np.ndarray, bits: int = 8) -> Path:
    """Save a display-referred RGB float frame in [0, 1] as an 8- or 16-bit PNG."""
    top = 255 if bits == 8 else 65535
    data = np.round(np.clip(frame01, 0, 1) * top).astype(np.uint8 if bits == 8 else np.uint16)
    assert cv2.imwrite(str(path), np.ascontiguousarray(data[..., ::-1]))
    return path


@pytest.fixture
def bracket(tmp_path) -> list[Path]:
    """Three 8-bit PNG exposures (96x128) of the synthetic scene at TIMES[1:], dark to bright."""
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:])
    return [write_png(tmp_path / f"exp{i}.png", f) for i, f in enumerate(frames)]


TIMES_ARG = ",".join(str(t) for t in synthetic.TIMES[1:])


@dataclass
class Proc:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Non-progress stderr lines (progress lines start with a percentage)."""
        return [l for l in self.stderr.splitlines() if l.strip() and not l.strip()[0].isdigit()]


def cli(*args: str, env: dict | None = None, timeout: int = 240) -> Proc:
    """Run ``python main.py ARGS`` in a fresh interpreter from the repository root."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    out = subprocess.run(
        [sys.executable, "main.py", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env,
    )
    return Proc(out.returncode, out.stdout, out.stderr)


def assert_one_line_error(proc: Proc, *fragments: str, code: int = 2) -> str:
    """Exit ``code``, exactly one non-progress line on stderr, no traceback, naming fragments."""
    assert proc.code == code, f"exit {proc.code}, stderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.lines
    assert len(lines) == 1, f"expected one line, got:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("lumafuse: error: "), line
    for frag in fragments:
        assert frag.lower() in line.lower(), f"{frag!r} not in {line!r}"
    return line


def write_big_bracket(folder: Path, h: int, w: int) -> list[Path]:
    """A 3-frame h x w PNG bracket in ``folder``, big enough that a run can be signalled mid-way."""
    rad = synthetic.radiance_field(h, w)
    return [write_png(folder / f"big{i}.png", f)
            for i, f in enumerate(synthetic.photograph(rad, synthetic.TIMES[:3]))]


def start_fuse(paths: list[Path], out: Path, **popen) -> tuple[subprocess.Popen, str]:
    """Start ``python main.py fuse PATHS -o OUT``; returns (process, first stderr line) once the
    first progress line shows that the run has started."""
    proc = subprocess.Popen(
        [sys.executable, "main.py", "fuse", *map(str, paths), "-o", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, **popen,
    )
    return proc, proc.stderr.readline()


def folder_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def cli_inproc(capsys, *args) -> Proc:
    """Run the CLI in this process (fast); same Proc result as :func:`cli`."""
    from app.launcher import main

    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return Proc(code, out.out, out.err)
