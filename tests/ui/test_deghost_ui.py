"""Deghosting in the window: the reference frame in the strip, the ghost-map overlay and the
painted reference mask, each through undo, sessions and the next run's provenance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.synthetic import photograph
from tests.ui.conftest import drop_files

H, W = 200, 320
TIMES = (1 / 8, 1 / 2, 2.0)
BOX = 40
SPOTS = ((80, 30), (80, 140), (80, 250))  # top-left (y, x) of the moving square in frames 0..2


def _radiance(seed: int = 5) -> np.ndarray:
    """A textured scene (about 6 EV, smooth blobs + fine pattern), float32 HxWx3 linear."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((H, W)).astype(np.float32), (0, 0), 6)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    pattern = 1.0 + 0.3 * np.sin(xx / 2.5) * np.cos(yy / 3.5)
    lum = np.exp2(-5.0 + 6.0 * noise) * pattern
    return (lum[..., None] * np.float32([1.0, 0.85, 0.7])).astype(np.float32)


@pytest.fixture
def moving_bracket(tmp_path):
    """Three exposures of a textured scene with a high-contrast chequered square at a different
    place in each (something moved between the shots), as 8-bit PNGs."""
    import cv2

    base = _radiance()
    checks = (np.indices((BOX, BOX)) // 8).sum(axis=0) % 2 == 0
    square = np.where(checks[..., None], np.float32([1.6, 0.2, 0.1]), np.float32(0.004))
    folder = tmp_path / "moving"
    folder.mkdir()
    paths = []
    for k, (t, (y, x)) in enumerate(zip(TIMES, SPOTS)):
        rad = base.copy()
        rad[y:y + BOX, x:x + BOX] = square
        frame = photograph(rad, (t,))[0]
        p = folder / f"shot_{k}.png"
        cv2.imwrite(str(p), np.round(frame[..., ::-1] * 255).astype(np.uint8))
        paths.append(p)
    return paths


def _load(window, paths):
    drop_files(window.stack, paths)
    assert window.errors == [] and len(window.frames) == 3
    assert window.output is not None
    assert window.method.method_id() == "mertens"


def _params(window) -> dict:
    return window.output.result.provenance.params


def test_params_panel_shows_the_deghost_choice_as_a_combo(window):
    from PySide6.QtWidgets import QComboBox

    window.method.set_method("mertens")
    editor = window.method.form.editor("deghost")
    assert isinstance(editor, QComboBox)
    assert [editor.itemText(i) for i in range(editor.count())] == ["auto", "on", "off"]
    editor.setCurrentText("off")
    assert window.method.params()["deghost"] == "off"
    # presets and sessions keep the choice ("off" is not the recipe's deghost switch)
    from app.ui import presets

    assert presets.window_recipe(window).run_params("mertens")["deghost"] == "off"


def test_reference_frame_badge_run_undo_and_session(window, moving_bracket, tmp_path):
    _load(window, moving_bracket)
    stack = window.stack
    assert stack.reference_index() == 1 and window.reference_index() == 1  # the middle frame
    assert _params(window)["reference"] == 2  # 1-based in the provenance

    stack.cards[0].ref.click()  # the REF button of the darkest frame
    assert stack.reference_index() == 0 and stack.cards[0].is_reference()
    assert not stack.cards[1].is_reference()
    assert _params(window)["reference"] == 1
    assert window.history.stack.text(window.history.stack.index() - 1).startswith("Reference")

    window.history.stack.undo()
    assert stack.reference_index() == 1 and _params(window)["reference"] == 2
    window.history.stack.redo()
    assert stack.reference_index() == 0 and _params(window)["reference"] == 1

    # the reference follows its frame when the strip is reordered
    window._on_stack_move_requested(0, 1)
    assert window.frames[1].name == "shot_0.png" and stack.reference_index() == 1
    window._on_stack_move_requested(1, -1)
    window.run_method()
    assert _params(window)["reference"] == 1

    path = window.save_session(tmp_path / "ref")
    assert "[deghost]" in path.read_text() and "reference = 1" in path.read_text()
    window.stack.cards[2].ref.click()
    assert _params(window)["reference"] == 3
    window.open_session(path)
    assert window.errors == []
    assert stack.reference_index() == 0 and _params(window)["reference"] == 1

    # a session without a [deghost] table (written before deghosting) opens with the default
    old = tmp_path / "old.lumafuse"
    old.write_text("\n".join(line for line in path.read_text().splitlines()
                             if not line.startswith(("[deghost]", "reference ="))) + "\n")
    window.open_session(old)
    assert window.errors == []
    assert stack.reference_index() == 1 and _params(window)["reference"] == 2


def test_ghost_overlay_marks_the_moving_square(window, moving_bracket):
    _load(window, moving_bracket)
    assert "ghost_map" not in window.output.result.notes
    assert not window.overlay.ghost_shown()

    window.ghost_action.setChecked(True)  # View > Show ghost map: re-runs for the map
    notes = window.output.result.notes
    ghost = notes["ghost_map"]
    assert window.overlay.ghost_shown() and window.deghost.show_ghosts.isChecked()
    gh, gw = ghost.shape
    assert abs(gw / gh - W / H) < 0.02
    sy, sx = gh / H, gw / W
    inside = np.zeros((gh, gw), bool)
    for y, x in SPOTS:
        inside[round(y * sy):round((y + BOX) * sy), round(x * sx):round((x + BOX) * sx)] = True
    # the square moved: frames disagree where it is in any frame; the rest is static
    for y, x in SPOTS:
        spot = ghost[round((y + 8) * sy):round((y + BOX - 8) * sy),
                     round((x + 8) * sx):round((x + BOX - 8) * sx)]
        assert float(spot.mean()) > 0.5, (y, x, float(spot.mean()))
    grown = np.zeros_like(inside)
    for y, x in SPOTS:  # leave a margin round the squares for the map's smoothing
        grown[max(0, round((y - 16) * sy)):round((y + BOX + 16) * sy),
              max(0, round((x - 16) * sx)):round((x + BOX + 16) * sx)] = True
    assert float(ghost[~grown].mean()) < 0.05
    share = notes["motion_share"]
    assert 0.02 < share < 0.3
    text = f"motion in {100 * share:.1f} % of the picture"
    assert text in window.status_label.text()
    assert window.deghost.motion.text() == text

    window.deghost.show_ghosts.setChecked(False)  # the panel's box drives the same action
    assert not window.ghost_action.isChecked() and not window.overlay.ghost_shown()
    assert window.deghost.motion.text() == ""


def _drag(view, start: tuple[float, float], end: tuple[float, float], button=Qt.MouseButton.LeftButton):
    """Drag on the preview between two points given as fractions of the shown result."""
    rect = view.scene().sceneRect()

    def at(frac):
        return view.mapFromScene(frac[0] * rect.width(), frac[1] * rect.height())

    vp = view.viewport()
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, at(start))
    a, b = at(start), at(end)
    for k in range(1, 6):
        p = QPoint(round(a.x() + (b.x() - a.x()) * k / 5), round(a.y() + (b.y() - a.y()) * k / 5))
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, b)


def test_painting_strokes_mask_the_run_undo_clear_export_session(window, moving_bracket, tmp_path):
    _load(window, moving_bracket)
    window.method.form.set_values({"deghost": "off"})  # only the painted mask deghosts
    window.run_method()
    plain = window.output.result.image.copy()
    assert "reference_mask" not in _params(window)

    window.deghost.paint.setChecked(True)
    assert window.overlay.painting
    # over the square's place in the darkest frame, left to right
    y0 = (SPOTS[0][0] + BOX / 2) / H
    _drag(window.preview.view, ((SPOTS[0][1] + 5) / W, y0), ((SPOTS[0][1] + BOX - 5) / W, y0))
    assert len(window.strokes) == 1
    radius, points, erase = window.strokes[0]
    assert not erase and radius == pytest.approx(window.deghost.brush_radius())
    xs = [x for x, _y in points]
    assert xs[0] == pytest.approx((SPOTS[0][1] + 5) / W, abs=0.02)
    assert xs[-1] == pytest.approx((SPOTS[0][1] + BOX - 5) / W, abs=0.02)
    assert all(y == pytest.approx(y0, abs=0.02) for _x, y in points)
    assert window.overlay.mask_shown()
    assert "reference_mask" in _params(window)
    masked = window.output.result.image
    y, x = SPOTS[0]
    inside = np.abs(masked - plain)[y + 10:y + BOX - 10, x + 10:x + BOX - 10].mean()
    outside = np.abs(masked - plain)[:, 200:].mean()
    assert inside > 0.02 and inside > 10 * outside, (inside, outside)

    # a second stroke through the overlay's API, then a right-drag erase: one step each
    window.overlay.begin_stroke(0.8, 0.2)
    window.overlay.extend_stroke(0.9, 0.25)
    window.overlay.end_stroke()
    _drag(window.preview.view, (0.8, 0.2), (0.9, 0.25), Qt.MouseButton.RightButton)
    assert [s[2] for s in window.strokes] == [False, False, True]
    history = window.history.stack
    labels = [history.text(i) for i in range(history.count())]
    assert labels[-3:] == ["Paint stroke", "Paint stroke", "Erase stroke"]
    history.undo()
    history.undo()
    assert len(window.strokes) == 1 and "reference_mask" in _params(window)

    # File > Export writes the result made with the mask (full size, same reference)
    out = tmp_path / "out.png"
    window.export_to(out, "png8")
    from PIL import Image

    text = Image.open(out).text.get("lumafuse:params", "")
    assert "'reference_mask'" in text and "'reference': 2" in text

    path = window.save_session(tmp_path / "painted")
    saved = path.read_text()
    assert "[[deghost.strokes]]" in saved and "points" in saved
    strokes = window.strokes
    window.clear_mask()
    assert window.strokes == () and "reference_mask" not in _params(window)
    assert not window.overlay.mask_shown()
    assert history.text(history.index() - 1) == "Clear mask"
    history.undo()
    assert window.strokes == strokes and "reference_mask" in _params(window)
    window.clear_mask()

    window.open_session(path)
    assert window.errors == []
    assert window.strokes == strokes
    assert "reference_mask" in _params(window) and window.overlay.mask_shown()
    np.testing.assert_allclose(window.output.result.image, masked, atol=1e-6)

    # a new bracket starts without a mask and with the default reference
    window.stack.cards[0].ref.click()
    drop_files(window.stack, moving_bracket)
    assert window.strokes == () and window.reference_index() == 1
    assert "reference_mask" not in _params(window) and _params(window)["reference"] == 2


def test_undo_never_brings_a_mask_onto_another_bracket(window, moving_bracket):
    _load(window, moving_bracket)
    window.add_stroke(0.05, [(0.2, 0.5), (0.4, 0.5)])
    assert len(window.strokes) == 1
    drop_files(window.stack, moving_bracket)  # a new bracket: mask and reference reset
    assert window.strokes == ()
    window.tone.set_params(replace(window.tone.params(), exposure_ev=0.5))
    window.history.record()
    history = window.history.stack
    while history.canUndo():  # back past the load, to before the painted step
        history.undo()
        assert window.strokes == ()
    history.redo()  # the paint step, from the bracket before: its mask stays with that bracket
    assert history.text(history.index() - 1) == "Paint stroke" and window.strokes == ()
    assert "reference_mask" not in _params(window)
