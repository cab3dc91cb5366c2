"""Method panel: pick a registered method, set its parameters, choose alignment, press Run.

It only collects parameters; the window runs them. Methods that cannot run on the loaded bracket
(exposure count, missing dependency or weights) stay listed but disabled, with the reason as the
tooltip (``app.models.registry.runnable_on``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.models.registry import METHODS, MethodSpec, get_method, runnable_on
from app.ui.panels.params import ParamForm

ALIGN_CHOICES = (
    ("none", "None (tripod)"),
    ("mtb", "Translation (MTB)"),
    ("homography", "Homography (hand-held)"),
)


class MethodPanel(QGroupBox):
    """Signals: ``run_requested()``, ``method_changed(str)``."""

    run_requested = Signal()
    method_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Method", parent)
        self.combo = QComboBox()
        self.combo.setObjectName("methodCombo")
        self._model = QStandardItemModel(self.combo)
        for spec in METHODS:
            item = QStandardItem(spec.title)
            item.setData(spec.id, Qt.ItemDataRole.UserRole)
            self._model.appendRow(item)
        self.combo.setModel(self._model)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.citation = QLabel()
        self.citation.setWordWrap(True)
        self.citation.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self.form = ParamForm()
        self.align = QComboBox()
        for key, text in ALIGN_CHOICES:
            self.align.addItem(text, key)
        self.align.setToolTip("Register hand-held frames to the reference before merging")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setToolTip("Run the selected method (Ctrl+R)")

        align_row = QFormLayout()
        align_row.setContentsMargins(0, 0, 0, 0)
        align_row.addRow("Alignment", self.align)
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.citation)
        layout.addWidget(self.form)
        layout.addLayout(align_row)
        layout.addWidget(self.run_button)

        self.combo.currentIndexChanged.connect(self._on_combo_index_changed)
        self.run_button.clicked.connect(self.run_requested.emit)
        self._on_combo_index_changed(self.combo.currentIndex())

    # -- state -------------------------------------------------------------------------------
    def method_id(self) -> str:
        return str(self.combo.currentData(Qt.ItemDataRole.UserRole))

    def spec(self) -> MethodSpec:
        return get_method(self.method_id())

    def params(self) -> dict[str, Any]:
        """The parameter values as plain Python values (copied: safe to hand to a job)."""
        return dict(self.form.values())

    def align_mode(self) -> str:
        return str(self.align.currentData())

    def set_method(self, method_id: str) -> bool:
        """Select a method by id; False when it is unknown or disabled."""
        for row in range(self._model.rowCount()):
            item = self._model.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == method_id:
                if not item.isEnabled():
                    return False
                self.combo.setCurrentIndex(row)
                return True
        return False

    def set_align_mode(self, mode: str) -> None:
        index = self.align.findData(mode)
        if index >= 0:
            self.align.setCurrentIndex(index)

    def is_runnable(self, method_id: str) -> tuple[bool, str]:
        for row in range(self._model.rowCount()):
            item = self._model.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == method_id:
                return item.isEnabled(), item.toolTip()
        return False, f"unknown method {method_id!r}"

    def runnable_ids(self) -> list[str]:
        return [
            self._model.item(r).data(Qt.ItemDataRole.UserRole)
            for r in range(self._model.rowCount())
            if self._model.item(r).isEnabled()
        ]

    def set_frame_count(self, n: int) -> None:
        """Enable the methods that can run on ``n`` exposures; the reason goes in the tooltip."""
        for row, spec in enumerate(METHODS):
            item = self._model.item(row)
            ok, reason = runnable_on(spec, n) if n > 0 else (True, "")
            item.setEnabled(ok)
            item.setToolTip(f"{spec.description}" if ok else f"Unavailable: {reason}")
        self.run_button.setEnabled(n > 0 and self.is_runnable(self.method_id())[0])

    # -- handlers ----------------------------------------------------------------------------
    def _on_combo_index_changed(self, _index: int) -> None:
        spec = self.spec()
        self.description.setText(spec.description)
        self.citation.setText(spec.citation)
        self.form.set_specs(spec.params)
        ok, reason = self.is_runnable(spec.id)
        self.run_button.setEnabled(ok)
        self.run_button.setToolTip("Run the selected method (Ctrl+R)" if ok else reason)
        self.method_changed.emit(spec.id)
