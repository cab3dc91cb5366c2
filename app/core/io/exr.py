"""OpenEXR reading and writing with the ``OpenEXR`` 3.x Python package.

Pixels are linear scene radiance (float32 HxWx3, >= 0 after reading). Handles RGB, RGBA (alpha
dropped), luminance-only (Y) and luminance/chroma (Y, RY, BY with sub-sampled chroma) images,
half or float channels, scanline, tiled and mip-mapped files (the full-resolution level is read).
Only the first part of a multi-part file is read. The data window is returned as the image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from app.core.errors import InputError
from app.core.io.quiet import native_output_silenced

# Rec. 709 / sRGB primaries and D65 white: the EXR default when no chromaticities are stored.
_REC709_XY = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def _openexr():
    """The OpenEXR module, imported on first use: it costs ~0.1 s of every command's start-up
    and most commands (JPEG in, TIFF out) never touch an EXR. The library's own thread pool is
    switched on (its default is none): a 12 MP PIZ write takes 0.22 s on 2 cores instead of 0.32."""
    import OpenEXR

    global _THREADS_SET
    if not _THREADS_SET:
        OpenEXR.set_global_thread_count(max(1, min(os.cpu_count() or 1, 8)))
        _THREADS_SET = True
    return OpenEXR


_THREADS_SET = False


def exr_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the first part's data window, reading only the header."""
    OpenEXR = _openexr()
    try:
        with native_output_silenced():  # the library prints its own diagnostics
            header = OpenEXR.File(str(path), header_only=True).header()
        (x0, y0), (x1, y1) = header["dataWindow"]
    except Exception as exc:  # noqa: BLE001 - the binding raises RuntimeError/ValueError/...
        raise InputError(f"{path}: {_why_unreadable(exc)}") from None
    return int(x1 - x0 + 1), int(y1 - y0 + 1)


def _why_unreadable(exc: Exception) -> str:
    """One clause for a failed EXR read. The binding's own texts are often internal ("list index
    out of range" for a file cut inside its header), so only I/O-looking ones are passed on."""
    text = _short(exc)
    if isinstance(exc, OSError) and getattr(exc, "strerror", None):
        return f"cannot be read ({exc.strerror})"
    if isinstance(exc, (IndexError, KeyError, TypeError)) or not text:
        return "not a readable OpenEXR file (truncated or corrupt)"
    return f"not a readable OpenEXR file, truncated or corrupt ({text})"


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def _luminance_weights(header: Mapping[str, Any]) -> np.ndarray:
    """Y weights of the file's RGB primaries (OpenEXR's computeYw): the Y row of RGB->XYZ."""
    chroma = header.get("chromaticities")
    try:
        xy = tuple(float(v) for v in np.asarray(chroma, dtype=np.float64).ravel())
        if len(xy) != 8:
            raise ValueError
    except (TypeError, ValueError):
        xy = _REC709_XY
    rx, ry, gx, gy, bx, by, wx, wy = xy
    prim = np.array(
        [[rx / ry, gx / gy, bx / by], [1.0, 1.0, 1.0], [(1 - rx - ry) / ry, (1 - gx - gy) / gy,
                                                        (1 - bx - by) / by]]
    )
    white = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    scale = np.linalg.solve(prim, white)
    return (prim[1] * scale).astype(np.float64)


def _from_luminance_chroma(channels: Mapping[str, np.ndarray], header: Mapping[str, Any]) -> np.ndarray:
    """RGB from Y + RY/BY (RY = (R - Y) / Y, BY = (B - Y) / Y; chroma usually at half size)."""
    y = np.asarray(channels["Y"], np.float32)
    h, w = y.shape
    ry = cv2.resize(np.asarray(channels["RY"], np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    by = cv2.resize(np.asarray(channels["BY"], np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    yw = _luminance_weights(header)
    r = (ry + 1.0) * y
    b = (by + 1.0) * y
    g = (y - r * yw[0] - b * yw[2]) / yw[1]
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def _pick_rgb(channels: Mapping[str, Any], header: Mapping[str, Any], path: str) -> np.ndarray:
    """The colour image out of the channel map the binding returns (RGB grouped when present)."""
    pixels = {name: ch.pixels for name, ch in channels.items()}
    for key in ("RGB", "RGBA"):
        if key in pixels:
            return np.asarray(pixels[key][..., :3], np.float32)
    if {"Y", "RY", "BY"} <= pixels.keys():
        return _from_luminance_chroma(pixels, header)
    if "Y" in pixels:
        y = np.asarray(pixels["Y"], np.float32)
        return np.repeat(y[..., None], 3, axis=2)
    # Layered files group as "<layer>.RGB"; take the first such layer.
    for name in sorted(pixels):
        if name.endswith(".RGB") or name.endswith(".RGBA"):
            return np.asarray(pixels[name][..., :3], np.float32)
    if len(pixels) == 1:
        (only,) = pixels.values()
        if only.ndim == 2:
            return np.repeat(np.asarray(only, np.float32)[..., None], 3, axis=2)
    raise InputError(
        f"{path}: OpenEXR file has no RGB or luminance channels (found: {', '.join(sorted(pixels))})"
    )


def read_exr(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Read an EXR: (linear float32 HxWx3 >= 0, header dict of the first part).

    Raises InputError naming the file when it is not a readable EXR or holds NaN/inf values.
    Negative values (legal in EXR, e.g. out-of-gamut colours) are clipped to 0 because every
    consumer expects radiance >= 0.
    """
    rgb, header, _bits = read_exr_with_depth(path)
    return rgb, header


def read_exr_with_depth(path: str | Path) -> tuple[np.ndarray, dict[str, Any], int]:
    """:func:`read_exr` plus the stored sample size in bits (16 half, 32 float/uint)."""
    path = str(path)
    OpenEXR = _openexr()
    try:
        with native_output_silenced():  # the library prints its own diagnostics
            exr = OpenEXR.File(path)
            part = exr.parts[0]
            header = dict(part.header)
            stored = [np.dtype(ch.pixels.dtype).itemsize * 8 for ch in part.channels.values()]
            rgb = _pick_rgb(part.channels, header, path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt/truncated files raise various errors
        raise InputError(f"{path}: {_why_unreadable(exc)}") from None
    bad = ~np.isfinite(rgb)
    if bad.any():
        raise InputError(
            f"{path}: OpenEXR file holds {int(bad.any(axis=2).sum())} pixels with NaN or infinite values"
        )
    np.maximum(rgb, 0.0, out=rgb)
    return np.ascontiguousarray(rgb, dtype=np.float32), header, max(stored, default=16)


_HALF_BLOCK_VALUES = 1 << 20  # values per block of the half-float conversion (4 MB of float32)
HALF_MAX = 65504.0  # the largest finite half float


def to_half(values: np.ndarray) -> np.ndarray:
    """float values -> float16, clipped to the half range (+-65504) first: larger values would
    become inf. What a half-float EXR stores."""
    return np.clip(values, np.float32(-HALF_MAX), np.float32(HALF_MAX)).astype(np.float16)


def _half_planes(data: np.ndarray) -> list[np.ndarray]:
    """float32 HxWx3 -> three HxW float16 planes (R, G, B) clipped to the half range (+-65504:
    larger values would become inf), in row blocks: no full-size clipped float32 copy (12 B/px)
    is made on the way. Three planes rather than one interleaved array: OpenEXR stores the
    channels apart anyway, and a third of the size finds room in the heap a freed frame left
    (3 x 200 MP Debevec to EXR: 1 GB less at its peak)."""
    h, w = data.shape[:2]
    planes = [np.empty((h, w), np.float16) for _ in range(3)]
    rows = max(1, _HALF_BLOCK_VALUES // max(1, data[:1].size))
    for a in range(0, h, rows):
        block = to_half(data[a : a + rows])
        for c in range(3):
            planes[c][a : a + rows] = block[..., c]
    return planes


def write_exr_file(
    path: str | Path,
    linear_rgb: np.ndarray,
    attributes: Mapping[str, str] | None = None,
    *,
    half: bool = True,
) -> None:
    """Write float HxWx3 (float32; float16 too with ``half``) to ``path`` (not atomic: callers
    use app.core.io.writers.write_exr).

    half=True stores 16-bit half floats (max 65504; larger values become inf, so they are
    clipped to the half maximum first), else 32-bit float. PIZ compression (lossless wavelet):
    on a 12 MP merge 0.67 s to write vs 0.96 s with ZIP, for 3 % more bytes.
    ``attributes`` become string attributes of the header.
    """
    OpenEXR = _openexr()
    data = np.asarray(linear_rgb)
    if half and data.dtype == np.float16:
        # half floats already (finite: the caller checked): OpenEXR reads the interleaved
        # array in place (measured: no copy), so no planes (6 B/px) are made
        channels = {"RGB": np.ascontiguousarray(data)}
    else:
        data = np.asarray(data, np.float32)
        channels = (dict(zip("RGB", _half_planes(data))) if half
                    else {"RGB": np.ascontiguousarray(data)})
    del data
    header: dict[str, Any] = {
        "compression": OpenEXR.PIZ_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        # the values are linear sRGB / Rec.709 primaries, D65 white
        "chromaticities": (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),
    }
    for key, value in (attributes or {}).items():
        header[str(key)] = str(value)
    OpenEXR.File(header, channels).write(str(path))
