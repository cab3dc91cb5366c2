"""EXIF metadata: exposure time, ISO, f-number and orientation, and applying the orientation.

Read with ``exifread`` (JPEG, TIFF, PNG eXIf, WebP, TIFF-based RAW). Missing or unreadable EXIF
is not an error: the fields come back as None and the caller falls back to user values or
estimation. Pixel data is never touched here except by :func:`apply_orientation`.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
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
    captured: float | None = None  # DateTimeOriginal (+ sub-seconds) as seconds, camera clock
    bias: float | None = None  # ExposureBiasValue in EV (bracket offset on many cameras)
    camera: str | None = None  # "Make Model"

    @property
    def exposure_ev(self) -> float | None:
        """log2 of the light let in (t * ISO / N^2): equal for equal exposures; None without a
        time. A missing ISO or f-number counts as equal across the bracket."""
        if self.exposure_time is None:
            return None
        return math.log2(self.exposure_time * (self.iso or 100.0) / (self.f_number or 1.0) ** 2)


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
        captured=_capture_time(tags),
        bias=_signed(tags.get("EXIF ExposureBiasValue")),
        camera=" ".join(str(tags[k]).strip() for k in ("Image Make", "Image Model")
                        if k in tags) or None,
    )


def _capture_time(tags: dict) -> float | None:
    """DateTimeOriginal (else DateTimeDigitized, DateTime) plus SubSecTimeOriginal, as seconds
    on the camera's clock (no time zone: only differences between frames are used)."""
    for key, sub in (("EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal"),
                     ("EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized"),
                     ("Image DateTime", "EXIF SubSecTime")):
        text = str(tags.get(key, "")).strip()
        try:
            stamp = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").timestamp()
        except ValueError:
            continue
        digits = "".join(ch for ch in str(tags.get(sub, "")) if ch.isdigit())
        return stamp + (float("0." + digits) if digits else 0.0)
    return None


def _signed(tag: object) -> float | None:
    """A signed rational tag (may be 0 or negative) as a float; None when absent."""
    values = getattr(tag, "values", None)
    if isinstance(values, (list, tuple)):
        values = values[0] if values else None
    try:
        num = float(values)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return num if math.isfinite(num) else None


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
