"""Files the IO tests make themselves (no shared data needed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import OpenEXR
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
SAMPLE_FILES = tuple(SAMPLES / f"desk_{k}.jpg" for k in (1, 2, 3))
SAMPLE_TIMES = (1 / 500, 1 / 50, 1 / 5)


def rgb8(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """Random uint8 RGB with a red block in the top-left (makes orientation visible)."""
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    img[: h // 4, : w // 4] = (255, 0, 0)
    return img


def save_jpeg(path: Path, img: np.ndarray, *, time: tuple[int, int] | None = None,
              iso: int | None = None, f_number: float | None = None,
              orientation: int | None = None, quality: int = 100) -> Path:
    """JPEG via Pillow with the given EXIF fields."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if time is not None:
        sub[0x829A] = IFDRational(*time)
    if iso is not None:
        sub[0x8827] = iso
    if f_number is not None:
        sub[0x829D] = IFDRational(int(f_number * 10), 10)
    Image.fromarray(img).save(path, "JPEG", quality=quality, subsampling=0, exif=exif.tobytes())
    return path


def save_exr_channels(path: Path, channels: dict, header: dict | None = None) -> Path:
    """EXR with the given channel map (e.g. {"RGB": HxWx3 float16} or {"Y": HxW})."""
    OpenEXR.File(dict(header or {"compression": OpenEXR.ZIP_COMPRESSION}), channels).write(str(path))
    return path


def png_with_header_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR claims width x height (8-bit RGB); its pixel data is a stub.

    Pillow reports the size from the header without decoding, which is what the pixel limit
    must rely on (a real 20000x20000 test file would defeat the purpose).
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path
