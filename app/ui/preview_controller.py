"""Keeps the preview and histogram in step with the current result and tone settings.

* Exposure, gamma and global operators re-render the ~1600 px proxy in the GUI thread, coalesced
  to at most one render per ~16 ms frame, so the preview follows a dragged slider.
* Local operators (``app.core.tonemap.LOCAL_OPERATORS``) render in the ``preview`` job slot; the
  last preview stays visible until the new one arrives (latest wins, stale renders dropped).
* When the view is zoomed past the proxy's resolution (100 % and closer) a full-size render is
  requested in the ``detail`` slot a moment after the last change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.core.progress import TaskContext
from app.core.types import ResultKind, ToneParams
from app.ui import session
from app.ui.jobs import Job, JobRunner
from app.ui.panels.histogram import HistogramPanel
from app.ui.panels.preview import PreviewPanel

FRAME_MS = 16  # one display frame: coalesce slider events to this rate
HIST_MS = 100  # the histogram follows a dragged slider at ~10 Hz; exact once the drag pauses
DETAIL_DELAY_MS = 250  # full-size render once the user pauses
DRAFT_BUDGET_MS = 12.0  # a draft slower than this (render + scale-up) switches to the smaller one
SETTLE_MS = 150  # after the last tick: the proxy replaces the draft (where drafts are used)


@dataclass(frozen=True)
class _Rendered:
    rgb: np.ndarray  # uint8 display
    hist: tuple | None  # luminance_histogram(...) output; None: computed later (throttled)
    kind: ResultKind
    detail: bool = False
    render_ms: float | None = None  # a background proxy render's own time (global operators)
    tone: ToneParams | None = None  # the settings it was rendered with


class PreviewController(QObject):
    """``drawn(ms)``: a preview was put on screen (ms = GUI-thread render time, -1 for a job)."""

    drawn = Signal(float)

    def __init__(
        self, runner: JobRunner, preview: PreviewPanel, histogram: HistogramPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.preview = preview
        self.histogram = histogram
        self.output: session.MergeOutput | None = None
        self.tone = ToneParams()
        self.last_render_ms = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(lambda: self.render_now(allow_draft=True))
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._request_detail)
        self._hist_timer = QTimer(self)
        self._hist_timer.setSingleShot(True)
        self._hist_timer.setInterval(HIST_MS)
        self._hist_timer.timeout.connect(self._update_histogram)
        self._hist_due = 0.0  # perf_counter time from which the next histogram may run inline
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(lambda: self.render_now(settled=True))
        self.proxy_ms = 0.0  # the last full-proxy render time (decides drafts while dragging)
        self.draft_ms = 0.0  # the last 640 px draft's time (decides the smaller draft)
        self.drafted = False  # the preview shows a draft (a full render follows when it rests)
        self._shown_rgb: np.ndarray | None = None
        self._shown_tone = ToneParams()
        runner.finished.connect(self._on_runner_finished)
        preview.view.zoom_changed.connect(self._on_zoom_changed)

    # -- inputs ------------------------------------------------------------------------------
    def set_output(self, output: session.MergeOutput | None) -> None:
        """A new result: draw it right away (no debounce), histogram included."""
        self.output = output
        self._hist_due = 0.0
        self.draft_ms = 0.0  # a new result: try the larger draft again
        self._shown_rgb = None
        self.runner.cancel_slot("detail")
        if output is None:
            self.preview.view.clear()
            self.histogram.clear()
            return
        self.render_now()

    def set_tone(self, tone: ToneParams) -> None:
        """New tone settings: render at the next frame tick (coalesces a dragged slider)."""
        self.tone = tone
        self.runner.cancel_slot("detail")
        if self.output is not None and not self._timer.isActive():
            self._timer.start()

    def is_local(self) -> bool:
        from app.core.tonemap import LOCAL_OPERATORS

        if self.output is None:
            return False
        if self.tone.look.is_local:  # clarity: an edge-aware filter per pixel neighbourhood
            return True
        return (self.output.result.kind == ResultKind.HDR_LINEAR
                and self.tone.tmo in LOCAL_OPERATORS)

    # -- rendering ---------------------------------------------------------------------------
    def render_now(self, allow_draft: bool = False, settled: bool = False) -> None:
        """Draw the current tone. Where the 1600 px proxy takes longer than a frame here
        (``proxy_ms``), a slider tick (``allow_draft``) draws the draft (a quarter of the
        pixels, scaled up) in the GUI thread, and the proxy follows once the controls rest
        (``settled``), rendered in a background job: the GUI thread never spends much more than
        a frame on a tick. Elsewhere the proxy is drawn directly."""
        self._timer.stop()
        out, tone = self.output, self.tone
        if out is None:
            return
        kind = out.result.kind
        slow = self.proxy_ms > FRAME_MS and out.draft is not None
        if self.is_local() or (settled and slow):
            self._render_in_background(out, tone, kind)
            return
        self.runner.cancel_slot("preview")  # a pending background render would now be stale
        t0 = time.perf_counter()
        draft = allow_draft and slow
        if draft:
            import cv2

            # the smaller draft once the larger one has taken more than its budget here
            source = (out.draft_small if self.draft_ms > DRAFT_BUDGET_MS
                      and out.draft_small is not None else out.draft)
            small = session.render_u8(source, kind, tone)
            h, w = out.proxy.shape[:2]
            rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
            self._settle_timer.start()
        else:
            self._settle_timer.stop()
            rgb = session.render_u8(out.proxy, kind, tone)
        self.drafted = draft
        self._show(_Rendered(rgb, None, kind))
        self._shown_tone = tone
        if t0 >= self._hist_due:
            self._update_histogram()
        elif not self._hist_timer.isActive():
            self._hist_timer.start()
        self.last_render_ms = (time.perf_counter() - t0) * 1000.0
        if not draft:
            self.proxy_ms = self.last_render_ms
        elif source is out.draft:
            self.draft_ms = self.last_render_ms
        self.drawn.emit(self.last_render_ms)

    def _render_in_background(self, out, tone: ToneParams, kind: ResultKind) -> None:
        """The proxy with its histogram in the "preview" job slot (latest wins)."""
        measure = not self.is_local()

        def job(ctx: TaskContext) -> _Rendered:
            t0 = time.perf_counter()
            rgb = session.render_u8(out.proxy, kind, tone)
            ctx.check()
            ms = (time.perf_counter() - t0) * 1000.0
            return _Rendered(rgb, session.histogram(out.small, kind, tone, rgb), kind,
                             render_ms=ms if measure else None, tone=tone)

        self._settle_timer.stop()
        self.runner.submit(job, slot="preview")

    def _update_histogram(self) -> None:
        """Histogram of the preview on screen (see session.histogram)."""
        self._hist_timer.stop()
        out, rgb = self.output, self._shown_rgb
        if out is None or rgb is None:
            return
        edges, counts, low, high = session.histogram(out.small, out.result.kind, self._shown_tone, rgb)
        self.histogram.set_histogram(edges, counts, low, high, out.result.kind)
        self._hist_due = time.perf_counter() + HIST_MS / 1000.0

    def _show(self, rendered: _Rendered) -> None:
        out = self.output
        if out is None:
            return
        if rendered.detail:
            self.preview.view.set_detail(rendered.rgb)
            return
        h, w = out.result.image.shape[:2]
        self.preview.view.set_after(rendered.rgb, source_scale=max(h, w) / max(rendered.rgb.shape[:2]))
        self.preview.refresh_compare()
        self._shown_rgb = rendered.rgb
        if rendered.tone is not None:
            self._shown_tone = rendered.tone
        if rendered.hist is not None:
            self.histogram.set_histogram(*rendered.hist, rendered.kind)
        if self.preview.view.needs_detail():
            self._detail_timer.start()

    def _request_detail(self) -> None:
        out, tone = self.output, self.tone
        if out is None or not self.preview.view.needs_detail():
            return
        kind = out.result.kind

        def job(ctx: TaskContext) -> _Rendered:
            return _Rendered(session.render_u8(out.result.image, kind, tone), (), kind, detail=True)

        self.runner.submit(job, slot="detail")

    # -- handlers ----------------------------------------------------------------------------
    def _on_runner_finished(self, job: Job, value: object) -> None:
        if job.slot in ("preview", "detail") and isinstance(value, _Rendered):
            self._show(value)
            if not value.detail:
                self.drafted = False
                if value.render_ms is not None:  # keeps deciding whether ticks need drafts
                    self.proxy_ms = value.render_ms
                self.drawn.emit(-1.0)

    def _on_zoom_changed(self, _zoom: float) -> None:
        if self.preview.view.needs_detail():
            self._detail_timer.start()
