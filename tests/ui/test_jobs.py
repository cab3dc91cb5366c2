"""JobRunner: synchronous mode, real threads, cancel, latest-wins slots, errors, throttling."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.errors import InputError
from app.ui.jobs import JobRunner


def _recorder(runner: JobRunner) -> list[tuple]:
    events: list[tuple] = []
    runner.started.connect(lambda j: events.append(("started", j.id)))
    runner.finished.connect(lambda j, v: events.append(("finished", j.id, v)))
    runner.failed.connect(lambda j, m, tb: events.append(("failed", j.id, m, tb)))
    runner.cancelled.connect(lambda j: events.append(("cancelled", j.id)))
    return events


def test_synchronous_job_runs_inline_with_signals(qtbot):
    runner = JobRunner(synchronous=True)
    events = _recorder(runner)
    got = []
    job = runner.submit(lambda ctx: 6 * 7, on_finished=got.append)
    assert events == [("started", job.id), ("finished", job.id, 42)]
    assert got == [42]
    assert not runner.busy()


def test_error_reports_message_and_traceback(qtbot):
    runner = JobRunner(synchronous=True)
    events = _recorder(runner)

    def bad(ctx):
        raise InputError("frame.jpg: not an image")

    def bug(ctx):
        return {}["missing"]

    runner.submit(bad)
    runner.submit(bug)
    failed = [e for e in events if e[0] == "failed"]
    assert failed[0][2] == "frame.jpg: not an image"
    assert "Traceback" in failed[0][3] and "InputError" in failed[0][3]
    assert failed[1][2].startswith("KeyError")
    assert not any(e[0] == "finished" for e in events)


def test_progress_is_throttled(qtbot):
    runner = JobRunner(synchronous=True)
    seen = []
    runner.progress.connect(lambda j, f, m: seen.append(f))

    def chatty(ctx):
        for i in range(2000):
            ctx.report(i / 2000, "working")
        ctx.report(1.0, "done")

    runner.submit(chatty)
    assert 1 <= len(seen) < 50  # 2000 reports in well under a second -> a handful of signals
    assert seen[-1] == 1.0


def _blocking_job(started: threading.Event, finished_flag: list):
    def job(ctx):
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ctx.check()  # raises Cancelled once the token is set
            time.sleep(0.005)
        finished_flag.append(True)
        return "too late"

    return job


def test_cancel_running_job_real_threads(qtbot):
    runner = JobRunner()
    events = _recorder(runner)
    started = threading.Event()
    ran_out: list = []
    job = runner.submit(_blocking_job(started, ran_out), slot="merge")
    assert started.wait(5), "the job never started in the pool"
    assert runner.busy("merge")
    with qtbot.waitSignal(runner.cancelled, timeout=5000) as blocker:
        assert runner.cancel_slot("merge")
    assert blocker.args[0] is job
    assert not ran_out
    assert not any(e[0] == "finished" for e in events)
    assert runner.shutdown(5000)


def test_latest_wins_drops_superseded_result(qtbot):
    runner = JobRunner()
    events = _recorder(runner)
    gate = threading.Event()

    def slow(ctx):
        gate.wait(5)  # ignores the token on purpose: its result must still be dropped
        return "old"

    first = runner.submit(slow, slot="preview")
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        second = runner.submit(lambda ctx: "new", slot="preview")
        gate.set()
    assert blocker.args == [second, "new"]
    qtbot.waitUntil(lambda: not runner.busy(), timeout=5000)
    assert ("cancelled", first.id) in events
    assert not any(e[0] == "finished" and e[1] == first.id for e in events)
    assert runner.generation("preview") == 2
    runner.shutdown(5000)


def test_inference_lane_runs_one_job_at_a_time(qtbot):
    runner = JobRunner()
    active, peak = [0], [0]
    lock = threading.Lock()

    def job(ctx):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    for _ in range(3):
        runner.submit(job, lane="inference")
    qtbot.waitUntil(lambda: not runner.busy(), timeout=5000)
    assert peak[0] == 1
    with pytest.raises(ValueError):
        runner.submit(job, lane="gpu")
    runner.shutdown(5000)
