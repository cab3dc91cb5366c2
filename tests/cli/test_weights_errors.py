"""Learned methods whose weights are missing or fail their sha256 check: exit 3, one line, no
output. The weights folder is one the test makes (weights.WEIGHTS_DIR, or LUMAFUSE_WEIGHTS_DIR
for a subprocess)."""

from __future__ import annotations

import json

import pytest

from app.models import registry, weights
from tests.cli.helpers import assert_one_line_error, cli, cli_inproc, folder_files

LEARNED = [m for m in registry.METHODS if m.weights_key]
IDS = [m.id for m in LEARNED]


def _inputs(spec, bracket):
    n = spec.min_exposures if spec.max_exposures == spec.min_exposures else 2
    return bracket[:n]


def _tampered(folder, key):
    folder.mkdir()
    (folder / "w.safetensors").write_bytes(b"\x00" * 64)  # not what the manifest promises
    (folder / "manifest.json").write_text(
        json.dumps({key: {"file": "w.safetensors", "sha256": "1" * 64}})
    )
    return folder


@pytest.mark.parametrize("spec", LEARNED, ids=IDS)
def test_tampered_weights_are_refused(spec, bracket, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", _tampered(tmp_path / "weights", spec.weights_key))
    out = tmp_path / "out.png"
    before = folder_files(tmp_path)
    proc = cli_inproc(capsys, "fuse", *_inputs(spec, bracket), "-m", spec.id, "-o", out)
    assert_one_line_error(proc, "w.safetensors", "sha256", code=3)
    assert folder_files(tmp_path) == before


@pytest.mark.parametrize("spec", LEARNED, ids=IDS)
def test_missing_weights_make_the_method_unavailable(spec, bracket, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "noweights")
    proc = cli_inproc(capsys, "fuse", *_inputs(spec, bracket), "-m", spec.id,
                      "-o", tmp_path / "out.png")
    assert_one_line_error(proc, spec.id, "weights", code=3)
    assert not (tmp_path / "out.png").exists()
    listing = cli_inproc(capsys, "list-methods", "--json")
    entry = next(m for m in json.loads(listing.stdout)["methods"] if m["id"] == spec.id)
    assert entry["available"] is False and spec.weights_key in entry["reason"]


def test_weights_folder_from_the_environment(tmp_path):
    """LUMAFUSE_WEIGHTS_DIR moves the weights folder (e.g. for a non-editable install)."""
    keys = {m.weights_key for m in LEARNED} or {"deepfuse"}
    folder = tmp_path / "w"
    folder.mkdir()
    for key in keys:
        (folder / f"{key}.safetensors").write_bytes(b"x")
    (folder / "manifest.json").write_text(json.dumps(
        {k: {"file": f"{k}.safetensors", "sha256": "2" * 64} for k in keys}))
    listing = cli("list-methods", "--json", env={"LUMAFUSE_WEIGHTS_DIR": str(folder)})
    assert listing.code == 0, listing.stderr
    methods = {m["id"]: m for m in json.loads(listing.stdout)["methods"]}
    for spec in LEARNED:  # listed as available: status is cheap and does not hash
        assert methods[spec.id]["available"] is True, methods[spec.id]["reason"]
    empty = cli("list-methods", "--json", env={"LUMAFUSE_WEIGHTS_DIR": str(tmp_path / "none")})
    none = {m["id"]: m for m in json.loads(empty.stdout)["methods"]}
    for spec in LEARNED:
        assert none[spec.id]["available"] is False
