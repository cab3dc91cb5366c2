"""GUI entry point: ``main(argv) -> exit code``.

    lumafuse [FILE_OR_FOLDER ...] [--screenshot OUT.png] [--method ID]

Without files the bundled sample bracket (resources/samples/) is loaded and fused with the
default method, so a new user first sees a result. ``--screenshot`` waits until the first run is
drawn, saves a grab of the whole window and exits: 0 on success, 1 when anything failed (a file
that did not load, a failed run, a timeout). Works with QT_QPA_PLATFORM=offscreen.

Start-up stays light: only Qt, numpy and the method registry are imported before the window is
shown; readers, methods and torch load later inside worker threads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "resources" / "samples"
SCREENSHOT_TIMEOUT_S = 300


def sample_files() -> list[str]:
    """The bundled sample bracket: every image file in resources/samples/ (sorted)."""
    from app.ui.session import expand_paths

    return expand_paths([SAMPLES_DIR]) if SAMPLES_DIR.is_dir() else []


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lumafuse", description="Lumafuse desktop app: fuse bracketed photos or merge HDR."
    )
    parser.add_argument("files", nargs="*", help="photos or folders to open (default: sample)")
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path,
                        help="save a screenshot of the window once the first result is drawn, then exit")
    parser.add_argument("--method", help="method to run first (default: mertens)")
    parser.add_argument("--timeout", type=float, default=SCREENSHOT_TIMEOUT_S,
                        help="seconds --screenshot waits for the result (default %(default)s)")
    # Benchmark probe (app/bench/gui.py): print the wall-clock time once the window is on
    # screen and the event loop has painted it, then exit.
    parser.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from app.ui import settings as settings_mod

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(settings_mod.ORGANISATION)
    app.setApplicationName(settings_mod.APPLICATION)
    # A screenshot (a headless, scripted run) has a fixed, documented size and the default
    # settings, and leaves the user's settings and Open Recent list untouched: it works on a
    # throw-away settings file.
    scratch = None
    settings = None
    if args.screenshot is not None:
        import tempfile

        from PySide6.QtCore import QSettings

        scratch = tempfile.TemporaryDirectory(prefix="lumafuse-screenshot-")
        settings = settings_mod.Settings(
            QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.Format.IniFormat))
    try:
        return _run_window(app, args, settings)
    finally:
        if scratch is not None:
            scratch.cleanup()


def _run_window(app, args: argparse.Namespace, settings) -> int:
    from PySide6.QtCore import QTimer

    from app.ui.main_window import MainWindow

    # a one-shot screenshot run never needs torch unless its method does (then it loads it)
    interactive = args.screenshot is None
    window = MainWindow(settings=settings, restore_geometry=interactive, warm_up=interactive)
    if args.method:
        if not window.method.set_method(args.method):
            print(f"lumafuse: method {args.method!r} is unknown or cannot run here", file=sys.stderr)
            return 2
        window.requested_method = args.method  # refused, not replaced, if the files don't fit
    files = args.files or sample_files()
    if not files:
        window.messages.show_message(
            f"No sample bracket found in {SAMPLES_DIR}: drop photos here or use File > Open",
            level="info",
        )
    if args.startup_probe:
        window.show()
        return _probe(app, window)
    window.show()
    if files:
        QTimer.singleShot(0, lambda: window.open_files(files))
    if args.screenshot is None:
        return app.exec()
    return _screenshot(app, window, args.screenshot, args.timeout, has_files=bool(files))


def _probe(app, window) -> int:
    """Print ``visible <time.time()>`` when the window first paints, then quit."""
    import time

    from PySide6.QtCore import QEvent, QObject, QTimer

    class PaintWatch(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and not getattr(self, "seen", False):
                self.seen = True
                print(f"visible {time.time():.6f}", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    watch = PaintWatch()
    window.installEventFilter(watch)
    window.update()
    QTimer.singleShot(10000, app.quit)  # never hang a benchmark
    app.exec()
    window.removeEventFilter(watch)
    window.close()
    return 0 if getattr(watch, "seen", False) else 1


PRESET_WAIT_MS = 5000


def _screenshot(app, window, out: Path, timeout_s: float, *, has_files: bool) -> int:
    """Grab the window once the first result is drawn; exit code 0 only if nothing failed."""
    from PySide6.QtCore import QTimer

    state = {"code": 1}

    def finish(code: int, reason: str = "") -> None:
        if reason:
            print(f"lumafuse --screenshot: {reason}", file=sys.stderr)
        state["code"] = code
        window.close()
        app.quit()

    def grab() -> None:
        app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            finish(1, f"could not write {out}")
            return
        problems = "; ".join(window.errors)
        finish(1 if problems else 0, f"errors shown in the window: {problems}" if problems else "")

    def grab_when_settled(waited_ms: int = 0) -> None:
        # the layout and the histogram settle in a short delay; the preset strip's thumbnails
        # come from a background job after the result: wait for them (a user sees them a
        # moment later), at most PRESET_WAIT_MS
        if window.preset_strip.count() == 0 and waited_ms < PRESET_WAIT_MS:
            QTimer.singleShot(100, lambda: grab_when_settled(waited_ms + 100))
            return
        grab()

    window.preview_ready.connect(lambda: QTimer.singleShot(200, grab_when_settled))
    window.failed.connect(lambda msg: QTimer.singleShot(200, lambda: finish(1, msg)))
    if not has_files:
        QTimer.singleShot(500, lambda: finish(1, "no files to open"))
    QTimer.singleShot(round(timeout_s * 1000), lambda: finish(1, f"no result after {timeout_s:g} s"))
    app.exec()
    return state["code"]


if __name__ == "__main__":
    sys.exit(main())
