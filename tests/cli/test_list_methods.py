"""``list-methods``: every registered method with kind, output, exposure count, availability."""

from __future__ import annotations

import json

from app.models import registry, weights
from app.models.registry import MethodSpec
from app.core.types import ResultKind
from tests.cli.helpers import cli, cli_inproc


def test_table_lists_every_method(capsys):
    proc = cli_inproc(capsys, "list-methods")
    assert proc.code == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "TITLE"]
    for m in registry.METHODS:
        row = next(l for l in lines if l.startswith(m.id + " "))
        assert m.output.value in row and m.kind in row and m.exposure_range_text() in row
    assert "sigma=0.2" in proc.stdout  # parameters with defaults
    assert "Tone-mapping operators" in proc.stdout


def test_json_in_a_subprocess():
    proc = cli("list-methods", "--json")
    assert proc.code == 0, proc.stderr
    data = json.loads(proc.stdout)  # stdout holds nothing but the JSON
    ids = [m["id"] for m in data["methods"]]
    assert ids == [m.id for m in registry.METHODS]
    mertens = data["methods"][ids.index("mertens")]
    assert mertens["kind"] == "classical" and mertens["output"] == "ldr_fused"
    assert mertens["min_exposures"] == 2 and mertens["available"] is True
    assert {p["name"] for p in mertens["params"]} == {"contrast", "saturation", "exposedness", "sigma",
                                                        "deghost"}
    assert "reinhard" in data["tone_operators"]


def test_unavailable_method_shows_the_reason(capsys, monkeypatch, tmp_path):
    fake = MethodSpec(
        id="fake_net", title="Fake learned", kind="learned", output=ResultKind.HDR_LINEAR,
        entry="app.models.fake_net:run", description="d", citation="c",
        requires=("torch",), weights_key="fake_weights", min_exposures=1, max_exposures=1,
    )
    monkeypatch.setattr(registry, "METHODS", registry.METHODS + (fake,))
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    proc = cli_inproc(capsys, "list-methods", "--json")
    entry = next(m for m in json.loads(proc.stdout)["methods"] if m["id"] == "fake_net")
    assert entry["available"] is False and "fake_weights" in entry["reason"]
    table = cli_inproc(capsys, "list-methods").stdout
    row = next(l for l in table.splitlines() if l.startswith("fake_net "))
    assert "no: " in row and "fake_weights" in row
