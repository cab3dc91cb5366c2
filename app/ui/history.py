"""Undo / redo of every method, parameter, alignment, tone and deghosting change (Edit menu, Ctrl+Z /
Ctrl+Shift+Z, View > History lists the steps).

The window's editable state is captured as an :class:`EditState` after each change and pushed
onto a QUndoStack as (before, after). Undo and redo put a whole state back through the panels'
setters, with recording suspended meanwhile. A slider drag is one step: changes of the same
control within :data:`MERGE_WINDOW_S` of each other merge. A compound change (loading a preset)
is one step too (:meth:`History.compound`). A new reference frame, each painted stroke and a
cleared mask are steps of their own (never merged).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from PySide6.QtGui import QUndoCommand, QUndoStack

from app.core.types import ToneParams

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

MERGE_WINDOW_S = 1.5
_MERGE_IDS: dict[str, int] = {}


@dataclass(frozen=True)
class EditState:
    """What undo restores: method id, its parameters, alignment mode, tone settings, the
    reference frame ((path, half) key, None = the default) and the painted strokes."""

    method: str
    params: tuple[tuple[str, Any], ...]
    align: str
    tone: ToneParams
    reference: tuple[str, str] | None = None
    strokes: tuple = ()
    bracket: int = 0  # which loaded bracket the reference and strokes belong to

    @classmethod
    def of(cls, window: "MainWindow") -> "EditState":
        return cls(window.method.method_id(), tuple(sorted(window.method.params().items())),
                   window.method.align_mode(), window.tone.params(),
                   getattr(window, "reference_key", None), tuple(getattr(window, "strokes", ())),
                   getattr(window, "bracket_generation", 0))


UNMERGED_KEYS = ("reference", "mask")  # each such change is an undo step of its own


def describe(before: EditState, after: EditState) -> tuple[str, str]:
    """(label, merge key) of a change, e.g. ("Exposure 0.50", "tone:exposure_ev")."""
    if before.method != after.method:
        return f"Method: {after.method}", f"method:{after.method}"
    if before.align != after.align:
        return f"Alignment: {after.align}", "align"
    if before.reference != after.reference:
        name = Path(after.reference[0]).name if after.reference else "middle"
        return f"Reference frame: {name}", "reference"
    if before.strokes != after.strokes:
        n = len(before.strokes)
        if not after.strokes:
            return "Clear mask", "mask"
        if len(after.strokes) == n + 1 and after.strokes[:n] == before.strokes:
            return ("Erase stroke" if after.strokes[-1][2] else "Paint stroke"), "mask"
        return "Mask", "mask"
    if before.params != after.params:
        old, new = dict(before.params), dict(after.params)
        name = next((k for k in new if old.get(k) != new[k]), "parameters")
        value = new.get(name)
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        return f"{after.method} {name} {shown}", f"param:{name}"
    changed = [f.name for f in fields(ToneParams)
               if getattr(before.tone, f.name) != getattr(after.tone, f.name)]
    if changed == ["look"]:  # name the look control that moved
        looks = [f.name for f in fields(before.tone.look)
                 if getattr(before.tone.look, f.name) != getattr(after.tone.look, f.name)]
        name = looks[0] if len(looks) == 1 else "look"
        value = getattr(after.tone.look, name) if len(looks) == 1 else None
        shown = f" {value:.0f}" if isinstance(value, float) else ""
        label = "Tone curve" if name == "curve" else name.capitalize()
        return f"{label}{shown}", f"look:{name}"
    if not changed:
        return "No change", "none"
    name = changed[0] if len(changed) == 1 else "+".join(changed)
    value = getattr(after.tone, changed[0])
    shown = f" {value:.3g}" if isinstance(value, float) and len(changed) == 1 else ""
    label = {"exposure_ev": "Exposure", "tmo": "Operator", "tmo_params": "Operator settings",
             "temperature": "Temperature", "tint": "Tint", "saturation": "Saturation",
             "gamma": "Gamma"}.get(name, name.replace("_", " ").capitalize())
    return f"{label}{shown}", f"tone:{name}"


class _Edit(QUndoCommand):
    def __init__(self, history: "History", before: EditState, after: EditState) -> None:
        label, key = describe(before, after)
        super().__init__(label)
        self.history, self.before, self.after = history, before, after
        self.key = key
        self.stamp = time.monotonic()
        self._first = True

    def id(self) -> int:  # noqa: A003 - Qt override: commands with the same id may merge
        if self.key in UNMERGED_KEYS:
            return -1  # Qt never merges such a command
        return _MERGE_IDS.setdefault(self.key, len(_MERGE_IDS) + 1)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, _Edit) or other.key != self.key:
            return False
        if other.stamp - self.stamp > MERGE_WINDOW_S:
            return False
        self.after, self.stamp = other.after, other.stamp
        self.setText(describe(self.before, self.after)[0])
        return True

    def redo(self) -> None:
        if self._first:  # pushed after the change happened: nothing to do the first time
            self._first = False
            return
        self.history.apply(self.after)

    def undo(self) -> None:
        self.history.apply(self.before)


class History:
    """The window's undo stack (``stack``: a QUndoStack for actions and the history view)."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.stack = QUndoStack(window)
        self.stack.setUndoLimit(500)
        self.current = EditState.of(window)
        self._applying = False
        self._compound = 0

    def record(self) -> None:
        """Capture the state after a change and push it as one step (merging slider drags)."""
        if self._applying or self._compound:
            return
        new = EditState.of(self.window)
        if new == self.current:
            return
        self.stack.push(_Edit(self, self.current, new))
        self.current = new

    @contextmanager
    def compound(self, label: str) -> Iterator[None]:
        """Changes made inside the block are one undo step named ``label``."""
        before = EditState.of(self.window)
        self._compound += 1
        try:
            yield
        finally:
            self._compound -= 1
        after = EditState.of(self.window)
        if after != before and not self._compound:
            command = _Edit(self, before, after)
            command.key = f"compound:{id(command)}"  # never merges with a neighbour
            command.setText(label)
            self.stack.push(command)
            self.current = after

    def apply(self, state: EditState) -> None:
        """Put a state back into the panels (undo / redo); nothing is recorded meanwhile."""
        window = self.window
        self._applying = True
        try:
            if window.method.method_id() != state.method:
                window.method.set_method(state.method)
            window.method.form.set_values(dict(state.params))
            window.method.set_align_mode(state.align)
            window.tone.set_params(state.tone)
            if state.bracket == getattr(window, "bracket_generation", 0):
                window._apply_deghost_state(state.reference, state.strokes)
            else:  # a step from before another bracket was loaded: its mask is not this one's
                window._apply_deghost_state(None, ())
        finally:
            self._applying = False
        self.current = EditState.of(window)
