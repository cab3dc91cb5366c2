"""Reading brackets, exposure handling and writing results (numpy / OpenCV / OpenEXR only).

Public API (see each module for value ranges):

* :func:`read_frame` (readers): one file -> float32 HxWx3 + FrameInfo; ``MAX_PIXELS``.
* :func:`load_stack` (stack): files -> ExposureStack, dark to bright, with all input checks.
* :func:`ensure_exposures`, :func:`estimate_relative_exposures` (exposure).
* :func:`check_output_path`, :func:`write_exr`, :func:`write_hdr_file`, :func:`write_display`,
  :func:`write_result` (writers): atomic, never over an input; :func:`published_together`
  publishes several outputs in one commit.
* :func:`read_exr` (exr): EXR pixels + header, for tools and round-trip tests.
"""

from app.core.io.exif import ExifData, apply_orientation, read_exif
from app.core.io.exposure import ensure_exposures, estimate_relative_exposures, ev_to_relative
from app.core.io.exr import read_exr
from app.core.io.readers import MAX_PIXELS, RAW_EXTENSIONS, read_frame, read_mask
from app.core.io.stack import load_stack, split_stacked_frame
from app.core.io.writers import (
    FORMATS,
    check_output_path,
    output_format,
    published_together,
    write_display,
    write_exr,
    write_hdr_file,
    write_result,
)

__all__ = [
    "ExifData",
    "FORMATS",
    "MAX_PIXELS",
    "RAW_EXTENSIONS",
    "apply_orientation",
    "check_output_path",
    "ensure_exposures",
    "estimate_relative_exposures",
    "ev_to_relative",
    "load_stack",
    "split_stacked_frame",
    "output_format",
    "published_together",
    "read_exif",
    "read_exr",
    "read_frame",
    "read_mask",
    "write_display",
    "write_exr",
    "write_hdr_file",
    "write_result",
]
