"""Start-up in a subprocess: --screenshot with the bundled sample, failure exit codes, and no
torch import on the way to the first result (learned methods load lazily)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from app.core.io import read_frame

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # keep the user's QSettings untouched
    return env


def _run(args, tmp_path, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=REPO, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def test_screenshot_of_sample_result(tmp_path):
    out = tmp_path / "shot.png"
    proc = _run(["main.py", "--screenshot", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    img, _ = read_frame(out)
    h, w = img.shape[:2]
    assert w >= 1000 and h >= 700
    assert img.std() > 0.05  # not blank
    # The preview area (left, above the strip) shows the fused picture, not the empty background.
    preview = img[int(h * 0.1): int(h * 0.6), int(w * 0.05): int(w * 0.65)]
    assert preview.std() > 0.05 and preview.mean() > 0.1


def test_screenshot_with_files_and_failure_exit_code(tmp_path, sample_copy):
    out = tmp_path / "files.png"
    proc = _run(["main.py", "--screenshot", str(out), *map(str, sample_copy)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    proc = _run(["main.py", "--screenshot", str(tmp_path / "bad.png"), str(bad)], tmp_path)
    assert proc.returncode != 0
    assert "bad.jpg" in proc.stderr or "could not be loaded" in proc.stderr


def test_no_torch_import_on_the_way_to_the_first_result(tmp_path):
    out = tmp_path / "t.png"
    code = (
        "import json, sys\n"
        "from app.ui.launch import main\n"
        f"rc = main(['--screenshot', {str(out)!r}])\n"
        "mods = sys.modules\n"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in mods, 'safetensors': 'safetensors' in mods}))\n"
    )
    proc = _run(["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"rc": 0, "torch": False, "safetensors": False}


def test_torch_is_warmed_up_in_the_background_after_the_first_paint(tmp_path):
    """An interactive start shows the window without torch, then a background thread imports
    it, so the first learned run does not pay the import after Run is clicked."""
    code = (
        "import json, sys, time\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.ui.main_window import MainWindow\n"
        "from app.models import warmup\n"
        "w = MainWindow(restore_geometry=False)\n"
        "w.show(); app.processEvents()\n"
        "at_show = 'torch' in sys.modules\n"
        "t0 = time.time()\n"
        "while warmup._started is None and time.time() - t0 < 10: app.processEvents(); time.sleep(0.02)\n"
        "warmup._started.join(60)\n"
        "print(json.dumps({'at_show': at_show, 'thread': warmup._started.name,\n"
        "                  'torch': 'torch' in sys.modules}))\n"
        "w.close()\n"
    )
    proc = _run(["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"at_show": False, "thread": "lumafuse-warm-up", "torch": True}
