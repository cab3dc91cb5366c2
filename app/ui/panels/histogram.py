"""Histogram panel (pyqtgraph): log2 luminance for HDR results, luma for fused LDR results,
with the clipped share at both ends. The curve is updated in place with ``setData`` (no new
plot items per update, so it keeps up with a dragged slider).

Input comes from :func:`app.core.metrics.luminance_histogram`:
``(edges, counts, clipped_low_frac, clipped_high_frac)``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from app.core.types import ResultKind


class HistogramPanel(QGroupBox):
    """The pyqtgraph plot is created by :meth:`ensure_plot` (the window calls it just after it
    is first shown, or the first histogram does): importing pyqtgraph takes ~0.3 s, which
    would otherwise delay the window's first appearance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Histogram", parent)
        self.plot = None
        self.curve = None
        self._placeholder = QLabel("")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("background: rgb(30, 30, 30);")
        self.clip_label = QLabel("no image")
        self.clip_label.setObjectName("clipLabel")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addWidget(self._placeholder, 1)
        self._layout.addWidget(self.clip_label)
        self.edges = np.zeros(2, np.float32)
        self.counts = np.zeros(1, np.float32)
        self.clipped = (0.0, 0.0)
        self._kind: ResultKind | None = None

    def ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        from app.ui.panels.plots import fixed_plot

        plot = fixed_plot()
        plot.getAxis("left").setStyle(showValues=False)
        plot.getAxis("left").setWidth(6)
        self.curve = plot.plot(
            [0.0, 1.0], [0.0], stepMode="center", fillLevel=0.0,
            brush=(200, 200, 200, 110), pen=pg.mkPen(220, 220, 220, width=1),
        )
        self._layout.replaceWidget(self._placeholder, plot)
        self._placeholder.deleteLater()
        self.plot = plot

    def set_histogram(
        self,
        edges: np.ndarray,
        counts: np.ndarray,
        clipped_low: float,
        clipped_high: float,
        kind: ResultKind,
    ) -> None:
        """Show counts over bin ``edges`` (len(counts) + 1) and the clipped fractions [0,1]."""
        self.ensure_plot()
        self.edges = np.asarray(edges, np.float64)
        self.counts = np.asarray(counts, np.float64)
        self.clipped = (float(clipped_low), float(clipped_high))
        # sqrt compresses the tall spikes (sky, black borders) so the body stays readable.
        self.curve.setData(self.edges, np.sqrt(self.counts))
        if kind != self._kind:
            self._kind = kind
            label = "log2 luminance (relative)" if kind == ResultKind.HDR_LINEAR else "luma"
            self.plot.setLabel("bottom", label)
        self.plot.setXRange(float(self.edges[0]), float(self.edges[-1]), padding=0)
        self.plot.setYRange(0.0, float(np.sqrt(self.counts).max() or 1.0), padding=0.02)
        self.clip_label.setText(
            f"Clipped: shadows {clipped_low * 100:.1f} %  ·  highlights {clipped_high * 100:.1f} %"
        )

    def clear(self) -> None:
        if self.curve is not None:
            self.curve.setData([0.0, 1.0], [0.0])
        self.clip_label.setText("no image")
