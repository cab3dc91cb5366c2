"""A plain export asks run() for display codes: no float32 image, the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import InputError
from app.core.io import load_stack, read_frame, write_result
from app.core.tonemap.display import to_uint
from app.core.types import ToneParams
from app.models.pipeline import plain_export_bits, process
from app.models.recipe import OutputOptions, make_recipe
from app.models.runner import run

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "samples").glob("desk_*.jpg"))
TIMES = (1 / 500, 1 / 50, 1 / 5)


@pytest.fixture(scope="module")
def stack():
    return load_stack(SAMPLES, times=TIMES)


@pytest.mark.parametrize("bits", [8, 16])
def test_run_returns_the_quantised_result_when_asked(stack, bits):
    as_float = run(stack, "mertens")
    coded = run(stack, "mertens", codes=bits)
    assert not as_float.holds_codes and coded.holds_codes
    assert coded.image.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(coded.image, to_uint(as_float.image, bits))
    np.testing.assert_allclose(coded.display_float(), as_float.image, atol=0.51 / (2**bits - 1))


def test_methods_that_cannot_return_codes_return_floats(stack):
    hdr = run(stack, "debevec", codes=8)
    assert hdr.image.dtype == np.float32 and not hdr.holds_codes
    with pytest.raises(InputError, match="codes must be 8 or 16"):
        run(stack, "mertens", codes=12)


def test_a_coded_result_writes_the_same_files(stack, tmp_path):
    as_float = run(stack, "mertens")
    coded = run(stack, "mertens", codes=8)
    for name, kw in (("a.tif", {}), ("b.png", {"bit_depth": 16}), ("c.exr", {})):
        want = read_frame(write_result(tmp_path / f"f_{name}", as_float, ToneParams(), **kw))[0]
        got = read_frame(write_result(tmp_path / f"c_{name}", coded, ToneParams(), **kw))[0]
        # 8-bit file: the same codes; 16-bit and EXR from 8-bit codes: within half an 8-bit step
        tol = 0 if name == "a.tif" else 0.51 / 255 + 1e-3
        assert np.abs(got - want).max() <= tol
    # a tone change renders the codes as floats first
    warm = ToneParams(exposure_ev=0.5)
    want = read_frame(write_result(tmp_path / "fw.tif", as_float, warm))[0]
    got = read_frame(write_result(tmp_path / "cw.tif", coded, warm))[0]
    assert 0 < np.abs(got - want).max() <= 3 / 255


def test_which_exports_ask_for_codes(tmp_path):
    tif, exr = [tmp_path / "x.tif"], [tmp_path / "x.tif", tmp_path / "x.exr"]
    assert plain_export_bits(make_recipe("mertens"), tif, quality=False) == 8
    sixteen = make_recipe("mertens", output=OutputOptions(bit_depth=16))
    assert plain_export_bits(sixteen, tif, quality=False) == 16
    assert plain_export_bits(make_recipe("mertens"), exr, quality=False) is None
    assert plain_export_bits(make_recipe("mertens"), tif, quality=True) is None
    toned = make_recipe("mertens", tone=ToneParams(saturation=1.2))
    assert plain_export_bits(toned, tif, quality=False) is None
    p3 = make_recipe("mertens", output=OutputOptions(colour_space="display-p3"))
    assert plain_export_bits(p3, tif, quality=False) is None


def test_process_writes_the_plain_fusion_from_codes(tmp_path):
    done = process(SAMPLES, make_recipe("mertens"), [tmp_path / "o.tif"], times=TIMES)
    assert done.result.holds_codes and done.result.image.dtype == np.uint8
    back = read_frame(done.outputs[0], codes=True)[0]
    np.testing.assert_array_equal(back, done.result.image)
    np.testing.assert_array_equal(back, to_uint(run(load_stack(SAMPLES, times=TIMES),
                                                      "mertens").image, 8))


@pytest.mark.parametrize("select", ["auto", "net"])
def test_deepfuse_returns_the_quantised_result_too(stack, select):
    pair = load_stack([SAMPLES[0], SAMPLES[-1]], times=(TIMES[0], TIMES[-1]))
    as_float = run(pair, "deepfuse", {"select": select})
    coded = run(pair, "deepfuse", {"select": select}, codes=8)
    assert coded.image.dtype == np.uint8
    assert coded.notes["candidate"] == as_float.notes["candidate"]
    np.testing.assert_array_equal(coded.image, to_uint(as_float.image, 8))


def test_run_refuses_an_invalid_result(stack, monkeypatch):
    from app.models import classical
    from app.models.registry import MethodOutput

    def nan_merge(*args, **kwargs):
        img = np.ones((*stack.shape, 3), np.float32)
        img[3, 4, 1] = np.nan
        return MethodOutput(image=img)

    monkeypatch.setattr(classical, "run_debevec", nan_merge)
    with pytest.raises(RuntimeError, match="invalid image"):
        run(stack, "debevec")

    def float_when_codes_asked(*args, codes=None, **kwargs):
        return MethodOutput(image=np.ones((*stack.shape, 3), np.float32))

    monkeypatch.setattr(classical, "run_mertens", float_when_codes_asked)
    run(stack, "mertens")  # floats are what it was asked for
    with pytest.raises(RuntimeError, match="invalid image"):
        run(stack, "mertens", codes=8)
