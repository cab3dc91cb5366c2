"""GUI benchmark: start-up time and tone re-render time on the preview proxy.

    QT_QPA_PLATFORM=offscreen python -m app.bench.gui [--runs 3] [--repeats 15]

1. Time to window visible: ``python main.py --startup-probe`` in a subprocess (interpreter start,
   imports, window construction, first paint), median of ``--runs``; target 1.5 s. Printed next to
   the bare ``python -c "import PySide6.QtWidgets"`` time as the floor no GUI can beat, and the
   time to the first fused result on screen (``--screenshot`` of the bundled sample).
2. Tone re-render per operator: the GUI-thread path of one slider tick
   (``PreviewController.render_now``: render + quantise + pixmap) on an HDR proxy with a 1600 px
   long side, median of ``--repeats``; targets 16 ms (one frame) / 30 ms. The histogram update
   that follows at most every 100 ms while dragging is timed on its own. Global settings take the
   compiled one-pass kernel (``app.core.tonemap.preview_kernel``, warmed up first as the window
   does); the general numpy/OpenCV path (``session.render_u8_general``, render + quantise, no
   pixmap) is timed beside it as the baseline the kernel replaced.
   Local operators run in a background job in the app; their time is shown for reference.
   Baseline in the same run: the same render of the full-size image (long side 4000 px), which
   is what the proxy avoids.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PROXY_SIDE = 1600
FULL_SIDE = 4000


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="lumafuse-bench-")  # no saved geometry
    return env


def startup_times(runs: int) -> dict[str, float]:
    """Median seconds: bare Qt import, window visible, first result drawn (screenshot)."""
    env = _env()
    bare, visible, result = [], [], []
    for _ in range(runs):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets"], env=env, check=True)
        bare.append(time.time() - t0)
        t0 = time.time()
        proc = subprocess.run([sys.executable, "main.py", "--startup-probe"], cwd=REPO, env=env,
                              capture_output=True, text=True, check=True)
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("visible "))
        visible.append(float(line.split()[1]) - t0)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            subprocess.run([sys.executable, "main.py", "--screenshot", f"{tmp}/s.png"], cwd=REPO,
                           env=env, capture_output=True, check=True)
            result.append(time.time() - t0)
    return {"bare_qt_import": statistics.median(bare), "window_visible": statistics.median(visible),
            "first_result": statistics.median(result)}


def _hdr_image(long_side: int) -> np.ndarray:
    """A real HDR radiance map: the bundled sample merged with Debevec, resized to ``long_side``."""
    import cv2

    from app.core.io import load_stack
    from app.models.runner import run
    from app.ui.launch import sample_files

    result = run(load_stack(sample_files()), "debevec")
    h, w = result.image.shape[:2]
    k = long_side / max(h, w)
    return cv2.resize(result.image, (round(w * k), round(h * k)), interpolation=cv2.INTER_LINEAR)  # no overshoot: radiance stays >= 0


def _warm_kernel() -> None:
    """Compile (or load) the preview kernel, as the window does in the background."""
    from app.core.tonemap import preview_kernel

    preview_kernel.warm_up()


def render_times(repeats: int) -> list[dict]:
    from PySide6.QtWidgets import QApplication

    from app.core.tonemap import LOCAL_OPERATORS, OPERATORS
    from app.core.types import Provenance, Result, ResultKind, ToneParams
    from app.ui import session
    from app.ui.jobs import JobRunner
    from app.ui.main_window import MainWindow

    _app = QApplication.instance() or QApplication([])
    window = MainWindow(runner=JobRunner(synchronous=True), restore_geometry=False)
    window.show()
    _warm_kernel()
    proxy = _hdr_image(PROXY_SIDE)
    full = _hdr_image(FULL_SIDE)
    small = session._resize_long_side(proxy, session.HIST_LONG_SIDE)
    rows = []
    cases = [("ldr_fused", None)] + [(name, name) for name in OPERATORS]
    ctl = window.renderer
    for label, tmo in cases:
        kind = ResultKind.LDR_FUSED if tmo is None else ResultKind.HDR_LINEAR
        image = np.clip(proxy, 0, 1) if tmo is None else proxy
        fimage = np.clip(full, 0, 1) if tmo is None else full
        result = Result(image=fimage, kind=kind, provenance=Provenance(method="bench"))
        ctl.set_output(session.MergeOutput(result, image, small))
        local = tmo in LOCAL_OPERATORS
        frame, hist, general = [], [], []
        for i in range(repeats):
            tone = ToneParams(tmo=tmo or "none", exposure_ev=0.3 + 0.01 * i)
            ctl.tone = tone
            if local:  # the background job's work: render + histogram
                t0 = time.perf_counter()
                rgb = session.render_u8(image, kind, tone)
                session.histogram(small, kind, tone, rgb)
                frame.append((time.perf_counter() - t0) * 1000)
                continue
            ctl._hist_due = float("inf")  # a drag tick: preview only, histogram throttled
            t0 = time.perf_counter()
            ctl.render_now()
            frame.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            ctl._update_histogram()
            hist.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            session.render_u8_general(image, kind, tone)
            general.append((time.perf_counter() - t0) * 1000)
        base = []
        for _ in range(max(1, repeats // 5)):
            t0 = time.perf_counter()
            session.render_u8(fimage, kind, ctl.tone)
            base.append((time.perf_counter() - t0) * 1000)
        rows.append({"case": label, "local": local, "proxy_ms": statistics.median(frame),
                     "proxy_min_ms": min(frame), "hist_ms": statistics.median(hist) if hist else 0.0,
                     "general_ms": statistics.median(general) if general else float("nan"),
                     "full_ms": statistics.median(base)})
    window.close()
    return rows


CONTROLS = (
    # (label, ToneParams changes for tick i)
    ("exposure", lambda i: {"exposure_ev": 0.3 + 0.01 * i}),
    ("saturation", lambda i: {"saturation": 1.1 + 0.01 * i}),
    ("temperature", lambda i: {"temperature": 4000.0 + 10 * i}),
    ("tint", lambda i: {"tint": 5.0 + i}),
    ("contrast", lambda i: {"look": {"contrast": 20.0 + i}}),
    ("highlights", lambda i: {"look": {"highlights": -20.0 - i}}),
    ("shadows", lambda i: {"look": {"shadows": 20.0 + i}}),
    ("whites", lambda i: {"look": {"whites": 10.0 + i}}),
    ("blacks", lambda i: {"look": {"blacks": -10.0 - i}}),
    ("vibrance", lambda i: {"look": {"vibrance": 20.0 + i}}),
    ("tone curve", lambda i: {"look": {"curve": ((0.3, 0.25 + 0.005 * i), (0.7, 0.78))}}),
    ("clarity", lambda i: {"look": {"clarity": 20.0 + i}}),
)


def control_times(repeats: int) -> list[dict]:
    """One slider tick per control (the GUI-thread path, as render_times), on the fused sample
    (LDR) and on the HDR radiance map with reinhard; clarity runs in the background job."""
    from PySide6.QtWidgets import QApplication

    from app.core.types import Look, Provenance, Result, ResultKind, ToneParams
    from app.ui import session
    from app.ui.jobs import JobRunner
    from app.ui.main_window import MainWindow

    _app = QApplication.instance() or QApplication([])
    window = MainWindow(runner=JobRunner(synchronous=True), restore_geometry=False)
    window.show()
    _warm_kernel()
    hdr = _hdr_image(PROXY_SIDE)
    # float32 like a fused result (float64 would send every tick down the general path)
    ldr = (np.clip(hdr / np.percentile(hdr, 99), 0, 1) ** (1 / 2.2)).astype(np.float32)
    rows = []
    ctl = window.renderer
    for kind, image, tmo in ((ResultKind.LDR_FUSED, ldr, "none"),
                             (ResultKind.HDR_LINEAR, hdr, "reinhard")):
        small = session._resize_long_side(image, session.HIST_LONG_SIDE)
        result = Result(image=image, kind=kind, provenance=Provenance(method="bench"))
        ctl.set_output(session.MergeOutput(result, image, small))
        draft = session._resize_long_side(image, session.DRAFT_LONG_SIDE)
        draft_small = session._resize_long_side(draft, session.DRAFT_SMALL_SIDE)
        ctl.set_output(session.MergeOutput(result, image, small, draft, draft_small))
        for label, change in CONTROLS:
            times, drafts = [], []
            for i in range(repeats):
                values = change(i)
                look = Look(**values.pop("look", {}))
                tone = ToneParams(tmo=tmo, look=look, **values)
                ctl.tone = tone
                ctl._hist_due = float("inf")
                t0 = time.perf_counter()
                if look.is_local:  # the background job's render
                    session.render_u8(image, kind, tone)
                else:
                    ctl.render_now()  # at rest: the full proxy
                times.append((time.perf_counter() - t0) * 1000)
                if not look.is_local:  # a tick on a machine where the proxy is slow: draft
                    ctl.proxy_ms = 1e9
                    t0 = time.perf_counter()
                    ctl.render_now(allow_draft=True)
                    drafts.append((time.perf_counter() - t0) * 1000)
            rows.append({"kind": kind.value, "control": label, "local": look.is_local,
                         "ms": statistics.median(times),
                         "draft_ms": statistics.median(drafts) if drafts else float("nan")})
    window.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="start-up runs (median)")
    parser.add_argument("--repeats", type=int, default=15, help="renders per operator (median)")
    parser.add_argument("--skip-startup", action="store_true", help="only the render timings")
    parser.add_argument("--controls-only", action="store_true",
                        help="only the per-control tick table")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {os.cpu_count()} cores, load average {load:.1f} at start")
    if not args.skip_startup:
        st = startup_times(args.runs)
        print(f"Start-up (median of {args.runs}, subprocess)")
        print("| measure | seconds | target |")
        print("| --- | --- | --- |")
        print(f"| bare `import PySide6.QtWidgets` (floor) | {st['bare_qt_import']:.2f} | |")
        print(f"| window visible | {st['window_visible']:.2f} | 1.5 |")
        print(f"| first fused result drawn (sample) | {st['first_result']:.2f} | |")
    controls = control_times(args.repeats)
    print()
    print(f"One tick of each tone control on the {PROXY_SIDE} px proxy (median of "
          f"{args.repeats}; GUI thread unless marked), target 16 ms")
    print("| control | fused: tick (draft, GUI thread) | fused: proxy at rest | "
          "HDR reinhard: tick (draft) | HDR: proxy at rest | proxy render runs in |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, _ in CONTROLS:
        ldr = next(r for r in controls if r["control"] == label and r["kind"] == "ldr_fused")
        hdr = next(r for r in controls if r["control"] == label and r["kind"] == "hdr_linear")
        where = ("background job" if ldr["local"] else
                 ", ".join(f"{name}: {'GUI thread' if r['ms'] <= 16 else 'background job'}"
                           for name, r in (("fused", ldr), ("HDR", hdr))))
        cell = lambda v: "-" if v != v else f"{v:.1f}"  # NaN: no draft (background)
        print(f"| {label} | {cell(ldr['draft_ms'])} | {ldr['ms']:.1f} | {cell(hdr['draft_ms'])} "
              f"| {hdr['ms']:.1f} | {where} |")
    if args.controls_only:
        return 0
    rows = render_times(args.repeats)
    print()
    print(f"Tone re-render, GUI-thread path on a {PROXY_SIDE} px proxy (median of {args.repeats}) "
          f"vs the same render at {FULL_SIDE} px")
    print(f"| operator | where | proxy ms (median) | proxy ms (min) | + histogram ms | "
          f"general path ms | {FULL_SIDE} px ms | speed-up | target (tick + histogram) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        where = "background job" if r["local"] else "GUI thread"
        tick = r["proxy_ms"] + r["hist_ms"]
        target = "background" if r["local"] else ("ok" if tick <= 16 else
                                                  "< 30 ms" if tick <= 30 else "MISSED")
        hist = f"{r['hist_ms']:.1f}" if not r["local"] else "(in job)"
        general = "-" if r["local"] else f"{r['general_ms']:.1f}"
        print(f"| {r['case']} | {where} | {r['proxy_ms']:.1f} | {r['proxy_min_ms']:.1f} | {hist} | "
              f"{general} | {r['full_ms']:.0f} | "
              f"{r['full_ms'] / r['proxy_ms']:.1f}x | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
