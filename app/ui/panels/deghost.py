"""Deghost panel and preview overlay: selective deghosting by painting (Photomatix-style) and
the ghost map shown over the preview.

* :class:`DeghostPanel` collects the controls: "Paint reference" mode, brush size, erase,
  "Clear mask", "Show ghost map", and shows the motion share. It only emits requests.
* :class:`PreviewOverlay` sits on a :class:`~app.ui.panels.preview.PreviewView`: a red tint of
  the ghost map and a blue tint of the painted mask, both stretched over the shown result, and,
  in paint mode, turns left-drags (right-drags erase) into strokes in image coordinates
  normalised to [0, 1], so one list of strokes fits the preview and the full-size export.

A stroke is ``(radius, points, erase)`` as :func:`app.core.merge.ghost.rasterize_strokes`
takes it: radius a fraction of the image's long side, points (x, y) fractions of width/height.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsEllipseItem,
    QGraphicsPixmapItem,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.core.merge.ghost import Stroke


BRUSH_RANGE = (5, 200)  # slider units: thousandths of the image's long side (0.5 % .. 20 %)
BRUSH_DEFAULT = 40  # 4 % of the long side
OVERLAY_LONG_SIDE = 800  # the painted mask is drawn at this size on screen (tint only)
GHOST_RGB = (255, 40, 40)
GHOST_ALPHA = 0.6
MASK_RGB = (40, 120, 255)
MASK_ALPHA = 0.45
MIN_STEP_PX = 2.0  # screen pixels between recorded points of a stroke


def tint(values: np.ndarray, rgb: tuple[int, int, int], alpha: float) -> QPixmap:
    """float HxW in [0, 1] -> an RGBA pixmap of colour ``rgb`` with opacity ``values * alpha``."""
    v = np.clip(np.nan_to_num(np.asarray(values, np.float32)), 0.0, 1.0)
    h, w = v.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = np.round(v * (alpha * 255.0)).astype(np.uint8)
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return QPixmap.fromImage(image)  # copies while ``rgba`` is alive


def mask_overlay_size(width: float, height: float) -> tuple[int, int]:
    """(h, w) of the on-screen mask for a result shown as ``width`` x ``height``."""
    k = min(1.0, OVERLAY_LONG_SIDE / max(width, height, 1.0))
    return max(1, round(height * k)), max(1, round(width * k))


class DeghostPanel(QGroupBox):
    """Signals: ``paint_toggled(bool)``, ``brush_changed(float)`` (radius, fraction of the long
    side), ``erase_toggled(bool)``, ``clear_requested()``, ``ghost_toggled(bool)``."""

    paint_toggled = Signal(bool)
    brush_changed = Signal(float)
    erase_toggled = Signal(bool)
    clear_requested = Signal()
    ghost_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Deghost", parent)
        self.paint = QPushButton("Paint reference")
        self.paint.setCheckable(True)
        self.paint.setToolTip(
            "Paint over moving things in the preview: there the result comes from the "
            "reference frame alone (REF in the strip).\nLeft-drag paints, right-drag erases.")
        self.erase = QPushButton("Erase")
        self.erase.setCheckable(True)
        self.erase.setToolTip("Left-drag erases paint (right-drag always does)")
        self.clear = QPushButton("Clear mask")
        self.clear.setToolTip("Remove all painted strokes")
        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(*BRUSH_RANGE)
        self.brush.setValue(BRUSH_DEFAULT)
        self.brush.setToolTip("Brush size (share of the picture's long side)")
        self.brush_label = QLabel()
        self.brush_label.setMinimumWidth(40)
        self.show_ghosts = QCheckBox("Show ghost map")
        self.show_ghosts.setToolTip("Tint in red where the exposures disagree (motion)")
        self.motion = QLabel()
        self.motion.setObjectName("motionShare")
        self.motion.setWordWrap(True)
        self.mask_info = QLabel()
        self.mask_info.setObjectName("maskInfo")
        self.mask_info.setStyleSheet("color: palette(placeholder-text);")

        row = QHBoxLayout()
        for w in (self.paint, self.erase, self.clear):
            row.addWidget(w)
        size = QHBoxLayout()
        size.addWidget(QLabel("Brush"))
        size.addWidget(self.brush, 1)
        size.addWidget(self.brush_label)
        ghosts = QHBoxLayout()
        ghosts.addWidget(self.show_ghosts)
        ghosts.addWidget(self.motion, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(size)
        layout.addWidget(self.mask_info)
        layout.addLayout(ghosts)

        self.paint.toggled.connect(self.paint_toggled.emit)
        self.erase.toggled.connect(self.erase_toggled.emit)
        self.clear.clicked.connect(self.clear_requested.emit)
        self.show_ghosts.toggled.connect(self.ghost_toggled.emit)
        self.brush.valueChanged.connect(self._on_brush_value_changed)
        self._on_brush_value_changed(self.brush.value())
        self.set_stroke_count(0)

    def brush_radius(self) -> float:
        return self.brush.value() / 1000.0

    def set_stroke_count(self, n: int) -> None:
        self.clear.setEnabled(n > 0)
        self.mask_info.setText(f"{n} stroke(s) painted" if n else "No mask painted")

    def set_motion_share(self, share: float | None) -> None:
        """Show the share of the picture with motion (None: not known, shows nothing)."""
        self.motion.setText("" if share is None else motion_text(share))

    def set_ghost_checked(self, on: bool) -> None:
        self.show_ghosts.blockSignals(True)
        self.show_ghosts.setChecked(on)
        self.show_ghosts.blockSignals(False)

    def _on_brush_value_changed(self, value: int) -> None:
        self.brush_label.setText(f"{value / 10:.1f} %")
        self.brush_changed.emit(value / 1000.0)


def motion_text(share: float) -> str:
    return f"motion in {100.0 * float(share):.1f} % of the picture"


class PreviewOverlay(QObject):
    """Ghost-map and mask tints over a PreviewView, and the brush in paint mode.

    Signals: ``stroke_finished(float, list, bool)``: radius, points [(x, y) in [0, 1]], erase.
    """

    stroke_finished = Signal(float, list, bool)

    def __init__(self, view, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        scene = view.scene()
        self.ghost_item = QGraphicsPixmapItem()
        self.mask_item = QGraphicsPixmapItem()
        for z, item in ((5.0, self.ghost_item), (6.0, self.mask_item)):
            item.setZValue(z)
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            item.setVisible(False)
            scene.addItem(item)
        self.cursor = QGraphicsEllipseItem()
        self.cursor.setPen(QPen(QColor(255, 255, 255, 220), 0))
        self.cursor.setZValue(7.0)
        self.cursor.setVisible(False)
        scene.addItem(self.cursor)
        self.painting = False
        self.erase = False
        self.radius = BRUSH_DEFAULT / 1000.0
        self.strokes: tuple[Stroke, ...] = ()
        self._current: list[tuple[float, float]] | None = None
        self._current_erase = False
        self._last_pos: QPointF | None = None
        self._ghost: np.ndarray | None = None
        scene.sceneRectChanged.connect(lambda _r: self._fit_items())
        view.viewport().installEventFilter(self)
        view.viewport().setMouseTracking(True)

    # -- content -----------------------------------------------------------------------------
    def set_ghost(self, ghost: np.ndarray | None) -> None:
        """The ghost map (float HxW [0, 1], any size with the result's aspect) or None."""
        self._ghost = ghost
        if ghost is None:
            self.ghost_item.setPixmap(QPixmap())
            self.ghost_item.setVisible(False)
            return
        self.ghost_item.setPixmap(tint(ghost, GHOST_RGB, GHOST_ALPHA))
        self.ghost_item.setVisible(True)
        self._fit_items()

    def set_strokes(self, strokes: Sequence[Stroke]) -> None:
        """The painted strokes to show (the window's, after a stroke, undo or clear)."""
        self.strokes = tuple(strokes)
        self._draw_mask()

    def ghost_shown(self) -> bool:
        return self.ghost_item.isVisible() and not self.ghost_item.pixmap().isNull()

    def mask_shown(self) -> bool:
        return self.mask_item.isVisible() and not self.mask_item.pixmap().isNull()

    def _draw_mask(self) -> None:
        strokes = list(self.strokes)
        if self._current:
            strokes.append((self.radius, tuple(self._current), self._current_erase))
        rect = self.view.scene().sceneRect()
        if not strokes or not self.view.has_image():
            self.mask_item.setPixmap(QPixmap())
            self.mask_item.setVisible(False)
            return
        from app.core.merge.ghost import rasterize_strokes

        h, w = mask_overlay_size(rect.width(), rect.height())
        self.mask_item.setPixmap(tint(rasterize_strokes(strokes, h, w), MASK_RGB, MASK_ALPHA))
        self.mask_item.setVisible(True)
        self._fit_items()

    def _fit_items(self) -> None:
        """Stretch the tints over the scene (the shown result, in proxy pixels)."""
        rect = self.view.scene().sceneRect()
        for item in (self.ghost_item, self.mask_item):
            pix = item.pixmap()
            if not pix.isNull() and rect.width() > 1:
                item.setTransform(QTransform.fromScale(rect.width() / pix.width(),
                                                       rect.height() / pix.height()))

    def refresh(self) -> None:
        """Redraw after the result (its size) changed."""
        self._fit_items()
        self._draw_mask()

    # -- paint mode --------------------------------------------------------------------------
    def set_painting(self, on: bool) -> None:
        from PySide6.QtWidgets import QGraphicsView

        self.painting = bool(on)
        self._current = None
        if on:
            self.view.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.view.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.view.viewport().unsetCursor()
            self.cursor.setVisible(False)

    def set_radius(self, radius: float) -> None:
        self.radius = float(radius)

    def normalised(self, pos: QPointF) -> tuple[float, float]:
        """A viewport position -> (x, y) as fractions of the shown result's width / height."""
        point = self.view.mapToScene(pos.toPoint())
        rect = self.view.scene().sceneRect()
        return (float(np.clip(point.x() / max(rect.width(), 1e-9), 0.0, 1.0)),
                float(np.clip(point.y() / max(rect.height(), 1e-9), 0.0, 1.0)))

    def begin_stroke(self, x: float, y: float, erase: bool = False) -> None:
        """Start a stroke at normalised (x, y) (what a press in paint mode does)."""
        self._current = [(float(x), float(y))]
        self._current_erase = bool(erase)
        self._draw_mask()

    def extend_stroke(self, x: float, y: float) -> None:
        if self._current is not None:
            self._current.append((float(x), float(y)))
            self._draw_mask()

    def end_stroke(self) -> None:
        """Finish the stroke: ``stroke_finished`` is emitted (the window re-runs the merge)."""
        points, self._current = self._current, None
        if points:
            self.stroke_finished.emit(self.radius, points, self._current_erase)
        self._draw_mask()

    def _update_cursor(self, pos: QPointF) -> None:
        rect = self.view.scene().sceneRect()
        r = self.radius * max(rect.width(), rect.height())
        centre = self.view.mapToScene(pos.toPoint())
        self.cursor.setRect(QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r))
        self.cursor.setVisible(self.painting and self.view.has_image())

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if not self.painting or not self.view.has_image():
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() in (
                Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            erase = self.erase or event.button() == Qt.MouseButton.RightButton
            self._last_pos = event.position()
            self.begin_stroke(*self.normalised(event.position()), erase=erase)
            return True
        if kind == QEvent.Type.MouseMove:
            self._update_cursor(event.position())
            if self._current is not None and self._last_pos is not None:
                d = event.position() - self._last_pos
                if abs(d.x()) + abs(d.y()) >= MIN_STEP_PX:
                    self._last_pos = event.position()
                    self.extend_stroke(*self.normalised(event.position()))
                return True
            return False
        if kind == QEvent.Type.MouseButtonRelease and self._current is not None:
            self.extend_stroke(*self.normalised(event.position()))
            self.end_stroke()
            return True
        if kind == QEvent.Type.ContextMenu:
            return True  # right-drag erases here; no menu
        return False
