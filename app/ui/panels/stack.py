"""Stack panel: the strip of loaded exposures (thumbnail, file name, exposure time / EV).

Accepts dropped files and folders. Each card can be moved left/right or removed; the exposure
field shows the EXIF time and is editable when the file has none (``1/60``, ``0.5`` or
``+1 EV``). One card is the reference frame (a REF badge and a highlighted border: alignment and
deghosting keep that frame); the REF button or the context menu's "Use as reference" asks for
another. Files that could not be read are listed under the strip with the reason, while the
others stay loaded. The panel only shows state and emits requests; the window owns the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.panels.preview import to_pixmap

THUMB_BOX = 132  # px: thumbnails are scaled into a square of this size


@dataclass(frozen=True)
class FrameCardData:
    """What one card shows. ``exposure_text`` is '' when unknown; ``from_exif`` locks the field;
    ``placeholder`` is a greyed value shown but not typed (an estimate); ``source`` says where
    the exposure used comes from (EXIF / typed / estimated), under the field."""

    name: str
    thumb: np.ndarray  # uint8 hxwx3
    exposure_text: str
    from_exif: bool
    tooltip: str = ""
    error: str = ""  # invalid user entry, shown on the field
    placeholder: str = "time or EV?"
    source: str = ""
    exposure_tip: str = ""


def urls_to_paths(mime) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


class FrameCard(QFrame):
    exposure_edited = Signal(str)
    move_requested = Signal(int)  # -1 left, +1 right
    remove_requested = Signal()
    reference_requested = Signal()

    def __init__(self, data: FrameCardData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frameCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(THUMB_BOX + 16)
        thumb = QLabel()
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumb.setFixedSize(THUMB_BOX, round(THUMB_BOX * 0.72))
        thumb.setPixmap(
            to_pixmap(data.thumb).scaled(
                thumb.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        thumb.setToolTip(data.tooltip)
        name = QLabel(data.name)
        name.setToolTip(data.tooltip)
        name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        metrics = name.fontMetrics()
        name.setText(metrics.elidedText(data.name, Qt.TextElideMode.ElideMiddle, THUMB_BOX))
        self.exposure = QLineEdit(data.exposure_text)
        self.exposure.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.exposure.setReadOnly(data.from_exif)
        if data.from_exif:
            self.exposure.setToolTip(data.exposure_tip or "Exposure time from EXIF")
            self.exposure.setStyleSheet("QLineEdit { background: transparent; border: none; }")
        else:
            self.exposure.setPlaceholderText(data.placeholder)
            self.exposure.setToolTip(
                data.error or data.exposure_tip or "No EXIF exposure time: type one (1/60, 0.5) "
                "or an EV (+1 EV),\nor leave empty to estimate it from the pixels"
            )
            if data.error:
                self.exposure.setStyleSheet("QLineEdit { border: 1px solid #d04040; }")
        self.source = QLabel(data.source)
        self.source.setObjectName("exposureSource")
        self.source.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.source.setStyleSheet("color: palette(placeholder-text); font-size: 10px;")
        self.source.setToolTip(data.exposure_tip)
        self.exposure.editingFinished.connect(self._on_exposure_editing_finished)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for text, tip, slot in (
            ("◀", "Move left (darker)", lambda: self.move_requested.emit(-1)),
            ("✕", "Remove from the stack", self.remove_requested.emit),
            ("▶", "Move right (brighter)", lambda: self.move_requested.emit(1)),
        ):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        self.ref = QToolButton()
        self.ref.setObjectName("referenceBadge")
        self.ref.setText("REF")
        self.ref.setCheckable(True)
        self.ref.setAutoRaise(True)
        self.ref.setToolTip("Use as reference: alignment and deghosting keep this frame where "
                            "things moved (and where you paint)")
        self.ref.clicked.connect(self._on_ref_clicked)
        buttons.insertWidget(2, self.ref)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(thumb)
        layout.addWidget(name)
        layout.addWidget(self.exposure)
        layout.addWidget(self.source)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._text = data.exposure_text

    def set_reference(self, on: bool) -> None:
        """Show (or not) that this card is the reference frame."""
        self.ref.setChecked(on)
        self.ref.setStyleSheet("QToolButton { background: #2f7de1; color: white; "
                               "font-weight: bold; border-radius: 3px; }" if on else "")
        self.setStyleSheet("QFrame#frameCard { border: 2px solid #2f7de1; }" if on else "")

    def is_reference(self) -> bool:
        return self.ref.isChecked()

    def _on_ref_clicked(self) -> None:
        self.ref.setChecked(not self.ref.isChecked())  # the window decides and shows it
        self.reference_requested.emit()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt override
        menu = QMenu(self)
        use = QAction("Use as reference", menu)
        use.setEnabled(not self.is_reference())
        use.triggered.connect(lambda _c=False: self.reference_requested.emit())
        menu.addAction(use)
        menu.exec(event.globalPos())

    def _on_exposure_editing_finished(self) -> None:
        text = self.exposure.text()
        if text != self._text:
            self._text = text
            self.exposure_edited.emit(text)


class StackPanel(QWidget):
    """Signals: files_dropped(list[str]), exposure_edited(int, str), move_requested(int, int),
    remove_requested(int), reference_requested(int)."""

    files_dropped = Signal(list)
    exposure_edited = Signal(int, str)
    move_requested = Signal(int, int)
    remove_requested = Signal(int)
    reference_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._strip = QWidget()
        self._strip_layout = QHBoxLayout(self._strip)
        self._strip_layout.setContentsMargins(2, 2, 2, 2)
        self._strip_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self._strip)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hint = QLabel("Drop photos or a folder here")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._strip_layout.insertWidget(0, self.hint)
        self.errors = QLabel()
        self.errors.setObjectName("loadErrors")
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet("color: #e06060;")
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors.setVisible(False)
        self.errors.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        # read on the next load: files that hold two exposures stacked vertically (the RL
        # fusion paper's format) load as two frames each
        self.split_stacked = QCheckBox("Each file holds two exposures stacked (top / bottom)")
        self.split_stacked.setToolTip(
            "Applies to the next photos you open or drop: each file loads as two frames, its "
            "top and bottom half (an odd middle row is dropped)")
        layout.addWidget(self.split_stacked)
        layout.addWidget(self.errors)
        self.cards: list[FrameCard] = []

    # -- state -------------------------------------------------------------------------------
    def set_frames(self, frames: list[FrameCardData]) -> None:
        for card in self.cards:
            self._strip_layout.removeWidget(card)
            card.hide()  # gone from screen now, even before the deferred delete runs
            card.deleteLater()
        self.cards = []
        for i, data in enumerate(frames):
            card = FrameCard(data)
            card.exposure_edited.connect(lambda text, i=i: self.exposure_edited.emit(i, text))
            card.move_requested.connect(lambda d, i=i: self.move_requested.emit(i, d))
            card.remove_requested.connect(lambda i=i: self.remove_requested.emit(i))
            card.reference_requested.connect(lambda i=i: self.reference_requested.emit(i))
            self._strip_layout.insertWidget(self._strip_layout.count() - 1, card)
            self.cards.append(card)
        self.hint.setVisible(not frames)

    def set_reference(self, index: int) -> None:
        """Badge the card at ``index`` as the reference frame (-1: none)."""
        for i, card in enumerate(self.cards):
            card.set_reference(i == index)

    def reference_index(self) -> int:
        """The badged card's index, -1 when none is."""
        return next((i for i, c in enumerate(self.cards) if c.is_reference()), -1)

    def set_errors(self, errors: list[tuple[str, str]]) -> None:
        """Show (path, reason) pairs of files that could not be loaded; [] hides the list."""
        lines = []
        for path, reason in errors:
            name = Path(path).name
            lines.append(reason if name and name in reason else f"{name}: {reason}")
        self.errors.setText("\n".join(f"Could not load {line}" for line in lines))
        self.errors.setVisible(bool(lines))

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = urls_to_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
