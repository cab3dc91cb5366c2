"""Text metadata added to encoded PNG / TIFF / Radiance files (bytes in, bytes out).

OpenCV encodes the pixels but writes no text, so provenance is spliced into its output:
PNG tEXt/iTXt chunks after IHDR, a TIFF ImageDescription + Software tag (a new first IFD
appended to the file), Radiance header lines. No pixel data is touched.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Mapping

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_add_text(png: bytes, text: Mapping[str, str]) -> bytes:
    """PNG bytes with one text chunk per item, inserted right after IHDR.

    Latin-1 values go in tEXt; others in iTXt (UTF-8). Keywords are cut to PNG's 79 bytes.
    """
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = []
    for key, value in text.items():
        keyword = key.encode("latin-1", "replace")[:79]
        try:
            chunks.append(_png_chunk(b"tEXt", keyword + b"\x00" + value.encode("latin-1")))
        except UnicodeEncodeError:
            body = keyword + b"\x00\x00\x00" + b"\x00" + b"\x00" + value.encode("utf-8")
            chunks.append(_png_chunk(b"iTXt", body))
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


def png_add_chunks(png: bytes, *, exif: bytes = b"", icc: bytes = b"",
                   icc_name: str = "sRGB") -> bytes:
    """PNG bytes with an eXIf chunk (``exif``: a TIFF structure, an "Exif\\0\\0" prefix is
    dropped) and an iCCP chunk (``icc`` profile, zlib-compressed) right after IHDR."""
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = []
    if icc:
        chunks.append(_png_chunk(b"iCCP", icc_name.encode("latin-1")[:79] + b"\x00\x00"
                                 + zlib.compress(icc)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


_TIFF_ASCII = 2
_TIFF_UNDEFINED = 7
_TIFF_LONG = 4
_TAG_DESCRIPTION = 270
_TAG_SOFTWARE = 305
TAG_ICC_PROFILE = 34675


_TIFF_SHORT = 3
_TAG_IMAGE_WIDTH, _TAG_IMAGE_LENGTH = 256, 257
_TAG_STRIP_OFFSETS, _TAG_ROWS_PER_STRIP, _TAG_STRIP_BYTE_COUNTS = 273, 278, 279


def _tiff_ifd(tiff: bytes) -> tuple[str, int, dict[int, bytes]]:
    """(struct byte-order prefix, first IFD offset, tag -> raw 12-byte entry) of a classic TIFF
    (ValueError for anything else)."""
    order = tiff[:2]
    if order not in (b"II", b"MM"):
        raise ValueError("not a TIFF stream")
    e = "<" if order == b"II" else ">"
    if struct.unpack(e + "H", tiff[2:4])[0] != 42:
        raise ValueError("only classic (not Big) TIFF is supported")
    ifd = struct.unpack(e + "I", tiff[4:8])[0]
    count = struct.unpack(e + "H", tiff[ifd: ifd + 2])[0]
    entries = {}
    for k in range(count):
        raw = tiff[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        entries[struct.unpack(e + "H", raw[:2])[0]] = raw
    return e, ifd, entries


def _tiff_numbers(tiff: bytes, e: str, raw: bytes) -> list[int]:
    """The SHORT / LONG values of one IFD entry (inline or at its offset)."""
    _tag, kind, count = struct.unpack(e + "HHI", raw[:8])
    if kind not in (_TIFF_SHORT, _TIFF_LONG):
        raise ValueError(f"TIFF entry of type {kind} where numbers were expected")
    size = 2 if kind == _TIFF_SHORT else 4
    fmt = e + ("H" if kind == _TIFF_SHORT else "I") * count
    if count * size <= 4:
        return list(struct.unpack(fmt, raw[8: 8 + count * size]))
    at = struct.unpack(e + "I", raw[8:12])[0]
    return list(struct.unpack(fmt, tiff[at: at + count * size]))


def _append_ifd(out: bytearray, e: str, entries: Mapping[int, bytes], next_ifd: bytes) -> None:
    """Write ``entries`` (sorted, as TIFF requires) as a new first IFD at the end of ``out``
    (word-aligned) and point the header at it; the old IFD stays as unused bytes."""
    if len(out) % 2:
        out += b"\x00"
    new_ifd = len(out)
    out += struct.pack(e + "H", len(entries))
    for tag in sorted(entries):
        out += entries[tag]
    out += next_ifd
    out[4:8] = struct.pack(e + "I", new_ifd)


def tiff_add_description(tiff: bytes, description: str, software: str,
                         ascii_tags: Mapping[int, str] | None = None,
                         icc: bytes = b"",
                         sub_ifds: Mapping[int, Mapping[int, Any]] | None = None) -> bytes | bytearray:
    """Classic TIFF bytes with ImageDescription and Software (and any ``ascii_tags``, and an
    ICC profile tag when ``icc``, and sub-directories such as the EXIF (34665) and GPS (34853)
    IFDs, given as tag -> {tag: value}) set on the first image.

    The first IFD is copied to the end of the file with the tags added (entries kept sorted,
    as TIFF requires) and the header points to the copy; the old IFD stays as unused bytes,
    every other offset stays valid. Text is made 7-bit ASCII (TIFF's ASCII type).
    A ``bytearray`` is extended in place and returned (no second copy of a large file's bytes).
    """
    e, ifd, entries = _tiff_ifd(tiff)
    order = bytes(tiff[:2])
    next_ifd = bytes(tiff[ifd + 2 + 12 * len(entries) : ifd + 6 + 12 * len(entries)])

    out = tiff if isinstance(tiff, bytearray) else bytearray(tiff)
    values: list[tuple[int, int, bytes]] = [
        (tag, _TIFF_ASCII, text.encode("ascii", "replace") + b"\x00")
        for tag, text in ((_TAG_DESCRIPTION, description), (_TAG_SOFTWARE, software),
                          *sorted((ascii_tags or {}).items()))]
    if icc:
        values.append((TAG_ICC_PROFILE, _TIFF_UNDEFINED, icc))
    for pointer, fields in (sub_ifds or {}).items():
        if not fields:
            continue
        from PIL.TiffImagePlugin import ImageFileDirectory_v2

        if len(out) % 2:
            out += b"\x00"
        sub = ImageFileDirectory_v2(prefix=order)
        for tag, value in fields.items():
            sub[tag] = value
        start = len(out)
        out += sub.tobytes(offset=start)  # its value offsets are absolute in the file
        entries[pointer] = struct.pack(e + "HHII", pointer, _TIFF_LONG, 1, start)
    for tag, kind, data in values:
        if len(out) % 2:
            out += b"\x00"
        if len(data) <= 4:
            value = data.ljust(4, b"\x00")
        else:
            value = struct.pack(e + "I", len(out))
            out += data
        entries[tag] = struct.pack(e + "HHI", tag, kind, len(data)) + value
    _append_ifd(out, e, entries, next_ifd)
    return out


def tiff_join_rows(top: bytes, bottom: bytes) -> bytearray:
    """One classic TIFF of ``top``'s rows followed by ``bottom``'s: two encodings (one encoder
    call each, so they can run in parallel) of the two halves of an image, same width, samples,
    compression and RowsPerStrip, ``top``'s height a multiple of it. Every strip is compressed
    on its own, so the strips are kept byte for byte: ``top``'s bytes stay where they are,
    ``bottom``'s strips are appended, and a new first IFD (``top``'s entries with the combined
    height and strip tables) is written at the end, as :func:`tiff_add_description` does.
    ``top`` and ``bottom``: any bytes-like objects (the encoder's buffers as they are); returns a
    new bytearray."""
    e, _ifd, entries = _tiff_ifd(top)
    e2, _ifd2, entries2 = _tiff_ifd(bottom)
    if e != e2:
        raise ValueError("the two TIFF halves differ in byte order")
    for tag in (_TAG_IMAGE_WIDTH, _TAG_ROWS_PER_STRIP, 258, 259, 277, 284):
        if (tag in entries) != (tag in entries2) or (
                tag in entries and _tiff_numbers(top, e, entries[tag])
                != _tiff_numbers(bottom, e, entries2[tag])):
            raise ValueError(f"the two TIFF halves differ in tag {tag}")
    rows = _tiff_numbers(top, e, entries[_TAG_ROWS_PER_STRIP])[0]
    height = _tiff_numbers(top, e, entries[_TAG_IMAGE_LENGTH])[0]
    if height % rows:
        raise ValueError("the top half's height is not a whole number of strips")
    total = height + _tiff_numbers(bottom, e, entries2[_TAG_IMAGE_LENGTH])[0]
    out = bytearray(top)
    offsets = _tiff_numbers(top, e, entries[_TAG_STRIP_OFFSETS])
    counts = _tiff_numbers(top, e, entries[_TAG_STRIP_BYTE_COUNTS])
    for at, size in zip(_tiff_numbers(bottom, e, entries2[_TAG_STRIP_OFFSETS]),
                        _tiff_numbers(bottom, e, entries2[_TAG_STRIP_BYTE_COUNTS])):
        offsets.append(len(out))
        counts.append(size)
        out += bottom[at: at + size]
    for tag, values in ((_TAG_STRIP_OFFSETS, offsets), (_TAG_STRIP_BYTE_COUNTS, counts)):
        if len(out) % 2:
            out += b"\x00"
        start = len(out)
        out += struct.pack(e + "I" * len(values), *values)
        entries[tag] = struct.pack(e + "HHII", tag, _TIFF_LONG, len(values), start)
    entries[_TAG_IMAGE_LENGTH] = struct.pack(e + "HHII", _TAG_IMAGE_LENGTH, _TIFF_LONG, 1, total)
    _append_ifd(out, e, entries, struct.pack(e + "I", 0))  # one image
    return out


def hdr_add_header_lines(hdr: bytes, text: Mapping[str, str]) -> bytes:
    """Radiance bytes with ``# key=value`` comment lines added to the header (before the blank line)."""
    end = hdr.find(b"\n\n")
    if not hdr.startswith(b"#?") or end < 0:
        raise ValueError("not a Radiance HDR stream")
    lines = b"".join(
        b"# " + f"{k}={' '.join(str(v).split())}".encode("ascii", "replace") + b"\n"
        for k, v in text.items()
    )
    return hdr[: end + 1] + lines + hdr[end + 1 :]


def as_json(text: Mapping[str, str]) -> str:
    """Provenance map as one line of ASCII JSON (TIFF description, JPEG comment)."""
    return json.dumps(dict(text), ensure_ascii=True, sort_keys=True)
