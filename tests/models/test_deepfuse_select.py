"""DeepFuse's test-time choice between the network's blend and Mertens weightings (issue 11),
and the leave-one-source-out data (held-out sources left out, virtual-camera stacks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.io.exr import write_exr_file  # noqa: E402
from app.core.merge import fuse_mertens  # noqa: E402
from app.core.metrics import mef_ssim  # noqa: E402
from app.core.types import ExposureStack  # noqa: E402
from app.models import deepfuse as D  # noqa: E402
from app.models import weights  # noqa: E402
from app.models.classical import mertens_fusion_defaults  # noqa: E402
from app.models.runner import run  # noqa: E402
from app.training.deepfuse_data import train_scenes, virtual_stacks  # noqa: E402
from tests import synthetic  # noqa: E402
from tests.models import fakes  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(h=120, w=160, seed=0):
    rad = synthetic.radiance_field(h, w, seed=seed)
    return synthetic.photograph(rad, (synthetic.TIMES[0], synthetic.TIMES[-1]))


def _to8(x):
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


class _DarkOnly(torch.nn.Module):
    """A deliberately bad network: every weight on the first (dark) input."""

    down = 4

    def forward(self, ys):
        w = torch.zeros_like(ys)
        w[:, 0] = 1.0
        return w


def test_a_bad_network_loses_to_mertens_and_the_winner_is_rendered_at_full_size():
    frames = _pair()
    out, choice = D.fuse_pair_auto(frames, _DarkOnly())
    assert choice["candidate"] in ("opencv-mertens", "mertens")
    scores = choice["mef_ssim"]
    assert scores[choice["candidate"]] == max(scores.values()) > scores["net"]
    want = (D.opencv_mertens(frames) if choice["candidate"] == "opencv-mertens"
            else fuse_mertens(frames, **mertens_fusion_defaults()))
    np.testing.assert_allclose(out, want, atol=1e-6)
    # the dark-only blend has the dark frame's luma (weights sum to one; chroma is fused per pixel)
    net = D.fuse_pair(frames, _DarkOnly())
    np.testing.assert_allclose(D.rgb_to_ycbcr(net)[0], D.rgb_to_ycbcr(frames[0])[0], atol=2 / 255)


def test_choice_never_scores_below_the_network_alone():
    torch.manual_seed(3)
    model = D.build_model().eval()
    for seed in (0, 1):
        frames = _pair(seed=seed)
        out, choice = D.fuse_pair_auto(frames, model)
        f8 = [_to8(f) for f in frames]
        # frames are under 512 px here, so the choice is made at full size: exact comparison
        assert mef_ssim(f8, _to8(out)) >= mef_ssim(f8, _to8(D.fuse_pair(frames, model))) - 1e-9
        assert choice["mef_ssim"][choice["candidate"]] == max(choice["mef_ssim"].values())


def test_registry_param_select(monkeypatch):
    monkeypatch.setattr(weights, "load_numpy", fakes.fake_numpy_weights)
    monkeypatch.setattr(weights, "status", lambda key: (True, ""))
    rad = synthetic.radiance_field(96, 128)
    stack = ExposureStack(frames=tuple(synthetic.photograph(rad, synthetic.TIMES[:3])))
    auto = run(stack, "deepfuse", None, device="cpu")
    assert auto.notes["candidate"] in D.CANDIDATES
    assert set(auto.notes["mef_ssim"]) == set(D.CANDIDATES)
    assert auto.provenance.decisions["candidate"] == auto.notes["candidate"]
    assert set(auto.provenance.decisions) == {"candidate", *(f"mef_ssim_{c}" for c in D.CANDIDATES)}
    net = run(stack, "deepfuse", {"select": "net"}, device="cpu")
    assert net.notes["candidate"] == "net"
    np.testing.assert_allclose(
        net.image, D.fuse_pair([stack.frames[0], stack.frames[2]], fakes.numpy_deepfuse_model()),
        atol=1e-6)


def test_leave_one_source_out_scenes(shared_data):
    every = train_scenes(shared_data, ["waterloo-mef", "mef-extra", "hdrps-ds8"], any_usage=True)
    assert {s["source"] for s in every} == {"waterloo-mef", "mef-extra", "hdrps-ds8"}
    fold = train_scenes(shared_data, ["waterloo-mef", "mef-extra", "hdrps-ds8"], any_usage=True,
                        hold_out=("waterloo-mef",))
    assert {s["source"] for s in fold} == {"mef-extra", "hdrps-ds8"}
    assert len(fold) == len(every) - sum(s["source"] == "waterloo-mef" for s in every)
    # the v1 protocol: usage train only
    assert {s["source"] for s in train_scenes(shared_data, ["waterloo-mef", "hdrps-ds8"])} \
        == {"hdrps-ds8"}


def test_virtual_stacks_are_dense_brackets_of_each_radiance_map(tmp_path: Path):
    rad = synthetic.radiance_field(64, 96) * np.float32(8.0)
    (tmp_path / "x").mkdir()
    write_exr_file(tmp_path / "x" / "a.exr", rad)
    (tmp_path / "manifest.json").write_text(json.dumps({"scenes": [
        {"id": "x/a", "source": "x", "role": "hdr-radiance", "files": [{"path": "x/a.exr"}]},
        {"id": "y/b", "source": "y", "role": "hdr-radiance", "files": [{"path": "y/b.exr"}]},
    ]}))
    stacks = virtual_stacks(tmp_path, ["x"], seeds=(0, 1), frames=5)
    assert len(stacks) == 2 and all(len(s) == 5 for s in stacks)
    for s in stacks:
        means = [float(y.mean()) for y in s]
        assert means == sorted(means) and means[-1] - means[0] > 0.3  # dark to bright, 4 EV
        assert s[0].shape == (64, 96) and s[0].dtype == np.float32
    assert not np.array_equal(stacks[0][2], stacks[1][2])  # a new camera per seed


def test_opencv_candidate_is_opencvs_merge_mertens():
    import cv2

    frames = _pair()
    bgr = [np.ascontiguousarray(_to8(f)[..., ::-1]) for f in frames]
    want = np.clip(cv2.createMergeMertens().process(bgr)[..., ::-1], 0, 1)
    np.testing.assert_allclose(D.opencv_mertens(frames), want, atol=1e-7)
