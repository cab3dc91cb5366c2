"""The window's deghosting: the reference frame, the painted reference mask and the ghost-map
overlay (a mixin of :class:`app.ui.main_window.MainWindow`; the pixels are app.core's:
``run(..., reference=, reference_mask=, ghost_map=)`` in the merge job).

State (part of the edit state, so undo / redo and sessions keep it):

* ``reference_key``: (path, half) of the reference frame, or None for the default (the middle
  frame of the strip). A key, not an index, so the choice follows its frame when the strip is
  reordered, a frame is removed or exposures are added.
* ``strokes``: the painted strokes, ``(radius, points, erase)`` in image fractions (see
  :mod:`app.ui.panels.deghost`); the merge job rasterises them at the bracket's full size, so
  the preview and File > Export (which writes that same result) use the same mask.

A new reference, a stroke, a clear, and their undo / redo re-run the merge (classical methods at
once; learned ones wait for Run). The ghost overlay asks the run for its ghost map.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtGui import QAction

from app.core.merge.ghost import Stroke
from app.ui.panels.deghost import motion_text


class DeghostActions:
    """Reference frame, selective deghosting by painting, ghost-map overlay."""

    def _init_deghost_state(self) -> None:
        """Called before the history captures its first state."""
        self.reference_key: tuple[str, str] | None = None
        self.strokes: tuple[Stroke, ...] = ()
        self.bracket_generation = 0  # counts loaded brackets (undo keeps masks to their own)

    def _connect_deghost(self, view_menu) -> None:
        """Wire the panel, the overlay and the strip; add View > Show ghost map."""
        panel, overlay = self.deghost, self.overlay
        self.ghost_action = QAction("Show &ghost map", self)
        self.ghost_action.setCheckable(True)
        self.ghost_action.setShortcut("G")
        self.ghost_action.setToolTip("Tint in red where the exposures disagree (motion)")
        self.ghost_action.toggled.connect(self.set_ghost_overlay)
        view_menu.addAction(self.ghost_action)
        self.addAction(self.ghost_action)
        panel.ghost_toggled.connect(self.ghost_action.setChecked)
        panel.paint_toggled.connect(self._on_deghost_paint_toggled)
        panel.brush_changed.connect(overlay.set_radius)
        panel.erase_toggled.connect(lambda on: setattr(overlay, "erase", bool(on)))
        panel.clear_requested.connect(self.clear_mask)
        overlay.set_radius(panel.brush_radius())
        overlay.stroke_finished.connect(
            lambda radius, points, erase: self.add_stroke(radius, points, erase))
        self.stack.reference_requested.connect(self.set_reference)

    # -- state -------------------------------------------------------------------------------
    def reference_index(self) -> int:
        """0-based index in the strip (= the merged stack's order) of the reference frame;
        the middle frame by default; -1 with no frames."""
        if not self.frames:
            return -1
        if self.reference_key is not None:
            for i, f in enumerate(self.frames):
                if (f.path, f.half) == self.reference_key:
                    return i
        return len(self.frames) // 2

    def deghost_run_options(self) -> dict[str, Any]:
        """What the merge job passes to run(): reference, strokes (rasterised there), ghost map."""
        ref = self.reference_index()
        return {"reference": ref if ref >= 0 else None, "strokes": self.strokes,
                "ghost_map": self.ghost_overlay_on()}

    def ghost_overlay_on(self) -> bool:
        return self.ghost_action.isChecked()

    # -- edits (each one undo step) ----------------------------------------------------------
    def set_reference(self, index: int) -> None:
        """Make the strip's frame ``index`` the reference and re-run the merge."""
        if not 0 <= index < len(self.frames) or index == self.reference_index():
            self.stack.set_reference(self.reference_index())  # the badge stays where it was
            return
        f = self.frames[index]
        self.reference_key = (f.path, f.half)
        self.stack.set_reference(index)
        self.history.record()
        self._rerun_for_deghost(f"reference frame: {f.name}")

    def add_stroke(self, radius: float, points: Sequence[tuple[float, float]],
                   erase: bool = False) -> None:
        """Add a painted stroke (image fractions, see app.ui.panels.deghost) and re-run."""
        pts = tuple((float(x), float(y)) for x, y in points)
        if not pts or not self.frames:
            return
        if erase and not self.strokes:
            self.overlay.set_strokes(self.strokes)
            return  # nothing to erase
        self.strokes = self.strokes + ((float(radius), pts, bool(erase)),)
        self._show_strokes()
        self.history.record()
        self._rerun_for_deghost("the painted mask changed")

    def clear_mask(self) -> None:
        """Remove every painted stroke (one undo step) and re-run."""
        if not self.strokes:
            return
        self.strokes = ()
        self._show_strokes()
        self.history.record()
        self._rerun_for_deghost("the painted mask was cleared")

    def set_ghost_overlay(self, on: bool) -> None:
        """Show the ghost map over the preview; re-runs when the result has none."""
        if self.ghost_action.isChecked() != bool(on):
            self.ghost_action.setChecked(bool(on))  # comes back here through toggled
            return
        self.deghost.set_ghost_checked(bool(on))
        notes = self.output.result.notes if self.output is not None else {}
        if not on:
            self.overlay.set_ghost(None)
            self.deghost.set_motion_share(None)
            return
        if "ghost_map" in notes:
            self._show_ghost(notes)
        elif self.output is not None and len(self.frames) > 1:
            self.run_method()

    def _apply_deghost_state(self, reference_key, strokes) -> None:
        """Undo / redo: put a reference and strokes back, re-run when they changed."""
        strokes = tuple(strokes)
        if (reference_key, strokes) == (self.reference_key, self.strokes):
            return
        self.reference_key, self.strokes = reference_key, strokes
        self.stack.set_reference(self.reference_index())
        self._show_strokes()
        self._rerun_for_deghost("undo / redo")

    def _reset_deghost(self) -> None:
        """A new bracket: default reference, no strokes (not an undo step)."""
        self.reference_key, self.strokes = None, ()
        self.bracket_generation += 1
        self._show_strokes()
        self.overlay.set_ghost(None)
        self.deghost.set_motion_share(None)
        self.history.current = type(self.history.current).of(self)

    def _session_reference(self) -> int | None:
        """The reference to save in a session: its index, None when it is the default."""
        if self.reference_key is None:
            return None
        keys = [(f.path, f.half) for f in self.frames]
        return keys.index(self.reference_key) if self.reference_key in keys else None

    def _restore_deghost(self, frames, reference: int | None, strokes) -> None:
        """A session's reference (index into ``frames``) and strokes (inside its undo step;
        :meth:`_reset_deghost` first, outside it)."""
        if reference is not None and 0 <= reference < len(frames):
            self.reference_key = (frames[reference].path, frames[reference].half)
        self.strokes = tuple(strokes)
        self.stack.set_reference(self.reference_index())
        self._show_strokes()

    # -- display -----------------------------------------------------------------------------
    def _show_strokes(self) -> None:
        self.overlay.set_strokes(self.strokes)
        self.deghost.set_stroke_count(len(self.strokes))

    def _show_ghost(self, notes: dict) -> None:
        self.overlay.set_ghost(notes.get("ghost_map"))
        share = notes.get("motion_share")
        self.deghost.set_motion_share(share)
        if share is not None:
            text = self.status_label.text()
            extra = motion_text(share)
            if extra not in text:
                self.status_label.setText(f"{text}  ·  {extra}" if text else extra)

    def _on_deghost_output(self, output) -> None:
        """A merge finished: refresh the tints (its size may have changed) and the ghost map."""
        notes = output.result.notes
        if self.ghost_overlay_on() and "ghost_map" in notes:
            self._show_ghost(notes)
        else:
            self.overlay.set_ghost(None)
            self.deghost.set_motion_share(None)
        self.overlay.refresh()

    def _on_deghost_paint_toggled(self, on: bool) -> None:
        self.overlay.set_painting(on)
        if on:
            self.status_label.setText("Paint over moving things: the reference frame is used "
                                      "there (right-drag erases)")

    def _rerun_for_deghost(self, why: str) -> None:
        """Re-run a classical method at once; a learned one waits for Run (marked stale)."""
        if not self.frames or self._pending_session is not None:
            return
        spec = self.method.spec()
        ok, _reason = self.method.is_runnable(spec.id)
        if not ok:
            return
        if spec.kind == "learned":
            self._mark_stale(f"{why}: press Run (Ctrl+R)")
            return
        self.run_method()
