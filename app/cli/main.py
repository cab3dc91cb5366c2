"""The command line: ``lumafuse-cli`` / ``python main.py fuse|list-methods|tonemap ...``.

Qt is never imported here (import-linter contract + tests/test_layers.py); torch only when a
learned method runs. Heavy modules are imported inside the command handlers, so ``--help`` and
``list-methods`` start fast. Exit codes are listed in :mod:`app.cli.errors`.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Sequence

from app.cli import errors
from app.cli.progress import ProgressBar

COMMANDS = ("fuse", "batch", "list-methods", "tonemap")
"""Subcommand names; the launcher (app/launcher.py) routes argv starting with one to the CLI."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            errors.EXIT_USAGE,
            f"{errors.PROG}: error: {errors.one_line(message)} (see {self.prog} --help)\n",
        )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lumafuse")
    except Exception:  # not installed (running from a checkout)
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata costs ~25 ms of start-up)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the program's version and exit"):  # noqa: A002 - argparse's name
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"lumafuse {_version()}")  # to stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from app.cli import batch, fuse, list_methods, tonemap

    parser = _Parser(
        prog=errors.PROG,
        description="Lumafuse: bracketed photos to one well-exposed picture (exposure fusion) "
        "or a linear HDR image. Without a command, `python main.py` opens the desktop app.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input/output/usage, "
        "3 method unavailable here, 4 some brackets of a batch failed, 130 cancelled (Ctrl-C), "
        "143 terminated (SIGTERM).",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    fuse.add_parser(sub)
    batch.add_parser(sub)
    list_methods.add_parser(sub)
    tonemap.add_parser(sub)
    return parser


def _context_label(args: argparse.Namespace) -> str:
    """What the command works on, for messages that name no file themselves."""
    names = getattr(args, "inputs", None) or ([args.input] if getattr(args, "input", None) else [])
    if not names:
        return ""
    shown = ", ".join(str(n) for n in names[:3])
    return shown + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")


_NEGATIVE_VALUE_OPTIONS = ("--ev", "--exposure")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--ev -2,0,2`` -> ``--ev=-2,0,2``: argparse would take "-2,0,2" for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a in _NEGATIVE_VALUE_OPTIONS and nxt[:1] == "-" and nxt[1:2] in set("0123456789."):
            out.append(f"{a}={nxt}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: already printed
        return exc.code if isinstance(exc.code, int) else errors.EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return errors.EXIT_USAGE
    if not args.needs_ctx:
        try:
            return args.handler(args)
        except BrokenPipeError:
            return _stdout_closed()
        except BaseException as exc:  # noqa: BLE001 - mapped to one line + exit code
            if isinstance(exc, SystemExit):
                raise
            return errors.report(exc)

    from app.core.progress import TaskContext
    from app.core.allocator import tune_for_one_job
    from app.cli.interrupt import cancel_on_signals

    tune_for_one_job()  # fewer, cheaper page faults for this one job (see app.core.allocator)

    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    ctx = TaskContext(bar)
    state = None
    try:
        with cancel_on_signals(ctx) as state:
            return args.handler(args, ctx)
    except BrokenPipeError:
        return _stdout_closed()
    except BaseException as exc:  # noqa: BLE001 - mapped to one line + exit code
        if isinstance(exc, SystemExit):
            raise
        bar.finish()
        signum = state.signum if state is not None else None
        return errors.report(exc, _context_label(args), names=_named_files(args), signum=signum)
    finally:
        bar.finish()


def _stdout_closed() -> int:
    """stdout closed early (`lumafuse-cli list-methods | head`): not an error; silence the flush
    at interpreter exit too."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return errors.EXIT_OK


def _named_files(args: argparse.Namespace) -> list[str]:
    """The files a command names (inputs and output), so an error message can be checked for
    naming one of them."""
    names = list(getattr(args, "inputs", None) or [])
    for attr in ("input", "output"):
        value = getattr(args, attr, None)
        if isinstance(value, list):  # fuse -o may be repeated
            names.extend(value)
        elif value:
            names.append(value)
    return [str(n) for n in names]


if __name__ == "__main__":  # python -m app.cli.main
    sys.exit(main())
