"""Preview panel: the rendered result with fit / 100 % / wheel zoom / drag pan, and a
before/after compare against any input exposure (split view with a movable divider, or toggle).

Images arrive as uint8 HxWx3 display-encoded arrays; the panel never computes pixels itself.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

ZOOM_STEP = 1.25
ZOOM_LIMITS = (0.02, 32.0)
COMPARE_MODES = ("off", "split", "toggle")


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """uint8 HxWx3 -> QPixmap (one copy: the pixmap's; no intermediate QImage copy)."""
    rgb = np.ascontiguousarray(rgb)
    return QPixmap.fromImage(_view(rgb))  # fromImage copies while ``rgb`` is still alive


def _view(rgb: np.ndarray) -> QImage:
    """A QImage over ``rgb``'s buffer (valid only while ``rgb`` lives)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)


class PreviewView(QGraphicsView):
    """Zoomable, pannable view of the 'after' image with an optional clipped 'before' on top."""

    zoom_changed = Signal(float)
    picked = Signal(float, float)  # scene (proxy pixel) coordinates of a click in pick mode
    EMPTY_TEXT = "Drop bracketed photos here, or use File > Open (Ctrl+O)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.after = QGraphicsPixmapItem()
        self.after.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # The 'before' image sits inside a rectangle that clips it: moving the split only
        # resizes the rectangle, no pixels are recomposed.
        self.clip = QGraphicsRectItem()
        self.clip.setPen(QPen(Qt.PenStyle.NoPen))
        self.clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.before = QGraphicsPixmapItem(self.clip)
        self.before.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.divider = QGraphicsLineItem()
        pen = QPen(QColor(255, 255, 255, 200), 0)
        self.divider.setPen(pen)
        for item in (self.after, self.clip, self.divider):
            self.scene().addItem(item)
        self.clip.setVisible(False)
        self.divider.setVisible(False)
        self.scene().setSceneRect(QRectF(0, 0, 1, 1))
        self.source_scale = 1.0  # full-size pixels per proxy pixel (for the 100 % view)
        self.placeholder = self.EMPTY_TEXT
        self._fit_mode = True

    # -- picking a point ----------------------------------------------------------------------
    def start_pick(self) -> None:
        """The next click on the image emits ``picked`` instead of panning."""
        self._picking = True
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    def stop_pick(self) -> None:
        self._picking = False
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().unsetCursor()

    @property
    def picking(self) -> bool:
        return getattr(self, "_picking", False)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.picking and event.button() == Qt.MouseButton.LeftButton and self.has_image():
            point = self.mapToScene(event.position().toPoint())
            self.stop_pick()
            self.picked.emit(float(point.x()), float(point.y()))
            event.accept()
            return
        super().mousePressEvent(event)

    # -- content -----------------------------------------------------------------------------
    def has_image(self) -> bool:
        return not self.after.pixmap().isNull()

    def set_after(self, rgb: np.ndarray, source_scale: float = 1.0) -> None:
        """Show a rendered proxy; ``source_scale`` = full-size pixels per proxy pixel."""
        first = not self.has_image()
        old_size = self.scene().sceneRect().size().toTuple()
        self.after.setTransform(QTransform())
        self.after.setPixmap(to_pixmap(rgb))
        self.source_scale = max(1.0, float(source_scale))
        self.scene().setSceneRect(QRectF(0, 0, rgb.shape[1], rgb.shape[0]))
        if first or old_size != (float(rgb.shape[1]), float(rgb.shape[0])):
            self.fit()
        self.viewport().update()

    def set_detail(self, rgb: np.ndarray) -> None:
        """Swap in a full-size render (for 100 % and closer) in place of the proxy."""
        rect = self.scene().sceneRect()
        if rect.width() <= 0:
            return
        k = rect.width() / rgb.shape[1]  # scene (proxy) units per full-size pixel
        self.after.setPixmap(to_pixmap(rgb))
        self.after.setTransform(QTransform.fromScale(k, k))
        self.viewport().update()

    def needs_detail(self) -> bool:
        """True when the proxy is shown enlarged, so a full-size render would look sharper."""
        return self.has_image() and self.source_scale > 1.0 and self.zoom() > 1.0

    def set_before(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.before.setPixmap(QPixmap())
            return
        pix = to_pixmap(rgb)
        self.before.setPixmap(pix)
        # The input proxy can differ slightly from the result (alignment crops): stretch to fit.
        target = self.scene().sceneRect()
        if not pix.isNull() and target.width() > 0:
            self.before.setTransform(
                QTransform.fromScale(target.width() / pix.width(), target.height() / pix.height())
            )

    def set_compare(self, mode: str, split: float = 0.5) -> None:
        """mode: 'off', 'split' (before left of the divider at ``split`` in [0,1]), 'toggle'."""
        rect = self.scene().sceneRect()
        show = mode in ("split", "toggle") and not self.before.pixmap().isNull()
        width = rect.width() * (split if mode == "split" else 1.0)
        self.clip.setRect(QRectF(0, 0, width, rect.height()))
        self.clip.setVisible(show)
        self.divider.setLine(width, 0, width, rect.height())
        self.divider.setVisible(show and mode == "split")

    def clear(self) -> None:
        """Drop the result (the 'before' exposures belong to the bracket and stay)."""
        self.after.setPixmap(QPixmap())
        self.scene().setSceneRect(QRectF(0, 0, 1, 1))  # not null: no growth to the hidden items
        self.clip.setVisible(False)
        self.divider.setVisible(False)
        self.viewport().update()

    # -- zoom --------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per proxy pixel."""
        return float(self.transform().m11())

    def fit(self) -> None:
        self._fit_mode = True
        if self.has_image():
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom())

    def actual_size(self) -> None:
        """100 %: one screen pixel per pixel of the full-size result."""
        self._fit_mode = False
        self.setTransform(QTransform.fromScale(self.source_scale, self.source_scale))
        self.zoom_changed.emit(self.zoom())

    def zoom_by(self, factor: float) -> None:
        current = self.zoom()
        target = min(max(current * factor, ZOOM_LIMITS[0]), ZOOM_LIMITS[1])
        if current > 0:
            self._fit_mode = False
            self.scale(target / current, target / current)
            self.zoom_changed.emit(self.zoom())

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self.has_image():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        painter.restore()


class PreviewPanel(QWidget):
    """Toolbar (fit, 100 %, compare controls) above a PreviewView.

    The window fills the 'before' list with the loaded exposures; ``before_changed(int)`` asks
    it for that exposure's proxy.
    """

    before_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = PreviewView()
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the image to the window (F)")
        self.actual_button = QPushButton("100 %")
        self.actual_button.setToolTip("One screen pixel per image pixel (1)")
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(52)
        self.compare = QComboBox()
        self.compare.addItem("Compare: off", "off")
        self.compare.addItem("Split view", "split")
        self.compare.addItem("Show before", "toggle")
        self.compare.setToolTip("Compare the result with an input exposure")
        self.before = QComboBox()
        self.before.setToolTip("Input exposure to compare against")
        self.before.setMinimumContentsLength(12)
        self.before.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setRange(0, 1000)
        self.split.setValue(500)
        self.split.setToolTip("Position of the split divider")
        self.stale = QLabel()
        self.stale.setObjectName("staleLabel")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet("QLabel { background: #6b4a00; color: #ffe9b0; padding: 3px 6px; }")
        self.stale.setVisible(False)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.fit_button, self.actual_button, self.zoom_label):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.compare, self.before):
            bar.addWidget(w)
        bar.addWidget(self.split, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stale)
        layout.addWidget(self.view, 1)

        self.fit_button.clicked.connect(self.view.fit)
        self.actual_button.clicked.connect(self.view.actual_size)
        self.view.zoom_changed.connect(self._on_view_zoom_changed)
        self.compare.currentIndexChanged.connect(self._on_compare_changed)
        self.split.valueChanged.connect(self._on_compare_changed)
        self.before.currentIndexChanged.connect(self._on_before_index_changed)
        self._on_compare_changed()

    def set_stale(self, text: str) -> None:
        """Mark the shown result as out of date with ``text`` ('' clears the mark)."""
        self.stale.setText(text)
        self.stale.setVisible(bool(text))

    def stale_text(self) -> str:
        return self.stale.text() if self.stale.isVisible() else ""

    def compare_mode(self) -> str:
        return str(self.compare.currentData())

    def set_compare_mode(self, mode: str) -> None:
        self.compare.setCurrentIndex(COMPARE_MODES.index(mode))

    def set_inputs(self, names: list[str]) -> None:
        """The exposures offered as 'before' (strip order); keeps the selection when possible."""
        self.view.placeholder = ("No result yet: choose a method and press Run (Ctrl+R)"
                                 if names else PreviewView.EMPTY_TEXT)
        self.view.viewport().update()
        keep = self.before.currentIndex()
        self.before.blockSignals(True)
        self.before.clear()
        self.before.addItems(names)
        self.before.blockSignals(False)
        if names:
            self.before.setCurrentIndex(min(max(keep, 0), len(names) - 1) if keep >= 0
                                        else len(names) // 2)
            self.before_changed.emit(self.before.currentIndex())
        self._on_compare_changed()

    def show_before(self, rgb: np.ndarray) -> None:
        """The input exposure (uint8 display proxy) to compare against."""
        self.view.set_before(rgb)
        self.refresh_compare()

    def refresh_compare(self) -> None:
        """Re-apply the compare mode (after the result or the 'before' image changed)."""
        self.view.set_compare(self.compare_mode(), self.split.value() / 1000.0)

    def _on_compare_changed(self, *_args: object) -> None:
        mode = self.compare_mode()
        self.before.setEnabled(mode != "off")
        self.split.setVisible(mode == "split")
        self.refresh_compare()

    def _on_before_index_changed(self, index: int) -> None:
        if index >= 0:
            self.before_changed.emit(index)

    def _on_view_zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom / max(self.view.source_scale, 1e-9) * 100:.0f} %")
