"""Parameter widgets built from :class:`~app.core.types.ParamSpec` (no per-method widget code).

``FloatSlider`` pairs a slider (for dragging, emits continuously) with a spin box (for typing).
``ParamForm`` lays out one editor per ParamSpec and reports a plain ``dict`` of values.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.core.errors import InputError
from app.core.types import ParamSpec

_STEPS = 1000  # slider resolution: fine enough that dragging looks continuous


class FloatSlider(QWidget):
    """A float value edited by a slider and a spin box kept in sync. ``valueChanged(float)``."""

    valueChanged = Signal(float)

    def __init__(
        self,
        minimum: float,
        maximum: float,
        value: float,
        *,
        decimals: int = 2,
        step: float = 0.01,
        fine: tuple[float, float] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._min, self._max = float(minimum), float(maximum)
        # The slider spans ``fine`` (precise dragging); Shift held when the drag starts spans
        # the whole range for that drag. The spin box always takes the whole range.
        self._fine = (max(fine[0], self._min), min(fine[1], self._max)) if fine else None
        self._lo, self._hi = self._fine or (self._min, self._max)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, _STEPS)
        self.slider.setTracking(True)  # emit while dragging: the preview follows the slider
        self.spin = QDoubleSpinBox()
        self.spin.setRange(self._min, self._max)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(step)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(72)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        if self._fine:
            self.slider.installEventFilter(self)
            self.slider.setToolTip(
                f"{self._fine[0]:+g} to {self._fine[1]:+g}; hold Shift while dragging for "
                f"{self._min:+g} to {self._max:+g}, or type any value in the box")
        self.setValue(value)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.spin.valueChanged.connect(self._on_spin_value_changed)

    def slider_span(self) -> tuple[float, float]:
        """The values the slider's two ends stand for right now."""
        return self._lo, self._hi

    def set_coarse(self, coarse: bool) -> None:
        """Switch the slider to the whole range (coarse) or back to the fine range."""
        if not self._fine:
            return
        self._lo, self._hi = (self._min, self._max) if coarse else self._fine
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(self.value()))
        self.slider.blockSignals(False)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        from PySide6.QtCore import QEvent

        if obj is self.slider and event.type() == QEvent.Type.MouseButtonPress:
            self.set_coarse(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        elif obj is self.slider and event.type() == QEvent.Type.MouseButtonRelease:
            QTimer.singleShot(0, lambda: self.set_coarse(False))
        return False

    def value(self) -> float:
        return float(self.spin.value())

    def setValue(self, value: float) -> None:
        value = min(max(float(value), self._min), self._max)
        if abs(value - self.spin.value()) < 1e-12 and self.slider.value() == self._to_pos(value):
            return
        self._sync(value)
        self.valueChanged.emit(self.value())

    def _to_pos(self, value: float) -> int:
        pos = round((value - self._lo) / (self._hi - self._lo) * _STEPS)
        return min(max(pos, 0), _STEPS)  # beyond the fine span: the handle rests at its end

    def _sync(self, value: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(self._to_pos(value))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _on_slider_value_changed(self, pos: int) -> None:
        value = self._lo + (self._hi - self._lo) * pos / _STEPS
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self.valueChanged.emit(self.value())

    def _on_spin_value_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(value))
        self.slider.blockSignals(False)
        self.valueChanged.emit(float(value))


class ParamForm(QWidget):
    """One editor per ParamSpec. ``changed()`` fires on any edit; ``values()`` returns a dict.

    Bounded floats get a FloatSlider when ``sliders`` is True (tone controls: live dragging),
    otherwise spin boxes (method parameters: exact typing).
    """

    changed = Signal()

    def __init__(
        self, specs: Sequence[ParamSpec] = (), *, sliders: bool = False,
        labels: Mapping[str, str] | None = None, parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sliders = sliders
        self._labels = dict(labels or {})  # parameter name -> row label, where the name clashes
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._editors: dict[str, QWidget] = {}
        self._specs: tuple[ParamSpec, ...] = ()
        self.set_specs(specs)

    @property
    def specs(self) -> tuple[ParamSpec, ...]:
        return self._specs

    def set_specs(self, specs: Sequence[ParamSpec]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._editors.clear()
        self._specs = tuple(specs)
        for spec in self._specs:
            editor = self._make_editor(spec)
            editor.setToolTip(spec.help)
            label = QLabel(self._labels.get(spec.name, spec.name.replace("_", " ").capitalize()))
            label.setToolTip(spec.help)
            self._layout.addRow(label, editor)
            self._editors[spec.name] = editor
        self.setVisible(bool(self._specs))

    def _make_editor(self, spec: ParamSpec) -> QWidget:
        lo = spec.minimum if spec.minimum is not None else -1e6
        hi = spec.maximum if spec.maximum is not None else 1e6
        if spec.choices:
            w = QComboBox()
            w.addItems(list(spec.choices))
            w.setCurrentText(str(spec.default))
            w.currentTextChanged.connect(lambda _t: self.changed.emit())
        elif spec.type is bool:
            w = QCheckBox()
            w.setChecked(bool(spec.default))
            w.toggled.connect(lambda _b: self.changed.emit())
        elif spec.type is int:
            w = QSpinBox()
            w.setRange(int(lo), int(hi))
            w.setValue(int(spec.default))
            w.valueChanged.connect(lambda _v: self.changed.emit())
        elif spec.type is float:
            bounded = spec.minimum is not None and spec.maximum is not None
            # A slider over a huge range (e.g. 0..1e6 with 0 = automatic) cannot be dragged
            # precisely: such parameters get a spin box.
            if self._sliders and bounded and spec.maximum - spec.minimum <= 1000:
                span = spec.maximum - spec.minimum
                w = FloatSlider(spec.minimum, spec.maximum, spec.default,
                                decimals=3 if span < 2 else 2, step=span / 100)
            else:
                w = QDoubleSpinBox()
                w.setDecimals(3)
                w.setRange(lo, hi)
                w.setSingleStep((hi - lo) / 100 if spec.maximum is not None else 0.1)
                w.setValue(float(spec.default))
            w.valueChanged.connect(lambda _v: self.changed.emit())
        else:
            w = QLineEdit(str(spec.default))
            w.editingFinished.connect(self.changed.emit)
        return w

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in self._specs:
            w = self._editors[spec.name]
            if isinstance(w, QComboBox):
                out[spec.name] = w.currentText()
            elif isinstance(w, QCheckBox):
                out[spec.name] = w.isChecked()
            elif isinstance(w, QSpinBox):
                out[spec.name] = int(w.value())
            elif isinstance(w, (QDoubleSpinBox, FloatSlider)):
                out[spec.name] = float(w.value())
            elif isinstance(w, QLineEdit):
                out[spec.name] = w.text()
        return out

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Set editors from ``values`` (unknown names ignored) with one ``changed`` at the end."""
        for name, value in values.items():
            w = self._editors.get(name)
            if w is None:
                continue
            w.blockSignals(True)
            if isinstance(w, QComboBox):
                w.setCurrentText(str(self._choice(name, value)))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox, FloatSlider)):
                w.setValue(value)
            elif isinstance(w, QLineEdit):
                w.setText(str(value))
            w.blockSignals(False)
        self.changed.emit()

    def _choice(self, name: str, value: Any) -> Any:
        """``value`` as the parameter's spec reads it (a saved ``True`` for a deghost switch
        that became auto / on / off is "on"); as given when the spec refuses it."""
        spec = next((s for s in self._specs if s.name == name), None)
        try:
            return spec.validate(value) if spec is not None else value
        except InputError:
            return value

    def reset(self) -> None:
        self.set_values({s.name: s.default for s in self._specs})
