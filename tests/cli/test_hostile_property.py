"""Property-based hostile input (hypothesis): random option strings and byte-mangled image files
thrown at ``fuse`` and ``tonemap``. Whatever comes in, the command exits 0, 2 or 3; a refusal is
exactly one ``lumafuse: error:`` line naming a file, option or parameter it was given; there is
never a traceback or a stray library message, never a leftover file, and the inputs are unchanged.

Runs in-process with file-descriptor capture (``capfd``), so native libraries writing straight
to fd 2 are caught too. Derandomised: the same examples every run.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import synthetic

SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _frames() -> list[np.ndarray]:
    return synthetic.photograph(synthetic.radiance_field(48, 64), synthetic.TIMES[1:])


def _encoded(fmt: str, frame: np.ndarray) -> bytes:
    if fmt == "exr":
        buf = tempfile.NamedTemporaryFile(suffix=".exr", delete=False)
        buf.close()
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, {"RGB": (frame ** 2.2).astype(np.float16)}).write(buf.name)
        data = Path(buf.name).read_bytes()
        Path(buf.name).unlink()
        return data
    bgr = np.round(frame[..., ::-1] * 255).astype(np.uint8)
    ok, enc = cv2.imencode(f".{fmt}", bgr)
    assert ok
    return enc.tobytes()


FORMATS = ("png", "jpg", "tif", "exr")
GOOD = {fmt: [_encoded(fmt, f) for f in _frames()] for fmt in FORMATS}


@st.composite
def mangled(draw, data: bytes) -> bytes:
    """``data`` damaged a few ways: cut, bytes flipped, bytes inserted, garbage appended, or
    a run of bytes overwritten (headers included)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cut", "flip", "insert", "append", "overwrite"]))
        pos = draw(st.integers(0, max(0, len(out) - 1)))
        if op == "cut":
            out = out[:pos]
        elif op == "flip" and out:
            out[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "append":
            out += draw(st.binary(min_size=1, max_size=64))
        elif out:
            chunk = draw(st.binary(min_size=1, max_size=32))
            out[pos : pos + len(chunk)] = chunk
    return bytes(out)


NUMBERS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400", "1e308", "0", "-0", "1/0", "",
                     "1/3", "0x10", "1_000", " 2 ", "+-1", "１", "NaN", "Infinity"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.text(max_size=8),
)
METHODS = ("mertens", "debevec", "robertson", "deepfuse", "hdrcnn", "nope", "")
PARAM_NAMES = ("contrast", "saturation", "exposedness", "sigma", "gamma", "deghost", "samples",
               "lambda_", "x", "")
TMOS = ("reinhard", "reinhard_local", "drago", "mantiuk", "filmic", "none", "bogus")
TMO_PARAM_NAMES = ("key", "white", "bias", "saturation", "detail", "x")


@st.composite
def options(draw, n_inputs: int) -> list[str]:
    opts: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(
            ["--ev", "--times", "--param", "-m", "--tmo", "--tmo-param", "--exposure", "--gamma",
             "--saturation", "--bit-depth", "--quality", "--align", "--device", "--float"]))
        if kind in ("--ev", "--times"):
            count = draw(st.integers(max(0, n_inputs - 1), n_inputs + 1))
            value = ",".join(draw(NUMBERS) for _ in range(count))
        elif kind == "--param":
            value = f"{draw(st.sampled_from(PARAM_NAMES))}={draw(NUMBERS)}"
        elif kind == "--tmo-param":
            value = f"{draw(st.sampled_from(TMO_PARAM_NAMES))}={draw(NUMBERS)}"
        elif kind == "-m":
            value = draw(st.sampled_from(METHODS))
        elif kind == "--tmo":
            value = draw(st.sampled_from(TMOS))
        elif kind == "--align":
            value = draw(st.sampled_from(["none", "mtb", "homography", "affine"]))
        elif kind == "--device":
            value = draw(st.sampled_from(["cpu", "auto", "tpu"]))
        elif kind == "--float":
            opts.append(kind)
            continue
        else:
            value = draw(NUMBERS)
        opts.append(f"{kind}={value}")
    return opts


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _run(capfd, argv: list[str]) -> tuple[int, str, str]:
    from app.launcher import main

    capfd.readouterr()
    code = main(argv)
    out = capfd.readouterr()
    return code, out.out, out.err


def _check(code: int, out: str, err: str, folder: Path, before: dict, output: Path,
           mentions: list[str]) -> None:
    event(f"exit {code}")
    assert code in (0, 2, 3), f"exit {code}:\n{err}"
    assert "Traceback" not in err and "Warning" not in err and "warning" not in err.lower(), err
    assert _digest(folder).items() >= before.items(), "an input was changed"
    if code == 0:
        assert output.is_file()
        assert set(_digest(folder)) == set(before) | {output.name}, "stray files"
        return
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("lumafuse: error: "), err
    assert out == "", out
    assert any(m and m.lower() in lines[0].lower() for m in mentions), (
        f"{lines[0]!r} names none of {mentions}")
    assert _digest(folder) == before, "a file was left behind"


@SETTINGS
@given(data=st.data())
def test_fuse_survives_hostile_files_and_options(capfd, data):
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    n = data.draw(st.integers(1, 3), label="inputs")
    bad = data.draw(st.integers(0, n - 1), label="mangled input")
    blobs = [GOOD[fmt][k] for k in range(n)]
    if data.draw(st.booleans(), label="mangle"):
        blobs[bad] = data.draw(mangled(blobs[bad]), label="bytes")
    opts = data.draw(options(n), label="options")
    ext = data.draw(st.sampled_from(["png", "jpg", "tif", "exr", "hdr", "webp"]), label="out")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = []
        for k, blob in enumerate(blobs):
            p = folder / f"in{k}.{fmt}"
            p.write_bytes(blob)
            inputs.append(p)
        output = folder / f"result.{ext}"
        before = _digest(folder)
        argv = ["fuse", *map(str, inputs), "-o", str(output), "-q", *opts]
        code, out, err = _run(capfd, argv)
        mentions = [p.name for p in inputs] + [output.name]
        for o in opts:
            name, _, value = o.partition("=")
            mentions += [name, name.lstrip("-"), value.partition("=")[0], value]
        mentions += ["parameter", "exposure", "method", "frames", "inputs"]
        _check(code, out, err, folder, before, output, mentions)


@SETTINGS
@given(data=st.data())
def test_tonemap_survives_hostile_files_and_options(capfd, data):
    blob = GOOD["exr"][1]
    if data.draw(st.booleans(), label="mangle"):
        blob = data.draw(mangled(blob), label="bytes")
    opts = [o for o in data.draw(options(1), label="options")
            if o.split("=")[0] in ("--tmo", "--tmo-param", "--exposure", "--gamma",
                                   "--saturation", "--bit-depth", "--quality")]
    ext = data.draw(st.sampled_from(["png", "jpg", "tif", "exr"]), label="out")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "scene.exr"
        src.write_bytes(blob)
        output = folder / f"shown.{ext}"
        before = _digest(folder)
        code, out, err = _run(capfd, ["tonemap", str(src), "-o", str(output), "-q", *opts])
        mentions = [src.name, output.name]
        for o in opts:
            name, _, value = o.partition("=")
            mentions += [name, name.lstrip("-"), value.partition("=")[0], value]
        mentions += ["parameter", "operator"]
        _check(code, out, err, folder, before, output, mentions)
