"""Background jobs for the GUI: a QThreadPool worker pool with a cpu lane and one inference lane.

A job is any ``Callable[[TaskContext], T]``. Parameters are copied on the GUI thread before
submitting; a job never touches widgets. The runner reports through Qt signals that are always
delivered on the GUI thread:

* ``started(job)``, ``progress(job, fraction, message)`` (throttled to ~20 Hz),
* ``finished(job, value)``, ``failed(job, message, traceback)``, ``cancelled(job)``.

Slots give "latest wins" semantics: submitting to a slot cancels the slot's previous job and bumps
the slot's generation; a result whose generation is no longer current is dropped, so a cancelled or
superseded job never emits ``finished``.

All torch inference goes through the single-thread ``inference`` lane so two models never compete
for memory. ``synchronous=True`` runs jobs inline with the same signals (deterministic widget
tests).
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.core.errors import Cancelled, LumafuseError
from app.core.progress import CancelToken, TaskContext

LANES = ("cpu", "inference")
PROGRESS_INTERVAL_S = 0.05  # ~20 Hz: more would flood the GUI event queue for nothing


@dataclass(eq=False)
class Job:
    """One submitted job. ``value`` holds the result once finished (GUI thread only)."""

    id: int
    fn: Callable[[TaskContext], Any]
    lane: str = "cpu"
    slot: str | None = None
    generation: int = 0
    token: CancelToken = field(default_factory=CancelToken)
    on_finished: Callable[[Any], None] | None = None
    on_failed: Callable[[str, str], None] | None = None
    on_progress: Callable[[float, str], None] | None = None
    on_cancelled: Callable[[], None] | None = None
    done: bool = False

    def cancel(self) -> None:
        self.token.cancel()


class _Bridge(QObject):
    """Signals emitted from worker threads; Qt queues them onto the GUI thread's event loop."""

    started = Signal(int)
    progress = Signal(int, float, str)
    outcome = Signal(int, str, object)  # job id, "ok" | "error" | "cancelled", payload


class _Runnable(QRunnable):
    def __init__(self, job: Job, bridge: _Bridge) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job
        self._bridge = bridge

    def run(self) -> None:  # worker thread
        _execute(self._job, self._bridge)


def _execute(job: Job, bridge: _Bridge) -> None:
    """Run ``job.fn`` and report through ``bridge``. Never raises."""
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            last[0] = now
            bridge.progress.emit(job.id, float(fraction), message)

    ctx = TaskContext(report, job.token)
    if job.token.cancelled:
        bridge.outcome.emit(job.id, "cancelled", None)
        return
    bridge.started.emit(job.id)
    try:
        value = job.fn(ctx)
    except Cancelled:
        bridge.outcome.emit(job.id, "cancelled", None)
    except LumafuseError as exc:  # user-facing error: the message is already one clear line
        bridge.outcome.emit(job.id, "error", (str(exc), traceback.format_exc()))
    except MemoryError:
        bridge.outcome.emit(
            job.id, "error", ("not enough memory for this job", traceback.format_exc())
        )
    except Exception as exc:  # noqa: BLE001 - any bug must reach the window, not kill the thread
        message = f"{type(exc).__name__}: {exc}"
        bridge.outcome.emit(job.id, "error", (message, traceback.format_exc()))
    else:
        bridge.outcome.emit(job.id, "ok", value)


class JobRunner(QObject):
    """Submits jobs to a cpu pool or the single-thread inference lane; see the module docstring."""

    started = Signal(object)
    progress = Signal(object, float, str)
    finished = Signal(object, object)
    failed = Signal(object, str, str)
    cancelled = Signal(object)
    idle = Signal()  # no job left running or queued

    def __init__(
        self, parent: QObject | None = None, *, synchronous: bool = False, cpu_threads: int = 0
    ) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._generations: dict[str, int] = {}
        self._current: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._bridge = _Bridge(self)
        self._bridge.started.connect(self._on_bridge_started)
        self._bridge.progress.connect(self._on_bridge_progress)
        self._bridge.outcome.connect(self._on_bridge_outcome)
        self._pools: dict[str, QThreadPool] = {}
        if not synchronous:
            cpu = QThreadPool(self)
            # Two threads at least, so a preview render never queues behind a long merge; at most
            # four, as the numeric kernels (OpenCV, torch) are multi-threaded themselves.
            ideal = QThreadPool.globalInstance().maxThreadCount() - 1
            cpu.setMaxThreadCount(cpu_threads or min(max(2, ideal), 4))
            inference = QThreadPool(self)
            inference.setMaxThreadCount(1)
            self._pools = {"cpu": cpu, "inference": inference}

    # -- submitting ---------------------------------------------------------------------------
    def submit(
        self,
        fn: Callable[[TaskContext], Any],
        *,
        lane: str = "cpu",
        slot: str | None = None,
        on_finished: Callable[[Any], None] | None = None,
        on_failed: Callable[[str, str], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Job:
        """Queue ``fn(ctx)``; with a slot, cancel the slot's previous job first (latest wins).

        Callbacks run on the GUI thread, after the runner-wide signal of the same name.
        """
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, got {lane!r}")
        job = Job(
            id=next(self._ids),
            fn=fn,
            lane=lane,
            slot=slot,
            on_finished=on_finished,
            on_failed=on_failed,
            on_progress=on_progress,
            on_cancelled=on_cancelled,
        )
        if slot is not None:
            previous = self._current.get(slot)
            if previous is not None and not previous.done:
                previous.cancel()
            job.generation = self._generations.get(slot, 0) + 1
            self._generations[slot] = job.generation
            self._current[slot] = job
        with self._lock:
            self._jobs[job.id] = job
        if self.synchronous:
            _execute(job, self._bridge)  # direct connections: signals fire inline
        else:
            self._pools[lane].start(_Runnable(job, self._bridge))
        return job

    # -- control ------------------------------------------------------------------------------
    def generation(self, slot: str) -> int:
        """Current generation of a slot (0 when nothing was ever submitted to it)."""
        return self._generations.get(slot, 0)

    def is_current(self, job: Job) -> bool:
        return job.slot is None or self._generations.get(job.slot) == job.generation

    def cancel_slot(self, slot: str) -> bool:
        """Cancel the slot's running job; True when there was one."""
        job = self._current.get(slot)
        if job is None or job.done:
            return False
        job.cancel()
        return True

    def busy(self, slot: str | None = None) -> bool:
        """Whether any job (or the slot's current job) is still queued or running."""
        if slot is not None:
            job = self._current.get(slot)
            return job is not None and not job.done
        with self._lock:
            return bool(self._jobs)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and wait for the pools (on quit). True when all threads finished."""
        self.cancel_all()
        for pool in self._pools.values():
            pool.clear()  # drop queued runnables that never started
        # Wait in Python, sleeping with the GIL released: a worker still running Python code
        # needs the GIL to finish, and a C++-side wait that keeps holding it can deadlock.
        deadline = time.monotonic() + timeout_ms / 1000.0
        while time.monotonic() < deadline and any(
            pool.activeThreadCount() for pool in self._pools.values()
        ):
            time.sleep(0.01)
        return all(pool.waitForDone(0) for pool in self._pools.values())

    # -- bridge handlers (GUI thread) --------------------------------------------------------
    def _on_bridge_started(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            self.started.emit(job)

    def _on_bridge_progress(self, job_id: int, fraction: float, message: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.token.cancelled or not self.is_current(job):
            return
        self.progress.emit(job, fraction, message)
        if job.on_progress is not None:
            job.on_progress(fraction, message)

    def _on_bridge_outcome(self, job_id: int, status: str, payload: object) -> None:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return
        job.done = True
        stale = job.token.cancelled or not self.is_current(job)
        try:
            if status == "cancelled" or (status == "ok" and stale):
                self.cancelled.emit(job)
                if job.on_cancelled is not None:
                    job.on_cancelled()
            elif status == "error":
                if stale:  # a superseded job's error is no longer the user's concern
                    self.cancelled.emit(job)
                    return
                message, tb = payload  # type: ignore[misc]
                self.failed.emit(job, message, tb)
                if job.on_failed is not None:
                    job.on_failed(message, tb)
            else:
                self.finished.emit(job, payload)
                if job.on_finished is not None:
                    job.on_finished(payload)
        finally:
            if not self.busy():
                self.idle.emit()
