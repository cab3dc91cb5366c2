"""The window's white balance, quality read-out, preset strip and history actions (a mixin of
:class:`app.ui.main_window.MainWindow`: it reads the window's panels and runner; no pixels are
computed here, jobs call app.core and app.models)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QUndoView

from app.core.errors import LumafuseError
from app.ui import session
from app.ui.jobs import Job
from app.ui.panels.presets_strip import preset_files


class LookActions:
    """History view, quality read-out, preset strip, white balance (pick grey, auto)."""

    def show_history(self) -> QDockWidget:
        """The list of edits (click one to go back to it)."""
        if self._history_dock is None:
            self._history_dock = QDockWidget("History", self)
            self._history_dock.setObjectName("historyDock")
            self._history_dock.setWidget(QUndoView(self.history.stack))
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self._history_dock)
        self._history_dock.show()
        return self._history_dock

    # -- quality read-out --------------------------------------------------------------------
    def preset_folders(self) -> list[Path]:
        """Built-in presets, then the user's (File > Save preset defaults there)."""
        from app.ui.launch import REPO_ROOT

        return [REPO_ROOT / "resources" / "presets", self.settings.preset_folder()]

    def update_preset_strip(self) -> Job | None:
        """Render every preset's look on the current result (background job)."""
        if self.output is None:
            self.preset_strip.set_thumbnails([])
            return None
        output, tone = self.output, self.tone.params()
        files = preset_files(*self.preset_folders())

        def job(ctx):
            from app.core.errors import LumafuseError
            from app.models.preset import tone_over

            thumb = session._resize_long_side(output.small, 96)
            rows = []
            for k, path in enumerate(files):
                ctx.report(k / max(1, len(files)))
                try:
                    rows.append((path, session.render_u8(thumb, output.result.kind,
                                                         tone_over(tone, path)), ""))
                except LumafuseError as exc:
                    rows.append((path, None, str(exc)))
            return rows

        return self.runner.submit(job, slot="presets",
                                  on_finished=self.preset_strip.set_thumbnails)

    def apply_look_preset(self, path: str) -> bool:
        """The preset's tone and look over the current settings (one undo step)."""
        from app.models.preset import tone_over

        try:
            tone = tone_over(self.tone.params(), path)
        except LumafuseError as exc:
            self._show_error(str(exc))
            return False
        with self.history.compound(f"Preset {Path(path).stem}"):
            self.tone.set_params(tone)
        self.status_label.setText(f"Preset applied: {Path(path).stem}")
        return True

    def update_quality(self) -> Job | None:
        """Compute the read-out of what is shown (background job; the latest one wins)."""
        if self.output is None:
            self.quality_label.setText("")
            return None
        output, tone = self.output, self.tone.params()
        exposures = [f.proxy for f in self.frames if not f.info.linear]

        def job(ctx):
            from app.core.metrics.quality import result_quality

            ctx.check()
            return result_quality(output.proxy, output.result.kind, tone, exposures)

        return self.runner.submit(job, slot="quality",
                                  on_finished=lambda q: self.quality_label.setText(q.text()))

    # -- white balance -----------------------------------------------------------------------
    def start_grey_pick(self) -> None:
        if self.output is None:
            self._show_error("Nothing to balance yet: run a method first (Ctrl+R)")
            return
        self.preview.view.start_pick()
        self.status_label.setText("Click something neutral (grey or white) in the preview")

    def pick_grey_at(self, x: float, y: float) -> bool:
        """White balance from the proxy pixel (x, y): that area becomes neutral."""
        self.preview.view.stop_pick()
        if self.output is None:
            return False
        try:
            temperature, tint = session.white_balance_at(self.output, x, y)
        except LumafuseError as exc:
            self._show_error(str(exc))
            return False
        self.tone.set_white_balance(temperature, tint)
        self.status_label.setText(f"White balance {temperature:.0f} K, tint {tint:+.1f}")
        return True

    def auto_white_balance(self) -> None:
        if self.output is None:
            self._show_error("Nothing to balance yet: run a method first (Ctrl+R)")
            return
        temperature, tint = session.auto_white_balance(self.output)
        self.tone.set_white_balance(temperature, tint)
        self.status_label.setText(f"Auto white balance: {temperature:.0f} K, tint {tint:+.1f}")
