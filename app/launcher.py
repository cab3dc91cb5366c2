"""One launcher for ``python main.py`` and the ``lumafuse`` entry point: GUI or CLI by argv.

* a CLI subcommand (``fuse``, ``list-methods``, ``tonemap``) or ``-h``/``--help``/``--version``
  as the first argument -> the command line (:func:`app.cli.main.main`); Qt is never imported;
* anything else (no arguments, image files, ``--screenshot OUT.png``) -> the desktop app
  (:func:`app.ui.launch.main`), imported only then.

On a Linux machine without a display (no DISPLAY / WAYLAND_DISPLAY and no QT_QPA_PLATFORM
chosen), Qt cannot open a window and would abort; the launcher then runs the app on Qt's
offscreen platform in its ``--screenshot`` mode instead: the bundled sample (or the given files)
is fused as in the window, and a picture of the window is saved to ``lumafuse-window.png`` in
the current folder (``-1``, ``-2``... when that exists; nothing is overwritten).

This module sits above the layers (it may import both app.cli and app.ui, which may not import
each other) and imports nothing heavy itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn, Sequence

CLI_FLAGS = ("-h", "--help", "--version")


def wants_cli(argv: Sequence[str]) -> bool:
    """True when ``argv`` (without the program name) is a command-line invocation."""
    from app.cli.main import COMMANDS

    return bool(argv) and (argv[0] in COMMANDS or argv[0] in CLI_FLAGS)


def headless() -> bool:
    """True on Linux when Qt has no display to open a window on and no platform was chosen."""
    if not sys.platform.startswith("linux"):
        return False
    return not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _free_name(path: Path) -> Path:
    """``path``, or ``stem-1.suffix``, ``stem-2.suffix``... whichever does not exist yet."""
    candidate, k = path, 0
    while candidate.exists():
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return candidate


def headless_gui_argv(argv: list[str]) -> list[str]:
    """GUI argv for a machine without a display: offscreen platform, screenshot mode."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if "--screenshot" in argv:
        return argv
    shot = _free_name(Path.cwd() / "lumafuse-window.png")
    sys.stderr.write(
        f"lumafuse: no display found: running the app offscreen and saving a picture of its "
        f"window to {shot} (the command line needs no display: python main.py fuse --help)\n"
    )
    return ["--screenshot", str(shot), *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Route ``argv`` (default ``sys.argv[1:]``) to the CLI or the GUI; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_cli(argv):
        from app.cli.main import main as cli_main

        return cli_main(argv)
    if headless():
        argv = headless_gui_argv(argv)
    try:
        from app.ui.launch import main as gui_main
    except ImportError as exc:
        # Only a missing GUI stack is turned into a hint; other import errors are bugs.
        if exc.name not in ("PySide6", "pyqtgraph", "shiboken6", "app.ui.launch"):
            raise
        sys.stderr.write(
            f"lumafuse: error: the desktop app cannot start ({exc}); the command line works: "
            "lumafuse-cli --help\n"
        )
        return 1
    return int(gui_main(argv) or 0)


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """Process entry point (``python main.py``, the ``lumafuse`` script): :func:`main`, then exit
    with its code. After a command-line run the process ends at once (``os._exit``, streams
    flushed): the interpreter's teardown, freeing every module and image one by one, took
    40 ms of a 1.9 s 3 x 12 MP fusion command and does nothing a finished command needs (its
    outputs are written atomically and closed; worker pools are shut down by then). The GUI
    exits normally."""
    argv = list(sys.argv[1:] if argv is None else argv)
    code = main(argv)
    if not wants_cli(argv):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(int(code or 0))
