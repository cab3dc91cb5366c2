"""HDRCNN: architecture, mask and blend formulas, inference wrapper, weights, golden output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.errors import Cancelled, InputError, WeightsError  # noqa: E402
from app.core.io import read_exr, write_exr  # noqa: E402
from app.core.progress import TaskContext  # noqa: E402
from app.core.types import ExposureStack, FrameInfo  # noqa: E402
from app.models import hdrcnn, weights  # noqa: E402
from app.models.hdrcnn_net import ARCH_ID, SkipFuse, UpBlock, channels, log_transform  # noqa: E402
from app.models.runner import run  # noqa: E402

GOLDEN = Path(__file__).parent / "data" / "hdrcnn_golden.npz"


def golden_input() -> np.ndarray:
    """A 48x80 display [0,1] test card: smooth ramps, texture and a clipped bright disc."""
    yy, xx = np.mgrid[0:48, 0:80].astype(np.float32)
    base = 0.15 + 0.6 * xx / 79.0 + 0.05 * np.sin(yy / 2.0)
    img = np.stack([base, base * 0.9, base * 0.7], axis=-1)
    disc = (yy - 20) ** 2 + (xx - 55) ** 2 < 12**2
    img[disc] = 1.0
    halo = ((yy - 20) ** 2 + (xx - 55) ** 2 < 16**2) & ~disc
    img[halo] = np.maximum(img[halo], 0.93)
    return np.round(np.clip(img, 0, 1) * 255) / 255


@pytest.mark.parametrize("hw", [(32, 32), (64, 96), (128, 64), (96, 160)])
def test_output_shape_matches_input(hw):
    model = hdrcnn.build_model(width=0.125).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, *hw))
    assert y.shape == (2, 3, *hw)
    assert torch.isfinite(y).all()


def test_sizes_not_multiple_of_32_are_refused_by_the_network():
    with pytest.raises(ValueError, match="multiple of 32"):
        hdrcnn.build_model(width=0.125)(torch.rand(1, 3, 40, 64))


def test_width_multiplier_scales_the_vgg_channels():
    assert channels(1.0) == (64, 128, 256, 512, 512)
    assert channels(0.25) == (16, 32, 64, 128, 128)
    small = sum(p.numel() for p in hdrcnn.build_model(width=0.25).parameters())
    big = sum(p.numel() for p in hdrcnn.build_model(width=0.5).parameters())
    assert 3.5 < big / small < 4.5  # conv parameters grow with the square of the width


def test_skip_fusion_starts_as_a_sum_of_decoder_and_log_encoder():
    fuse = SkipFuse(5)
    d, e = torch.randn(1, 5, 8, 8), torch.rand(1, 5, 8, 8)
    torch.testing.assert_close(fuse(d, e), d + torch.log(e * e + 1 / 255))
    torch.testing.assert_close(log_transform(torch.tensor([0.0, 1.0])),
                               torch.log(torch.tensor([1 / 255, 1 + 1 / 255])))


def test_upsampling_starts_bilinear():
    up = UpBlock(3, 3)
    x = torch.rand(1, 3, 8, 8)
    y = up.deconv(x)
    ref = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2], atol=1e-5, rtol=1e-5)


def test_saturation_mask_formula():
    x = np.zeros((1, 5, 3), np.float32)
    x[0, :, 1] = [0.5, 0.95, 0.96, 0.975, 1.0]  # the max channel decides
    a = hdrcnn.saturation_mask(x)[0, :, 0]
    np.testing.assert_allclose(a, [0.0, 0.0, 0.2, 0.5, 1.0], atol=1e-5)


def test_blend_formula_on_constructed_inputs():
    x = np.array([[[0.5, 0.4, 0.3], [0.975, 0.5, 0.5], [1.0, 1.0, 1.0]]], np.float32)
    y = np.log(np.full_like(x, 4.0) + hdrcnn.EPS)  # the network says: radiance 4
    h = hdrcnn.blend(x, y)
    np.testing.assert_allclose(h[0, 0], x[0, 0] ** 2, rtol=1e-6)  # unsaturated: x^2 only
    np.testing.assert_allclose(h[0, 1], 0.5 * x[0, 1] ** 2 + 0.5 * 4.0, rtol=1e-5)
    np.testing.assert_allclose(h[0, 2], 4.0, rtol=1e-5)  # fully saturated: the prediction


def test_prepare_input_scale_and_gamma():
    x = np.array([[[0.25, 0.5, 0.8]]], np.float32)
    np.testing.assert_allclose(hdrcnn.prepare_input(x, scale=2.0), [[[0.5, 1.0, 1.0]]])
    np.testing.assert_allclose(hdrcnn.prepare_input(x, gamma=2.0), np.sqrt(x), rtol=1e-6)


def test_reconstruct_any_size_at_reduced_network_scale():
    model = hdrcnn.build_model(width=0.125).eval()
    x = golden_input()[:45, :71]  # odd size, network at long side 40 (padded to 64)
    out = hdrcnn.reconstruct(model, x, TaskContext(), net_size=40)
    assert out.shape == x.shape and out.dtype == np.float32 and out.min() >= 0
    unsat = np.max(x, axis=2) <= hdrcnn.TAU
    np.testing.assert_allclose(out[unsat], x[unsat] ** 2, rtol=1e-6)
    assert hdrcnn.net_shape(3000, 4000, 1024) == (768, 1024)


def test_cancel_between_blend_strips(monkeypatch):
    monkeypatch.setattr(hdrcnn, "STRIP_ROWS", 8)
    model = hdrcnn.build_model(width=0.125).eval()
    seen = []

    def progress(f, msg):
        seen.append(msg)
        if msg == "hdrcnn: blend":
            ctx.cancel()

    ctx = TaskContext(progress)
    with pytest.raises(Cancelled):
        hdrcnn.reconstruct(model, golden_input(), ctx)
    assert seen.count("hdrcnn: blend") == 1


def _stack(frames, linear=False):
    return ExposureStack(frames=tuple(frames), infos=tuple(FrameInfo(path=f"in{i}.png")
                                                           for i in range(len(frames))),
                         linear=linear)


def test_entry_refuses_linear_input_and_several_frames():
    x = golden_input()
    with pytest.raises(InputError, match="display-referred"):
        hdrcnn.run_hdrcnn(_stack([x], linear=True), {}, TaskContext(), "cpu")
    with pytest.raises(InputError, match="one photo"):
        hdrcnn.run_hdrcnn(_stack([x, x]), {}, TaskContext(), "cpu")


@pytest.fixture
def exported(tmp_path, monkeypatch):
    """A random-init model exported to a temporary weights folder."""
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    model = hdrcnn.build_model(width=0.125)
    digest = weights.export("hdrcnn", model.state_dict(), arch=ARCH_ID,
                            hparams={"width": 0.125}, file="hdrcnn-test.safetensors")
    return tmp_path / "hdrcnn-test.safetensors", model, digest


def test_strict_loading_round_trips_the_exported_weights(exported):
    path, model, digest = exported
    loaded, got = hdrcnn.load_model("cpu")
    assert got == digest and loaded.width == 0.125
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)


def test_numpy_network_computes_what_the_torch_module_computes(exported):
    """The CPU path (numpy, no torch import) is the torch module's function: the same arrays,
    the same log HDR to float rounding (zero padding, BatchNorm folded, transposed convs as
    sub-pixel convs), at the smallest size (a 1x1 latent) and at a non-square one."""
    _path, model, digest = exported
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them is tested
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.uniform_(-0.2, 0.2)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    weights.export("hdrcnn", model.state_dict(), arch=ARCH_ID, hparams={"width": 0.125},
                   file="hdrcnn-test.safetensors")
    net, got = hdrcnn.load_numpy_model()
    model.eval()
    rng = np.random.default_rng(2)
    for hw in ((32, 32), (64, 160)):
        x = rng.uniform(0, 1, (*hw, 3)).astype(np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])[0].numpy()
        y = net(x)
        assert y.shape == (*hw, 3) and y.dtype == np.float32
        np.testing.assert_allclose(y, ref.transpose(1, 2, 0), atol=2e-5)
    with pytest.raises(ValueError, match="multiple of 32"):
        net(np.zeros((40, 64, 3), np.float32))


def test_cpu_reconstruction_does_not_import_torch(tmp_path):
    """`fuse -m hdrcnn` on the CPU never imports torch (2-3.5 s of every command here), and
    its output is the shipped network's (the same EXR as the torch module gives)."""
    import subprocess
    import sys

    x = golden_input()
    src = tmp_path / "photo.png"
    import cv2

    cv2.imwrite(str(src), np.round(x[..., ::-1] * 255).astype(np.uint8))
    probe = ("import os, sys, runpy; sys.argv = ['main.py', 'fuse', *sys.argv[1:]]\n"
             # a command ends with os._exit (app.launcher.run): look at sys.modules first
             "def _exit(code):\n    raise SystemExit(code)\nos._exit = _exit\n"
             "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
             "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, str(src), "-m", "hdrcnn", "-o",
                          str(tmp_path / "o.exr"), "-q"], cwd=Path(hdrcnn.__file__).parents[2],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    got, _ = read_exr(tmp_path / "o.exr")
    model, _digest = hdrcnn.load_model("cpu")
    want = hdrcnn.reconstruct(model, x, TaskContext())
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-4)  # (half floats in the file)


def test_hash_mismatch_is_refused(exported):
    path = exported[0]
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="sha256"):
        hdrcnn.load_model("cpu")
    with pytest.raises(WeightsError, match="sha256"):
        hdrcnn.load_numpy_model()


def test_missing_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    sd = hdrcnn.build_model(width=0.125).state_dict()
    sd.pop("head.weight")
    weights.export("hdrcnn", sd, arch=ARCH_ID, hparams={"width": 0.125})
    with pytest.raises(WeightsError, match="do not fit"):
        hdrcnn.load_model("cpu")
    with pytest.raises(WeightsError, match="does not hold the hdrcnn network .*head.weight"):
        hdrcnn.load_numpy_model()


# what the golden file was written with
PAPER_V1 = {"highlights": "paper", "net_size": 1024, "peak": 1.0}


def test_golden_output_of_the_shipped_weights(tmp_path):
    """Shipped weights on a constructed test card vs the checked-in output (float32 CPU;
    tolerance 1e-3 relative for BLAS differences), and the recovered highlights exceed 1."""
    ok, reason = weights.status("hdrcnn")
    assert ok, reason
    result = run(_stack([golden_input()]), "hdrcnn", PAPER_V1, device="cpu")
    want = np.load(GOLDEN)
    assert result.provenance.weights_sha256 == str(want["sha256"])
    np.testing.assert_allclose(result.image, want["output"], rtol=1e-3, atol=1e-5)
    x = golden_input()
    full = hdrcnn.saturation_mask(x)[..., 0] >= 1.0
    assert result.image[full].mean() > 1.0  # clipped highlights are reconstructed above 1.0
    # EXR round trip of the prediction (half floats: relative error <= 2^-11)
    path = write_exr(tmp_path / "pred.exr", result.image, result.provenance)
    back, header = read_exr(path)
    np.testing.assert_allclose(back, result.image, rtol=1e-3, atol=1e-6)


def test_peak_raises_only_what_lies_above_the_clip_level():
    """peak scales the predicted log radiance above the clip level: the reconstructed
    highlights get brighter (log H x peak where H > 1), every unclipped pixel stays x^2, and the
    default is the measured PEAK."""
    ok, reason = weights.status("hdrcnn")
    assert ok, reason
    x = golden_input()
    plain = run(_stack([x]), "hdrcnn", {"peak": 1.0}, device="cpu").image
    default = run(_stack([x]), "hdrcnn", {}, device="cpu")
    assert default.provenance.params["peak"] == hdrcnn.PEAK > 1.0
    boosted = default.image
    measured = x.max(axis=2) < hdrcnn.TAU
    np.testing.assert_array_equal(boosted[measured], plain[measured])
    above = plain > 1.05
    assert above.any() and np.all(boosted[above] > plain[above])
    np.testing.assert_array_less(plain[~above] - 1e-6, boosted[~above] + 1e-6)  # never darker


def test_channel_blend_keeps_measured_channels_and_clip_levels():
    x = np.array([[[0.99, 0.5, 0.2], [1.0, 1.0, 1.0], [0.3, 0.3, 0.3]]], np.float32)
    low = np.log(np.full_like(x, 0.1) + hdrcnn.EPS)  # the network says: darker than the clip
    h = hdrcnn.blend(x, low, mode="channel")
    lin = hdrcnn.linearise(x)
    np.testing.assert_allclose(h[0, 0, 1:], lin[0, 0, 1:])  # measured channels untouched
    assert np.all(h >= lin - 1e-7)  # a clipped channel never drops below its clip level
    np.testing.assert_allclose(h[0, 2], lin[0, 2])
    paper = hdrcnn.blend(x, low, mode="paper")
    assert paper[0, 0, 1] < lin[0, 0, 1]  # the paper's blend replaces the measured green too


def test_surround_blend_gives_fully_clipped_pixels_the_surround_colour():
    """A clipped disc inside an orange rim: the network guesses mint green there; the blend
    keeps its brightness but takes the rim's colour."""
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    x = np.full((64, 64, 3), 0.1, np.float32)
    x[r < 20] = (0.9, 0.6, 0.3)  # orange rim (unclipped)
    x[r < 10] = 1.0  # clipped in every channel
    mint = np.log(np.stack([np.full((64, 64), 3.0), np.full((64, 64), 5.0),
                            np.full((64, 64), 4.0)], -1).astype(np.float32) + hdrcnn.EPS)
    fill = hdrcnn.surround_colour(x)
    h = hdrcnn.blend(x, mint, mode="surround", fill=fill)
    centre = h[32, 32]
    rim = hdrcnn.linearise(x)[32, 48]
    assert centre[0] > centre[1] > centre[2]  # orange, not mint
    np.testing.assert_allclose(centre / centre[0], rim / rim[0], atol=0.05)
    lum = float(centre @ hdrcnn.LUMA)  # the network's brightness (a channel floored at its clip)
    assert lum == pytest.approx(float((np.exp(mint[32, 32]) - hdrcnn.EPS) @ hdrcnn.LUMA), rel=0.02)
    # nothing measured within reach: neutral
    np.testing.assert_allclose(hdrcnn.surround_colour(np.ones((16, 16, 3), np.float32)), 1.0)


# Regenerate the golden file after retraining: python -m tests.models.test_hdrcnn
if __name__ == "__main__":
    res = run(_stack([golden_input()]), "hdrcnn", PAPER_V1, device="cpu")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, output=res.image, sha256=np.array(res.provenance.weights_sha256))
    print(f"wrote {GOLDEN} for weights {res.provenance.weights_sha256[:16]}...")
