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


def save_dng(path: Path, cfa: np.ndarray, *, exposure_time: tuple[int, int] = (1, 100),
             iso: int = 200, white: int = 65535) -> Path:
    """A minimal uncompressed DNG (RGGB Bayer mosaic, uint16 HxW) that LibRaw decodes.

    Written by hand (TIFF structure: header, one IFD, strip data) so the RAW path can be tested
    without shipping a camera file. Identity colour matrix, neutral white balance.
    """
    h, w = cfa.shape
    data = np.ascontiguousarray(cfa.astype("<u2")).tobytes()
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value bytes

    def add(tag, typ, values):
        if typ == 2:  # ASCII
            raw = values.encode("ascii") + b"\x00"
            entries.append((tag, typ, len(raw), raw))
            return
        fmt = {1: "B", 3: "H", 4: "I", 5: "II", 10: "ii"}[typ]
        flat = [v for pair in values for v in pair] if typ in (5, 10) else list(values)
        raw = struct.pack("<" + fmt[0] * len(flat), *flat)
        entries.append((tag, typ, len(values), raw))

    add(254, 4, [0])
    add(256, 4, [w])
    add(257, 4, [h])
    add(258, 3, [16])
    add(259, 3, [1])
    add(262, 3, [32803])
    add(271, 2, "Lumafuse")
    add(272, 2, "Test DNG")
    add(273, 4, [0])  # strip offset, patched below
    add(274, 3, [1])
    add(277, 3, [1])
    add(278, 4, [h])
    add(279, 4, [len(data)])
    add(284, 3, [1])
    add(33421, 3, [2, 2])
    add(33422, 1, [0, 1, 1, 2])
    add(33434, 5, [exposure_time])
    add(34855, 3, [iso])
    add(50706, 1, [1, 4, 0, 0])
    add(50708, 2, "Lumafuse Test DNG")
    add(50717, 4, [white])
    add(50721, 10, [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1), (0, 1), (1, 1)])
    add(50728, 5, [(1, 1), (1, 1), (1, 1)])
    add(50778, 3, [21])
    entries.sort()

    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    extra = bytearray()
    extra_base = ifd_offset + ifd_size
    strip_offset = None
    ifd = bytearray(struct.pack("<H", len(entries)))
    # Out-of-line values first, then the strip; the strip offset is known once they are laid out.
    offsets = {}
    for tag, typ, count, raw in entries:
        if len(raw) > 4:
            offsets[tag] = extra_base + len(extra)
            extra += raw + (b"\x00" if len(raw) % 2 else b"")
    strip_offset = extra_base + len(extra)
    for tag, typ, count, raw in entries:
        if tag == 273:
            raw = struct.pack("<I", strip_offset)
        value = struct.pack("<I", offsets[tag]) if tag in offsets else raw.ljust(4, b"\x00")
        ifd += struct.pack("<HHI", tag, typ, count) + value
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(ifd) + bytes(extra) + data)
    return path
