"""GUI test fixtures: offscreen Qt, isolated settings, a synchronous window, bracket files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.ui.launch import SAMPLES_DIR, sample_files  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    from app.ui.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, settings):
    """A main window whose jobs run inline (deterministic), with throw-away settings."""
    from app.ui.jobs import JobRunner
    from app.ui.main_window import MainWindow

    w = MainWindow(runner=JobRunner(synchronous=True), settings=settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


@pytest.fixture
def threaded_window(qtbot, settings):
    """A main window with the real thread pool."""
    from app.ui.main_window import MainWindow

    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.shutdown()


@pytest.fixture
def sample_copy(tmp_path) -> list[Path]:
    """The bundled sample bracket copied to tmp (tests may write next to it)."""
    files = sample_files()
    assert len(files) >= 2, f"the sample bracket in {SAMPLES_DIR} is missing"
    folder = tmp_path / "bracket"
    folder.mkdir()
    return [Path(shutil.copy(f, folder)) for f in files]


@pytest.fixture
def synthetic_pngs(tmp_path, synthetic_scene) -> list[Path]:
    """The synthetic ground-truth bracket (tests/synthetic.py) written as 8-bit PNGs."""
    import cv2

    _rad, frames, _times = synthetic_scene
    folder = tmp_path / "synthetic"
    folder.mkdir()
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"frame_{i}.png"
        cv2.imwrite(str(p), np.round(f[..., ::-1] * 255).astype(np.uint8))
        paths.append(p)
    return paths


def drop_files(widget, paths) -> QDropEvent:
    """Simulate dragging ``paths`` onto ``widget`` and dropping them (enter, then drop)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop
