"""The method contract, checked for every method in the registry (classical and learned).

For each registered method: output shape and dtype, finite values, range ([0, 1] for ldr_fused,
>= 0 for hdr_linear), provenance filled, inputs never mutated, cancellation honoured (before
and during the run), defaults valid, wrong exposure counts and unknown parameters refused.

Learned methods run with random-initialised weights, so this suite needs no trained file: the
fixture replaces ``app.models.weights.load_into`` (the loading hook every learned module calls
as ``weights.load_into(model, key)``) with a no-op and ``weights.status`` with "available".
Golden tests with the shipped weights live in each method's own test file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import Cancelled, InputError
from app.core.progress import TaskContext
from app.core.types import ExposureStack, FrameInfo, ResultKind, float_frame
from app.models import registry, weights
from app.models.runner import run
from tests import synthetic
from tests.models import fakes

REPO = Path(__file__).resolve().parents[2]
METHOD_IDS = [m.id for m in registry.METHODS]
H, W = 61, 83  # odd on purpose: methods pad / tile internally and must return the input size


@pytest.fixture(autouse=True)
def random_init_weights(monkeypatch):
    """Learned methods keep their random initialisation; no weights file is needed."""

    def fake_load_into(module, key, *, arch=None):
        return {"arch": arch or "random-init"}, "0" * 64

    monkeypatch.setattr(weights, "load_into", fake_load_into)
    # numpy-run networks (the RL fusion agent, deepfuse on the CPU)
    monkeypatch.setattr(weights, "load_numpy", fakes.fake_numpy_weights)
    monkeypatch.setattr(weights, "status", lambda key: (True, ""))


def _n_frames(spec: registry.MethodSpec) -> int:
    n = max(spec.min_exposures, 3)
    return min(n, spec.max_exposures) if spec.max_exposures is not None else n


def _stack(n: int) -> ExposureStack:
    """n display-referred frames of the synthetic scene, dark to bright, with known times."""
    rad = synthetic.radiance_field(H, W)
    times = synthetic.TIMES[-n:] if n <= len(synthetic.TIMES) else None
    if times is None:
        times = tuple(2.0 ** (2 * k - n) for k in range(n))
    if n == 1:
        times = (synthetic.TIMES[2],)
    frames = synthetic.photograph(rad, times)
    infos = tuple(FrameInfo(path=f"frame{i}.png", exposure_time=t) for i, t in enumerate(times))
    return ExposureStack(frames=tuple(frames), exposures=tuple(times), infos=infos)


@pytest.fixture(params=METHOD_IDS)
def spec(request) -> registry.MethodSpec:
    spec = registry.get_method(request.param)
    for mod in spec.requires:  # a dependency missing here is an environment problem
        pytest.importorskip(mod)
    return spec


def test_registry_is_not_empty_and_has_the_classical_methods():
    assert {"mertens", "debevec", "robertson"} <= set(METHOD_IDS)


def test_output_contract(spec):
    stack = _stack(_n_frames(spec))
    originals = [f.copy() for f in stack.frames]
    seen: list[float] = []
    ctx = TaskContext(lambda f, msg: seen.append(f))
    result = run(stack, spec.id, None, ctx)

    img = result.image
    assert img.shape == (H, W, 3)
    assert img.dtype == np.float32
    assert np.isfinite(img).all()
    assert result.kind == spec.output
    if spec.output == ResultKind.LDR_FUSED:
        assert img.min() >= 0.0 and img.max() <= 1.0
    else:
        assert img.min() >= 0.0
    assert float(img.std()) > 1e-4, "the output is flat: the method ignored its input"

    prov = result.provenance
    assert prov.method == spec.id
    assert {k: v for k, v in prov.params.items() if k not in ("align", "reference")} == spec.defaults()
    assert prov.inputs == stack.paths
    assert prov.duration_s > 0 and prov.device in ("cpu", "cuda")
    if spec.weights_key:
        assert prov.weights_sha256 and len(prov.weights_sha256) == 64
    # progress went forward and ended at 1
    assert seen and seen[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-9 for a, b in zip(seen, seen[1:])), "progress went backwards"
    for before, after in zip(originals, stack.frames):
        np.testing.assert_array_equal(before, after)  # inputs are never modified


def _seeded_run(stack: ExposureStack, method_id: str) -> np.ndarray:
    """run() with the random initialisation of a learned method made the same every time."""
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
    np.random.seed(0)
    return run(stack, method_id).image


@pytest.mark.parametrize("bits", [8, 16])
def test_integer_codes_give_the_result_of_the_same_frames_as_floats(spec, bits):
    """load_stack keeps 8/16-bit files as their uint8 / uint16 codes (a quarter / half of the
    memory): every method must give what it gives for the same frames as [0, 1] floats, whether
    it takes the codes itself (accepts_codes) or run() converts them for it."""
    stack = _stack(_n_frames(spec))
    top = 2**bits - 1
    codes = [np.rint(f * top).astype(np.uint8 if bits == 8 else np.uint16) for f in stack.frames]
    as_codes = stack.with_frames(codes)
    as_floats = stack.with_frames([float_frame(c) for c in codes])  # what read_frame gives
    np.testing.assert_allclose(as_floats.frames[0], codes[0] / top, rtol=1e-6)
    assert as_codes.holds_codes and not as_floats.holds_codes
    a, b = (_seeded_run(s, spec.id) for s in (as_codes, as_floats))
    assert a.dtype == np.float32 and a.shape == b.shape == (H, W, 3)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(b.max())))
    for before, after in zip(codes, as_codes.frames):
        np.testing.assert_array_equal(before, after)  # the codes are not converted in place


def test_precancelled_context_is_honoured_by_the_entry(spec):
    """Called directly (not through run()), the entry itself must check the token."""
    stack = _stack(_n_frames(spec))
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        spec.load()(stack, spec.defaults(), ctx, "cpu")


def test_cancel_during_run_stops_the_method(spec):
    """Cancelling from the first progress report makes the run raise Cancelled, no Result."""
    stack = _stack(_n_frames(spec))
    calls = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        ctx.cancel()

    ctx = TaskContext(progress)
    with pytest.raises(Cancelled):
        run(stack, spec.id, None, ctx)
    assert calls, "the method never reported progress"


def test_defaults_are_valid(spec):
    assert spec.kind in ("classical", "learned")
    assert isinstance(spec.output, ResultKind)
    assert spec.title and spec.description and spec.citation
    assert spec.min_exposures >= 1
    assert spec.max_exposures is None or spec.max_exposures >= spec.min_exposures
    names = [p.name for p in spec.params]
    assert len(names) == len(set(names)), "duplicate parameter names"
    for p in spec.params:
        assert p.type in (int, float, bool, str), p.name
        assert isinstance(p.default, p.type), p.name
        assert p.validate(p.default) == p.default, p.name
        assert p.parse(str(p.default)) == p.default, p.name  # the CLI round trip
        assert p.help, f"{spec.id}.{p.name} has no help text"
    if spec.kind == "learned":
        assert spec.weights_key, "learned methods name their weights"
        # what loads the weights: torch, or safetensors alone for networks run in numpy
        assert {"torch", "safetensors"} & set(spec.requires)


def test_wrong_exposure_counts_are_input_errors(spec):
    if spec.min_exposures > 1:
        with pytest.raises(InputError, match="at least"):
            run(_stack(spec.min_exposures - 1), spec.id)
    if spec.max_exposures is not None:
        with pytest.raises(InputError, match="at most"):
            run(_stack(spec.max_exposures + 1), spec.id)
    if spec.min_exposures == 1 and spec.max_exposures is None:
        pytest.skip(f"{spec.id} accepts any number of exposures: no wrong count exists")


def test_unknown_parameter_is_refused(spec):
    with pytest.raises(InputError, match="no parameter"):
        run(_stack(_n_frames(spec)), spec.id, {"no_such_param": 1})


def test_entry_modules_import_without_torch():
    """Listing methods must not need torch: entry modules import it inside functions."""
    modules = sorted({m.entry.partition(":")[0] for m in registry.METHODS})
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from app.models import registry\n"
        "[registry.availability(m) for m in registry.METHODS]\n"
        "print(sorted(m for m in ('torch', 'safetensors', 'PySide6') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"imported at listing time: {out.stdout.strip()}"
