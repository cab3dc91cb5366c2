"""Histogram panel (pyqtgraph): log2 luminance for HDR results, luma for fused LDR results,
with the clipped share at both ends. The curve is updated in place with ``setData`` (no new
plot items per update, so it keeps up with a dragged slider).

Input comes from :func:`app.core.metrics.luminance_histogram`:
``(edges, counts, clipped_low_frac, clipped_high_frac)``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from app.core.types import ResultKind


class HistogramPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Histogram", parent)
        self.plot = pg.PlotWidget(background=(30, 30, 30))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getAxis("left").setStyle(showValues=False)
        self.plot.getAxis("left").setWidth(6)
        self.plot.setMinimumHeight(110)
        self.curve = self.plot.plot(
            [0.0, 1.0], [0.0], stepMode="center", fillLevel=0.0,
            brush=(200, 200, 200, 110), pen=pg.mkPen(220, 220, 220, width=1),
        )
        self.clip_label = QLabel("no image")
        self.clip_label.setObjectName("clipLabel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.clip_label)
        self.edges = np.zeros(2, np.float32)
        self.counts = np.zeros(1, np.float32)
        self.clipped = (0.0, 0.0)
        self._kind: ResultKind | None = None

    def set_histogram(
        self,
        edges: np.ndarray,
        counts: np.ndarray,
        clipped_low: float,
        clipped_high: float,
        kind: ResultKind,
    ) -> None:
        """Show counts over bin ``edges`` (len(counts) + 1) and the clipped fractions [0,1]."""
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
        self.curve.setData([0.0, 1.0], [0.0])
        self.clip_label.setText("no image")
