"""Weights: manifest lookup, sha256 check, safetensors-only loading, strict state_dict loading.

Every test builds its own weights folder (tmp_path), except the last one, which checks the
integrity of the weight files shipped in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.core.errors import InputError, WeightsError
from app.models import weights

REPO = Path(__file__).resolve().parents[2]


class Tiny(torch.nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3)
        self.out = torch.nn.Conv2d(width, 3, 1)


@pytest.fixture
def wdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def _export_tiny(seed: int = 1, width: int = 4) -> tuple[Tiny, str]:
    torch.manual_seed(seed)
    model = Tiny(width)
    digest = weights.export(
        "tiny",
        model.state_dict(),
        arch="tiny-v1",
        hparams={"width": width},
        manifest_fields={"steps": 3, "seed": seed, "licence": "BSD-3-Clause"},
    )
    return model, digest


def test_export_then_strict_load_round_trips(wdir):
    model, digest = _export_tiny()
    manifest = json.loads((wdir / "manifest.json").read_text())
    assert manifest["tiny"]["sha256"] == digest
    assert manifest["tiny"]["file"] == "tiny.safetensors" and manifest["tiny"]["steps"] == 3
    assert hashlib.sha256((wdir / "tiny.safetensors").read_bytes()).hexdigest() == digest
    assert weights.status("tiny") == (True, "")

    torch.manual_seed(99)
    fresh = Tiny()
    assert not torch.equal(fresh.conv.weight, model.conv.weight)
    meta, sha = weights.load_into(fresh, "tiny", arch="tiny-v1")
    assert sha == digest
    assert meta["arch"] == "tiny-v1" and weights.hparams(meta) == {"width": 4}
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_concurrent_exports_keep_every_entry(wdir, monkeypatch):
    """Two trainings exporting at once must not drop each other's manifest entry. A slow
    manifest read widens the read-modify-write window so a missing lock shows up reliably."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    real_read = weights.read_manifest

    def slow_read():
        data = real_read()
        time.sleep(0.05)
        return data

    monkeypatch.setattr(weights, "read_manifest", slow_read)

    def one(i: int) -> str:
        torch.manual_seed(i)
        return weights.export(f"m{i}", Tiny().state_dict(), arch="tiny-v1", hparams={})

    with ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(one, range(4)))
    manifest = json.loads((wdir / "manifest.json").read_text())
    assert {k: v["sha256"] for k, v in manifest.items()} == {f"m{i}": d for i, d in enumerate(digests)}


def test_status_reports_missing_entry_and_file(wdir):
    ok, reason = weights.status("tiny")
    assert not ok and "no entry" in reason and "tiny" in reason
    _export_tiny()
    (wdir / "tiny.safetensors").unlink()
    ok, reason = weights.status("tiny")
    assert not ok and "missing" in reason and "tiny.safetensors" in reason


def test_status_follows_manifest_changes(wdir):
    """The manifest cache is keyed by mtime: a rewritten manifest is seen at once."""
    _export_tiny()
    assert weights.status("tiny")[0]
    path = wdir / "manifest.json"
    path.write_text("{}")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not weights.status("tiny")[0]


def test_hash_mismatch_is_refused(wdir):
    _export_tiny()
    data = json.loads((wdir / "manifest.json").read_text())
    data["tiny"]["sha256"] = "0" * 64
    (wdir / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="sha256"):
        weights.load_into(Tiny(), "tiny")


def test_corrupt_file_with_matching_hash_is_refused(wdir):
    """A file that passes the hash but is not safetensors (e.g. a pickle renamed) is refused."""
    blob = b"\x80\x04not a safetensors file at all"
    (wdir / "bad.safetensors").write_bytes(blob)
    (wdir / "manifest.json").write_text(
        json.dumps({"bad": {"file": "bad.safetensors", "sha256": hashlib.sha256(blob).hexdigest()}})
    )
    assert weights.status("bad")[0]  # cheap status does not read the file
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        weights.load_weights("bad")


def test_non_safetensors_files_are_never_loaded(wdir):
    (wdir / "model.pt").write_bytes(b"pickle")
    (wdir / "manifest.json").write_text(
        json.dumps({"pt": {"file": "model.pt", "sha256": hashlib.sha256(b"pickle").hexdigest()}})
    )
    assert not weights.status("pt")[0]
    with pytest.raises(WeightsError, match="only .safetensors"):
        weights.load_weights("pt")


def test_arch_mismatch_is_refused(wdir):
    _export_tiny()
    with pytest.raises(WeightsError, match="architecture"):
        weights.load_into(Tiny(), "tiny", arch="other-v2")
    data = json.loads((wdir / "manifest.json").read_text())
    data["tiny"]["arch"] = "other-v2"
    (wdir / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="manifest says"):
        weights.load_weights("tiny")


def test_strict_load_rejects_other_shapes(wdir):
    _export_tiny(width=4)
    with pytest.raises(WeightsError, match="do not fit"):
        weights.load_into(Tiny(width=8), "tiny")


def test_manifest_entry_without_hash_is_an_error(wdir):
    (wdir / "manifest.json").write_text(json.dumps({"x": {"file": "x.safetensors"}}))
    ok, reason = weights.status("x")
    assert not ok and "sha256" in reason


def test_resolve_device():
    assert weights.resolve_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert weights.resolve_device("auto") == expected
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            weights.resolve_device("cuda")
    with pytest.raises(InputError, match="auto, cpu or cuda"):
        weights.resolve_device("tpu")


def test_status_does_not_import_torch():
    """The registry lists methods through status(); that must work without importing torch."""
    code = (
        "import sys; from app.models import weights; weights.status('deepfuse'); "
        "weights.status('hdrcnn'); print('torch' in sys.modules, 'safetensors' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def _manifest_items():
    path = REPO / "weights" / "manifest.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    return sorted(data.items())


def test_shipped_manifest_is_well_formed():
    data = json.loads((REPO / "weights" / "manifest.json").read_text())
    assert isinstance(data, dict)
    for key, item in data.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
        assert item["file"].endswith(".safetensors"), key
        assert re.fullmatch(r"[0-9a-f]{64}", item["sha256"]), key
    # Weights are safetensors only: no pickled checkpoints shipped next to them.
    assert not [p.name for p in (REPO / "weights").iterdir() if p.suffix in (".pt", ".pth", ".ckpt")]


@pytest.mark.parametrize("key,item", _manifest_items() or [pytest.param("", {}, marks=pytest.mark.skip(reason="no shipped weights yet"))])
def test_shipped_weights_match_their_hash(key, item):
    path = REPO / "weights" / item["file"]
    assert path.is_file(), f"{key}: {path} is missing"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"], key


def test_batch_workers_keep_one_network_per_method():
    """Inside keeping_models (a batch worker), the second bracket reuses the loaded network;
    outside it, every run loads its own."""
    from app.models import weights

    calls = []

    def load():
        calls.append(1)
        return object(), "digest"

    assert weights.weights_file("deepfuse").is_file()
    weights.kept_model("deepfuse", "cpu", load)
    weights.kept_model("deepfuse", "cpu", load)
    assert len(calls) == 2
    with weights.keeping_models():
        first = weights.kept_model("deepfuse", "cpu", load)
        again = weights.kept_model("deepfuse", "cpu", load)
        assert again is first and len(calls) == 3
    weights.kept_model("deepfuse", "cpu", load)
    assert len(calls) == 4  # dropped when the worker ends
