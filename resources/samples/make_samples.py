"""Regenerate the bundled sample bracket (resources/samples/desk_{1,2,3}.jpg).

Three exposures of the OpenEXR sample image "Desk" (AcademySoftwareFoundation/openexr-images,
BSD-3-Clause, see CREDITS.md) as a camera would record them: scene radiance x exposure time x
a fixed sensitivity, clipped at sensor saturation, sRGB-encoded, 8-bit JPEG, with the exposure
time, ISO and f-number in EXIF. A developer tool: the app never imports it.

    python resources/samples/make_samples.py [path/to/Desk.exr]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.core.io import read_exr  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "openexr-images" / "Desk" / "Desk.exr"
# (numerator, denominator) seconds: 3.3 stops apart, standard shutter speeds.
TIMES = ((1, 500), (1, 50), (1, 5))
SENSITIVITY = 3.0  # radiance units -> sensor exposure per second; window unclipped at 1/500 s
ISO, F_NUMBER = 100, 8
QUALITY = 92


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB-encoded [0, 1] (IEC 61966-2-1), the camera's tone curve here."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def exif_bytes(num: int, den: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Lumafuse sample"  # Make
    exif[0x0110] = "sRGB camera model"  # Model
    exif[0x0131] = "resources/samples/make_samples.py"  # Software
    exif[0x010E] = "Desk.exr (openexr-images, BSD-3-Clause) rendered at %d/%d s" % (num, den)
    exif[0x0112] = 1  # Orientation: as stored
    sub = exif.get_ifd(0x8769)  # Exif sub-IFD
    sub[0x829A] = IFDRational(num, den)  # ExposureTime
    sub[0x829D] = IFDRational(F_NUMBER, 1)  # FNumber
    sub[0x8827] = ISO  # ISOSpeedRatings
    return exif.tobytes()


def main(source: Path = DEFAULT_SOURCE) -> None:
    radiance, _header = read_exr(source)
    for k, (num, den) in enumerate(TIMES, start=1):
        display = srgb_encode(radiance * SENSITIVITY * num / den)
        pixels = np.round(display * 255.0).astype(np.uint8)
        out = HERE / f"desk_{k}.jpg"
        Image.fromarray(pixels, "RGB").save(
            out, "JPEG", quality=QUALITY, subsampling=0, exif=exif_bytes(num, den)
        )
        print(f"{out.name}: {num}/{den} s, {out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
