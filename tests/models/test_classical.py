"""Classical methods through the one entry point ``app.models.runner.run``."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import Cancelled, InputError
from app.core.progress import TaskContext
from app.core.types import ExposureStack, ResultKind
from app.models.runner import run
from tests import synthetic


@pytest.fixture(scope="module")
def stack():
    rad = synthetic.radiance_field()
    return rad, ExposureStack(tuple(synthetic.photograph(rad)), exposures=synthetic.TIMES)


def test_mertens_through_runner(stack):
    _, st = stack
    res = run(st, "mertens", {"sigma": "0.25", "contrast": 1.0})
    assert res.kind == ResultKind.LDR_FUSED
    assert res.image.shape == st.frames[0].shape and res.image.dtype == np.float32
    assert 0.0 <= res.image.min() and res.image.max() <= 1.0
    assert res.provenance.method == "mertens" and res.provenance.params["sigma"] == 0.25


@pytest.mark.parametrize("method", ["debevec", "robertson"])
def test_hdr_methods_through_runner(stack, method):
    rad, st = stack
    res = run(st, method, {"deghost": True})
    assert res.kind == ResultKind.HDR_LINEAR and res.is_hdr
    mask = (rad.max(axis=2) * synthetic.TIMES[-1] > 0.02) & (rad.max(axis=2) * synthetic.TIMES[0] < 0.9)
    ratio = res.image[mask] / rad[mask]
    assert np.median(np.abs(ratio / np.median(ratio) - 1)) < 0.02


def test_debevec_samples_param_and_validation(stack):
    _, st = stack
    res = run(st, "debevec", {"samples": 40})
    assert res.provenance.params["samples"] == 40
    with pytest.raises(InputError):
        run(st, "debevec", {"samples": 5})
    with pytest.raises(InputError):
        run(st, "robertson", {"samples": 70})  # robertson has no samples parameter


def test_one_frame_rejected(stack):
    _, st = stack
    with pytest.raises(InputError):
        run(ExposureStack(st.frames[:1]), "mertens")


def test_cancel_through_runner(stack):
    _, st = stack
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        run(st, "mertens", ctx=ctx)


def test_linear_stack_mertens_and_debevec(stack):
    rad, _ = stack
    frames = tuple(np.clip(rad * t, 0, 1).astype(np.float32) for t in synthetic.TIMES)
    st = ExposureStack(frames, exposures=synthetic.TIMES, linear=True)
    fused = run(st, "mertens").image
    assert 0.0 <= fused.min() and fused.max() <= 1.0 and fused.std() > 0.05
    hdr = run(st, "debevec").image
    np.testing.assert_allclose(hdr[40:60, 40:60], (rad * synthetic.TIMES[2])[40:60, 40:60], rtol=1e-3)


def test_real_stack_with_exif_times(shared_data):
    from app.core.io import load_stack

    folder = shared_data / "mef-extra" / "Villa"
    st = load_stack(sorted(folder.glob("*.jpg")))
    assert st.exposures is not None  # EXIF exposure times
    fused = run(st, "mertens", align="mtb").image
    assert fused.shape[2] == 3 and 0.0 <= fused.min() and fused.max() <= 1.0
    hdr = run(st, "debevec").image
    rob = run(st, "robertson").image
    for img in (hdr, rob):
        assert np.isfinite(img).all() and img.min() >= 0
        # radiance spans more than the reference frame can hold: a real HDR merge
        lum = img.mean(axis=2)
        assert np.percentile(lum, 99.9) / max(np.percentile(lum, 1), 1e-6) > 50
    # the two merges agree on the bulk of the image (same exposures, different estimators)
    ratio = np.median(hdr[hdr > 0.05] / np.maximum(rob[hdr > 0.05], 1e-6))
    assert 0.7 < ratio < 1.4
