"""Message bar: a readable one-line message in the window, the traceback in a details area.

Job errors and load problems end up here instead of crashing the app or failing silently.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

_STYLES = {
    "error": "QFrame#messageBar { background: #5a2323; border-radius: 4px; } QLabel { color: #ffe0e0; }",
    "info": "QFrame#messageBar { background: #23405a; border-radius: 4px; } QLabel { color: #e0f0ff; }",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(180)
        self.details.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.label, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.details_button.toggled.connect(self.details.setVisible)
        self.close_button.clicked.connect(self.clear)
        self.level = ""
        self.setVisible(False)

    def show_message(self, message: str, details: str = "", level: str = "error") -> None:
        """One readable line; ``details`` (a traceback) goes into the collapsible area."""
        self.level = level
        self.setStyleSheet(_STYLES[level])
        self.label.setText(message)
        self.details.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.setVisible(True)

    def clear(self) -> None:
        self.level = ""
        self.label.clear()
        self.details.clear()
        self.setVisible(False)
