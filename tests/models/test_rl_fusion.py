"""RL fusion: the agent's actions by formula, the stop rule, full-size replay, the method entry."""

from __future__ import annotations

import numpy as np
import pytest

from app.models.classical import mertens_fusion_defaults
from app.core.merge.imf import virtual_middle
from app.core.progress import TaskContext
from app.core.types import ExposureStack
from app.models import rl_agent as ra
from app.models import rl_fusion as rl
from app.models import weights
from app.models.runner import run
from tests import synthetic


def _pair(h: int = 90, w: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rad = synthetic.radiance_field(h, w)
    frames = synthetic.photograph(rad)
    return frames[0], frames[-1]


def _constant_policy(q: np.ndarray) -> dict[str, np.ndarray]:
    """A network whose Q-values are ``q`` whatever the state."""
    n = ra.state_size(True)
    return {"layers.0.weight": np.zeros((6, n), np.float32),
            "layers.0.bias": np.asarray(q, np.float32)}


def test_brightness_scales_every_channel_and_clips():
    img = np.array([[[0.2, 0.5, 0.95]]], np.float32)
    np.testing.assert_allclose(ra.apply_action(img, 5), [[[0.22, 0.55, 1.0]]], rtol=1e-6)
    np.testing.assert_allclose(ra.apply_action(img, 4), img / 1.1, rtol=1e-6)


def test_contrast_moves_the_hsv_value_around_its_mean_keeping_hue():
    img = np.array([[[0.2, 0.1, 0.1], [0.6, 0.3, 0.3], [0.0, 0.0, 0.0]]], np.float32)
    mean_v = (0.2 + 0.6 + 0.0) / 3
    out = ra.apply_action(img, 1)  # x1.05
    for k, v in ((0, 0.2), (1, 0.6)):
        new_v = 1.05 * v - 0.05 * mean_v
        np.testing.assert_allclose(out[0, k], img[0, k] * new_v / v, rtol=1e-5)
    np.testing.assert_allclose(out[0, 2], [-0.05 * mean_v] * 3 if -0.05 * mean_v > 0 else 0.0,
                               atol=1e-7)  # black: grey at the new value, clipped at 0
    out_down = ra.apply_action(img, 0)  # x0.95: black becomes grey 0.05 * mean
    np.testing.assert_allclose(out_down[0, 2], [0.05 * mean_v] * 3, rtol=1e-5)


def test_saturation_scales_chroma_around_neutral_and_keeps_luma():
    img = np.array([[[0.7, 0.4, 0.2], [0.5, 0.5, 0.5]]], np.float32)
    out = ra.apply_action(img, 3)  # x1.05
    ycc = lambda p: ra._YCC @ p.astype(np.float64)  # noqa: E731
    a, b = ycc(img[0, 0]), ycc(out[0, 0])
    assert b[0] == pytest.approx(a[0], abs=1e-6)
    np.testing.assert_allclose(b[1:], 1.05 * a[1:], rtol=1e-5)
    np.testing.assert_allclose(out[0, 1], img[0, 1], atol=1e-6)  # grey stays grey


def test_agent_that_values_nothing_stops_at_once_and_the_first_fusion_is_returned(monkeypatch):
    u, o = _pair()
    w = _constant_policy([-0.1] * 6)
    assert rl.plan(u, o, w) == []
    _use(monkeypatch, w)
    res = run(ExposureStack(frames=(u, o)), "rl_fusion", {}, TaskContext())
    np.testing.assert_allclose(res.image, ra.fuse_three(u, virtual_middle(u, o), o), atol=1e-6)
    assert res.notes["agent_stopped"] == "no action has a positive value"


def test_stop_rule_and_step_limit():
    u, o = _pair()
    up = _constant_policy([-1, -1, -1, -1, -1, 0.5])  # always "brightness up"
    assert rl.plan(u, o, up, max_steps=7) == [5] * 7
    assert rl.plan(u, o, _constant_policy([0.0] * 6)) == []  # a value of 0 is not positive


def _use(monkeypatch, w, content: bool = True):
    meta = {"arch": rl.ARCH, "hparams": f'{{"content": {str(content).lower()}}}'}
    monkeypatch.setattr(weights, "load_numpy", lambda key: (w, meta, "f" * 64))
    monkeypatch.setattr(weights, "status", lambda key: (True, ""))


def test_full_size_replay_is_the_policy_size_sequence(monkeypatch):
    u, o = _pair(150, 200)
    w = rl.random_weights(seed=3)
    # a random network may stop at once: shift the values up so it takes a few steps
    w["layers.2.bias"] = w["layers.2.bias"] + np.float32(0.5)
    _use(monkeypatch, w)
    trace = rl.plan(u, o, w, max_steps=6)
    assert len(trace) == 6
    res = run(ExposureStack(frames=(u, o)), "rl_fusion", {"max_steps": 6}, TaskContext())
    assert res.notes["agent_actions"] == [ra.ACTIONS[a] for a in trace]
    want = ra.fuse_three(u, ra.replay(virtual_middle(u, o), trace), o)
    np.testing.assert_allclose(res.image, want, atol=1e-6)
    assert res.provenance.decisions["agent_steps_used"] == "6 of 6"
    assert "lumafuse:agent_actions" in res.provenance.as_text()


def test_stop_at_uses_the_first_edits_only(monkeypatch):
    u, o = _pair()
    _use(monkeypatch, _constant_policy([-1, -1, -1, -1, -1, 0.5]))
    res = run(ExposureStack(frames=(u, o)), "rl_fusion", {"max_steps": 5, "stop_at": 2},
              TaskContext())
    assert res.notes["agent_steps"] == 5 and res.notes["steps_used"] == 2
    want = ra.fuse_three(u, ra.replay(virtual_middle(u, o), [5, 5]), o)
    np.testing.assert_allclose(res.image, want, atol=1e-6)
    none = run(ExposureStack(frames=(u, o)), "rl_fusion", {"max_steps": 0}, TaskContext())
    np.testing.assert_allclose(none.image, ra.fuse_three(u, virtual_middle(u, o), o), atol=1e-6)


def test_the_order_of_the_two_frames_does_not_matter(monkeypatch):
    u, o = _pair()
    _use(monkeypatch, _constant_policy([-1, -1, -1, -1, -1, 0.5]))
    a = run(ExposureStack(frames=(u, o)), "rl_fusion", {"max_steps": 3}, TaskContext()).image
    b = rl.run_rl_fusion(ExposureStack(frames=(o, u)), {"max_steps": 3}, TaskContext(), "cpu").image
    np.testing.assert_array_equal(a, b)


def test_numpy_forward_matches_torch():
    torch = pytest.importorskip("torch")
    w = rl.random_weights(seed=5, hidden=(32, 16))
    layers = [torch.nn.Linear(*w[f"layers.{i}.weight"].shape[::-1]) for i in range(3)]
    for i, layer in enumerate(layers):
        layer.weight.data = torch.from_numpy(w[f"layers.{i}.weight"])
        layer.bias.data = torch.from_numpy(w[f"layers.{i}.bias"])
    x = np.random.default_rng(0).random((4, ra.state_size(True))).astype(np.float32)
    t = torch.from_numpy(x)
    for i, layer in enumerate(layers):
        t = layer(t)
        if i < 2:
            t = torch.relu(t)
    np.testing.assert_allclose(rl.q_values(w, x), t.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_state_is_finite_and_sized():
    u, o = _pair()
    v = virtual_middle(ra.policy_view(u), ra.policy_view(o))
    s = ra.state(ra.policy_view(u), ra.policy_view(o), v, v, 3, 20)
    assert s.shape == (ra.state_size(True),) and np.all(np.isfinite(s))
    q = ra.quality_histogram(v)
    assert np.linalg.norm(q) == pytest.approx(1.0, rel=1e-5)
    assert ra.state(u, o, v, v, 0, 20, content=False).shape == (ra.state_size(False),)


def test_shipped_agent_brings_a_real_pair_closer_to_its_whole_stack(shared_data):
    """mef-extra TableLamp (an evaluation scene, never trained on): the darkest and brightest of
    six frames. The shipped agent's fusion is nearer (CIELab Delta-E) the Mertens fusion of all
    six than Mertens of the pair is, and than its own starting point."""
    from app.bench.rl_pairs import real_pairs
    from app.core.merge import fuse_mertens

    pair = next(p for p in real_pairs(("mef-extra",), "eval", long_side=512, data=shared_data)
                if p.scene == "mef-extra/TableLamp")
    ref = ra.lab(pair.reference)
    res = run(ExposureStack(frames=(pair.under, pair.over)), "rl_fusion", {}, TaskContext())
    mertens = fuse_mertens([pair.under, pair.over], **mertens_fusion_defaults())
    start = ra.fuse_three(pair.under, virtual_middle(pair.under, pair.over), pair.over)
    ours = ra.delta_e(res.image, ref)
    assert 0 < res.notes["agent_steps"] <= 20
    assert ours < 0.7 * ra.delta_e(mertens, ref)
    assert ours < ra.delta_e(start, ref)


def test_replay_equals_the_actions_one_by_one():
    rng = np.random.default_rng(4)
    img = rng.random((30, 40, 3), dtype=np.float32)
    actions = [2, 2, 2, 5, 4, 2, 3, 1, 2, 4, 4, 5, 0, 3, 3, 2]
    one_by_one = img.copy()
    for a in actions:
        one_by_one = ra.apply_action(one_by_one, a)
    np.testing.assert_allclose(ra.replay(img, actions), one_by_one, atol=2e-6)
