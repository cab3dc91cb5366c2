"""The method catalogue: explicit, unique ids, clear errors, availability without loading."""

from __future__ import annotations

import importlib.util
import re

import pytest

from app.core.errors import InputError, MethodUnavailable
from app.core.types import ResultKind
from app.models import registry, runner, weights
from app.models.registry import MethodSpec

KNOWN_IDS = {"mertens", "debevec", "robertson", "deepfuse", "rl_fusion", "hdrcnn", "esbn"}


def test_ids_are_unique_snake_case_and_known():
    ids = [m.id for m in registry.METHODS]
    assert len(ids) == len(set(ids))
    for i in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", i), i
    assert {"mertens", "debevec", "robertson"} <= set(ids)
    assert set(ids) <= KNOWN_IDS, f"ids outside the issue's list: {set(ids) - KNOWN_IDS}"


def test_unknown_id_lists_the_valid_ones():
    with pytest.raises(InputError) as err:
        registry.get_method("nope")
    for m in registry.METHODS:
        assert m.id in str(err.value)


def test_duplicate_ids_are_rejected():
    spec = registry.METHODS[0]
    with pytest.raises(RuntimeError, match="duplicate"):
        registry._check_unique((spec, spec))


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(InputError, match="contrast"):
        runner.resolve_params("mertens", {"contrats": "1"})


def test_parameters_parse_from_strings_and_validate_ranges():
    params = runner.resolve_params("mertens", {"sigma": "0.3", "contrast": 2})
    assert params["sigma"] == pytest.approx(0.3) and params["contrast"] == 2.0
    with pytest.raises(InputError, match=">="):
        runner.resolve_params("mertens", {"sigma": "0"})
    with pytest.raises(InputError, match="not a valid float"):
        runner.resolve_params("mertens", {"sigma": "wide"})


def _fake(**changes) -> MethodSpec:
    base = dict(
        id="fake", title="Fake", kind="learned", output=ResultKind.LDR_FUSED,
        entry="app.models.fake:run", description="d", citation="c",
    )
    base.update(changes)
    return MethodSpec(**base)


def test_missing_dependency_makes_a_method_unavailable_with_the_reason():
    ok, reason = registry.availability(_fake(requires=("no_such_module_xyz",)))
    assert not ok and "no_such_module_xyz" in reason and "not installed" in reason


def test_missing_weights_make_a_method_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    ok, reason = registry.availability(_fake(weights_key="fake"))
    assert not ok and "fake" in reason


def test_unavailable_method_raises_method_unavailable(monkeypatch, synthetic_scene):
    from app.core.types import ExposureStack

    _, frames, times = synthetic_scene
    spec = _fake(id="fake", requires=("no_such_module_xyz",), min_exposures=2)
    monkeypatch.setattr(registry, "METHODS", registry.METHODS + (spec,))
    monkeypatch.setattr(runner, "get_method", registry.get_method)
    stack = ExposureStack(frames=tuple(frames[:2]), exposures=tuple(times[:2]))
    with pytest.raises(MethodUnavailable, match="no_such_module_xyz"):
        runner.run(stack, "fake")


def test_runnable_on_checks_exposure_counts():
    spec = _fake(kind="classical", min_exposures=2, max_exposures=2)
    assert registry.runnable_on(spec, 2) == (True, "")
    ok, reason = registry.runnable_on(spec, 1)
    assert not ok and "at least 2" in reason
    ok, reason = registry.runnable_on(spec, 3)
    assert not ok and "at most 2" in reason


@pytest.mark.parametrize("method_id", [m.id for m in registry.METHODS])
def test_entry_of_every_listed_method_resolves(method_id):
    """An id in the catalogue points at a real callable (no placeholder entries)."""
    spec = registry.get_method(method_id)
    module = spec.entry.partition(":")[0]
    assert importlib.util.find_spec(module) is not None, f"{spec.entry}: module missing"
    assert callable(spec.load()), spec.entry
