"""The stderr progress bar and the Ctrl-C handler (in process)."""

from __future__ import annotations

import io
import os
import signal

import pytest

from app.cli.interrupt import cancel_on_signals
from app.cli.progress import ProgressBar
from app.core.errors import Cancelled
from app.core.progress import TaskContext


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    bar = ProgressBar(buf)
    for i in range(101):
        bar(i / 100, "working")
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("  0%") and lines[-1].startswith("100%")
    assert len(lines) == 11  # one per 10 % step, not one per call
    assert "\r" not in buf.getvalue()


def test_in_place_bar_on_a_terminal_is_throttled():
    buf = _Tty()
    bar = ProgressBar(buf, interval=3600)  # nothing but the first and the final draw
    for i in range(101):
        bar(i / 100, "merging")
    bar.finish()
    text = buf.getvalue()
    assert text.count("\r") == 2 and "100.0%" in text and text.endswith("\n")


def test_disabled_bar_writes_nothing():
    buf = io.StringIO()
    bar = ProgressBar(buf, enabled=False)
    bar(0.5, "x")
    bar.finish()
    assert buf.getvalue() == ""


def test_sub_contexts_map_onto_the_bar():
    seen = []
    ctx = TaskContext(lambda f, m: seen.append(round(f, 3)))
    ctx.sub(0.15, 0.95).sub(0.5, 1.0).report(0.5)
    assert seen == [0.75]


@pytest.fixture
def interactive_sigint():
    """SIGINT as in an interactive terminal (CI may start the tests with it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_first_sigint_cancels_the_context_second_aborts(interactive_sigint):
    ctx = TaskContext()
    with pytest.raises(KeyboardInterrupt):
        with cancel_on_signals(ctx):
            os.kill(os.getpid(), signal.SIGINT)
            assert ctx.cancelled
            with pytest.raises(Cancelled):
                ctx.check()
            os.kill(os.getpid(), signal.SIGINT)
            pytest.fail("the second Ctrl-C did not abort")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_an_ignored_sigint_stays_ignored():
    """nohup / background jobs start with SIGINT ignored; the CLI does not take it over."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctx = TaskContext()
        with cancel_on_signals(ctx):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
        assert not ctx.cancelled
    finally:
        signal.signal(signal.SIGINT, before)
