"""One launcher for ``python main.py`` and the ``lumafuse`` entry point: GUI or CLI by argv.

* a CLI subcommand (``fuse``, ``list-methods``, ``tonemap``) or ``-h``/``--help``/``--version``
  as the first argument -> the command line (:func:`app.cli.main.main`); Qt is never imported;
* anything else (no arguments, image files, ``--screenshot OUT.png``) -> the desktop app
  (:func:`app.ui.launch.main`), imported only then.

This module sits above the layers (it may import both app.cli and app.ui, which may not import
each other) and imports nothing heavy itself.
"""

from __future__ import annotations

import sys
from typing import Sequence

CLI_FLAGS = ("-h", "--help", "--version")


def wants_cli(argv: Sequence[str]) -> bool:
    """True when ``argv`` (without the program name) is a command-line invocation."""
    from app.cli.main import COMMANDS

    return bool(argv) and (argv[0] in COMMANDS or argv[0] in CLI_FLAGS)


def main(argv: Sequence[str] | None = None) -> int:
    """Route ``argv`` (default ``sys.argv[1:]``) to the CLI or the GUI; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_cli(argv):
        from app.cli.main import main as cli_main

        return cli_main(argv)
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
