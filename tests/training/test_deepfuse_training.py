"""DeepFuse training: the torch MEF-SSIM loss against the reference, a few steps, export."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.merge import fuse_mertens  # noqa: E402
from app.core.metrics import mef_ssim  # noqa: E402
from app.models import deepfuse as D  # noqa: E402
from app.models import weights  # noqa: E402
from app.training import train_deepfuse  # noqa: E402
from app.training.deepfuse_data import PairSampler, load_stacks, train_scenes  # noqa: E402
from app.training.losses import mef_ssim_loss, mef_ssim_map, mef_ssim_torch  # noqa: E402
from tests import synthetic  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "app" / "training" / "configs" / "deepfuse.toml"



pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _brute_force_map(seq: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Single-scale MEF-SSIM map by explicit patch loops, following the reference mef_ssim.m
    step by step (0-255 data)."""
    bd, win = 5, 11
    r = np.arange(win) - bd
    g = np.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * 1.5**2))
    g = (g / g.sum()).ravel()
    h, w, n = seq.shape
    eps = np.finfo(float).eps
    out = np.zeros((h - 2 * bd, w - 2 * bd))
    for i in range(bd, h - bd):
        for j in range(bd, w - bd):
            v = seq[i - bd : i + bd + 1, j - bd : j + bd + 1].reshape(-1, n)
            mu = v.mean(0)
            ed = np.sqrt(((v - mu) ** 2).sum(0)) + 0.001
            den = sum(np.linalg.norm(v[:, k] - mu[k]) for k in range(n))
            s = v.sum(1)
            rr = min(max((np.linalg.norm(s - s.mean()) + eps) / (den + eps), eps), 1 - eps)
            p = min(math.tan(math.pi / 2 * rr), 10)
            wm = (ed / win) ** p + eps
            wm /= wm.sum()
            blk = sum(wm[k] * (v[:, k] - mu[k]) / ed[k] for k in range(n))
            if np.linalg.norm(blk) > 0:
                blk = blk / np.linalg.norm(blk) * ed.max()
            f = fused[i - bd : i + bd + 1, j - bd : j + bd + 1].ravel()
            m1, m2 = (g * blk).sum(), (g * f).sum()
            s1, s2 = (g * (blk - m1) ** 2).sum(), (g * (f - m2) ** 2).sum()
            s12 = (g * (blk - m1) * (f - m2)).sum()
            c = (0.03 * 255) ** 2
            out[i - bd, j - bd] = (2 * s12 + c) / (s1 + s2 + c)
    return out


def test_loss_map_equals_patch_loop_reference():
    rad = synthetic.radiance_field(30, 34, seed=3)
    frames = synthetic.photograph(rad, (synthetic.TIMES[0], synthetic.TIMES[2], synthetic.TIMES[3]))
    seq = np.stack([D.rgb_to_ycbcr(f)[0] for f in frames], -1).astype(np.float64)
    fused = seq.mean(-1) + np.random.default_rng(1).normal(0, 0.02, seq.shape[:2])
    ref = _brute_force_map(seq * 255, fused * 255)
    ys = torch.from_numpy(seq.transpose(2, 0, 1)[None].copy())
    got = mef_ssim_map(ys, torch.from_numpy(fused[None, None].copy()))[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_loss_is_zero_for_the_desired_patch_and_grows_with_degradation():
    rad = synthetic.radiance_field(96, 96)
    y = torch.from_numpy(D.rgb_to_ycbcr(synthetic.photograph(rad, (0.25,))[0])[0])[None, None]
    flat = torch.full_like(y, 0.4)
    # one input without contrast: the desired patch is the other input's patch itself
    for ys in (torch.cat([flat, y], 1), torch.cat([y, y], 1)):
        assert float(mef_ssim_loss(ys.double(), y.double())) < 1e-6
    ys = torch.cat([flat, y], 1)
    blur = torch.from_numpy(cv2.GaussianBlur(y[0, 0].numpy(), (0, 0), 1.0))[None, None]
    losses = [float(mef_ssim_loss(ys, y * (1 - a) + blur * a)) for a in (0.0, 0.5, 1.0)]
    losses.append(float(mef_ssim_loss(ys, y + 0.05 * torch.randn_like(y))))
    assert losses[0] < losses[1] < losses[2]
    assert losses[3] > losses[0] + 0.01
    assert 0 <= min(losses) and max(losses) <= 1


def _eval_pairs(data: Path, n: int):
    """(scene, darkest, brightest) of the first ``n`` waterloo-mef stacks, half size (keeps the
    test fast; the metric's 3 scales still fit), uint8 RGB."""
    import json

    from app.bench.deepfuse import read_rgb8

    def small(path):
        img = read_rgb8(path)
        return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)

    man = json.loads((data / "manifest.json").read_text())
    out = []
    for s in man["scenes"]:
        if s["source"] == "waterloo-mef" and s["role"] == "static-mef" and len(out) < n:
            order = s["order_dark_to_bright_by_mean_luma"]
            by_name = {Path(f["path"]).name: f["path"] for f in s["files"]}
            out.append((s["id"], small(data / by_name[order[0]]), small(data / by_name[order[-1]])))
    return out


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_torch_loss_ranks_outputs_like_the_reference_metric(shared_data):
    """5 real eval scenes x 4 candidate outputs: Mertens, average, each input."""
    ref_all, got_all = [], []
    for _, a8, b8 in _eval_pairs(shared_data, 5):
        a, b = a8 / np.float32(255), b8 / np.float32(255)
        cands = [fuse_mertens([a, b]), (a + b) / 2, a, b]
        ys = torch.from_numpy(np.stack([D.rgb_to_ycbcr(a)[0], D.rgb_to_ycbcr(b)[0]]))[None]
        ref = [mef_ssim([a8, b8], np.rint(c * 255).astype(np.uint8)) for c in cands]
        got = [float(mef_ssim_torch(ys, torch.from_numpy(D.rgb_to_ycbcr(c)[0])[None, None]))
               for c in cands]
        assert _spearman(ref, got) == pytest.approx(1.0)
        np.testing.assert_allclose(got, ref, atol=5e-3)  # float luma vs rounded 8-bit grey
        ref_all += ref
        got_all += got
    assert _spearman(ref_all, got_all) > 0.95


def test_few_steps_on_a_tiny_real_crop_lower_the_loss(shared_data):
    scenes = train_scenes(shared_data, ["hdrps-ds8"])[:1]
    assert scenes and all("mefb" not in s["id"] for s in scenes)
    ys = torch.from_numpy(PairSampler(load_stacks(shared_data, scenes), crop=64, p_extremes=1.0,
                                      seed=1).batch(2))
    torch.manual_seed(0)
    model = D.build_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    before = float(mef_ssim_loss(ys, D.fuse_y_train(model, ys)).detach())
    for _ in range(5):
        loss = mef_ssim_loss(ys, D.fuse_y_train(model, ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = float(mef_ssim_loss(ys, D.fuse_y_train(model, ys)).detach())
    assert after < before


def test_training_excludes_mefb_scenes(shared_data):
    import json

    man = json.loads((shared_data / "manifest.json").read_text())
    bench = {str(Path(r[k]).parent) for r in man["mefb_benchmark"] for k in ("A", "B")}
    ids = {s["id"] for s in train_scenes(shared_data, ["deepfuse-iccv17", "hdrps-ds8"])}
    assert ids and not ids & bench
    assert all(i.split("/")[0] in ("deepfuse-iccv17", "hdrps-ds8") for i in ids)


def test_train_and_export_end_to_end_on_synthetic_stacks(tmp_path, monkeypatch):
    """The CLI's training function + export on a synthetic stack (no shared data needed)."""
    cfg = tomllib.loads(CONFIG.read_text())
    cfg["data"]["crop"] = 64
    cfg["train"].update(batch=2, steps=3, log_every=1)
    rad = synthetic.radiance_field(96, 128)
    stack = [D.rgb_to_ycbcr(f)[0] for f in synthetic.photograph(rad)]
    log = tmp_path / "loss.csv"
    model, summary = train_deepfuse.train(cfg, stacks=[stack], log_path=log, verbose=False)
    assert summary["steps"] == 3
    rows = log.read_text().strip().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 4
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    from app.training.export import export_weights

    digest = export_weights("deepfuse", model.state_dict(),
                            {"arch": D.ARCH, "hparams": D.DEFAULT_HPARAMS}, {"steps": 3})
    entry = weights.read_manifest()["deepfuse"]
    assert entry["sha256"] == digest and entry["steps"] == 3 and entry["arch"] == D.ARCH
    loaded, _ = D.load_model("cpu")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)


def test_brightness_anchor_is_the_untrained_blend():
    """The optional luminance term compares with the untrained net (the well-exposedness prior)."""
    torch.manual_seed(0)
    model = D.build_model().eval()
    rad = synthetic.radiance_field(64, 64)
    ys = torch.from_numpy(np.stack([D.rgb_to_ycbcr(f)[0] for f in synthetic.photograph(
        rad, (synthetic.TIMES[0], synthetic.TIMES[-1]))]))[None]
    with torch.no_grad():
        fused = D.fuse_y_train(model, ys)
    torch.testing.assert_close(train_deepfuse.prior_mean(model, ys), fused.mean((1, 2, 3)))
