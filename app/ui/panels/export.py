"""Export dialog: choose a file and a format; the window does the writing.

EXR (half/float) keeps the result linear (an LDR result is stored as is); PNG 8/16, TIFF 16 and
JPEG are rendered with the current tone settings through ``app.core.io.write_result``, the same
``render`` the preview uses, so the file matches what is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)


@dataclass(frozen=True)
class ExportFormat:
    key: str
    title: str
    suffix: str
    bit_depth: int = 8
    half: bool = True
    linear: bool = False  # written linear (EXR) rather than tone-rendered


FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("exr_half", "OpenEXR, 16-bit half float (linear)", ".exr", half=True, linear=True),
    ExportFormat("exr_float", "OpenEXR, 32-bit float (linear)", ".exr", half=False, linear=True),
    ExportFormat("hdr", "Radiance HDR (linear, RGBE)", ".hdr", linear=True),
    ExportFormat("png8", "PNG, 8-bit", ".png", bit_depth=8),
    ExportFormat("png16", "PNG, 16-bit", ".png", bit_depth=16),
    ExportFormat("tiff16", "TIFF, 16-bit", ".tif", bit_depth=16),
    ExportFormat("tiff8", "TIFF, 8-bit", ".tif", bit_depth=8),
    ExportFormat("jpeg", "JPEG", ".jpg", bit_depth=8),
    ExportFormat("avif", "AVIF (8-bit)", ".avif", bit_depth=8),
)


def get_format(key: str) -> ExportFormat:
    for f in FORMATS:
        if f.key == key:
            return f
    raise KeyError(f"unknown export format {key!r}")


def format_for_suffix(suffix: str, current: ExportFormat) -> ExportFormat:
    """The format a typed file extension implies (keeps ``current`` when it already matches)."""
    suffix = suffix.lower().replace(".tiff", ".tif").replace(".jpeg", ".jpg")
    if suffix == current.suffix:
        return current
    return next((f for f in FORMATS if f.suffix == suffix), current)


@dataclass(frozen=True)
class ExportOptions:
    path: Path
    format: ExportFormat
    quality: int = 95
    strip_location: bool = False
    colour_space: str = "srgb"


class ExportDialog(QDialog):
    def __init__(
        self, default_path: Path, *, is_hdr: bool, default_format: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.format = QComboBox()
        for f in FORMATS:
            self.format.addItem(f.title, f.key)
        key = default_format or ("exr_half" if is_hdr else "png8")
        self.format.setCurrentIndex(self.format.findData(key))
        self.path = QLineEdit(str(default_path))
        browse = QPushButton("Browse…")
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(95)
        self.strip_location = QCheckBox("Remove location (GPS) from the copied EXIF")
        self.strip_location.setToolTip("PNG, TIFF and JPEG files keep the reference photo's "
                                       "EXIF (camera, lens, date, location) and an sRGB profile")
        self.colour_space = QComboBox()
        for key, title in (("srgb", "sRGB (web, most screens)"),
                           ("display-p3", "Display P3 (Apple, wide-gamut screens)"),
                           ("adobe-rgb", "Adobe RGB (1998) (print workflows)")):
            self.colour_space.addItem(title, key)
        self.colour_space.setToolTip("Encoding and embedded ICC profile; the colours are those "
                                     "of the preview")
        self.note = QLabel()
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Format", self.format)
        form.addRow("JPEG quality", self.quality)
        form.addRow("Colour space", self.colour_space)
        form.addRow(self.strip_location)
        form.addRow(self.note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        form.addRow(buttons)
        self._is_hdr = is_hdr
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        browse.clicked.connect(self._on_browse_clicked)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self.path.editingFinished.connect(self._on_path_edited)
        self._on_format_changed()
        self.resize(560, self.sizeHint().height())

    def selected_format(self) -> ExportFormat:
        return get_format(str(self.format.currentData()))

    def options(self) -> ExportOptions:
        return ExportOptions(Path(self.path.text()).expanduser(), self.selected_format(),
                             self.quality.value(), self.strip_location.isChecked(),
                             str(self.colour_space.currentData()))

    def _on_format_changed(self, *_args: object) -> None:
        fmt = self.selected_format()
        self.quality.setEnabled(fmt.key in ("jpeg", "avif"))
        self.strip_location.setEnabled(not fmt.linear)
        self.colour_space.setEnabled(not fmt.linear)
        path = Path(self.path.text())
        if path.name:
            self.path.setText(str(path.with_suffix(fmt.suffix)))
        if fmt.linear:
            self.note.setText("Linear data as computed (tone settings not applied)."
                              if self._is_hdr else
                              "The fused result is stored as is (display-referred values).")
        else:
            self.note.setText("Rendered with the current tone settings: matches the preview.")

    def _on_path_edited(self) -> None:
        fmt = format_for_suffix(Path(self.path.text()).suffix, self.selected_format())
        self.format.setCurrentIndex(self.format.findData(fmt.key))

    def _on_browse_clicked(self) -> None:
        fmt = self.selected_format()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", self.path.text(), f"{fmt.title} (*{fmt.suffix})",
            options=QFileDialog.Option.DontConfirmOverwrite,  # the window asks, once
        )
        if path:
            self.path.setText(path)
            self._on_path_edited()
