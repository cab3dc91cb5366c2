"""Status bar: what ran (method · time · device) or what is running, a progress bar and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


class RunStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Ready")
        self.label.setObjectName("statusLabel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)  # fractions in 0.1 % steps
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.quality = QLabel("")
        self.quality.setObjectName("qualityLabel")
        self.quality.setToolTip("MEF-SSIM of the rendering against the exposures (structure "
                                "kept, 1 = all), and the shares of pixels clipped to white "
                                "and crushed to black; computed in the background")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Cancel the running job (Esc)")
        self.addWidget(self.label, 1)
        self.addPermanentWidget(self.quality)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.cancel)
