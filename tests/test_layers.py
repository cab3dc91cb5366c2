"""Layering: the import-linter contracts hold, and the CLI path never imports Qt (nor torch for
classical methods), checked on real runs of ``main.py`` in a fresh interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import synthetic

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("PySide6", "shiboken6", "pyqtgraph", "torch", "safetensors")

# Runs main.py as `python main.py ARGS` would, then prints the heavy top-level packages that were
# imported (stdout carries only that JSON; the CLI writes its own messages to stderr or, for
# list-methods, before it).
_PROBE = """
import json, os, runpy, sys
sys.argv = ["main.py"] + sys.argv[1:]
def _exit(code):  # a command ends with os._exit (app.launcher.run): look at sys.modules first
    raise SystemExit(code)
os._exit = _exit
code = 0
try:
    runpy.run_path("main.py", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print("@@" + json.dumps({"code": code, "heavy": heavy}))
""" % (HEAVY,)


def _probe(*args: str, gui: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("QT_QPA_PLATFORM", None)  # the CLI must not need it
    if gui:
        env["QT_QPA_PLATFORM"] = "offscreen"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )
    line = [l for l in out.stdout.splitlines() if l.startswith("@@")]
    assert line, f"probe failed: {out.stderr[-2000:]}"
    result = json.loads(line[-1][2:])
    result["stderr"] = out.stderr
    return result


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert exe, "lint-imports (import-linter) is not installed: pip install -e '.[test]'"
    out = subprocess.run(
        [exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_list_methods_imports_neither_qt_nor_torch():
    r = _probe("list-methods")
    assert r["code"] in (0, None), r["stderr"]
    assert r["heavy"] == [], f"list-methods imported {r['heavy']}"


def test_help_imports_neither_qt_nor_torch():
    r = _probe("--help")
    assert r["code"] == 0
    assert r["heavy"] == []


def test_classical_fuse_imports_neither_qt_nor_torch(tmp_path):
    frames = synthetic.photograph(synthetic.radiance_field(), synthetic.TIMES[1:])
    paths = []
    for i, f in enumerate(frames):
        p = tmp_path / f"f{i}.png"
        cv2.imwrite(str(p), np.round(f[..., ::-1] * 255).astype(np.uint8))
        paths.append(str(p))
    out = tmp_path / "fused.png"
    r = _probe("fuse", *paths, "-m", "mertens", "-o", str(out), "-q")
    assert r["code"] in (0, None), r["stderr"]
    assert out.is_file() and out.stat().st_size > 0
    assert r["heavy"] == [], f"fuse -m mertens imported {r['heavy']}"

    hdr = tmp_path / "merged.exr"
    times = ",".join(str(t) for t in synthetic.TIMES[1:])
    r = _probe("fuse", *paths, "-m", "debevec", "--times", times, "-o", str(hdr), "-q")
    assert r["code"] in (0, None), r["stderr"]
    assert hdr.is_file()
    assert r["heavy"] == [], f"fuse -m debevec imported {r['heavy']}"


def test_bundled_sample_fuse_imports_no_qt(tmp_path):
    """The README's first command fuses the bundled sample: that path stays Qt-free too."""
    samples = sorted(
        p for p in (REPO / "resources" / "samples").iterdir()
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff")
    )
    assert len(samples) >= 2, "resources/samples must hold the bundled bracket"
    out = tmp_path / "sample.jpg"
    r = _probe("fuse", *map(str, samples), "-o", str(out), "-q")
    assert r["code"] in (0, None), r["stderr"]
    assert out.is_file()
    assert "PySide6" not in r["heavy"] and "torch" not in r["heavy"], r["heavy"]


def test_probe_sees_qt_on_the_gui_path(tmp_path):
    """Positive control: the same probe, routed to the GUI, does report PySide6."""
    shot = tmp_path / "shot.png"
    r = _probe("--screenshot", str(shot), gui=True)
    assert r["code"] in (0, None), r["stderr"][-2000:]
    assert "PySide6" in r["heavy"]
    assert shot.is_file()
