"""Preset strip: the current result rendered with each preset, as a row of live thumbnails
(Photomatix shows this); click one to apply its tone and look. Built-in presets live in
``resources/presets``, the user's own (File > Save preset) in the settings' preset folder.

The thumbnails are rendered in a background job from the result's histogram-size proxy and
follow the current tone: a preset changes only the keys it names (see
:func:`app.models.preset.tone_over`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

THUMB = 96


def preset_files(*folders: Path) -> list[Path]:
    """The ``*.toml`` presets in the folders (name order; a later folder's file of the same
    name wins)."""
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found[path.stem] = path
    return list(found.values())


def title_of(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").capitalize()


class PresetStrip(QListWidget):
    """Signals: ``preset_clicked(path)``."""

    preset_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("presetStrip")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 24, THUMB + 26))
        self.setFixedHeight(THUMB + 46)
        self.setToolTip("Presets, previewed on the current result: click one to apply it")
        self.itemClicked.connect(
            lambda item: self.preset_clicked.emit(item.data(Qt.ItemDataRole.UserRole)))

    def set_thumbnails(self, rows: list[tuple[Path, np.ndarray | None, str]]) -> None:
        """(preset path, uint8 RGB thumbnail or None, error) per preset."""
        self.clear()
        for path, rgb, error in rows:
            item = QListWidgetItem(title_of(path))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            if rgb is not None:
                data = np.ascontiguousarray(rgb)
                h, w = data.shape[:2]
                image = QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
                item.setIcon(QIcon(QPixmap.fromImage(image)))
            item.setToolTip(error or str(path))
            self.addItem(item)
