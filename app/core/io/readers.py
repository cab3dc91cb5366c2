"""Read one image file into a float32 HxWx3 frame plus its metadata.

Output domains:

* 8/16-bit PNG, TIFF, JPEG, BMP, WebP -> display-referred [0, 1] (``FrameInfo.linear`` False),
  code value / (2^bits - 1); float TIFF counts as linear.
* OpenEXR, Radiance .hdr, camera RAW (LibRaw via rawpy, no gamma, no auto-brightening) ->
  linear >= 0 (``FrameInfo.linear`` True). RAW: 1.0 = the sensor's white level.

Grey becomes 3 equal channels, alpha is dropped, the EXIF orientation is applied (once: OpenCV
is asked for the stored pixels with IMREAD_UNCHANGED, which ignores the orientation, and we
rotate ourselves; LibRaw rotates RAW files itself). The format is recognised from the file's
first bytes, not its name, except for RAW files, which are TIFF-like and known by extension.

Every failure raises :class:`InputError` with one line naming the file.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.core.errors import InputError
from app.core.io.exif import ExifData, apply_orientation, read_exif
from app.core.io.exr import exr_size, read_exr_with_depth
from app.core.io.quiet import native_output_silenced
from app.core.types import FrameInfo


def _env_pixel_limit(default: int = 300_000_000) -> int:
    """The pixel limit: ``$LUMAFUSE_MAX_PIXELS`` when set to a positive integer, else ``default``.

    Read once at import; lets a user on a small machine lower it, and tests exercise the
    "too large" path without a huge file.
    """
    try:
        value = int(os.environ.get("LUMAFUSE_MAX_PIXELS", "").replace("_", ""))
    except ValueError:
        return default
    return value if value > 0 else default


MAX_PIXELS = _env_pixel_limit()
"""Largest frame accepted (300 megapixels unless $LUMAFUSE_MAX_PIXELS says otherwise): kept as
8-bit codes it is 0.9 GB (a float32 copy 3.6 GB); a fusion of three such frames to an 8-bit file
streams in about 3.4 GB (``app.core.merge.mertens_stream``)."""

# Decoding needs the raw buffer, a float copy and an oriented copy at once: ~3 float images;
# kept as codes, the decoded buffer and one reordered / oriented copy (16-bit at most).
_BYTES_PER_PIXEL_WHILE_DECODING = 3 * 4 * 3
_BYTES_PER_PIXEL_WHILE_DECODING_CODES = 2 * 2 * 3

RAW_EXTENSIONS = frozenset(
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .rwl .pef .srw .x3f .3fr "
    ".erf .kdc .dcr .mrw .mos .iiq".split()
)

SUPPORTED = "JPEG, PNG, TIFF, BMP, WebP, OpenEXR, Radiance .hdr or a camera RAW file"


def _sniff(head: bytes) -> str | None:
    """Format name from the first bytes of a file, None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"\x76\x2f\x31\x01"):
        return "exr"
    if head.startswith(b"#?RADIANCE") or head.startswith(b"#?RGBE"):
        return "hdr"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _unsupported(head: bytes) -> str:
    """What an unreadable file is, for the error message."""
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF images are not supported; export the frames as JPEG or TIFF"
    if head.startswith(b"GIF8"):
        return "GIF images are not supported (8-bit palette); use PNG, TIFF or JPEG"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000 images are not supported"
    return "not an image file Lumafuse can read"


def _check_file(path: Path) -> None:
    """Missing, symlink loop, folder, not a regular file, unreadable or empty -> InputError."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: file not found (a loop of symbolic links)") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(f"{path}: file not found") from None
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: is {_file_kind(st.st_mode)}, not an image file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot be read (permission denied)")
    if st.st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def _file_kind(mode: int) -> str:
    """What a non-regular file is, for the message ("file is empty" would mislead)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _limit_text(max_pixels: int) -> str:
    return f"{max_pixels / 1e6:.0f} MP" if max_pixels >= 1_000_000 else f"{max_pixels} pixels"


def check_pixel_budget(
    path: Path | str, width: int, height: int, max_pixels: int | None = None,
    codes: bool = False,
) -> None:
    """Refuse a frame larger than ``max_pixels`` (default MAX_PIXELS) or than available memory
    (for decoding it to float32, or to its integer codes with ``codes``)."""
    if max_pixels is None:
        max_pixels = MAX_PIXELS
    pixels = int(width) * int(height)
    if pixels > max_pixels:
        raise InputError(
            f"{path}: image is {width}x{height} ({pixels / 1e6:.1f} MP), larger than the limit of "
            f"{_limit_text(max_pixels)}"
        )
    need = pixels * (_BYTES_PER_PIXEL_WHILE_DECODING_CODES if codes
                     else _BYTES_PER_PIXEL_WHILE_DECODING)
    avail = available_memory()
    if avail is not None and need > avail:
        raise InputError(
            f"{path}: image is {width}x{height}; decoding it needs about {need / 2**30:.1f} GB of "
            f"memory but only {avail / 2**30:.1f} GB is available"
        )


def _hdr_size(data: bytes, path: Path) -> tuple[int, int]:
    """(width, height) from a Radiance header: text lines, a blank line, then '-Y h +X w'."""
    end = data.find(b"\n\n")
    if end < 0 or end > 65536:
        raise InputError(f"{path}: Radiance HDR header is incomplete (truncated or corrupt)")
    line = data[end + 2 : end + 2 + 64].split(b"\n", 1)[0].split()
    try:
        if len(line) == 4 and line[0][1:] == b"Y" and line[2][1:] == b"X":
            return int(line[3]), int(line[1])
        if len(line) == 4 and line[0][1:] == b"X" and line[2][1:] == b"Y":
            return int(line[1]), int(line[3])
    except ValueError:
        pass
    raise InputError(f"{path}: Radiance HDR resolution line is unreadable (corrupt file)")


def _pillow_size(data: bytes) -> tuple[int, int] | None:
    """Size from the header via Pillow (lazy: no pixel decoding); None if Pillow can't tell.

    Pillow's own bomb guard (it refuses to open anything over twice its MAX_IMAGE_PIXELS, ~179
    MP) is lifted for this header read: the caller applies our limit (MAX_PIXELS) to the size.
    """
    saved = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on odd tags: the decode judges
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Exception:  # noqa: BLE001 - unknown sub-format: fall back to checking after decoding
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _jpeg_truncated(data: bytes) -> bool:
    """True when a JPEG stops before its end-of-image marker.

    OpenCV/libjpeg decodes a truncated JPEG silently (grey fill), so it is detected here. The
    marker normally ends the file; when trailing bytes follow it, Pillow's full decode decides.
    """
    if data.rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9"):
        return False
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except OSError:
        return True
    return False


def _png_truncated(data: bytes) -> bool:
    """True when the PNG's chunk list ends before its IEND chunk. The chunks are walked by
    their lengths, so bytes appended after IEND (some tools add them) are allowed."""
    pos = 8  # after the signature
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == b"IEND":
            return False
        pos += 12 + length  # length, type, data, CRC
    return True


def _to_frame(img: np.ndarray, path: Path, codes: bool = False) -> tuple[np.ndarray, bool, int]:
    """OpenCV decode result -> (float32 HxWx3 RGB, linear, bit depth); with ``codes`` an 8/16-bit
    image stays uint8 / uint16 (the same values before scaling to [0, 1])."""
    if img.dtype in (np.float64, np.float16):  # cvtColor works on float32
        img = img.astype(np.float32)
    if img.dtype not in (np.uint8, np.uint16, np.float32):  # before cvtColor, which rejects them
        raise InputError(
            f"{path}: unsupported sample type ({img.dtype.itemsize * 8}-bit "
            f"{'signed integer' if img.dtype.kind == 'i' else img.dtype.name}); "
            "use 8/16-bit unsigned integer or float images"
        )
    if img.ndim == 3 and img.shape[2] == 2:  # grey + alpha
        img = np.ascontiguousarray(img[..., 0])
    if img.ndim == 2 or img.shape[2] == 1:
        rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:  # alpha dropped, not blended: pixel values stay as captured
        rgb = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # contiguous, much faster than a [..., ::-1] copy
    dtype = rgb.dtype
    if dtype == np.uint8 or dtype == np.uint16:
        bits = 8 if dtype == np.uint8 else 16
        if codes:
            return rgb, False, bits
        # one multithreaded OpenCV pass (convert + scale): ~2x faster than astype then *=
        out = cv2.addWeighted(rgb, 1.0 / (2**bits - 1), rgb, 0.0, 0.0, dtype=cv2.CV_32F)
        return out, False, bits
    if dtype in (np.float32, np.float16):
        out = rgb.astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise InputError(f"{path}: image holds NaN or infinite values")
        return np.maximum(out, 0.0), True, 32
    raise InputError(f"{path}: unsupported sample type {dtype} (use 8/16-bit integer or float)")


def _quiet_decode(buf: np.ndarray) -> np.ndarray | None:
    """cv2.imdecode without OpenCV's log lines or libpng/libtiff warnings on stderr (we raise one
    clear error instead). Several threads may decode at once (the silence is shared)."""
    with native_output_silenced():
        # IMREAD_UNCHANGED: keep 16-bit/float depth and alpha, and ignore the EXIF
        # orientation (applied by read_frame, so it happens exactly once for every format).
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _read_raster(path: Path, data: bytes, fmt: str, max_pixels: int,
                 codes: bool = False) -> tuple[np.ndarray, bool, int]:
    """JPEG/PNG/TIFF/BMP/WebP/HDR through OpenCV, with size and truncation checks first."""
    size = _hdr_size(data, path) if fmt == "hdr" else _pillow_size(data)
    if size is not None:
        check_pixel_budget(path, *size, max_pixels=max_pixels, codes=codes)
    if fmt == "jpeg" and _jpeg_truncated(data):
        raise InputError(f"{path}: JPEG file is truncated or corrupt")
    if fmt == "png" and _png_truncated(data):
        raise InputError(f"{path}: PNG file is truncated (no end chunk)")
    img = _quiet_decode(np.frombuffer(data, np.uint8))
    if img is None or img.size == 0:
        raise InputError(f"{path}: {fmt.upper()} file is corrupt or truncated (cannot decode it)")
    if size is None:
        check_pixel_budget(path, img.shape[1], img.shape[0], max_pixels=max_pixels,
                           codes=codes)
    return _to_frame(img, path, codes)


def _read_raw(path: Path, max_pixels: int) -> np.ndarray:
    """Camera RAW -> linear float32 RGB [0, 1] (camera white balance, sRGB primaries)."""
    import rawpy  # lazy: LibRaw is only needed for RAW files

    try:
        with rawpy.imread(str(path)) as raw:
            sizes = raw.sizes
            check_pixel_budget(path, sizes.width, sizes.height, max_pixels=max_pixels)
            rgb16 = raw.postprocess(
                gamma=(1, 1),
                no_auto_bright=True,
                output_bps=16,
                use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
            )
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - LibRawError family, IOError, ValueError
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise InputError(f"{path}: not a camera RAW file LibRaw can decode ({text})") from None
    return rgb16.astype(np.float32) / np.float32(65535.0)


def read_frame(
    path: str | os.PathLike[str], *, max_pixels: int | None = None, codes: bool = False,
) -> tuple[np.ndarray, FrameInfo]:
    """Read one frame: (float32 HxWx3, FrameInfo). See the module docstring for value ranges.

    codes: keep an 8/16-bit display-referred image as its uint8 / uint16 codes (a quarter / half
    of the float32 memory; :func:`app.core.types.float_frame` gives the [0, 1] floats). Linear
    files (EXR, RAW, float TIFF, .hdr) are float32 either way.

    Raises InputError naming the file: missing, folder, empty, not an image, truncated/corrupt,
    NaN/inf values, or larger than ``max_pixels`` (default :data:`MAX_PIXELS`, looked up at call
    time; checked from the header before decoding).
    """
    if max_pixels is None:
        max_pixels = MAX_PIXELS
    p = Path(path)
    _check_file(p)
    exif = ExifData()
    try:
        if p.suffix.lower() in RAW_EXTENSIONS:
            image, linear, bits = _read_raw(p, max_pixels), True, 16
            exif = read_exif(p)
        else:
            data = p.read_bytes()
            fmt = _sniff(data[:16])
            if fmt is None:
                raise InputError(f"{p}: {_unsupported(data[:16])} (expected {SUPPORTED})")
            if fmt == "exr":
                check_pixel_budget(p, *exr_size(p), max_pixels=max_pixels)
                image, _header, bits = read_exr_with_depth(p)
                linear = True
            else:
                image, linear, bits = _read_raster(p, data, fmt, max_pixels, codes)
                if fmt in ("jpeg", "tiff", "png", "webp"):
                    exif = read_exif(p)
                    image = apply_orientation(image, exif.orientation)
    except MemoryError:
        raise InputError(f"{p}: not enough memory to decode this image") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    info = FrameInfo(
        path=str(p),
        exposure_time=exif.exposure_time,
        iso=exif.iso,
        f_number=exif.f_number,
        linear=linear,
        bit_depth=bits,
    )
    if codes and image.dtype in (np.uint8, np.uint16):
        return np.ascontiguousarray(image), info
    return np.ascontiguousarray(image, dtype=np.float32), info


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """A painted mask image (PNG/TIFF/JPEG, grey or colour): float32 HxW in [0, 1], the mean of
    the channels (white = 1). Linear files (EXR, RAW) are refused: a mask is a picture of
    coverage, not of light."""
    image, info = read_frame(path)
    if info.linear:
        raise InputError(f"{path}: a mask must be an 8- or 16-bit image (PNG, TIFF, JPEG)")
    return np.clip(image.mean(axis=2), 0.0, 1.0).astype(np.float32)
