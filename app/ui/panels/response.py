"""Response panel (pyqtgraph): the inverse camera response an HDR merge assumed, per channel.

x: 8-bit code 0..255; y: log2 of the linear exposure the code stands for (relative; the curves
are pinned together at mid-grey). A user sees at a glance whether the curve is smooth and the
channels agree; a curve replaced by the fitted sRGB-like fallback shows as one grey line.
Hidden for results that have no response (fusion, linear RAW/EXR merges).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

_PENS = ((230, 80, 80), (80, 200, 80), (90, 130, 255))


class ResponsePanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Camera response (what the merge assumed)", parent)
        self.plot = None
        self.curves: list = []
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addWidget(self.caption)
        self.response: np.ndarray | None = None
        self.setVisible(False)

    def _ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        from app.ui.panels.plots import fixed_plot

        plot = fixed_plot()
        plot.setLabel("bottom", "code")
        plot.setLabel("left", "log2 exposure")
        plot.setFixedHeight(150)
        self.curves = [plot.plot([0.0], [0.0], pen=pg.mkPen(*c, width=1.5)) for c in _PENS]
        self._layout.insertWidget(0, plot)
        self.plot = plot

    def set_response(self, response, caption: str = "") -> None:
        """Show an inverse response (256, 3) (code -> linear exposure); None hides the panel."""
        if response is None:
            self.response = None
            self.setVisible(False)
            return
        g = np.asarray(response, np.float64)
        self.response = g
        self._ensure_plot()
        codes = np.arange(1, 256, dtype=np.float64)
        for c, curve in enumerate(self.curves):
            curve.setData(codes, np.log2(np.maximum(g[1:, c], 1e-12)))
        self.caption.setText(caption)
        self.setVisible(True)
