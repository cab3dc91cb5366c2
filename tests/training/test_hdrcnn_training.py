"""HDRCNN training pieces: loss behaviour, virtual camera, a short training run, the trainer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.io import write_exr  # noqa: E402
from app.models import weights  # noqa: E402
from app.models.hdrcnn_net import build_model  # noqa: E402
from app.training import hdrcnn_data as data  # noqa: E402
from app.training.hdrcnn_loss import (  # noqa: E402
    EPS,
    gaussian_kernel,
    hdrcnn_loss,
    target_mask,
)
from tests import synthetic  # noqa: E402


def _target(seed: int = 0, n: int = 2, size: int = 32) -> torch.Tensor:
    """Linear radiance N x 3 x S x S with a bright blob well above saturation (1.0)."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(0.05, 0.8, (n, 3, size, size)).astype(np.float32)
    h[:, :, 8:20, 8:20] = rng.uniform(2.0, 8.0, (n, 3, 12, 12))
    return torch.from_numpy(h)


def test_loss_is_zero_for_a_perfect_prediction():
    h = _target()
    assert hdrcnn_loss(torch.log(h + EPS), h).item() == pytest.approx(0.0, abs=1e-9)
    assert hdrcnn_loss(torch.log(h + EPS) + 0.3, h).item() > 1e-3


def test_loss_ignores_pixels_the_target_mask_excludes():
    h = _target()
    y = torch.log(h + EPS)
    m = target_mask(h)
    assert 0 < float(m.mean()) < 1
    base = hdrcnn_loss(y + 0.5 * (m > 0), h).item()
    # changing the prediction far from the bright blob (mask 0 and beyond the 13x13 blur)
    y2 = y + 0.5 * (m > 0)
    y2[:, :, 26:, 26:] += 3.0
    assert hdrcnn_loss(y2, h).item() == pytest.approx(base, rel=1e-6)
    # a target without saturated pixels gives no loss at all
    dim = h.clamp(max=0.9)
    assert hdrcnn_loss(torch.randn_like(y), dim).item() == 0.0


def test_lambda_weighs_illumination_against_reflectance():
    h = _target()
    y = torch.log(h + EPS) + 0.4  # a pure brightness error: illumination only
    only_i = hdrcnn_loss(y, h, lam=1.0).item()
    only_r = hdrcnn_loss(y, h, lam=0.0).item()
    assert only_i > 10 * max(only_r, 1e-6)
    assert hdrcnn_loss(y, h, lam=0.5).item() == pytest.approx(0.5 * only_i + 0.5 * only_r, rel=1e-5)


def test_gaussian_kernel_is_normalised_and_symmetric():
    k = gaussian_kernel()[0, 0]
    assert k.shape == (13, 13)
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(k, k.T) and torch.allclose(k, k.flip(0))
    assert int(k.argmax()) == 6 * 13 + 6


def test_camera_curve_maps_saturation_to_one():
    h = np.array([0.0, 0.25, 1.0, 4.0], np.float32)
    f = data.camera_curve(h, 0.9, 0.6)
    assert f[0] == 0.0 and f[2] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(f) > 0)


def test_virtual_camera_exposes_by_the_quantile():
    rad = synthetic.radiance_field(96, 128)
    cam = data.CameraParams(q=0.9, noise=0.0, hue_deg=0.0, sat=0.0, n=0.9, sigma=0.6, jpeg=100)
    ldr, gt = data.render(rad, cam, np.random.default_rng(0), jitter=False)
    assert ldr.shape == gt.shape == rad.shape
    assert ldr.min() >= 0 and ldr.max() <= 1
    np.testing.assert_allclose(ldr * 255, np.round(ldr * 255), atol=1e-3)  # 8-bit values
    assert float((gt > 1.0).mean()) == pytest.approx(0.1, abs=0.01)
    assert float((ldr >= 254 / 255).mean()) > 0.05  # the clipped highlights exist


def test_draw_camera_stays_in_the_documented_ranges():
    rng = np.random.default_rng(3)
    for _ in range(200):
        c = data.draw_camera(rng)
        assert 0.85 <= c.q <= 0.95 and 0 <= c.noise <= 0.01
        assert 0.2 <= c.n <= 2.5 and 0 <= c.sigma <= 5 and 30 <= c.jpeg <= 100


def test_colour_jitter_is_identity_at_zero_and_keeps_highlights():
    h = np.random.default_rng(2).uniform(0.0, 20.0, (8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(data._colour_jitter(h, 0.0, 0.0), h, rtol=1e-4, atol=1e-4)
    j = data._colour_jitter(h, 10.0, 0.1)
    assert j.max() > 10.0 and not np.allclose(j, h)  # values above 1 survive the HSV round trip


def test_sample_batch_shapes():
    rad = synthetic.radiance_field(96, 128)
    x, y = data.sample_batch([rad], 3, 64, np.random.default_rng(1))
    assert x.shape == y.shape == (3, 3, 64, 64)
    assert x.dtype == np.float32 and y.min() >= 0


def test_short_training_on_a_tiny_crop_lowers_the_loss():
    torch.manual_seed(0)
    rad = synthetic.radiance_field(96, 128)
    x, y = data.sample_batch([rad], 2, 64, np.random.default_rng(0))
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    assert float(target_mask(y).mean()) > 0.02
    model = build_model(width=0.125)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = hdrcnn_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.5 * losses[0]


def test_trainer_end_to_end_on_a_tiny_data_folder(tmp_path, monkeypatch):
    """Cache building (EXR + a bracket merged by the core), training steps, export, loss log."""
    from app.training.train_hdrcnn import train

    root = tmp_path / "data"
    rad = synthetic.radiance_field(96, 128)
    (root / data.EXR_SET / "Tiny").mkdir(parents=True)
    write_exr(root / data.EXR_SET / "Tiny" / "Tiny.exr", rad)
    bracket = root / "hdrps-ds8" / "scene"
    bracket.mkdir(parents=True)
    import cv2

    for i, f in enumerate(synthetic.photograph(rad)):
        cv2.imwrite(str(bracket / f"f{i}.png"), cv2.cvtColor((f * 255).astype(np.uint8),
                                                             cv2.COLOR_RGB2BGR))
    (root / "deepfuse-iccv17").mkdir()
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.delenv("LUMAFUSE_DATA", raising=False)
    cfg = {
        "model": {"width": 0.125},
        "data": {"root": str(root), "cache": str(tmp_path / "cache"), "max_side": 128,
                 "crop": 64},
        "train": {"seed": 0, "steps": 3, "batch": 2, "lr": 1e-3, "lr_final": 1e-4,
                  "lambda_ir": 0.5, "threads": 1, "log_every": 1, "val_every": 3,
                  "val_crops": 2, "val_seed": 1},
        "export": {"key": "hdrcnn", "file": "hdrcnn-test.safetensors",
                   "loss_log": "hdrcnn-test.loss.csv", "licence": "test"},
    }
    summary = train(cfg, out_dir=tmp_path / "weights", log=lambda *a: None)
    assert summary["steps"] == 3 and summary["images"] == 2
    entry = weights.entry("hdrcnn")
    assert entry["steps"] == 3 and entry["seed"] == 0 and entry["sha256"] == summary["sha256"]
    assert "1 openexr-images" in entry["data"]
    rows = (tmp_path / "weights" / "hdrcnn-test.loss.csv").read_text().splitlines()
    assert rows[0].startswith("step,train_loss,val_loss") and len(rows) == 5
    model = build_model(width=0.125)
    weights.load_into(model, "hdrcnn")  # strict load of what was exported


def test_sources_with_extra_radiance_maps_keep_the_evaluation_images_out(shared_data):
    base = data.list_sources(shared_data)
    wider = data.list_sources(shared_data, radiance=("hdr-extra",))
    extra = [s for s in wider if s not in base]
    assert len(extra) == 18 and all(kind == "panorama" for _, kind, _ in extra)
    assert all(name.startswith("hdr-extra/") for name, _, _ in extra)
    names = {name for name, _, _ in wider}
    assert not any(f"openexr-images/{e}" in names for e in data.EVAL_EXRS)
