"""The preview's compiled one-pass tick (app.core.tonemap.preview_kernel) against the export's
own path (render + 8-bit quantisation): the same pixels within one 8-bit step, on a synthetic
20-EV scene and on a real photograph, for every global setting it takes (white balance and
saturation included); None (general path) for the rest; one compiled signature for all; safe from several threads."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from app.core.io import read_frame
from app.core.tonemap import preview_kernel, render, srgb_decode, to_uint
from app.core.types import Look, ResultKind, ToneParams
from app.ui.launch import sample_files
from tests.core.tonemap.conftest import hdr_scene

HDR, LDR = ResultKind.HDR_LINEAR, ResultKind.LDR_FUSED


@pytest.fixture(scope="module", autouse=True)
def compiled():
    preview_kernel.warm_up()
    assert preview_kernel.ready()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photograph (the bundled sample's middle frame), display sRGB float32 [0, 1]."""
    files = sample_files()
    img, _ = read_frame(files[len(files) // 2])
    h, w = img.shape[:2]
    k = 400 / max(h, w)
    small = cv2.resize(img, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, np.float32)


def _export_pixels(image, kind, tone) -> np.ndarray:
    return to_uint(render(image, kind, tone), 8)


def _assert_same(image, kind, tone, max_share=2e-3):
    got = preview_kernel.render_u8(image, kind, tone)
    assert got is not None and got.dtype == np.uint8 and got.shape == image.shape
    want = _export_pixels(image, kind, tone)
    diff = np.abs(got.astype(np.int16) - want)
    assert diff.max() <= 1, (tone, diff.max())
    assert np.mean(diff > 0) <= max_share, (tone, np.mean(diff > 0))


LOOKS = [
    Look(),
    Look(contrast=45.0, shadows=30.0),
    Look(highlights=-60.0, whites=35.0, blacks=-25.0),
    Look(blacks=40.0),  # lifts black: the curve's black level becomes grey
    Look(vibrance=-50.0),
    Look(vibrance=70.0, contrast=-30.0, curve=((0.25, 0.18), (0.7, 0.8))),
]


@pytest.mark.parametrize("tmo", ["none", "reinhard", "drago", "filmic"])
@pytest.mark.parametrize("ev", [-3.0, 0.0, 2.5])
def test_hdr_operators_match_the_export(tmo, ev):
    scene = hdr_scene()
    _assert_same(scene, HDR, ToneParams(tmo=tmo, exposure_ev=ev))


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("gamma", [0.0, 2.2])
def test_looks_and_gamma_on_hdr_match_the_export(look, gamma):
    tone = ToneParams(tmo="drago", exposure_ev=0.7, gamma=gamma, saturation=1.3, look=look,
                      tmo_params={"bias": 0.7})
    _assert_same(hdr_scene(seed=3), HDR, tone)


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("ev,saturation", [(0.0, 1.0), (-1.3, 1.0), (0.8, 0.4), (0.0, 1.8)])
def test_real_photo_as_fused_result_matches_the_export(photo, look, ev, saturation):
    _assert_same(photo, LDR, ToneParams(exposure_ev=ev, saturation=saturation, look=look))


def test_real_photo_as_radiance_matches_the_export(photo):
    radiance = np.ascontiguousarray(srgb_decode(photo) * np.float32(8.0))
    for tmo in ("reinhard", "filmic"):
        _assert_same(radiance, HDR, ToneParams(tmo=tmo, exposure_ev=-0.4,
                                               look=Look(contrast=25.0, vibrance=20.0)))


@pytest.mark.parametrize("temperature,tint", [(3200.0, 0.0), (6504.0, 25.0), (9000.0, -40.0)])
@pytest.mark.parametrize("saturation", [1.0, 0.5, 1.6])
def test_white_balance_and_saturation_match_the_export(photo, temperature, tint, saturation):
    radiance = np.ascontiguousarray(srgb_decode(photo) * np.float32(4.0))
    tone = dict(temperature=temperature, tint=tint, saturation=saturation, exposure_ev=0.3)
    _assert_same(photo, LDR, ToneParams(**tone))
    _assert_same(radiance, HDR, ToneParams(tmo="reinhard", **tone))
    _assert_same(hdr_scene(), HDR, ToneParams(tmo="drago", look=Look(contrast=20.0), **tone))


def test_sweeping_every_8_bit_code_through_the_srgb_toe():
    """Every display code 0..255 (and between) as an LDR result pushed +-2 EV: the toe's
    polynomial and the power segment meet without a step."""
    ramp = np.linspace(0.0, 1.0, 256 * 16, dtype=np.float32)
    img = np.ascontiguousarray(np.repeat(ramp[None, :, None], 3, axis=2))
    for ev in (-2.0, -0.5, 0.0, 0.5, 2.0):
        _assert_same(img, LDR, ToneParams(exposure_ev=ev), max_share=1e-2)


def test_settings_it_does_not_take_fall_back_to_the_general_path():
    scene = hdr_scene()
    assert preview_kernel.render_u8(scene, HDR, ToneParams(tmo="reinhard_local")) is None
    assert preview_kernel.render_u8(scene, HDR, ToneParams(tmo="mantiuk")) is None
    assert preview_kernel.render_u8(scene, HDR, ToneParams(look=Look(clarity=30.0))) is None
    assert preview_kernel.render_u8(scene.astype(np.float64), HDR, ToneParams()) is None
    assert preview_kernel.render_u8(scene, HDR, ToneParams()) is not None


def test_images_larger_than_a_proxy_take_the_general_path(monkeypatch):
    scene = hdr_scene()
    assert preview_kernel.render_u8(scene, HDR, ToneParams()) is not None
    monkeypatch.setattr(preview_kernel.fastpath, "CACHE_MAX_PIXELS", scene.shape[0] * scene.shape[1] - 1)
    assert preview_kernel.render_u8(scene, HDR, ToneParams()) is None


def test_nothing_before_the_kernel_is_compiled(monkeypatch):
    monkeypatch.setattr(preview_kernel, "_ready", threading.Event())
    assert not preview_kernel.ready()
    assert preview_kernel.render_u8(hdr_scene(), HDR, ToneParams()) is None


def test_one_compiled_signature_serves_every_setting(photo):
    scene = hdr_scene()
    for look in LOOKS:
        for gamma in (0.0, 1.8):
            preview_kernel.render_u8(scene, HDR, ToneParams(tmo="filmic", gamma=gamma, look=look))
            preview_kernel.render_u8(photo, LDR, ToneParams(gamma=gamma, look=look))
    assert len(preview_kernel._kernel.signatures) == 1  # nothing compiled on a GUI tick


def test_concurrent_calls_give_the_serial_result():
    scenes = [hdr_scene(seed=s) for s in range(4)]
    tones = [ToneParams(tmo=t, exposure_ev=0.3 * i) for i, t in
             enumerate(("reinhard", "drago", "filmic", "none"))]
    serial = [preview_kernel.render_u8(s, HDR, t) for s, t in zip(scenes, tones)]
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for _ in range(5):
            results[k] = preview_kernel.render_u8(scenes[k], HDR, tones[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_array_equal(results[k], serial[k])


def test_a_failed_compile_leaves_the_general_path_with_a_warning(monkeypatch):
    import app.core.tonemap.preview_jit as jit

    monkeypatch.setattr(preview_kernel, "_ready", threading.Event())
    monkeypatch.setattr(preview_kernel, "_kernel", None)

    class Broken:
        def __call__(self, *args):
            raise RuntimeError("no LLVM here")

    monkeypatch.setattr(jit, "rows", Broken())
    with pytest.warns(RuntimeWarning, match="general path"):
        preview_kernel.warm_up_in_background().join()
    assert not preview_kernel.ready()
    assert preview_kernel.render_u8(hdr_scene(), HDR, ToneParams()) is None
