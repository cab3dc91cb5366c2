"""The window's file-level actions: presets, sessions and the batch window (a mixin of
:class:`app.ui.main_window.MainWindow`; the formats are app.models.preset and
app.ui.session_file)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.core.errors import LumafuseError
from app.ui import presets, session
from app.ui.jobs import Job


class DocumentActions:
    """File > Save/Load preset, Save/Open session, Batch."""

    def save_preset_dialog(self) -> None:
        folder = self.settings.preset_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path, _ = QFileDialog.getSaveFileName(
            self, "Save preset", str(presets.default_preset_path(str(folder))),
            presets.preset_filter())
        if path:
            self.save_preset(path)

    def save_preset(self, path: str | Path) -> Path | None:
        """Write the method, parameters, alignment and tone settings as a TOML preset (the
        format ``lumafuse batch --preset`` reads)."""
        from app.models.preset import save_preset

        try:
            out = save_preset(path, presets.window_recipe(self))
        except LumafuseError as exc:
            self._show_error(str(exc))
            return None
        self.status_label.setText(f"Preset saved: {out}")
        self._quality_timer.start()  # the strip shows it next time it renders
        return out

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", self.settings.last_folder(),
                                              presets.preset_filter())
        if path:
            self.load_preset(path)

    def load_preset(self, path: str | Path) -> bool:
        """Apply a preset file to the panels (method, parameters, alignment, tone)."""
        from app.models.preset import load_preset

        try:
            recipe = load_preset(path)
        except LumafuseError as exc:
            self._show_error(str(exc))
            return False
        with self.history.compound(f"Preset {Path(path).name}"):
            problems = presets.apply_recipe(self, recipe)
        for problem in problems:
            self._show_info(f"Preset {Path(path).name}: {problem}")
        self.status_label.setText(f"Preset loaded: {Path(path).name}")
        return not problems

    def save_session_dialog(self) -> None:
        stem = Path(self.frames[0].path).stem if self.frames else "lumafuse"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", str(Path(self.settings.last_folder()) / f"{stem}.lumafuse"),
            "Lumafuse session (*.lumafuse)")
        if path:
            self.save_session(path)

    def save_session(self, path: str | Path) -> Path | None:
        """The strip's files in order with typed exposures, and method, parameters, alignment,
        tone and look, as one file (app.ui.session_file)."""
        from app.ui.session_file import Session, SessionFrame, save_session

        if not self.frames:
            self._show_error("Nothing to save yet: open a bracket first")
            return None
        frames = tuple(SessionFrame(f.path, f.user_exposure, f.user_ev, f.half)
                       for f in self.frames)
        try:
            out = save_session(path, Session(frames, presets.window_recipe(self),
                                             self._session_reference(), self.strokes))
        except LumafuseError as exc:
            self._show_error(str(exc))
            return None
        self.status_label.setText(f"Session saved: {out}")
        return out

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self.settings.last_folder(),
                                              "Lumafuse session (*.lumafuse)")
        if path:
            self.open_session(path)

    def open_session(self, path: str | Path) -> Job | None:
        """Load a session's files in its order with its exposures, apply its recipe, run."""
        from app.ui.session_file import load_session

        try:
            saved = load_session(path)
        except LumafuseError as exc:
            self._show_error(str(exc))
            return None
        self._pending_session = saved
        self.stack.split_stacked.setChecked(any(f.half for f in saved.frames))
        return self.open_files(list(dict.fromkeys(f.path for f in saved.frames)), autorun=False)

    def _restore_session(self, report: session.LoadReport) -> None:
        saved, self._pending_session = self._pending_session, None
        by_path = {(f.path, f.half): f for f in report.frames}
        kept = [s for s in saved.frames if (s.path, s.half) in by_path]
        frames = [by_path[(s.path, s.half)] for s in kept]
        for frame, s in zip(frames, kept):
            frame.user_exposure, frame.user_ev = s.exposure, s.ev
        self._set_frames(frames)
        self.output = None
        self.renderer.set_output(None)
        self.settings.add_recent([f.path for f in frames])
        self._reset_deghost()  # a new bracket: the old reference and mask do not apply
        with self.history.compound("Open session"):
            problems = presets.apply_recipe(self, saved.recipe)
            self._restore_deghost(frames, saved.reference, saved.strokes)
        for problem in problems:
            self._show_info(f"Session: {problem}")
        self.run_method()

    def batch_dialog(self):
        """Open (or raise) the batch window (an app.ui.batch_dialog.BatchDialog); it uses this
        window's settings unless a preset file is picked there."""
        from app.ui.batch_dialog import BatchDialog

        if self._batch is None:
            self._batch = BatchDialog(self.runner, lambda: presets.window_recipe(self),
                                      self.settings.last_folder(), self)
            self._batch.open_requested.connect(self._on_batch_open_requested)
        self._batch.show()
        self._batch.raise_()
        return self._batch

    def _on_batch_open_requested(self, files: list[str], method_id: str) -> None:
        self.requested_method = method_id or None
        self.open_files(files)
        self.raise_()
