"""File > Batch: find the brackets in folders, review them, process them in the background.

Rows of thumbnails, one per detected group (uncheck a thumbnail to leave that file out, the row's
box to skip the group, the row's menu to change its method); a preset (the window's current
settings or a TOML file, as ``lumafuse batch --preset``); per-group progress and status; Cancel;
double-click a finished row to open that bracket in the main window. The planning and the
processing run in the window's JobRunner through app.core.io.grouping and app.models.batch (the
same pipeline as the command line); this dialog only collects choices and shows results.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import Cancelled, LumafuseError
from app.core.io.grouping import Group, Plan
from app.models.recipe import Recipe
from app.models.registry import METHODS
from app.ui.jobs import Job, JobRunner

THUMB_PX = 72
COL_USE, COL_FRAMES, COL_METHOD, COL_STATUS = range(4)


class _Events(QObject):
    """Signals emitted from the batch job's thread, delivered on the GUI thread."""

    record = Signal(object)  # app.models.batch.Record
    progress = Signal(int, float)  # group number, fraction of that bracket


def _icon(thumb: np.ndarray) -> QIcon:
    """An RGB (or grey) display [0, 1] thumbnail as an icon."""
    data = np.ascontiguousarray((np.clip(thumb, 0, 1) * 255 + 0.5).astype(np.uint8))
    h, w = data.shape[:2]
    if data.ndim == 2:
        image = QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        image = QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(image))


def _has_param(method_id: str, name: str) -> bool:
    from app.models.registry import get_method

    return any(p.name == name for p in get_method(method_id).params)


class BatchDialog(QDialog):
    """Signals: ``open_requested(files, method_id)`` for a finished row double-clicked."""

    open_requested = Signal(list, str)

    def __init__(self, runner: JobRunner, current_recipe: Callable[[], Recipe],
                 start_folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch")
        self.resize(980, 640)
        self.runner = runner
        self._current_recipe = current_recipe
        self._start_folder = start_folder
        self.inputs: list[str] = []
        self.plan: Plan | None = None
        self.thumbs: dict[str, np.ndarray] = {}
        self.preset: Recipe | None = None  # None: the window's current settings
        self.records: dict[int, object] = {}
        self._row_of_group: dict[int, int] = {}
        self._events = _Events(self)
        self._events.record.connect(self._on_record)
        self._events.progress.connect(self._on_progress)

        self.inputs_label = QLabel("No folders yet")
        add_folder = QPushButton("Add folder…")
        add_files = QPushButton("Add files…")
        clear = QPushButton("Clear")
        self.group_size = QSpinBox()
        self.group_size.setRange(0, 99)
        self.group_size.setSpecialValueText("detect")
        self.group_size.setToolTip("0 = detect brackets from EXIF time, exposures and content")
        self.regroup_button = QPushButton("Re-group")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Use", "Frames (uncheck to leave a file out)",
                                              "Method", "Status"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(COL_USE, 40)
        self.table.setColumnWidth(COL_FRAMES, 560)
        self.table.setColumnWidth(COL_METHOD, 170)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(THUMB_PX + 50)
        self.preset_label = QLabel("Preset: the window's current settings")
        load_preset = QPushButton("Load preset…")
        use_current = QPushButton("Use window settings")
        self.out_dir = QLineEdit(str(Path(start_folder) / "lumafuse-batch"))
        browse = QPushButton("Browse…")
        self.formats = QLineEdit("tif")
        self.formats.setToolTip("Output formats, comma separated: tif, png, jpg, exr, hdr")
        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setSpecialValueText("auto")
        self.workers.setValue(1)
        self.workers.setToolTip("Worker processes (auto: by cores and memory, as the command "
                                "line). 1 runs here and shows each bracket's progress.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        close = QPushButton("Close")

        top = QHBoxLayout()
        for w in (add_folder, add_files, clear):
            top.addWidget(w)
        top.addWidget(self.inputs_label, 1)
        top.addWidget(QLabel("Group size"))
        top.addWidget(self.group_size)
        top.addWidget(self.regroup_button)
        form = QFormLayout()
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_label, 1)
        preset_row.addWidget(load_preset)
        preset_row.addWidget(use_current)
        form.addRow(preset_row)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        form.addRow("Output folder", out_row)
        form.addRow("Formats", self.formats)
        form.addRow("Workers", self.workers)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.run_button)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

        add_folder.clicked.connect(self._on_add_folder_clicked)
        add_files.clicked.connect(self._on_add_files_clicked)
        clear.clicked.connect(lambda: self.set_inputs([]))
        self.regroup_button.clicked.connect(self.regroup)
        load_preset.clicked.connect(self._on_load_preset_clicked)
        use_current.clicked.connect(lambda: self.set_preset(None))
        browse.clicked.connect(self._on_browse_clicked)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.close)
        self.table.cellDoubleClicked.connect(self._on_table_cell_double_clicked)

    # -- inputs and grouping ---------------------------------------------------------------
    def set_inputs(self, paths: list[str]) -> Job | None:
        """Folders / files to look at; groups them in the background."""
        self.inputs = list(paths)
        self.inputs_label.setText(", ".join(Path(p).name for p in self.inputs[:4])
                                  + (" …" if len(self.inputs) > 4 else "")
                                  or "No folders yet")
        return self.regroup()

    def regroup(self) -> Job | None:
        from app.core.io.files import expand_paths
        from app.core.io.grouping import plan_groups, scan

        files = expand_paths(self.inputs)
        size = self.group_size.value() or None
        if not files:
            self._show_plan(Plan((), {}), {})
            return None
        thumbs: dict[str, np.ndarray] = {}

        def scanner(path: str):
            shot = scan(path)
            thumbs[path] = shot.colour if shot.colour is not None else shot.thumb
            return shot

        def job(ctx):
            plan = plan_groups(files, group_size=size, scanner=scanner,
                               progress=lambda k, n: ctx.report(k / n, f"scanning {k}/{n}"))
            return plan, thumbs

        self.status.setText(f"Scanning {len(files)} files…")
        return self.runner.submit(job, slot="batch-plan",
                                  on_finished=lambda value: self._show_plan(*value),
                                  on_failed=lambda msg, _d: self.status.setText(msg))

    def _show_plan(self, plan: Plan, thumbs: dict[str, np.ndarray]) -> None:
        self.plan, self.thumbs, self.records = plan, thumbs, {}
        self.table.setRowCount(0)
        for group in plan.groups:
            self._add_row(group)
        brackets = len(plan.brackets)
        singles = len(plan.groups) - brackets
        left = "; ".join(f"{Path(p).name}: {r}" for p, r in plan.left_out.items())
        self.status.setText(f"{brackets} bracket(s), {singles} single shot(s) (unchecked)"
                            + (f"; left out: {left}" if left else ""))

    def _add_row(self, group: Group) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        use = QTableWidgetItem()
        use.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        use.setCheckState(Qt.CheckState.Unchecked if group.is_single else Qt.CheckState.Checked)
        self.table.setItem(row, COL_USE, use)
        strip = QListWidget()
        strip.setViewMode(QListWidget.ViewMode.IconMode)
        strip.setFlow(QListWidget.Flow.LeftToRight)
        strip.setWrapping(False)
        strip.setIconSize(QSize(THUMB_PX, THUMB_PX))
        strip.setMovement(QListWidget.Movement.Static)
        strip.setGridSize(QSize(THUMB_PX + 64, THUMB_PX + 40))
        strip.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for path, ev in zip(group.files, group.ev):
            label = Path(path).name + ("" if ev is None else f"\n{ev:+.1f} EV")
            item = QListWidgetItem(_icon(self.thumbs[path]) if path in self.thumbs else QIcon(),
                                   label)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setToolTip(path)
            strip.addItem(item)
        self.table.setCellWidget(row, COL_FRAMES, strip)
        method = QComboBox()
        method.addItem("Preset's method", "")
        for spec in METHODS:
            method.addItem(spec.title, spec.id)
        self.table.setCellWidget(row, COL_METHOD, method)
        self.table.setItem(row, COL_STATUS, QTableWidgetItem(f"{len(group.files)} frame(s)"))

    # -- what the user chose -----------------------------------------------------------------
    def row_files(self, row: int) -> list[str]:
        strip: QListWidget = self.table.cellWidget(row, COL_FRAMES)  # type: ignore[assignment]
        return [strip.item(i).data(Qt.ItemDataRole.UserRole) for i in range(strip.count())
                if strip.item(i).checkState() == Qt.CheckState.Checked]

    def set_file_used(self, row: int, name: str, used: bool) -> None:
        strip: QListWidget = self.table.cellWidget(row, COL_FRAMES)  # type: ignore[assignment]
        for i in range(strip.count()):
            if Path(strip.item(i).data(Qt.ItemDataRole.UserRole)).name == name:
                strip.item(i).setCheckState(Qt.CheckState.Checked if used else
                                            Qt.CheckState.Unchecked)

    def set_row_used(self, row: int, used: bool) -> None:
        self.table.item(row, COL_USE).setCheckState(
            Qt.CheckState.Checked if used else Qt.CheckState.Unchecked)

    def set_row_method(self, row: int, method_id: str) -> None:
        combo: QComboBox = self.table.cellWidget(row, COL_METHOD)  # type: ignore[assignment]
        combo.setCurrentIndex(max(0, combo.findData(method_id)))

    def set_preset(self, recipe: Recipe | None, name: str = "") -> None:
        self.preset = recipe
        self.preset_label.setText(f"Preset: {name}" if recipe is not None else
                                  "Preset: the window's current settings")
        if recipe is not None:
            self.formats.setText(",".join(recipe.output.formats))

    def tasks(self):
        """The batch tasks for the checked rows and files, with each row's method."""
        from app.models.batch import tasks_for
        from app.models.recipe import OutputOptions, check_output_options

        base = self.preset or self._current_recipe()
        formats = tuple(f.strip() for f in self.formats.text().split(",") if f.strip())
        base = replace(base, output=check_output_options(
            replace(base.output, formats=formats) if formats else OutputOptions()))
        entries, rows = [], []
        for row in range(self.table.rowCount()):
            files = self.row_files(row)
            if self.table.item(row, COL_USE).checkState() != Qt.CheckState.Checked or not files:
                continue
            combo: QComboBox = self.table.cellWidget(row, COL_METHOD)  # type: ignore[assignment]
            method = combo.currentData() or base.method
            recipe = base if method == base.method else replace(
                base, method=method, params={},
                deghost=base.deghost and _has_param(method, "deghost"))
            entries.append((files, recipe, self.plan.groups[row].pixels if self.plan else 0))
            rows.append(row)
        tasks = tasks_for(entries, Path(self.out_dir.text()).expanduser())
        self._row_of_group = {task.group: row for task, row in zip(tasks, rows)}
        return tasks

    # -- running -----------------------------------------------------------------------------
    def run(self) -> Job | None:
        from app.models import batch

        try:
            tasks = self.tasks()
        except LumafuseError as exc:
            self.status.setText(str(exc))
            return None
        if not tasks:
            self.status.setText("Nothing to run: check at least one group")
            return None
        out_dir = Path(self.out_dir.text()).expanduser()
        events = self._events
        jobs = self.workers.value() or batch.default_jobs(tasks)
        self.records = {}
        for number, row in self._row_of_group.items():
            self.table.item(row, COL_STATUS).setText("waiting")

        def job(ctx):
            import time

            out_dir.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            done: dict[int, batch.Record] = {}

            def on_record(record):
                done[record.group] = record
                rows = [done.get(t.group) or batch.Record(t.group, list(t.files),
                                                         list(t.outputs)) for t in tasks]
                batch.write_report(out_dir / batch.REPORT_NAME, rows,
                                   batch.summarize(rows, time.monotonic() - t0))
                events.record.emit(record)
                try:
                    ctx.report(len(done) / len(tasks), f"{len(done)}/{len(tasks)} brackets")
                except Cancelled:
                    pass  # the loop ends by itself and reports what was cancelled

            try:
                # several workers: spawned processes, as `lumafuse batch -j N` (each bracket's
                # own progress is then not reported, only its end)
                return batch.run_local(tasks, jobs, ctx, on_record,
                                       on_progress=lambda t, f, _m: events.progress.emit(t.group, f))
            except batch.BatchCancelled as exc:
                batch.write_report(out_dir / batch.REPORT_NAME, exc.records,
                                   batch.summarize(exc.records, time.monotonic() - t0))
                raise

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Running {len(tasks)} bracket(s) on {jobs} worker(s) into "
                            f"{out_dir}…")
        return self.runner.submit(
            job, slot="batch",
            on_finished=self._on_batch_finished,
            on_failed=lambda msg, _d: self._on_batch_ended(f"Batch failed: {msg}"),
            on_cancelled=lambda: self._on_batch_ended("Batch cancelled: finished brackets kept; "
                                                      "run again to do the rest"),
            on_progress=lambda f, _m: self.progress.setValue(round(f * 1000)))

    def cancel(self) -> None:
        if self.runner.cancel_slot("batch"):
            self.status.setText("Cancelling…")

    def _on_record(self, record) -> None:
        self.records[record.group] = record
        row = self._row_of_group.get(record.group)
        if row is None:
            return
        text = {"ok": f"done: {record.method}, {record.seconds:.1f} s (double-click to open)",
                "skipped": "skipped: outputs exist", "cancelled": "cancelled"}.get(
            record.status, f"failed: {record.error}")
        item = self.table.item(row, COL_STATUS)
        item.setText(text)
        item.setToolTip("\n".join(record.outputs) if record.status == "ok" else
                        record.error or "")

    def _on_progress(self, group: int, fraction: float) -> None:
        row = self._row_of_group.get(group)
        if row is not None and group not in self.records:
            self.table.item(row, COL_STATUS).setText(f"running {fraction * 100:.0f} %")

    def _on_batch_finished(self, records) -> None:
        failed = sum(r.status == "failed" for r in records)
        ok = sum(r.status == "ok" for r in records)
        self._on_batch_ended(f"Done: {ok} written, {failed} failed, "
                             f"{sum(r.status == 'skipped' for r in records)} skipped")

    def _on_batch_ended(self, message: str) -> None:
        self.status.setText(message)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # -- handlers ----------------------------------------------------------------------------
    def _on_add_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of brackets", self._start_folder)
        if folder:
            self.set_inputs(self.inputs + [folder])

    def _on_add_files_clicked(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos", self._start_folder)
        if files:
            self.set_inputs(self.inputs + files)

    def _on_load_preset_clicked(self) -> None:
        from app.models.preset import load_preset

        path, _ = QFileDialog.getOpenFileName(self, "Load preset", self._start_folder,
                                              "Lumafuse preset (*.toml)")
        if path:
            try:
                self.set_preset(load_preset(path), Path(path).name)
            except LumafuseError as exc:
                self.status.setText(str(exc))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def _on_table_cell_double_clicked(self, row: int, _column: int) -> None:
        for number, r in self._row_of_group.items():
            record = self.records.get(number)
            if r == row and record is not None and record.status in ("ok", "skipped"):
                self.open_requested.emit(list(record.inputs), record.method or "")
