"""Batch processing: a plan of brackets -> tasks -> the one pipeline per bracket -> a report.

Qt-free; the CLI (``lumafuse batch``, local processes or Ray) and the GUI's batch dialog use it.
Each task runs :func:`app.models.pipeline.process` (the same read -> run -> write as ``fuse``),
so outputs are atomic and a failed or cancelled bracket leaves nothing. A task that fails is
recorded with its one-line error and the others go on. Existing outputs are skipped unless
``force`` (a batch can be run again to finish what was left).

Local parallelism: worker processes (spawned, so no thread or model state is inherited), each
keeping its learned-model instance between brackets (the method modules cache their network).
Workers ignore SIGINT; a cancel reaches them through a shared event, and each running bracket
stops at its next check and removes its temporary files.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from app.core.errors import Cancelled, InputError
from app.core.io.grouping import Plan
from app.core.progress import CancelToken, TaskContext
from app.models.recipe import Recipe

REPORT_NAME = "lumafuse-batch.json"
BYTES_PER_PIXEL_PER_FRAME = 16
"""Peak resident bytes of one worker per input pixel per frame (frames, weights, the result and
its rendering), plus a fixed :data:`WORKER_BASE_BYTES` for the interpreter and libraries. With
8-bit frames held as codes, measured whole commands (app.bench.whole, app.bench.align,
2026-12-03) peak at 10.8 (3 x 12 MP mertens), 14.6 (Debevec to EXR + TIFF) and 14.6 (mertens
with --align homography: 590 MiB) bytes per pixel per frame over ~60 MB of libraries; 16 over
a 300 MB base covers them all (it was 28 when frames were held as float32)."""
WORKER_BASE_BYTES = 300 * 2**20
LEARNED_MODEL_BYTES = 1 * 2**30  # torch and a network, when the recipe runs a learned method


@dataclass(frozen=True)
class Task:
    """One bracket to process: 1-based ``group`` number, its files, the outputs to write and the
    recipe (method still "auto" if so: fixed per bracket by the pipeline)."""

    group: int
    files: tuple[str, ...]
    outputs: tuple[str, ...]
    recipe: Recipe
    force: bool = False
    pixels: int = 0  # width * height of one frame, for memory planning (0 = unknown)
    quality: bool = False  # add the quality read-out to the record

    @property
    def name(self) -> str:
        return Path(self.files[0]).stem + (f" +{len(self.files) - 1}" if len(self.files) > 1 else "")


@dataclass
class Record:
    """What happened to one bracket (a row of the JSON report). status: ok / skipped / failed /
    cancelled / pending."""

    group: int
    inputs: list[str]
    outputs: list[str]
    status: str = "pending"
    method: str | None = None
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    quality: dict | None = None  # MEF-SSIM, clipped, crushed (app.core.metrics.quality)


def make_tasks(
    plan: Plan, recipe: Recipe, out_dir: str | os.PathLike[str], *, singles: bool = False,
    force: bool = False, quality: bool = False,
) -> list[Task]:
    """A task per bracket of the plan (and per single shot when ``singles``), see
    :func:`tasks_for`."""
    entries = [(g.files, recipe, g.pixels) for g in plan.groups if singles or not g.is_single]
    return tasks_for(entries, out_dir, force=force, quality=quality)


def tasks_for(
    entries: Sequence[tuple[Sequence[str], Recipe, int]], out_dir: str | os.PathLike[str], *,
    force: bool = False, quality: bool = False,
) -> list[Task]:
    """Tasks numbered from 1 for (files, recipe, pixels per frame) entries, with output paths
    from each recipe's naming pattern inside ``out_dir``. Two brackets naming the same output
    is an error (the pattern needs {group} or {last} then)."""
    out = Path(out_dir)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for number, (files, recipe, pixels) in enumerate(entries, start=1):
        names = recipe.output_names(files, number)
        for name in names:
            if name in seen:
                raise InputError(
                    f"output name {name!r} is made for brackets {seen[name]} and {number}: add "
                    "{group} or {last} to the naming pattern")
            seen[name] = number
        tasks.append(Task(number, tuple(files), tuple(str(out / n) for n in names), recipe,
                          force, pixels, quality))
    return tasks


def pending_outputs(task: Task) -> list[str]:
    """The outputs still to write: all with ``force``, else those that do not exist yet."""
    if task.force:
        return list(task.outputs)
    return [o for o in task.outputs if not os.path.lexists(o)]


# -- running one task (in whatever process) ------------------------------------------------
_cancel_all = threading.Event()  # set in a worker when the batch is cancelled
_current: list[CancelToken] = []


def run_task(task: Task, ctx: TaskContext | None = None) -> Record:
    """Process one bracket; never raises for a bad bracket (the record says why it failed).
    Cancelled is raised only as a record with status "cancelled"."""
    from app.models.pipeline import process

    record = Record(task.group, list(task.files), list(task.outputs))
    todo = pending_outputs(task)
    if not todo:
        record.status, record.error = "skipped", "outputs exist (use --force to redo)"
        return record
    ctx = ctx or TaskContext()
    _current.append(ctx.token)
    t0 = time.perf_counter()
    try:
        if _cancel_all.is_set():
            ctx.cancel()
        done = process(task.files, task.recipe, todo, ctx, force=task.force,
                       quality=task.quality)
        record.status = "ok"
        record.method = done.result.provenance.method
        record.notes = list(done.result.messages)
        record.quality = done.quality.as_dict() if done.quality is not None else None
    except (Cancelled, KeyboardInterrupt):
        record.status, record.error = "cancelled", "cancelled"
    except Exception as exc:  # noqa: BLE001 - one bad bracket must not stop the batch
        record.status, record.error = "failed", _message(exc)
    finally:
        _current.remove(ctx.token)
        record.seconds = round(time.perf_counter() - t0, 3)
    return record


def _run_task_keeping_models(task: Task) -> Record:
    """run_task in a long-lived worker (a Ray worker process): its learned network is kept
    for the next bracket this process runs."""
    from app.models import weights

    if not weights._keeping:
        weights.keeping_models().__enter__()  # for the process's life
    return run_task(task)


def _message(exc: BaseException) -> str:
    """One line saying why a bracket failed (the file is named by the reader's messages)."""
    from app.core.errors import LumafuseError

    text = " ".join(str(exc).split())
    if isinstance(exc, LumafuseError):
        return text
    if isinstance(exc, MemoryError):
        return f"image too large for memory{': ' + text if text else ''}"
    if isinstance(exc, OSError):
        return f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or text}"
    return f"internal error: {type(exc).__name__}: {text}"


def _worker_init(cancel_event) -> None:
    """Worker process start: leave Ctrl-C to the parent, watch the shared cancel event."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from app.core.allocator import tune_for_one_job
    from app.models import weights

    tune_for_one_job()  # as the command line: fewer, cheaper page faults (app.core.allocator)

    weights.keeping_models().__enter__()  # for the worker's life: one network per method

    def watch() -> None:
        cancel_event.wait()
        _cancel_all.set()
        for token in list(_current):
            token.cancel()

    threading.Thread(target=watch, daemon=True).start()


# -- running many ---------------------------------------------------------------------------
def default_jobs(tasks: Sequence[Task], available: int | None = None) -> int:
    """Worker count from the cores and the memory: each worker may need the largest bracket's
    peak (frames x pixels x :data:`BYTES_PER_PIXEL_PER_FRAME` + base, + a learned model)."""
    from app.core.io.readers import available_memory

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = max(1, min(cores or 1, len(tasks) or 1))
    available = available if available is not None else available_memory()
    if available and tasks:
        need = max(worker_bytes(t) for t in tasks)
        jobs = max(1, min(jobs, int(0.8 * available // need)))
    return jobs


def worker_bytes(task: Task) -> int:
    """Planned peak memory of one worker running ``task`` (bytes)."""
    from app.models.registry import get_method

    need = WORKER_BASE_BYTES + BYTES_PER_PIXEL_PER_FRAME * task.pixels * len(task.files)
    try:
        learned = get_method(task.recipe.method_for(len(task.files))).kind == "learned"
    except Exception:  # noqa: BLE001 - an unrunnable task fails on its own, cheaply
        learned = False
    return need + (LEARNED_MODEL_BYTES if learned else 0)


OnRecord = Callable[[Record], None]


def run_local(
    tasks: Sequence[Task], jobs: int, ctx: TaskContext, on_record: OnRecord,
    on_progress: Callable[[Task, float, str], None] | None = None,
) -> list[Record]:
    """Run the tasks on ``jobs`` worker processes (in this process when ``jobs`` is 1 or there
    is one task, to spare the start-up); ``on_record`` is called as each one ends,
    ``on_progress(task, fraction, message)`` as a bracket runs (in-process runs only). A cancel of
    ``ctx`` stops the running brackets (nothing half-written) and marks the rest cancelled;
    the records come back in task order either way, then Cancelled is raised."""
    import multiprocessing as mp

    from app.models import weights

    records: dict[int, Record] = {}
    if jobs <= 1 or len(tasks) <= 1:  # one at a time: in this process, no start-up to pay
        with weights.keeping_models():
            return _run_here(tasks, ctx, on_record, on_progress, records)

    spawn = mp.get_context("spawn")
    cancel_event = spawn.Event()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=spawn, initializer=_worker_init,
                               initargs=(cancel_event,))
    futures: dict[Future, Task] = {}
    try:
        futures = {pool.submit(run_task, t): t for t in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                task = futures[fut]
                records[task.group] = _record_of(fut, task)
                on_record(records[task.group])
            if ctx.cancelled:
                cancel_event.set()
                for fut in pending:
                    fut.cancel()
    finally:
        if ctx.cancelled:  # also on the way out of a second Ctrl-C (KeyboardInterrupt)
            cancel_event.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return _finish(tasks, records, ctx)


def _run_here(tasks, ctx: TaskContext, on_record: OnRecord, on_progress, records) -> list[Record]:
    for task in tasks:
        if ctx.cancelled:
            break
        if on_progress is None:
            task_ctx = ctx.fork(progress=False)
        else:  # progress of this bracket alone, [0, 1]
            task_ctx = TaskContext(lambda f, m, t=task: on_progress(t, f, m),
                                   CancelToken(parent=ctx.token))
        records[task.group] = run_task(task, task_ctx)
        on_record(records[task.group])
    return _finish(tasks, records, ctx)


def _record_of(fut: Future, task: Task) -> Record:
    if fut.cancelled():
        return Record(task.group, list(task.files), list(task.outputs), "cancelled",
                      error="cancelled")
    exc = fut.exception()
    if exc is not None:  # the worker died (killed, out of memory): the bracket failed
        return Record(task.group, list(task.files), list(task.outputs), "failed",
                      error=f"worker process failed: {_message(exc)}")
    return fut.result()


def _finish(tasks: Sequence[Task], records: dict[int, Record], ctx: TaskContext) -> list[Record]:
    out = [records.get(t.group) or Record(t.group, list(t.files), list(t.outputs), "cancelled",
                                          error="cancelled") for t in tasks]
    if ctx.cancelled:
        raise BatchCancelled(out)
    return out


class BatchCancelled(Cancelled):
    """The batch was cancelled; ``records`` says what had finished."""

    def __init__(self, records: list[Record]) -> None:
        super().__init__("cancelled by the user")
        self.records = records


def run_ray(
    tasks: Sequence[Task], address: str | None, ctx: TaskContext, on_record: OnRecord
) -> list[Record]:
    """Run the tasks on a Ray cluster, one Ray task per bracket (files are read from the paths
    as given, so they must be on a path every node shares). ``address`` None: connect to the
    cluster named by $RAY_ADDRESS or a running local one, else start one here."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'lumafuse[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(_run_task_keeping_models)
    refs = {remote.remote(t): t for t in tasks}
    records: dict[int, Record] = {}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.2)
            for ref in done:
                task = refs[ref]
                try:
                    records[task.group] = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost node or worker: that bracket
                    records[task.group] = Record(task.group, list(task.files),
                                                 list(task.outputs), "failed",
                                                 error=f"ray task failed: {_message(exc)}")
                on_record(records[task.group])
            if ctx.cancelled:
                for ref in pending:
                    ray.cancel(ref)  # KeyboardInterrupt in the task: it cleans up
                break
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        raise
    return _finish(tasks, records, ctx)


# -- report ---------------------------------------------------------------------------------
def write_report(path: str | os.PathLike[str], records: Iterable[Record], summary: dict) -> None:
    """The JSON report, replaced atomically (readable at every moment of a running batch)."""
    p = Path(path)
    rows = [asdict(r) for r in records]
    doc = {"lumafuse_batch": 1, "summary": summary, "groups": rows}
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, p)


def summarize(records: Sequence[Record], seconds: float) -> dict:
    counts = {s: sum(r.status == s for r in records)
              for s in ("ok", "skipped", "failed", "cancelled", "pending")}
    return {"groups": len(records), **counts, "seconds": round(seconds, 2)}


def eta_text(done: int, total: int, elapsed: float) -> str:
    """"1 min 20 s" left at the pace so far ("" before the first bracket ends)."""
    if done == 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    minutes, seconds = divmod(int(math.ceil(left)), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
