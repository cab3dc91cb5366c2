"""The main window: a thin controller between the panels, the job runner and the core.

Panels collect parameters and show state; this class copies their values on the GUI thread,
submits jobs (load, merge, export) and routes results back. No pixel work happens here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import LumafuseError
from app.core.tonemap import preview_kernel
from app.models.defaults import DEFAULT_MULTI, DEFAULT_SINGLE
from app.models.registry import get_method, runnable_on
from app.models.warmup import warm_up_in_background
from app.ui import session
from app.ui.deghost_actions import DeghostActions
from app.ui.document_actions import DocumentActions
from app.ui.history import History
from app.ui.look_actions import LookActions
from app.ui.jobs import Job, JobRunner
from app.ui.panels.agent import AgentPanel
from app.ui.panels.deghost import DeghostPanel, PreviewOverlay
from app.ui.panels.export import ExportDialog, ExportFormat, get_format
from app.ui.panels.histogram import HistogramPanel
from app.ui.panels.messages import MessageBar
from app.ui.panels.method import MethodPanel
from app.ui.panels.presets_strip import PresetStrip
from app.ui.panels.preview import PreviewPanel
from app.ui.panels.response import ResponsePanel
from app.ui.panels.stack import FrameCardData, StackPanel
from app.ui.panels.status import RunStatusBar
from app.ui.panels.tone import TonePanel
from app.ui.preview_controller import PreviewController
from app.ui.settings import Settings

DEFAULT_METHOD = DEFAULT_MULTI  # what the CLI runs too (app.models.defaults)
SINGLE_IMAGE_METHOD = DEFAULT_SINGLE
QUALITY_DELAY_MS = 300  # the read-out follows the controls once they rest
BUSY_SLOTS = ("load", "merge", "export")


class MainWindow(DeghostActions, LookActions, DocumentActions, QMainWindow):
    """Signals: ``preview_ready()`` once a finished run is drawn; ``failed(str)`` when a job fails
    or a loaded bracket gives nothing to run (the --screenshot mode exits on it)."""

    preview_ready = Signal()
    failed = Signal(str)

    def __init__(
        self, runner: JobRunner | None = None, settings: Settings | None = None,
        *, restore_geometry: bool = True, warm_up: bool = True,
    ) -> None:
        super().__init__()
        self._warm_up = warm_up  # import torch in the background after the first paint
        self.setWindowTitle("Lumafuse")
        self.setAcceptDrops(True)
        self.runner = runner or JobRunner(self)
        self.settings = settings or Settings()
        self.frames: list[session.LoadedFrame] = []
        self.output: session.MergeOutput | None = None
        self.errors: list[str] = []  # every message shown this session (screenshot exit code)
        self._awaiting_ready = False
        # a method asked for by name (--method): refused loudly, never silently replaced
        self.requested_method: str | None = None
        self._estimated: tuple[list[float] | None, str, str] = (None, "", "")
        self._choosing_method = False  # default-method choice after a load: no auto re-run
        self._batch = None  # the batch window, made on first use
        self._pending_session = None  # a session whose files are loading
        self._history_dock = None  # View > History, made on first use

        self.messages = MessageBar()
        self.preview = PreviewPanel()
        self.stack = StackPanel()
        self.method = MethodPanel()
        self.tone = TonePanel()
        self.histogram = HistogramPanel()
        self.response = ResponsePanel()
        self.agent = AgentPanel()
        self.preset_strip = PresetStrip()
        self.deghost = DeghostPanel()
        self.overlay = PreviewOverlay(self.preview.view, self)
        self._init_deghost_state()
        self.tone.set_defaults(self.settings.tone_defaults())
        self.tone.reset()
        self.renderer = PreviewController(self.runner, self.preview, self.histogram, self)
        self.history = History(self)
        self._build_layout()
        self._build_status_bar()
        self._build_menus()

        self.stack.files_dropped.connect(self.open_files)
        self.stack.move_requested.connect(self._on_stack_move_requested)
        self.stack.remove_requested.connect(self._on_stack_remove_requested)
        self.stack.exposure_edited.connect(self._on_stack_exposure_edited)
        self.method.run_requested.connect(self.run_method)
        self.method.method_changed.connect(self._on_method_changed)
        self.agent.step_chosen.connect(self.use_agent_steps)
        self.tone.changed.connect(self.renderer.set_tone)
        self.tone.changed.connect(lambda _t: self._quality_timer.start())
        self.tone.save_default_requested.connect(self._on_tone_save_default)
        for signal in (self.tone.changed, self.method.method_changed, self.method.form.changed,
                       self.method.align.currentIndexChanged):
            signal.connect(lambda *_a: self.history.record())
        self.preset_strip.preset_clicked.connect(self.apply_look_preset)
        self.tone.pick_grey_requested.connect(self.start_grey_pick)
        self.tone.auto_wb_requested.connect(self.auto_white_balance)
        self.preview.view.picked.connect(self.pick_grey_at)
        self.preview.before_changed.connect(self._on_preview_before_changed)
        self.renderer.drawn.connect(self._on_renderer_drawn)
        for signal in (self.runner.finished, self.runner.failed, self.runner.cancelled,
                       self.runner.progress, self.runner.started):
            signal.connect(self._update_busy)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        self.runner.cancelled.connect(self._on_runner_cancelled)
        self.runner.progress.connect(self._on_runner_progress)
        self.renderer.set_tone(self.tone.params())
        self._keep_geometry = restore_geometry
        geometry = self.settings.geometry() if restore_geometry else None
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 860)

    # -- layout ------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 0, 4)
        lv.addWidget(self.messages)
        lv.addWidget(self.preview, 1)
        self.stack.scroll.setFixedHeight(198)  # load errors show below it
        lv.addWidget(self.stack)
        lv.addWidget(self.preset_strip)
        side = QWidget()
        sv = QVBoxLayout(side)
        self.histogram.setFixedHeight(200)
        sv.addWidget(self.histogram)
        sv.addWidget(self.method)
        sv.addWidget(self.deghost)
        sv.addWidget(self.tone)
        sv.addWidget(self.agent)
        sv.addWidget(self.response)
        sv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([960, 400])
        self.setCentralWidget(splitter)

    def _build_status_bar(self) -> None:
        bar = RunStatusBar()
        self.status_label, self.progress, self.cancel_button = bar.label, bar.progress, bar.cancel
        self.quality_label = bar.quality
        self._quality_timer = QTimer(self)
        self._quality_timer.setSingleShot(True)
        self._quality_timer.setInterval(QUALITY_DELAY_MS)
        self._quality_timer.timeout.connect(self.update_quality)
        self._quality_timer.timeout.connect(self.update_preset_strip)
        self.cancel_button.clicked.connect(self.cancel)
        self.setStatusBar(bar)
        self._update_busy()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self._action(file_menu, "&Add exposures…", None, lambda: self.open_dialog(append=True))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._action(file_menu, "&Export…", "Ctrl+E", self.export_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "Open &session…", None, self.open_session_dialog)
        self._action(file_menu, "Sa&ve session…", QKeySequence.StandardKey.Save,
                     self.save_session_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Batch…", "Ctrl+B", self.batch_dialog)
        self._action(file_menu, "&Save preset…", None, self.save_preset_dialog)
        self._action(file_menu, "&Load preset…", None, self.load_preset_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit_menu = self.menuBar().addMenu("&Edit")
        undo = self.history.stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.history.stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        for action in (undo, redo):
            edit_menu.addAction(action)
            self.addAction(action)
        run_menu = self.menuBar().addMenu("&Run")
        self._action(run_menu, "&Run method", "Ctrl+R", self.run_method)
        self._action(run_menu, "&Cancel", "Esc", self.cancel)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "&Fit", "F", self.preview.view.fit)
        self._action(view_menu, "&100 %", "1", self.preview.view.actual_size)
        self._action(view_menu, "&Reset tone", None, self.tone.reset)
        self._action(view_menu, "&History", "Ctrl+H", self.show_history)
        self._connect_deghost(view_menu)

    def _action(self, menu, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    # -- loading -----------------------------------------------------------------------------
    def open_dialog(self, append: bool = False) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open exposures", self.settings.last_folder(),
            "Images (" + " ".join(f"*{s}" for s in sorted(session.IMAGE_SUFFIXES)) + ");;All files (*)",
        )
        if paths:
            self.open_files(paths, append=append)

    def open_files(self, paths: list[str], append: bool = False, autorun: bool = True) -> Job:
        """Load files/folders in the background; a new bracket replaces the old one."""
        files = session.expand_paths(paths)
        if paths:
            first = Path(paths[0])
            self.settings.set_last_folder(first if first.is_dir() else first.parent)
        self.messages.clear()
        self.status_label.setText(f"Loading {len(files)} file(s)…")
        split = self.stack.split_stacked.isChecked()
        return self.runner.submit(lambda ctx: session.load_files(files, ctx, split), slot="load",
                                  on_finished=lambda report: self._on_loaded(report, append, autorun))

    def _on_loaded(self, report: session.LoadReport, append: bool, autorun: bool) -> None:
        frames = (self.frames if append else []) + report.frames
        self.stack.set_errors(report.errors)
        if report.errors:
            self.errors.extend(msg for _p, msg in report.errors)
        if not report.frames and not append:
            self._pending_session = None
            reasons = "; ".join(msg for _p, msg in report.errors) or "no image files found"
            self._show_error(f"None of the files could be loaded ({reasons})")
            self.failed.emit(f"none of the files could be loaded: {reasons}")
            return
        if self._pending_session is not None and not append:
            self._restore_session(report)  # the session's order, exposures and recipe
            return
        self._set_frames(session.sort_dark_to_bright(frames))
        self.status_label.setText(f"{len(self.frames)} exposure(s) loaded")
        if report.frames:
            self.settings.add_recent([f.path for f in self.frames])
        if not append:
            self.output = None
            self.renderer.set_output(None)
            self._reset_deghost()
        if autorun:
            if not self._choose_default_method():
                return  # the requested method cannot run: said so, nothing else is run
            if self.method.is_runnable(self.method.method_id())[0]:
                self.run_method()
            else:
                self._refuse(f"no method can run on {len(self.frames)} exposure(s)")

    def _set_frames(self, frames: list[session.LoadedFrame], changed: bool = False) -> None:
        self.frames = frames
        self._estimated = (None, "", "")
        self.method.set_frame_count(len(frames))
        self._show_cards()
        self.preview.set_inputs([f.name for f in frames])
        if changed:
            spec = self.method.spec()
            ok, reason = self.method.is_runnable(spec.id)
            if ok:
                self.status_label.setText("Bracket changed: press Run (Ctrl+R)")
            else:
                self.status_label.setText(
                    f"Bracket changed: {spec.title} cannot run on {len(frames)} exposure(s); "
                    "pick another method" if frames else "No exposures: drop photos here")
            self._mark_stale("the bracket changed", status=False)
        if len(frames) > 1 and not all(f.exposure is not None for f in frames):
            # show what the merge will use: the estimate, computed in the background
            self.runner.submit(session.estimate_job(frames), slot="estimate",
                               on_finished=lambda value, fr=frames: self._on_estimated(fr, value))

    def _show_cards(self) -> None:
        estimated, error, confidence = self._estimated
        labels = session.exposure_labels(self.frames, estimated, error, confidence)
        cards = []
        for f, lab in zip(self.frames, labels):
            tip = f"{f.path}\n{f.image.shape[1]}×{f.image.shape[0]}, {'linear' if f.info.linear else 'display'}"
            cards.append(FrameCardData(f.name, f.thumb, lab.text, lab.source == "EXIF", tip,
                                       placeholder=lab.placeholder, source=lab.source,
                                       exposure_tip=lab.tooltip))
        self.stack.set_frames(cards)
        self.stack.set_reference(self.reference_index())

    def _on_estimated(self, frames: list[session.LoadedFrame], value: tuple) -> None:
        if frames is not self.frames:
            return  # the strip changed meanwhile; a newer estimate is on its way
        self._estimated = value
        self._show_cards()

    def _choose_default_method(self) -> bool:
        """Pick a method that can run on the loaded frames; False when a method asked for by
        name (``requested_method``) cannot, which is reported instead of replaced."""
        self._choosing_method = True
        try:
            return self._choose_method_for(len(self.frames))
        finally:
            self._choosing_method = False

    def _choose_method_for(self, n: int) -> bool:
        requested, self.requested_method = self.requested_method, None
        if requested is not None:
            ok, reason = runnable_on(get_method(requested), n)
            if not ok:
                self._refuse(f"{get_method(requested).title} cannot run: {reason} "
                             f"({n} exposure(s) loaded)")
                return False
            self.method.set_method(requested)
            return True
        current = self.method.spec()
        if self.method.is_runnable(current.id)[0]:
            return True
        fallback = SINGLE_IMAGE_METHOD if n == 1 else DEFAULT_METHOD
        try:
            ok, reason = runnable_on(get_method(fallback), n)
        except LumafuseError:
            ok, reason = False, "it is not installed in this build"
        if ok:
            self.method.set_method(fallback)
            self._show_info(f"{n} exposure(s) loaded: {current.title} cannot run on them, "
                            f"switched to {get_method(fallback).title}.")
        elif n == 1:
            self._show_info(f"One photo loaded: the single-image HDR method ({SINGLE_IMAGE_METHOD}) "
                            f"is unavailable: {reason}. Load two or more exposures to fuse them.")
        return True

    def _on_method_changed(self, method_id: str) -> None:
        """Another method picked: classical ones (seconds) re-run at once on the shown bracket;
        learned ones wait for Run, and the preview says it shows the previous method."""
        if self._choosing_method or not self.frames or self.output is None:
            return
        if self.output.result.provenance.method == method_id:
            self.preview.set_stale("")
            return
        spec = get_method(method_id)
        ok, _reason = self.method.is_runnable(method_id)
        if ok and spec.kind != "learned":
            self.run_method()
            return
        self._mark_stale(f"press Run for {spec.title} (Ctrl+R)" if ok else
                         f"{spec.title} cannot run on this bracket")

    def _mark_stale(self, reason: str, status: bool = True) -> None:
        """Say the preview no longer matches the controls (which result it shows, and why);
        ``status``: the status bar says it too (else it keeps its own, more specific text)."""
        if self.output is None:
            return
        shown = self.output.result.provenance.method
        text = f"Out of date: showing the {shown} result; {reason}"
        self.preview.set_stale(text)
        if status:
            self.status_label.setText(text)

    # -- stack edits -------------------------------------------------------------------------
    def _on_stack_move_requested(self, index: int, delta: int) -> None:
        j = index + delta
        if 0 <= index < len(self.frames) and 0 <= j < len(self.frames):
            frames = list(self.frames)
            frames[index], frames[j] = frames[j], frames[index]
            self._set_frames(frames, changed=True)

    def _on_stack_remove_requested(self, index: int) -> None:
        if 0 <= index < len(self.frames):
            self._set_frames(self.frames[:index] + self.frames[index + 1:], changed=True)

    def _on_stack_exposure_edited(self, index: int, text: str) -> None:
        try:
            value, ev = session.parse_exposure_entry(text)
        except LumafuseError as exc:
            self._show_error(str(exc))
            return
        self.frames[index].user_exposure, self.frames[index].user_ev = value, ev
        self._set_frames(self.frames, changed=True)

    # -- running -----------------------------------------------------------------------------
    def run_method(self) -> Job | None:
        """Run the selected method on the strip; a new run replaces a running one."""
        try:
            stack = session.build_stack(self.frames)
        except LumafuseError as exc:
            self._refuse(str(exc))
            return None
        spec = self.method.spec()
        ok, reason = runnable_on(spec, stack.n)
        if not ok:
            self._refuse(f"{spec.title} cannot run: {reason}")
            return None
        self.messages.clear()
        self.status_label.setText(f"Running {spec.id}…")
        lane = "inference" if spec.kind == "learned" else "cpu"
        job = session.merge_job(stack, spec.id, self.method.params(), self.method.align_mode(),
                                **self.deghost_run_options())
        return self.runner.submit(job, lane=lane, slot="merge")

    def use_agent_steps(self, k: int) -> Job | None:
        """Re-run the RL fusion using the agent's first ``k`` edits (the step slider)."""
        if self.output is None or self.method.method_id() != "rl_fusion":
            return None
        chosen = -1 if k >= len(self.agent.actions) else int(k)
        self.method.form.set_values({**self.method.params(), "stop_at": chosen})
        return self.run_method()

    def cancel(self) -> None:
        cancelled = [slot for slot in BUSY_SLOTS if self.runner.cancel_slot(slot)]
        if cancelled:
            self.status_label.setText("Cancelling…")

    # -- export ------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if self.output is None:
            self._show_error("Nothing to export yet: run a method first (Ctrl+R)")
            return
        prov = self.output.result.provenance
        stem = Path(self.frames[0].path).stem if self.frames else "lumafuse"
        default = Path(self.settings.last_folder()) / f"{stem}_{prov.method}.png"
        dialog = ExportDialog(default, is_hdr=self.output.result.is_hdr, parent=self)
        if dialog.exec():
            opts = dialog.options()
            self.export_to(opts.path, opts.format, opts.quality, opts.strip_location,
                           opts.colour_space)

    def export_to(self, path: Path | str, fmt: ExportFormat | str, quality: int = 95,
                  strip_location: bool = False, colour_space: str = "srgb") -> Job | None:
        """Write the current result; LDR formats with the current tone (as previewed)."""
        fmt = get_format(fmt) if isinstance(fmt, str) else fmt
        path = Path(path).expanduser()
        if self.output is None:
            self._show_error("Nothing to export yet: run a method first (Ctrl+R)")
            return None
        inputs = tuple(f.path for f in self.frames)
        if any(path.resolve() == Path(p).resolve() for p in inputs):
            self._show_error(f"{path.name} is one of the input photos: choose another file name")
            return None
        force = False
        if path.exists():
            if not self._confirm_overwrite(path):
                return None
            force = True
        job = session.export_job(path, self.output.result, self.tone.params(), bit_depth=fmt.bit_depth,
                                 half=fmt.half, quality=quality, inputs=inputs, force=force,
                                 strip_location=strip_location, colour_space=colour_space)
        self.status_label.setText(f"Exporting {path.name}…")
        self.settings.set_last_folder(path.parent)
        return self.runner.submit(job, slot="export")

    def _confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(self, "Overwrite?", f"{path} already exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    # -- job results -------------------------------------------------------------------------
    def _on_runner_finished(self, job: Job, value: object) -> None:
        if job.slot == "merge" and isinstance(value, session.MergeOutput):
            self.output = value
            prov = value.result.provenance
            self.tone.set_hdr(value.result.is_hdr)
            self.preview.set_stale("")
            notes = value.result.notes
            source = notes.get("exposure_source", "")
            caption = (f"{prov.method}: exposures {', '.join(f'{e:+.1f}' for e in notes['ev'])} EV "
                       f"({source})" if notes.get("ev") else "")
            self.response.set_response(notes.get("response"), caption)
            self.agent.set_trace(notes.get("agent_actions"), notes.get("steps_used", 0),
                                 notes.get("agent_stopped", ""))
            if value.result.messages:  # all of them, most important first (the method's order)
                self._show_info("  ·  ".join(m[:1].upper() + m[1:] for m in value.result.messages))
            # a method that chose between candidates (deepfuse select=auto) says which it kept
            chosen = f" (kept: {notes['candidate']})" if notes.get("candidate") else ""
            self.status_label.setText(
                f"{prov.method}{chosen}  ·  {prov.duration_s:.2f} s  ·  {prov.device}")
            self._awaiting_ready = True
            self.renderer.set_output(value)
            self._on_deghost_output(value)
            self._quality_timer.start()
        elif job.slot == "export" and isinstance(value, Path):
            self.status_label.setText(f"Exported {value}")

    def _on_runner_failed(self, job: Job, message: str, details: str) -> None:
        if job.slot in ("merge", "load", "export", "preview", "detail"):
            self._show_error(message, details)
            if job.slot == "merge":
                self.status_label.setText(f"{self.method.method_id()} failed")
            self.failed.emit(message)

    def _on_runner_cancelled(self, job: Job) -> None:
        if job.slot in BUSY_SLOTS and not self.runner.busy(job.slot):
            self.status_label.setText("Cancelled")

    def _on_runner_progress(self, job: Job, fraction: float, message: str) -> None:
        if job.slot in BUSY_SLOTS:
            self.progress.setValue(round(fraction * 1000))
            if message and fraction < 1.0:
                self.status_label.setText(message[:1].upper() + message[1:] + "…")

    def _on_renderer_drawn(self, _ms: float) -> None:
        if self._awaiting_ready:
            self._awaiting_ready = False
            self.preview_ready.emit()

    def _update_busy(self, *_args: object) -> None:
        busy = any(self.runner.busy(slot) for slot in BUSY_SLOTS)
        if busy and not self.progress.isVisible():
            self.progress.setValue(0)
        for w in (self.progress, self.cancel_button):
            w.setVisible(busy)

    def _on_preview_before_changed(self, index: int) -> None:
        if 0 <= index < len(self.frames):
            self.preview.show_before(self.frames[index].proxy)

    def _on_tone_save_default(self) -> None:
        tone = self.tone.params()
        self.tone.set_defaults(tone)
        self.settings.set_tone_defaults(tone)
        self.status_label.setText("Tone settings saved as the default")

    # -- messages ----------------------------------------------------------------------------
    def _show_error(self, message: str, details: str = "") -> None:
        self.errors.append(message)
        self.messages.show_message(message, details, "error")

    def _refuse(self, message: str) -> None:
        """A run that cannot start: shown, and reported at once (--screenshot exits on it)."""
        self._show_error(message)
        self.failed.emit(message)

    def _show_info(self, message: str) -> None:
        self.messages.show_message(message, "", "info")

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for paths in self.settings.recent():
            label = f"{Path(paths[0]).name}  (+{len(paths) - 1})" if len(paths) > 1 else Path(paths[0]).name
            self.recent_menu.addAction(label).triggered.connect(lambda _c=False, p=paths: self.open_files(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # -- Qt events ---------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - drops anywhere act like on the strip
        self.stack.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self.stack.dropEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        # pyqtgraph loads once the window is on screen (see HistogramPanel).
        QTimer.singleShot(50, self.histogram.ensure_plot)
        QTimer.singleShot(60, self.tone.look_panel.ensure_plot)
        # torch for the learned methods, in the background once the window is painted
        # and the preview's compiled tone loop (numba), so slider ticks take the one-pass path
        if self._warm_up:
            QTimer.singleShot(300, preview_kernel.warm_up_in_background)
            QTimer.singleShot(400, warm_up_in_background)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._keep_geometry:
            self.settings.set_geometry(self.saveGeometry())
        self.settings.sync()
        self.runner.shutdown()
        super().closeEvent(event)
