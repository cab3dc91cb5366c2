"""Output colour spaces: sRGB (default), Display P3 and Adobe RGB (1998), with a real
conversion and a matching ICC profile.

The renderer produces sRGB-encoded display values. For another space the image is decoded to
linear sRGB, taken through CIE XYZ (both D65, so no white adaptation) into the target's
linear RGB and encoded with the target's transfer curve (Display P3: the sRGB curve; Adobe RGB:
gamma 563/256). The rendering's colours are kept (an sRGB picture in a wider container: the
renderer clips to sRGB, so no wider-gamut colour is invented).

The ICC profiles are built here (version 2.1 display profiles: description, copyright, D50
white point, Bradford-adapted colorants, sampled tone curves), so any colour-managed viewer
shows the pixels as intended; the sRGB one comes from LittleCMS through Pillow.
"""

from __future__ import annotations

import struct
from functools import lru_cache

import numpy as np

from app.core.errors import OutputError

SPACES = ("srgb", "display-p3", "adobe-rgb")
_D65 = (0.3127, 0.3290)
_PRIMARIES = {
    "srgb": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)),
    "display-p3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
    "adobe-rgb": ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
}
ADOBE_GAMMA = 563 / 256
_TITLES = {"srgb": "sRGB", "display-p3": "Display P3", "adobe-rgb": "Adobe RGB (1998) compatible"}
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614],
                      [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])
_D50_XYZ = np.array([0.9642, 1.0, 0.8249])


def check_space(space: str) -> str:
    if space not in SPACES:
        raise OutputError(f"unknown colour space {space!r}; valid: {', '.join(SPACES)}")
    return space


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


@lru_cache(maxsize=None)
def rgb_to_xyz(space: str) -> np.ndarray:
    """3x3 matrix: linear RGB of ``space`` -> CIE XYZ (D65 white at Y = 1)."""
    prim = np.stack([_xyz(p) for p in _PRIMARIES[space]], axis=1)
    scale = np.linalg.solve(prim, _xyz(_D65))
    return prim * scale[None, :]


def _encode(linear: np.ndarray, space: str) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    if space == "adobe-rgb":
        return np.power(x, 1.0 / ADOBE_GAMMA)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _decode_srgb(encoded: np.ndarray) -> np.ndarray:
    x = np.clip(encoded, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def convert_display(srgb_display: np.ndarray, space: str) -> np.ndarray:
    """sRGB-encoded float HxWx3 [0, 1] -> the same colours encoded in ``space`` (float32)."""
    check_space(space)
    if space == "srgb":
        return srgb_display
    m = np.linalg.solve(rgb_to_xyz(space), rgb_to_xyz("srgb")).astype(np.float32)
    linear = _decode_srgb(np.asarray(srgb_display, np.float32)).astype(np.float32)
    import cv2

    target = cv2.transform(linear, m)
    return _encode(target, space).astype(np.float32)


# -- ICC profiles ---------------------------------------------------------------------------
def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_
            + b"\0" * 8  # no Unicode description
            + b"\0" * 3 + b"\0" * 67)  # no ScriptCode description


def _text_tag(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def _curve_tag(space: str) -> bytes:
    if space == "adobe-rgb":  # a pure gamma: one u8Fixed8 entry (563/256 is exact in it)
        return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 563) + b"\0\0"
    x = np.linspace(0.0, 1.0, 1024)
    y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)  # the sRGB curve
    table = np.round(y * 65535).astype(">u2").tobytes()
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1024) + table


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


@lru_cache(maxsize=None)
def icc_profile(space: str) -> bytes:
    """The ICC profile bytes of an output space."""
    check_space(space)
    if space == "srgb":
        from app.core.io.photo_meta import srgb_profile

        return srgb_profile()
    m = rgb_to_xyz(space)
    # adapt the colorants from D65 to the profile connection space's D50 (Bradford)
    src, dst = _BRADFORD @ _xyz(_D65), _BRADFORD @ _D50_XYZ
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(dst / src) @ _BRADFORD
    colorants = adapt @ m
    curve = _curve_tag(space)
    tags = [
        (b"desc", _desc_tag(f"Lumafuse {_TITLES[space]}")),
        (b"cprt", _text_tag("No copyright, use freely")),
        (b"wtpt", _xyz_tag(_D50_XYZ)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, blobs, seen = [], b"", {}
    for sig, data in tags:
        if data in seen:  # the three TRCs share one copy
            entries.append((sig, *seen[data]))
            continue
        seen[data] = (offset + len(blobs), len(data))
        entries.append((sig, offset + len(blobs), len(data)))
        blobs += _pad(data)
    table = struct.pack(">I", len(tags)) + b"".join(
        sig + struct.pack(">II", off, size) for sig, off, size in entries)
    size = 128 + len(table) + len(blobs)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntr"
              + b"RGB " + b"XYZ " + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp"
              + b"\0" * 4 + b"\0" * 4 + b"\0" * 4 + b"\0" * 4 + b"\0" * 8
              + struct.pack(">I", 0) + b"".join(_s15(v) for v in _D50_XYZ)
              + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + table + blobs
