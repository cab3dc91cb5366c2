"""EXIF metadata: exposure time, ISO, f-number and orientation, and applying the orientation.

Read with ``exifread`` (JPEG, TIFF, PNG eXIf, WebP, TIFF-based RAW). Missing or unreadable EXIF
is not an error: the fields come back as None and the caller falls back to user values or
estimation. Pixel data is never touched here except by :func:`apply_orientation`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import exifread
import numpy as np

# exifread logs a warning for every malformed tag; those are not the user's problem.
logging.getLogger("exifread").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ExifData:
    """The few EXIF fields Lumafuse uses; None where absent or invalid."""

    exposure_time: float | None = None  # seconds
    iso: float | None = None
    f_number: float | None = None
    orientation: int = 1  # EXIF 1..8, 1 = as stored


def _first_number(tag: object) -> float | None:
    """First value of an exifread tag as a float (handles Ratio and int lists)."""
    values = getattr(tag, "values", None)
    if values is None:
        return None
    if isinstance(values, (list, tuple)):
        if not values:
            return None
        values = values[0]
    try:
        num = float(values)  # exifread.utils.Ratio supports float()
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not np.isfinite(num) or num <= 0:
        return None
    return num


def read_exif(path: str | Path) -> ExifData:
    """Exposure data and orientation of an image file; all None / 1 when it has no EXIF."""
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False, extract_thumbnail=False)
    except Exception:  # noqa: BLE001 - exifread raises many types on odd files; EXIF is optional
        return ExifData()
    orientation = _first_number(tags.get("Image Orientation"))
    return ExifData(
        exposure_time=_lookup(tags, "ExposureTime"),
        iso=_lookup(tags, "ISOSpeedRatings", "PhotographicSensitivity", "ISOSpeed"),
        f_number=_lookup(tags, "FNumber"),
        orientation=int(orientation) if orientation and 1 <= orientation <= 8 else 1,
    )


def _lookup(tags: dict, *names: str) -> float | None:
    """First valid value among the names, in the Exif sub-IFD first, then IFD0 (TIFF/EP, DNG)."""
    for ifd in ("EXIF", "Image"):
        for name in names:
            value = _first_number(tags.get(f"{ifd} {name}"))
            if value is not None:
                return value
    return None


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a stored HxW[xC] image upright according to the EXIF orientation value (1..8).

    Same mapping as Pillow's ``ImageOps.exif_transpose`` (2 mirror, 3 rotate 180, 4 flip,
    5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise).
    Returns a contiguous array; values are not changed.
    """
    if orientation == 2:
        out = image[:, ::-1]
    elif orientation == 3:
        out = image[::-1, ::-1]
    elif orientation == 4:
        out = image[::-1]
    elif orientation == 5:
        out = np.swapaxes(image, 0, 1)
    elif orientation == 6:
        out = np.rot90(image, -1)
    elif orientation == 7:
        out = np.swapaxes(image[::-1, ::-1], 0, 1)
    elif orientation == 8:
        out = np.rot90(image, 1)
    else:
        return image
    return np.ascontiguousarray(out)
