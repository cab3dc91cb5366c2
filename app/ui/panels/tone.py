"""Tone panel: white balance (temperature, tint; Auto, Pick grey, As shot), exposure (EV),
gamma, tone-mapping operator and its parameters, saturation.

It emits ``changed(ToneParams)`` on every edit, continuously while a slider is dragged, so the
preview can follow. The operator list and its parameter forms come from
``app.core.tonemap.OPERATORS`` / ``OPERATOR_PARAMS``; no per-operator widget code.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.tonemap.white_balance import NEUTRAL_K, TEMPERATURE_RANGE, TINT_RANGE
from app.core.types import ToneParams
from app.ui.panels.look import LookPanel
from app.ui.panels.params import FloatSlider, ParamForm

EXPOSURE_RANGE = (-10.0, 10.0)  # stops: the spin box, and the slider with Shift held
EXPOSURE_FINE = (-3.0, 3.0)  # stops the slider spans by default: ~0.02-0.03 EV per pixel
# operator parameters whose name would repeat a row of this panel get their own label
OPERATOR_LABELS = {"saturation": "Colour (operator)"}
GAMMA_RANGE = (1.0, 3.0)  # display gamma when sRGB is unticked
SATURATION_RANGE = (0.0, 2.0)


class TonePanel(QGroupBox):
    """Collects ToneParams; ``set_hdr(False)`` greys out the operator for fused LDR results."""

    changed = Signal(object)  # ToneParams
    save_default_requested = Signal()
    pick_grey_requested = Signal()  # the window lets the user click a neutral area
    auto_wb_requested = Signal()  # the window measures the result and calls set_white_balance

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tone", parent)
        from app.core.tonemap import OPERATOR_PARAMS, OPERATORS

        self._operator_params = OPERATOR_PARAMS
        self._defaults = ToneParams()
        self.exposure = FloatSlider(*EXPOSURE_RANGE, 0.0, decimals=2, step=0.1, fine=EXPOSURE_FINE)
        self.srgb = QCheckBox("sRGB")
        self.srgb.setToolTip("Use the sRGB transfer curve instead of a plain gamma")
        self.gamma = FloatSlider(*GAMMA_RANGE, 2.2, decimals=2, step=0.05)
        self.operator = QComboBox()
        self.operator.setObjectName("operatorCombo")
        self.operator.addItems(list(OPERATORS))
        self.operator_form = ParamForm(sliders=True, labels=OPERATOR_LABELS)
        self.saturation = FloatSlider(*SATURATION_RANGE, 1.0, decimals=2, step=0.05)
        self.temperature = FloatSlider(*TEMPERATURE_RANGE, NEUTRAL_K, decimals=0, step=50)
        self.temperature.setToolTip("The light the photo was taken under, in kelvin: 3200 "
                                    "neutralises tungsten; higher warms the picture")
        self.tint = FloatSlider(*TINT_RANGE, 0.0, decimals=1, step=1)
        self.tint.setToolTip("Green (-) to magenta (+)")
        self.auto_wb_button = QPushButton("Auto")
        self.auto_wb_button.setToolTip("Make the result's mid-tones neutral on average")
        self.pick_grey_button = QPushButton("Pick grey")
        self.pick_grey_button.setToolTip("Then click something neutral (grey, white) in the "
                                         "preview")
        self.as_shot_button = QPushButton("As shot")
        self.as_shot_button.setToolTip("No white balance change (6504 K, tint 0)")
        self.look_panel = LookPanel()
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the default tone settings")
        self.save_default_button = QPushButton("Save as default")
        self.save_default_button.setToolTip("Use these settings for every new result")

        gamma_row = QHBoxLayout()
        gamma_row.setContentsMargins(0, 0, 0, 0)
        gamma_row.addWidget(self.srgb)
        gamma_row.addWidget(self.gamma, 1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Temperature (K)", self.temperature)
        form.addRow("Tint", self.tint)
        wb_row = QHBoxLayout()
        wb_row.setContentsMargins(0, 0, 0, 0)
        for button in (self.auto_wb_button, self.pick_grey_button, self.as_shot_button):
            wb_row.addWidget(button)
        form.addRow("White balance", wb_row)
        form.addRow("Exposure (EV)", self.exposure)
        form.addRow("Gamma", gamma_row)
        form.addRow("Operator", self.operator)
        form.addRow(self.operator_form)
        form.addRow("Saturation", self.saturation)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.look_panel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.save_default_button)
        layout.addLayout(buttons)

        self.exposure.valueChanged.connect(self._emit)
        self.gamma.valueChanged.connect(self._emit)
        self.saturation.valueChanged.connect(self._emit)
        self.temperature.valueChanged.connect(self._emit)
        self.tint.valueChanged.connect(self._emit)
        self.look_panel.changed.connect(self._emit)
        self.auto_wb_button.clicked.connect(self.auto_wb_requested.emit)
        self.pick_grey_button.clicked.connect(self.pick_grey_requested.emit)
        self.as_shot_button.clicked.connect(lambda: self.set_white_balance(NEUTRAL_K, 0.0))
        self.srgb.toggled.connect(self._on_srgb_toggled)
        self.operator.currentTextChanged.connect(self._on_operator_text_changed)
        self.operator_form.changed.connect(self._emit)
        self.reset_button.clicked.connect(self.reset)
        self.save_default_button.clicked.connect(self.save_default_requested.emit)
        self.set_params(self._defaults)

    # -- state -------------------------------------------------------------------------------
    def params(self) -> ToneParams:
        return ToneParams(
            exposure_ev=self.exposure.value(),
            gamma=0.0 if self.srgb.isChecked() else self.gamma.value(),
            tmo=self.operator.currentText(),
            tmo_params=self.operator_form.values(),
            saturation=self.saturation.value(),
            temperature=self.temperature.value(),
            tint=self.tint.value(),
            look=self.look_panel.look(),
        )

    def set_white_balance(self, temperature: float, tint: float) -> None:
        """Show a white balance and emit once."""
        for w in (self.temperature, self.tint):
            w.blockSignals(True)
        self.temperature.setValue(temperature)
        self.tint.setValue(tint)
        for w in (self.temperature, self.tint):
            w.blockSignals(False)
        self._emit()

    def set_params(self, tone: ToneParams) -> None:
        """Show ``tone`` (unknown operator names fall back to the default) and emit once."""
        widgets = (self.exposure, self.gamma, self.saturation, self.srgb, self.operator,
                   self.operator_form, self.temperature, self.tint)
        for w in widgets:
            w.blockSignals(True)
        self.exposure.setValue(tone.exposure_ev)
        self.srgb.setChecked(tone.gamma <= 0)
        self.gamma.setValue(tone.gamma if tone.gamma > 0 else 2.2)
        self.gamma.setEnabled(tone.gamma > 0)
        tmo = tone.tmo if tone.tmo in self._operator_params else self._defaults.tmo
        self.operator.setCurrentText(tmo)
        self.operator_form.set_specs(self._operator_params.get(tmo, ()))
        self.operator_form.set_values(dict(tone.tmo_params))
        self.saturation.setValue(tone.saturation)
        self.temperature.setValue(tone.temperature)
        self.tint.setValue(tone.tint)
        self.look_panel.set_look(tone.look, emit=False)
        for w in widgets:
            w.blockSignals(False)
        self._emit()

    def set_defaults(self, tone: ToneParams) -> None:
        """What Reset goes back to (persisted tone defaults)."""
        self._defaults = tone

    def reset(self) -> None:
        self.set_params(self._defaults)

    def set_hdr(self, is_hdr: bool) -> None:
        """Operators only apply to HDR radiance; a fused LDR result ignores them."""
        self.operator.setEnabled(is_hdr)
        self.operator_form.setEnabled(is_hdr)
        tip = "" if is_hdr else "Fused results are already display images: no operator applies"
        self.operator.setToolTip(tip)

    # -- handlers ----------------------------------------------------------------------------
    def _on_srgb_toggled(self, checked: bool) -> None:
        self.gamma.setEnabled(not checked)
        self._emit()

    def _on_operator_text_changed(self, name: str) -> None:
        self.operator_form.blockSignals(True)
        self.operator_form.set_specs(self._operator_params.get(name, ()))
        self.operator_form.blockSignals(False)
        self._emit()

    def _emit(self, *_args: object) -> None:
        self.changed.emit(self.params())
