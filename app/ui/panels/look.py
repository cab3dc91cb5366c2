"""Look panel: contrast, highlights, shadows, whites, blacks, vibrance, clarity (-100..100) and
a tone curve with points on luminance (pyqtgraph: drag the points, "Add point", "Straight").

It only collects a :class:`~app.core.types.Look` and emits ``changed(Look)``; the rendering is
app.core.tonemap.look, shared by the preview and the export.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.types import Look
from app.ui.panels.params import FloatSlider

SLIDERS = (("contrast", "Contrast"), ("highlights", "Highlights"), ("shadows", "Shadows"),
           ("whites", "Whites"), ("blacks", "Blacks"), ("vibrance", "Vibrance"),
           ("clarity", "Clarity"))
ENDS = ((0.0, 0.0), (1.0, 1.0))


class LookPanel(QGroupBox):
    """Signals: ``changed(Look)`` on every edit (continuously while dragging)."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Look", parent)
        self.sliders: dict[str, FloatSlider] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, title in SLIDERS:
            slider = FloatSlider(-100.0, 100.0, 0.0, decimals=0, step=1)
            slider.valueChanged.connect(self._emit)
            self.sliders[name] = slider
            form.addRow(title, slider)
        self.sliders["clarity"].setToolTip("Mid-tone local contrast, edge-aware (no halos); "
                                           "renders in the background")
        self.curve_plot = None
        self.roi = None
        self.line = None
        self._points: tuple[tuple[float, float], ...] = ()
        self._placeholder = QLabel("")
        self._placeholder.setMinimumHeight(150)
        self.add_point_button = QPushButton("Add point")
        self.add_point_button.setToolTip("A new point in the widest gap of the curve; drag it")
        self.straight_button = QPushButton("Straight")
        self.straight_button.setToolTip("Remove the curve's points")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Tone curve"), 1)
        buttons.addWidget(self.add_point_button)
        buttons.addWidget(self.straight_button)
        self._layout = QVBoxLayout(self)
        self._layout.addLayout(form)
        self._layout.addLayout(buttons)
        self._layout.addWidget(self._placeholder)
        self.add_point_button.clicked.connect(self.add_point)
        self.straight_button.clicked.connect(lambda: self.set_curve(()))

    # -- state -------------------------------------------------------------------------------
    def look(self) -> Look:
        return Look(**{name: s.value() for name, s in self.sliders.items()},
                    curve=self._points)

    def set_look(self, look: Look, emit: bool = True) -> None:
        for name, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(getattr(look, name))
            slider.blockSignals(False)
        self._points = tuple(look.curve)
        self._sync_roi()
        if emit:
            self._emit()

    def set_curve(self, points) -> None:
        """Curve points (x, y) in [0, 1] (end points at x = 0 / 1 optional); emits."""
        self._points = tuple(sorted((float(x), float(y)) for x, y in points))
        self._sync_roi()
        self._emit()

    def add_point(self) -> None:
        """A point on the current curve, in the middle of the widest gap between points."""
        pts = [ENDS[0], *[p for p in self._points if 0 < p[0] < 1], ENDS[1]]
        pts = sorted(set(pts) | set(self._points))
        gaps = [(b[0] - a[0], a, b) for a, b in zip(pts, pts[1:])]
        _, a, b = max(gaps)
        x = (a[0] + b[0]) / 2
        self.set_curve([*self._points, (x, (a[1] + b[1]) / 2)])

    # -- the plot ----------------------------------------------------------------------------
    def ensure_plot(self) -> None:
        """Create the pyqtgraph editor (lazily: importing pyqtgraph delays start-up)."""
        if self.curve_plot is not None:
            return
        import pyqtgraph as pg

        from app.ui.panels.plots import fixed_plot

        plot = fixed_plot()
        plot.setXRange(0, 1, padding=0.02)
        plot.setYRange(0, 1, padding=0.02)
        plot.plot([0, 1], [0, 1], pen=pg.mkPen(90, 90, 90, width=1))
        self.line = plot.plot([0, 1], [0, 1], pen=pg.mkPen(230, 230, 230, width=2))
        self.roi = pg.PolyLineROI([list(p) for p in self._roi_points()], closed=False,
                                  pen=pg.mkPen(255, 200, 80, width=1), movable=False)
        plot.addItem(self.roi)
        self.roi.sigRegionChanged.connect(self._on_roi_region_changed)
        self._layout.replaceWidget(self._placeholder, plot)
        self._placeholder.deleteLater()
        self.curve_plot = plot
        self._draw_curve()

    def _roi_points(self) -> list[tuple[float, float]]:
        inner = [p for p in self._points if 0 < p[0] < 1]
        start = next((p for p in self._points if p[0] == 0.0), ENDS[0])
        end = next((p for p in self._points if p[0] == 1.0), ENDS[1])
        return [start, *inner, end]

    def _sync_roi(self) -> None:
        if self.roi is None:
            return
        self.roi.blockSignals(True)
        self.roi.setPoints([list(p) for p in self._roi_points()])
        self.roi.blockSignals(False)
        self._draw_curve()

    def _draw_curve(self) -> None:
        if self.line is None:
            return
        from app.core.tonemap.look import LUT_SIZE, tone_lut

        lut = tone_lut(0.0, 0.0, 0.0, 0.0, 0.0, self._points)
        xs = [i / (LUT_SIZE - 1) for i in range(0, LUT_SIZE, 32)] + [1.0]
        self.line.setData(xs, [float(lut[min(LUT_SIZE - 1, round(x * (LUT_SIZE - 1)))]) for x in xs])

    def _on_roi_region_changed(self, roi) -> None:
        pts = []
        for handle in roi.getLocalHandlePositions():
            point = roi.mapToParent(handle[1])
            pts.append((min(max(point.x(), 0.0), 1.0), min(max(point.y(), 0.0), 1.0)))
        pts.sort()
        # the first and last handles are the curve's ends: they keep x = 0 and x = 1
        if len(pts) >= 2:
            pts[0] = (0.0, pts[0][1])
            pts[-1] = (1.0, pts[-1][1])
        dedup: dict[float, float] = {}
        for x, y in pts:
            dedup.setdefault(round(x, 4), y)
        points = tuple((x, y) for x, y in sorted(dedup.items())
                       if not ((x, y) in ENDS))
        if points != self._points:
            self._points = points
            self._draw_curve()
            self._emit()

    def _emit(self, *_args: object) -> None:
        self.changed.emit(self.look())
