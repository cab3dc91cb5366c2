#!/usr/bin/env python3
"""Lumafuse: ``python main.py`` opens the desktop app; ``python main.py COMMAND ...`` runs the CLI.

Routing lives in app/launcher.py (shared with the ``lumafuse`` entry point): a CLI subcommand
(fuse, list-methods, tonemap) or -h/--help/--version goes to the command line without importing
Qt; no arguments, image files or GUI flags (--screenshot) open the window.
"""

import sys

from app.launcher import run

if __name__ == "__main__":
    run(sys.argv[1:])
