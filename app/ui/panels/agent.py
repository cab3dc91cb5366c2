"""Agent panel: the RL fusion agent's edits of the middle frame, and a slider over its steps.

The list shows every edit the agent chose, in order (the ones in use marked); the slider picks how
many of them to use (0 = the IMF middle frame as built). Moving it asks for a re-run with
``stop_at`` = that count (the agent's choices are deterministic, so the same edits come back and
only the replay changes); the chosen step is then in the result's provenance and its export.
Hidden for results of other methods.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QListWidget, QSlider, QVBoxLayout, QWidget

SETTLE_MS = 250  # a dragged slider re-runs once it rests


class AgentPanel(QGroupBox):
    """``step_chosen(int)``: the user picked how many of the agent's edits to use."""

    step_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Agent's edits (RL fusion)", parent)
        self.actions: list[str] = []
        self.used = 0
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.list = QListWidget()
        self.list.setFixedHeight(120)
        self.list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("How many of the agent's edits to use (0: the virtual middle "
                               "frame as built)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.list)
        layout.addWidget(self.slider)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(lambda: self.step_chosen.emit(self.slider.value()))
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.setVisible(False)

    def set_trace(self, actions: Sequence[str] | None, used: int = 0, stopped: str = "") -> None:
        """Show the agent's edits (None hides the panel); ``used`` of them are in the result."""
        if actions is None:
            self.actions = []
            self.setVisible(False)
            return
        self.actions, self.used = list(actions), int(used)
        self.list.clear()
        for i, name in enumerate(self.actions, 1):
            self.list.addItem(f"{i:2d}. {name}" + ("" if i <= self.used else "   (not used)"))
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.actions))
        self.slider.setValue(self.used)
        self.slider.blockSignals(False)
        self._set_caption(self.used)
        if stopped:
            self.caption.setText(self.caption.text() + f"; it stopped: {stopped}")
        self.setVisible(True)

    def _set_caption(self, k: int) -> None:
        self.caption.setText(f"Using {k} of the agent's {len(self.actions)} edits")

    def _on_slider_moved(self, value: int) -> None:
        self._set_caption(value)
        self._timer.start()
