"""DeepFuse inference: colour handling, pyramid blend, pair choice, weights handling, golden test.

The golden test uses the shipped weights (weights/manifest.json) on a real pair from
../shared/data and a checked-in 64 px golden PNG (tests/models/data/deepfuse_golden.png, written
by ``python -m tests.models.test_deepfuse`` with the shipped weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.errors import Cancelled, InputError, WeightsError  # noqa: E402
from app.core.metrics import mef_ssim  # noqa: E402
from app.core.progress import TaskContext  # noqa: E402
from app.core.types import ExposureStack, ResultKind  # noqa: E402
from app.models import deepfuse as D  # noqa: E402
from app.models import weights  # noqa: E402
from app.models.runner import run  # noqa: E402
from tests import synthetic  # noqa: E402
from tests.models import fakes  # noqa: E402

GOLDEN = Path(__file__).parent / "data" / "deepfuse_golden.png"
GOLDEN_SCENE = "waterloo-mef/Arno"
GOLDEN_WIDTH = 64



pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _frames(h=48, w=64):
    rad = synthetic.radiance_field(h, w)
    return synthetic.photograph(rad, (synthetic.TIMES[0], synthetic.TIMES[-1]))


def test_ycbcr_round_trip_and_grey_weights():
    rgb = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    y, cb, cr = D.rgb_to_ycbcr(rgb)
    assert y.dtype == np.float32 and y.shape == (20, 30)
    np.testing.assert_allclose(D.ycbcr_to_rgb(y, cb, cr), rgb, atol=2e-6)
    grey = np.full((2, 2, 3), 0.3, np.float32)
    y, cb, cr = D.rgb_to_ycbcr(grey)
    np.testing.assert_allclose([y.mean(), cb.mean(), cr.mean()], [0.3, 0.5, 0.5], atol=1e-6)


def test_chroma_fusion_per_pixel():
    neutral = np.full((2, 2), 0.5, np.float32)
    blue = np.array([[0.9, 0.5], [0.1, 0.5]], np.float32)
    out = D.fuse_chroma([neutral, blue])
    np.testing.assert_allclose(out, blue, atol=1e-7)  # neutral input has weight 0 per pixel
    np.testing.assert_allclose(D.fuse_chroma([neutral, neutral]), 0.5)  # 0/0 -> neutral
    # equal distances: plain mean; weights are per pixel, not per channel
    np.testing.assert_allclose(D.fuse_chroma([blue, 1 - blue])[0, 0], 0.5, atol=1e-7)


def test_pyramid_blend_identities():
    y = torch.rand(1, 1, 37, 53)
    other = torch.rand(1, 1, 37, 53)
    ones, zeros = torch.ones_like(y), torch.zeros_like(y)
    out = D.pyramid_blend(torch.cat([y, other], 1), torch.cat([ones, zeros], 1))
    torch.testing.assert_close(out, y, atol=1e-5, rtol=0)  # weight 1 reproduces that input
    same = D.pyramid_blend(torch.cat([y, y], 1), torch.full((1, 2, 37, 53), 0.5))
    torch.testing.assert_close(same, y, atol=1e-5, rtol=0)
    assert D.pyramid_levels(256, 300) == 8 and D.pyramid_levels(3000, 4000) == 11


def test_opencv_blend_equals_the_torch_blend_used_in_training():
    from app.models import deepfuse_blend

    rng = np.random.default_rng(2)
    for h, w in ((37, 53), (64, 96), (21, 18)):
        ys = rng.random((2, h, w), dtype=np.float32)
        wt = rng.random((2, h, w), dtype=np.float32)
        wt /= wt.sum(0)
        ref = D.pyramid_blend(torch.from_numpy(ys)[None], torch.from_numpy(wt)[None])[0, 0]
        got = deepfuse_blend.pyramid_blend(list(ys), list(wt))
        np.testing.assert_allclose(got, ref.numpy(), atol=1e-5)


def test_pair_blend_equals_the_general_blend():
    from app.models import deepfuse_blend

    rng = np.random.default_rng(5)
    for h, w in ((37, 53), (128, 96), (21, 18)):
        ys = rng.random((2, h, w), dtype=np.float32)
        w0 = rng.random((h, w), dtype=np.float32)
        general = deepfuse_blend.pyramid_blend(list(ys), [w0, 1.0 - w0])
        pair = deepfuse_blend.pyramid_blend_pair(ys[0], ys[1], w0)
        np.testing.assert_allclose(pair, general, atol=1e-5)
        ref = D.pyramid_blend(torch.from_numpy(ys)[None],
                              torch.from_numpy(np.stack([w0, 1.0 - w0]))[None])[0, 0]
        np.testing.assert_allclose(pair, ref.numpy(), atol=1e-5)


def test_model_shapes_weights_are_convex_and_order_symmetric():
    model = D.build_model().eval()
    ys = torch.rand(2, 2, 32, 40)
    with torch.no_grad():
        w = model(ys)
        w_swapped = model(ys.flip(1))
    assert w.shape == ys.shape and w.dtype == torch.float32
    torch.testing.assert_close(w.sum(1), torch.ones(2, 32, 40))
    assert float(w.min()) >= 0
    torch.testing.assert_close(w_swapped, w.flip(1))  # tied branches + feature sum
    with torch.no_grad():
        fused = D.fuse_y_train(model, ys)
    assert fused.shape == (2, 1, 32, 40) and 0 <= float(fused.min()) <= float(fused.max()) <= 1


def test_fuse_pair_output_range_and_brightness():
    dark, bright = _frames()
    out = D.fuse_pair([dark, bright], D.build_model().eval())
    assert out.shape == dark.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert dark.mean() < out.mean() < bright.mean()  # a convex mix of the inputs' luma


def test_choose_pair():
    assert D.choose_pair(5, "extremes") == (0, 4)
    assert D.choose_pair(3, "2,0") == (0, 2)
    for bad in ("0,0", "0,3", "x", "1"):
        with pytest.raises(InputError):
            D.choose_pair(3, bad)


def _stack(n=3):
    rad = synthetic.radiance_field(40, 56)
    return ExposureStack(frames=tuple(synthetic.photograph(rad, synthetic.TIMES[:n])))


@pytest.fixture
def random_weights(monkeypatch):
    monkeypatch.setattr(weights, "load_into", lambda m, k, *, arch=None: ({}, "0" * 64))
    monkeypatch.setattr(weights, "load_numpy", fakes.fake_numpy_weights)  # the CPU path
    monkeypatch.setattr(weights, "status", lambda key: (True, ""))


def test_run_uses_extremes_by_default_and_pair_param(random_weights):
    stack = _stack(3)
    res = run(stack, "deepfuse", None, device="cpu")
    assert res.kind == ResultKind.LDR_FUSED and res.image.shape == (40, 56, 3)
    direct = D.fuse_pair([stack.frames[0], stack.frames[2]], fakes.numpy_deepfuse_model())
    np.testing.assert_allclose(res.image, direct, atol=1e-6)
    res01 = run(stack, "deepfuse", {"pair": "0,1"}, device="cpu")
    assert np.abs(res01.image - res.image).max() > 0.01
    with pytest.raises(InputError):
        run(stack, "deepfuse", {"pair": "0,7"}, device="cpu")


def test_cancel_and_linear_input_refused(random_weights):
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        D.run_deepfuse(_stack(2), {"pair": "extremes"}, ctx, "cpu")
    lin = ExposureStack(frames=_stack(2).frames, linear=True)
    with pytest.raises(InputError, match="display-referred"):
        D.run_deepfuse(lin, {}, TaskContext(), "cpu")


def test_weights_load_strictly_and_tampered_file_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    model = D.build_model(c4=8)
    weights.export("deepfuse", model.state_dict(), arch=D.ARCH, hparams={**D.DEFAULT_HPARAMS,
                   "c4": 8}, file="deepfuse-test.safetensors")
    loaded, digest = D.load_model("cpu")
    assert loaded.rec4.out_channels == 8  # hparams come from the file header
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    with pytest.raises(WeightsError, match="do not fit"):  # strict: a missing tensor is refused
        weights.load_into(D.build_model(), "deepfuse", arch=D.ARCH)
    path = tmp_path / "deepfuse-test.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        D.load_model("cpu")


def _golden_pair(data_root: Path, width: int | None):
    man = json.loads((data_root / "manifest.json").read_text())
    scene = next(s for s in man["scenes"] if s["id"] == GOLDEN_SCENE)
    names = scene["order_dark_to_bright_by_mean_luma"]
    paths = {Path(f["path"]).name: data_root / f["path"] for f in scene["files"]}
    out = []
    for name in (names[0], names[-1]):
        img = cv2.cvtColor(cv2.imread(str(paths[name])), cv2.COLOR_BGR2RGB)
        if width:
            h = round(img.shape[0] * width / img.shape[1])
            img = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def _shipped_model():
    ok, reason = weights.status(D.WEIGHTS_KEY)
    assert ok, f"shipped deepfuse weights missing: {reason}"
    return D.load_model("cpu")[0]


def test_golden_shipped_weights_beat_keeping_the_better_input(shared_data):
    a8, b8 = _golden_pair(shared_data, None)
    out = D.fuse_pair([a8 / np.float32(255), b8 / np.float32(255)], _shipped_model())
    out8 = np.rint(out * 255).astype(np.uint8)
    better = max(mef_ssim([a8, b8], a8), mef_ssim([a8, b8], b8))
    assert mef_ssim([a8, b8], out8) > better


def test_golden_small_output_matches_checked_in_png(shared_data):
    a8, b8 = _golden_pair(shared_data, GOLDEN_WIDTH)
    out = D.fuse_pair([a8 / np.float32(255), b8 / np.float32(255)], _shipped_model())
    golden = cv2.cvtColor(cv2.imread(str(GOLDEN)), cv2.COLOR_BGR2RGB)
    assert golden.shape == out.shape
    assert np.abs(out * 255 - golden.astype(np.float32)).max() <= 2.0


if __name__ == "__main__":  # regenerate the golden PNG with the shipped weights
    from tests.conftest import SHARED_DATA

    a8, b8 = _golden_pair(SHARED_DATA, GOLDEN_WIDTH)
    res = D.fuse_pair([a8 / np.float32(255), b8 / np.float32(255)], _shipped_model())
    GOLDEN.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(GOLDEN), cv2.cvtColor(np.rint(res * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    print(f"wrote {GOLDEN} {res.shape}")


@pytest.mark.parametrize("arrays", ["shipped", "random"])
def test_numpy_network_computes_what_the_torch_module_computes(arrays):
    """The CPU path (numpy, no torch import) is the torch module's function: same weights, same
    blend weights to float rounding, at odd sizes (reflect padding at every border) and for
    more than two inputs."""
    from app.models.numpy_conv import conv2d

    if arrays == "shipped":
        net, _ = D.load_numpy_model()
    else:
        net = fakes.numpy_deepfuse_model()
    module = D.build_model(down=net.down, prior_sigma=net.prior_sigma).eval()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in net.arrays.items()})
    rng = np.random.default_rng(5)
    for shape in ((2, 37, 53), (3, 64, 48), (2, 190, 256)):
        ys = rng.uniform(0, 1, shape).astype(np.float32)
        with torch.inference_mode():
            ref = module(torch.from_numpy(ys)[None])[0].numpy()
        got = net(ys)
        assert got.shape == shape and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, atol=2e-5)
        np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-5)
    # one convolution against torch's, in blocks of a few rows
    x = rng.standard_normal((23, 31, 4)).astype(np.float32)
    w = rng.standard_normal((6, 4, 7, 7)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    conv = torch.nn.Conv2d(4, 6, 7, padding=3, padding_mode="reflect")
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        conv.bias.copy_(torch.from_numpy(b))
        ref = conv(torch.from_numpy(x.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    import app.models.numpy_conv as dn

    for block in (dn._BLOCK_BYTES, 4096):
        dn_block, dn._BLOCK_BYTES = dn._BLOCK_BYTES, block
        try:
            np.testing.assert_allclose(conv2d(x, w, b), ref, atol=1e-4)
        finally:
            dn._BLOCK_BYTES = dn_block


def test_cpu_fusion_does_not_import_torch(tmp_path):
    """`fuse -m deepfuse` on the CPU never imports torch (1.2-1.6 s of every command here)."""
    import subprocess
    import sys

    from tests.cli.helpers import write_png

    frames = synthetic.photograph(synthetic.radiance_field(64, 96), synthetic.TIMES[:2])
    paths = [str(write_png(tmp_path / f"f{k}.png", f)) for k, f in enumerate(frames)]
    probe = ("import os, sys, runpy; sys.argv = ['main.py', 'fuse', *sys.argv[1:]]\n"
             # a command ends with os._exit (app.launcher.run): look at sys.modules first
             "def _exit(code):\n    raise SystemExit(code)\nos._exit = _exit\n"
             "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
             "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, *paths, "-m", "deepfuse", "-o",
                          str(tmp_path / "o.png"), "-q"], cwd=Path(D.__file__).parents[2],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert (tmp_path / "o.png").is_file()


def test_numpy_loader_refuses_a_file_of_another_layout(monkeypatch):
    arrays = fakes.random_deepfuse_arrays()
    arrays["rec4.weight"] = arrays["rec4.weight"][:, :32]
    monkeypatch.setattr(weights, "load_numpy", lambda key: (arrays, {"arch": D.ARCH}, "0" * 64))
    with pytest.raises(WeightsError, match="rec4.weight"):
        D.load_numpy_model()
    monkeypatch.setattr(weights, "load_numpy",
                        lambda key: (fakes.random_deepfuse_arrays(), {"arch": "other"}, "0" * 64))
    with pytest.raises(WeightsError, match="architecture"):
        D.load_numpy_model()
