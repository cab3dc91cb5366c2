"""Routing of ``python main.py`` / ``lumafuse``: subcommands to the CLI, the rest to the GUI."""

from __future__ import annotations

import sys
import types

import pytest

from app import launcher
from tests.cli.helpers import cli


@pytest.mark.parametrize(
    "argv,is_cli",
    [
        ([], False),
        (["photo1.jpg", "photo2.jpg"], False),
        (["--screenshot", "out.png"], False),
        (["fuse", "a.jpg", "-o", "b.png"], True),
        (["list-methods"], True),
        (["tonemap", "x.exr", "-o", "y.png"], True),
        (["--help"], True),
        (["-h"], True),
        (["--version"], True),
        (["fuse.jpg"], False),  # a file that happens to start like a command is still a file
    ],
)
def test_wants_cli(argv, is_cli):
    assert launcher.wants_cli(argv) is is_cli


@pytest.fixture
def fake_gui(monkeypatch):
    """Replace app.ui.launch with a recorder, so routing is tested without opening a window."""
    calls: list[list[str]] = []
    mod = types.ModuleType("app.ui.launch")

    def main(argv):
        calls.append(list(argv))
        return 7

    mod.main = main
    monkeypatch.setitem(sys.modules, "app.ui.launch", mod)
    return calls


@pytest.fixture
def no_display(monkeypatch, tmp_path):
    """A Linux machine without a display; the variables are restored after the test."""
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.setenv(var, "placeholder")  # records the original for undo
        monkeypatch.delenv(var)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_gui_arguments_go_to_the_gui(fake_gui, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":0")
    assert launcher.main([]) == 7
    assert launcher.main(["a.jpg", "b.jpg"]) == 7
    assert launcher.main(["--screenshot", "s.png"]) == 7
    assert fake_gui == [[], ["a.jpg", "b.jpg"], ["--screenshot", "s.png"]]


def test_cli_arguments_never_reach_the_gui(fake_gui, capsys):
    assert launcher.main(["list-methods"]) == 0
    assert fake_gui == []
    assert "mertens" in capsys.readouterr().out


def test_without_a_display_the_app_runs_offscreen_and_saves_its_window(
    fake_gui, no_display, capsys
):
    import os

    (no_display / "lumafuse-window.png").write_bytes(b"keep me")
    assert launcher.main(["a.jpg"]) == 7
    assert fake_gui == [["--screenshot", str(no_display / "lumafuse-window-1.png"), "a.jpg"]]
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    assert (no_display / "lumafuse-window.png").read_bytes() == b"keep me"
    assert "no display" in capsys.readouterr().err


def test_without_a_display_an_explicit_screenshot_is_kept(fake_gui, no_display):
    import os

    assert launcher.main(["--screenshot", "x.png"]) == 7
    assert fake_gui == [["--screenshot", "x.png"]]
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"


def test_missing_gui_stack_is_a_one_line_hint(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(sys.modules, "app.ui.launch", None)  # import raises ImportError
    assert launcher.main(["a.jpg"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lumafuse-cli" in err[0]


def test_version_and_help_in_a_subprocess():
    v = cli("--version")
    assert v.code == 0 and v.stdout.startswith("lumafuse ")
    h = cli("--help")
    assert h.code == 0
    for word in ("fuse", "list-methods", "tonemap", "Exit codes"):
        assert word in h.stdout


class _Exited(Exception):
    def __init__(self, how: str, code: int):
        super().__init__(how, code)
        self.how, self.code = how, code


@pytest.fixture
def exits(monkeypatch):
    """launcher.run's two ways out, recorded instead of ending the test process."""
    def fast(code):
        raise _Exited("os._exit", code)

    monkeypatch.setattr(launcher.os, "_exit", fast)
    return monkeypatch


def test_a_command_ends_the_process_at_once_with_its_code_and_its_output_flushed(
    exits, monkeypatch, tmp_path
):
    import io

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with pytest.raises(_Exited) as ended:
        launcher.run(["list-methods"])
    assert (ended.value.how, ended.value.code) == ("os._exit", 0)
    assert "mertens" in out.getvalue()
    with pytest.raises(_Exited) as ended:
        launcher.run(["fuse", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o.png")])
    assert ended.value.how == "os._exit" and ended.value.code != 0


def test_the_window_exits_the_normal_way(exits, fake_gui, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(SystemExit) as ended:
        launcher.run(["a.jpg"])
    assert ended.value.code == 7 and fake_gui == [["a.jpg"]]
