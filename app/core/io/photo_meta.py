"""What an exported photo keeps of its source: the reference frame's EXIF and an sRGB colour
profile.

The reference frame's EXIF (camera, lens, exposure, date, GPS unless ``strip_location``) goes
into JPEG (APP1), PNG (eXIf), AVIF and TIFF (camera and date tags in the first directory, the
EXIF and GPS sub-directories after it). The orientation tag is set to 1:
the pixels were turned upright when read, so a viewer must not turn them again. Maker notes
are dropped (their private offsets do not survive a rewrite). Every display file is tagged
sRGB with an embedded ICC profile (what the renderer encodes); EXR files carry the sRGB /
Rec.709 primaries and D65 white as their ``chromaticities`` attribute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image

ORIENTATION = 0x0112
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
MAKER_NOTE = 0x927C
TIFF_ASCII_TAGS = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)  # Make Model DateTime Artist Copyright
SRGB_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


@dataclass(frozen=True)
class PhotoMeta:
    """``exif``: the reference frame's EXIF (None without one), orientation normalised;
    ``icc``: the sRGB ICC profile bytes."""

    exif: Image.Exif | None
    icc: bytes

    def exif_bytes(self) -> bytes:
        """APP1 / eXIf payload: b"Exif\\0\\0" + a TIFF structure (b"" without EXIF)."""
        return self.exif.tobytes() if self.exif is not None else b""

    def tiff_sub_ifds(self) -> dict[int, dict[int, object]]:
        """The EXIF and GPS sub-directories for a TIFF (pointer tag -> fields)."""
        if self.exif is None:
            return {}
        out = {EXIF_IFD: dict(self.exif.get_ifd(EXIF_IFD))}
        gps = dict(self.exif.get_ifd(GPS_IFD))  # empty when absent or stripped
        if gps:
            out[GPS_IFD] = gps
        return out

    def tiff_ascii(self) -> dict[int, str]:
        """The source's camera and date tags as TIFF ASCII tags."""
        if self.exif is None:
            return {}
        return {tag: str(self.exif[tag]).strip("\x00 ") for tag in TIFF_ASCII_TAGS
                if tag in self.exif and str(self.exif[tag]).strip("\x00 ")}


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (built by LittleCMS through Pillow)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_meta(source: str | os.PathLike[str] | None, *, strip_location: bool = False,
               icc: bytes | None = None) -> PhotoMeta:
    """Metadata for an export whose reference frame is ``source`` (None: profile only);
    ``icc``: the output space's profile (default sRGB)."""
    return PhotoMeta(_source_exif(source, strip_location), icc or srgb_profile())


def _source_exif(source, strip_location: bool) -> Image.Exif | None:
    if source is None:
        return None
    try:
        with Image.open(source) as im:
            exif = im.getexif()
            sub = dict(exif.get_ifd(EXIF_IFD))
            gps = dict(exif.get_ifd(GPS_IFD)) if GPS_IFD in exif else {}
    except Exception:  # noqa: BLE001 - no readable EXIF (EXR, RAW, odd files): nothing to copy
        return None
    if not exif and not sub:
        return None
    out = Image.Exif()
    for tag, value in exif.items():
        if tag not in (EXIF_IFD, GPS_IFD):
            out[tag] = value
    out[ORIENTATION] = 1
    if sub:
        target = out.get_ifd(EXIF_IFD)
        target.update({k: v for k, v in sub.items() if k != MAKER_NOTE})
    if gps and not strip_location:
        out.get_ifd(GPS_IFD).update(gps)
    return out
