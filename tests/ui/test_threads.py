"""The window with the real thread pool: runs finish, Cancel/Esc stops a run, a new run replaces
a running one, the GUI thread keeps serving events meanwhile."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.ui import session
from tests.ui.conftest import drop_files


def _load(window, qtbot, paths):
    with qtbot.waitSignal(window.preview_ready, timeout=30000):
        drop_files(window.stack, paths)
    assert window.output is not None, window.errors


@pytest.fixture
def slow_merge(monkeypatch):
    """merge_job that first waits (checking the cancel token) until released, then runs."""
    real = session.merge_job
    started = threading.Event()
    release = threading.Event()

    def slow(stack, method_id, params, align, device="auto", **options):
        inner = real(stack, method_id, params, align, device, **options)

        def job(ctx):
            started.set()
            deadline = time.monotonic() + 20
            while not release.is_set() and time.monotonic() < deadline:
                ctx.report(0.1, "waiting")
                time.sleep(0.01)
            return inner(ctx)

        return job

    monkeypatch.setattr(session, "merge_job", slow)
    return started, release


def test_threaded_load_and_run(threaded_window, qtbot, sample_copy):
    _load(threaded_window, qtbot, sample_copy)
    assert threaded_window.output.result.provenance.method == "mertens"
    assert not threaded_window.progress.isVisible()


def test_escape_cancels_running_job(threaded_window, qtbot, sample_copy, slow_merge):
    started, _release = slow_merge
    window = threaded_window
    window.open_files([str(p) for p in sample_copy])
    qtbot.waitUntil(started.is_set, timeout=20000)  # the GUI loop runs while we wait
    qtbot.waitUntil(lambda: window.progress.isVisible(), timeout=5000)
    assert window.cancel_button.isVisible()
    with qtbot.waitSignal(window.runner.cancelled, timeout=10000,
                          check_params_cb=lambda job: job.slot == "merge"):
        QTest.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)
    assert window.output is None  # nothing finished
    assert window.status_label.text() == "Cancelled"
    assert window.errors == []


def test_new_run_replaces_running_one(threaded_window, qtbot, sample_copy, slow_merge):
    started, release = slow_merge
    window = threaded_window
    window.open_files([str(p) for p in sample_copy])
    qtbot.waitUntil(started.is_set, timeout=20000)
    first = window.runner._current["merge"]
    window.method.form.set_values({"sigma": 0.3})
    finished = []
    window.runner.finished.connect(lambda job, value: finished.append(job))
    with qtbot.waitSignal(window.preview_ready, timeout=30000):
        second = window.run_method()
        release.set()
    assert first.token.cancelled and second is not first
    assert [j for j in finished if j.slot == "merge"] == [second]
    assert window.output.result.provenance.params["sigma"] == pytest.approx(0.3)


def test_local_operator_renders_in_background(threaded_window, qtbot, sample_copy):
    from app.core.tonemap import LOCAL_OPERATORS

    window = threaded_window
    _load(window, qtbot, sample_copy)
    assert window.method.set_method("debevec")
    with qtbot.waitSignal(window.preview_ready, timeout=30000):
        window.run_method()
    name = sorted(LOCAL_OPERATORS)[0]
    old = window.preview.view.after.pixmap().cacheKey()
    with qtbot.waitSignal(window.runner.finished, timeout=30000,
                          check_params_cb=lambda job, value: job.slot == "preview"):
        window.tone.operator.setCurrentText(name)
        # the last preview stays on screen until the background render is done
        assert window.preview.view.after.pixmap().cacheKey() == old
    assert window.preview.view.after.pixmap().cacheKey() != old
    assert window.errors == []
