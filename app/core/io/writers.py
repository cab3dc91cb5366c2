"""Write results: EXR (half/float), Radiance .hdr, PNG 8/16, TIFF 8/16, JPEG.

Every write is atomic: the file is written as a hidden temporary file in the target folder,
flushed to disk and published under its name: hard-linked (which fails when a file of that name
appeared meanwhile, so another process's output is never replaced) or, with ``force``, renamed
over it with ``os.replace``. On any failure, cancel or SIGINT/SIGTERM the temporary file is
removed and an existing target is left untouched. An output never replaces one of the
inputs (same resolved path or same file through a link), and an existing output is refused
unless ``force``. Failures raise :class:`OutputError` with one line naming the file.

Value domains: ``write_exr`` / ``write_hdr_file`` take linear float HxWx3 (any range >= 0,
written as is); ``write_display`` takes display-encoded float [0, 1] (quantised here) or
already quantised uint8/uint16; ``write_result`` renders a :class:`Result` for display formats
through :func:`app.core.tonemap.render` (what the preview shows is what is exported).
"""

from __future__ import annotations

import contextvars
import errno
import io
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import cv2
import numpy as np
from PIL import Image

from app.core import tonemap
from app.core.errors import Cancelled, OutputError
from app.core.io import filemeta
from app.core.io.exr import write_exr_file
from app.core.io.colour_space import check_space, convert_display, icc_profile
from app.core.io.photo_meta import PhotoMeta, photo_meta
from app.core.progress import TaskContext, signals_held
from app.core.tonemap.display import to_uint
from app.core.types import Provenance, Result, ToneParams

FORMATS = {
    ".exr": "exr",
    ".hdr": "hdr",
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".avif": "avif",  # 8-bit, through Pillow's AVIF plugin (libavif) when the build has it
}
HDR_FORMATS = frozenset({"exr", "hdr"})
TIFF_LZW = 5  # libtiff COMPRESSION_LZW

MetaLike = Provenance | Mapping[str, str] | None
PathLike = str | os.PathLike[str]


def output_format(path: PathLike) -> str:
    """Format name for an output path's extension; OutputError for an unknown extension."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        shown = f"'{ext}'" if ext else "no extension"
        raise OutputError(f"{path}: unknown output format ({shown}); use one of {known}")
    return FORMATS[ext]


def _same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file (same resolved path, or hard/soft links to it).
    os.path.realpath never raises (a symlink loop stays unresolved); os.stat reports it."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # missing, or a loop: not the same existing file
        return False


def check_output_path(path: PathLike, inputs: Iterable[PathLike] = (), force: bool = False) -> Path:
    """Validate an output path before any work is done; returns it as a Path.

    OutputError when: the extension is unknown, the folder is missing / not a folder / not
    writable, the path is a folder, it is one of ``inputs``, or it exists and ``force`` is False.
    """
    p = Path(path).expanduser()
    output_format(p)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent_st = os.stat(parent)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{p}: the output folder {parent} is a loop of symbolic links") from None
        raise OutputError(f"{p}: the output folder {parent} does not exist") from None
    if not stat.S_ISDIR(parent_st.st_mode):
        raise OutputError(f"{p}: {parent} is not a folder")
    if os.path.islink(p) and not os.path.exists(p):
        # a dangling link or a loop: writing "through" it would land somewhere unexpected
        raise OutputError(f"{p}: is a broken symbolic link (or a loop of links); give another name")
    if p.is_dir():
        raise OutputError(f"{p}: is a folder, give a file name")
    for inp in inputs:
        if inp and _same_file(p, Path(inp)):
            raise OutputError(f"{p}: refusing to overwrite the input file {inp}")
    if os.path.lexists(p) and not force:
        raise OutputError(f"{p}: file exists (use --force to replace it)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: cannot write to the folder {parent} ({_why_not_writable(parent)})")
    return p


def _why_not_writable(folder: Path) -> str:
    """'read-only file system' or 'permission denied' for a folder os.access refused."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):
        pass
    return "permission denied"


_NAME_MAX = 255  # bytes in one file name on every common file system
_TMP_EXTRA = len(".") + len(".") + 8 + len(".tmp")  # around the target's name


def _temp_path(path: Path) -> Path:
    """Hidden temporary name beside ``path``: ``.NAME.XXXXXXXX.tmp``, NAME shortened (by bytes,
    on a character boundary) so a legal 255-byte output name still gets a legal temp name."""
    raw = os.fsencode(path.name)[: _NAME_MAX - _TMP_EXTRA]
    name = os.fsdecode(raw.decode("utf-8", "ignore").encode("utf-8")) if raw else "out"
    return path.with_name(f".{name}.{secrets.token_hex(4)}.tmp")


def _publish(tmp: Path, path: Path, force: bool) -> None:
    """Give the finished temp file its final name. Without ``force`` an existing file is never
    replaced, even one created by another process since the checks: link() fails with EEXIST
    where rename() would silently replace."""
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError(f"{path}: file exists (use --force to replace it)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # a file system without hard links (FAT, some network mounts): check, then rename
        if os.path.lexists(path):
            raise OutputError(f"{path}: file exists (use --force to replace it)") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


Pending = tuple[Path, Path, bool]  # (finished temp file, target, force)
_batch: contextvars.ContextVar[list[Pending] | None] = contextvars.ContextVar(
    "lumafuse_batch", default=None
)


@contextmanager
def published_together(ctx: TaskContext | None = None) -> Iterator[None]:
    """Within the block, writers leave their outputs as temp files; at its end all are
    published in one commit (:func:`_commit`), so a command with several outputs
    (``-o x.exr -o x.tif``) writes all of them or none."""
    pending: list[Pending] = []
    token = _batch.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _path, _force in pending:
            _unlink_quietly(tmp)
        raise
    finally:
        _batch.reset(token)
    _commit(pending, ctx)


def _commit(pending: list[Pending], ctx: TaskContext | None) -> None:
    """Publish finished temp files: the task's commit. With SIGINT/SIGTERM held back, ``ctx``
    is checked one last time (a cancel before it leaves nothing) and committed (a cancel after
    it is ignored, the command reports success). If a publish fails (a file of that name
    appeared meanwhile), the files this commit already linked are removed again; on any failure
    every temp file is removed."""
    linked: list[Path] = []  # published without --force: ours alone, safe to take back
    path = None
    try:
        with signals_held():
            if ctx is not None:
                ctx.token.commit()  # raises Cancelled when a cancel came first
            for tmp, path, force in pending:
                _publish(tmp, path, force)
                if not force:
                    linked.append(path)
    except BaseException as exc:
        for tmp, _path, _force in pending:
            _unlink_quietly(tmp)
        for done in linked:
            _unlink_quietly(done)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{path}: writing failed ({exc.strerror or exc})") from None
        raise


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _atomic_write(
    path: Path, write: Callable[[str], None], *, force: bool = False,
    ctx: TaskContext | None = None,
) -> None:
    """Run ``write(temp_path)``, then publish the temp file as ``path`` (:func:`_commit`), or,
    inside :func:`published_together`, at the end of that block. Any failure or interrupt
    before the publish removes the temp file."""
    tmp = _temp_path(path)
    try:
        # O_EXCL: never clobber anything; 0o666 & umask gives the usual permissions.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        why = "read-only file system" if exc.errno == errno.EROFS else exc.strerror
        raise OutputError(f"{path}: cannot write to the folder {path.parent} ({why})") from None
    try:
        os.close(fd)
        write(str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException as exc:
        _unlink_quietly(tmp)
        if isinstance(exc, OutputError):
            raise
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: writing failed ({exc.strerror or exc})") from None
        if isinstance(exc, Exception) and not isinstance(exc, Cancelled):
            text = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise OutputError(f"{path}: writing failed ({text})") from None
        raise  # Cancelled, KeyboardInterrupt etc.: temp removed, propagate unchanged
    batch = _batch.get()
    if batch is not None:
        batch.append((tmp, path, force))
    else:
        _commit([(tmp, path, force)], ctx)


def _write_bytes(path: Path, data: bytes, *, force: bool, ctx: TaskContext | None) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    _atomic_write(path, write, force=force, ctx=ctx)


def _meta(provenance: MetaLike) -> dict[str, str]:
    if provenance is None:
        return {}
    if isinstance(provenance, Provenance):
        return provenance.as_text()
    return {str(k): str(v) for k, v in provenance.items()}


def _all_inputs(inputs: Iterable[PathLike], provenance: MetaLike) -> tuple[PathLike, ...]:
    extra = provenance.inputs if isinstance(provenance, Provenance) else ()
    return tuple(inputs) + tuple(extra)


def _check_image(path: Path, image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise OutputError(f"{path}: expected an HxWx3 image, got shape {image.shape}")


def write_exr(
    path: PathLike,
    linear_rgb: np.ndarray,
    provenance: MetaLike = None,
    *,
    half: bool = True,
    inputs: Iterable[PathLike] = (),
    force: bool = False,
    ctx: TaskContext | None = None,
) -> Path:
    """Write linear float HxWx3 (float32, or float16 with ``half``) as OpenEXR (half by
    default, else float; PIZ, lossless).

    Values are written as they are (NaN/inf refused); half floats clip above 65504.
    Provenance goes into string attributes of the header.
    """
    p = check_output_path(path, _all_inputs(inputs, provenance), force)
    img = np.asarray(linear_rgb)
    if not (img.dtype == np.float16 and half):  # float16 radiance is stored as it is
        img = np.asarray(img, np.float32)
    _check_image(p, img)
    # one float64 sum (NaN / inf propagate) instead of a full-size boolean map (1 B/px)
    if not np.isfinite(np.sum(img, dtype=np.float64)):
        raise OutputError(f"{p}: the image holds NaN or infinite values; nothing written")
    attrs = _meta(provenance)
    _atomic_write(p, lambda tmp: write_exr_file(tmp, img, attrs, half=half), force=force, ctx=ctx)
    return p


def write_hdr_file(
    path: PathLike,
    linear_rgb: np.ndarray,
    provenance: MetaLike = None,
    *,
    inputs: Iterable[PathLike] = (),
    force: bool = False,
    ctx: TaskContext | None = None,
) -> Path:
    """Write linear float HxWx3 as Radiance RGBE (.hdr, ~1% precision); provenance as header comments."""
    p = check_output_path(path, _all_inputs(inputs, provenance), force)
    img = np.asarray(linear_rgb, np.float32)
    _check_image(p, img)
    if not np.isfinite(img).all():
        raise OutputError(f"{p}: the image holds NaN or infinite values; nothing written")
    ok, buf = cv2.imencode(".hdr", cv2.cvtColor(np.maximum(img, 0), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"{p}: OpenCV could not encode the Radiance image")
    data = buf.tobytes()
    meta = _meta(provenance)
    if meta:
        data = filemeta.hdr_add_header_lines(data, meta)
    _write_bytes(p, data, force=force, ctx=ctx)
    return p


def _encode(p: Path, fmt: str, img: np.ndarray, quality: int, meta: dict[str, str],
            photo: PhotoMeta, scratch: bool = False) -> bytes:
    """Encode an RGB uint8/uint16 image to file bytes with provenance, the source's EXIF and
    the sRGB profile (see app.core.io.photo_meta). ``scratch``: ``img`` is the writer's own and
    dropped after, so PNG/TIFF swap it to BGR in place instead of in a copy (3 or 6 B/px: 572 MB
    at 200 MP)."""
    software = meta.get("Software", "lumafuse")
    if fmt == "avif":
        from PIL import features

        if not features.check("avif"):
            raise OutputError(f"{p}: this Pillow build has no AVIF encoder; use .jpg or .png")
        out = io.BytesIO()
        exif = photo.exif if photo.exif is not None else Image.Exif()
        exif[0x0131] = software
        exif[0x010E] = filemeta.as_json(meta) if meta else ""  # ImageDescription: provenance
        Image.fromarray(img, "RGB").save(out, "AVIF", quality=int(quality), exif=exif.tobytes(),
                                         icc_profile=photo.icc)
        return out.getvalue()
    if fmt == "jpeg":
        out = io.BytesIO()
        exif = photo.exif if photo.exif is not None else Image.Exif()
        exif[0x0131] = software  # EXIF Software
        Image.fromarray(img, "RGB").save(
            out,
            "JPEG",
            quality=int(quality),
            subsampling=0 if quality >= 90 else 2,  # 4:4:4 when quality matters
            comment=filemeta.as_json(meta).encode("ascii") if meta else b"",
            exif=exif.tobytes(),
            icc_profile=photo.icc,
        )
        return out.getvalue()
    # 10x faster than a [..., ::-1] copy; per pixel, so in place is exact (tested)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR, dst=img if scratch else None)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            return b""
        data = filemeta.png_add_chunks(buf.tobytes(), exif=photo.exif_bytes(), icc=photo.icc)
        return filemeta.png_add_text(data, meta) if meta else data
    data = _encode_tiff(bgr)
    if not data:
        return b""
    return filemeta.tiff_add_description(data, filemeta.as_json(meta), software,
                                         ascii_tags=photo.tiff_ascii(), icc=photo.icc,
                                         sub_ifds=photo.tiff_sub_ifds())


TIFF_SPLIT_PIXELS = 2_000_000  # from this size the two halves are encoded in parallel


def _encode_tiff(bgr: np.ndarray) -> bytes | bytearray:
    """LZW TIFF bytes of a BGR uint8/uint16 image (b"" if OpenCV fails).

    LZW, not Deflate: measured on a rendered 12 MP HDR result, 0.36 s vs 1.52 s to encode for
    2 % more bytes (8-bit; 16-bit: 0.58 s vs 2.37 s, 9 % more), both lossless. libtiff encodes on
    one thread and compresses every strip (one row, as OpenCV writes it) on its own, so from
    TIFF_SPLIT_PIXELS the two halves are encoded at once and their strips joined into one file
    (filemeta.tiff_join_rows): the same strips byte for byte, in about half the time.
    """
    params = [cv2.IMWRITE_TIFF_COMPRESSION, TIFF_LZW]
    h = bgr.shape[0]
    # libtiff's own strip height (8 kB of uncompressed row data, at least one row): both halves
    # get it explicitly, so they agree and a whole image's file has the same strips
    rows = max(1, 8192 // (bgr.shape[1] * bgr.shape[2] * bgr.itemsize))
    half = (h // 2) // rows * rows
    if bgr.shape[0] * bgr.shape[1] < TIFF_SPLIT_PIXELS or half == 0:
        ok, buf = cv2.imencode(".tif", bgr, params)
        return buf.tobytes() if ok else b""
    from concurrent.futures import ThreadPoolExecutor

    params += [cv2.IMWRITE_TIFF_ROWSPERSTRIP, rows]
    with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV frees the GIL while encoding
        parts = list(pool.map(lambda span: cv2.imencode(".tif", bgr[span], params),
                              (slice(0, half), slice(half, h))))
    if not all(ok for ok, _ in parts):
        return b""
    # the encoder's buffers as they are: no bytes copy of either half (~0.6 B/px each)
    return filemeta.tiff_join_rows(*(memoryview(buf.reshape(-1)) for _, buf in parts))


def write_display(
    path: PathLike,
    display_rgb01: np.ndarray,
    *,
    bit_depth: int = 8,
    quality: int = 95,
    provenance: MetaLike = None,
    inputs: Iterable[PathLike] = (),
    force: bool = False,
    ctx: TaskContext | None = None,
    source: PathLike | None = None,
    strip_location: bool = False,
    icc: bytes | None = None,
    scratch: bool = False,
) -> Path:
    """Write a display-encoded image as PNG (8/16), TIFF (8/16, LZW) or JPEG (8, ``quality``).

    display_rgb01: float HxWx3 in [0, 1] (quantised to ``bit_depth``), or uint8 / uint16 (the
    dtype sets the depth). Provenance: PNG text chunks, TIFF ImageDescription (JSON) and
    Software, JPEG comment (JSON) and EXIF Software. ``source``: the photo whose EXIF the file
    takes (orientation normalised; GPS dropped with ``strip_location``); always an sRGB ICC
    profile, or ``icc`` for pixels encoded in another space (app.core.io.colour_space).
    ``scratch``: integer ``display_rgb01`` is the caller's to overwrite (it drops it after the
    call): the encoder may reorder its channels in place.
    """
    p = check_output_path(path, _all_inputs(inputs, provenance), force)
    fmt = output_format(p)
    if fmt in HDR_FORMATS:
        raise OutputError(f"{p}: {fmt.upper()} holds linear data; use write_exr / write_result")
    arr = np.asarray(display_rgb01)
    _check_image(p, arr)
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        img, own = arr, scratch and arr.flags.writeable
    else:
        own = True
        if bit_depth not in (8, 16):
            raise OutputError(f"bit depth must be 8 or 16, got {bit_depth}")
        img = to_uint(arr, bit_depth)  # clip, scale, round; NaN -> 0
    if fmt in ("jpeg", "avif") and img.dtype != np.uint8:
        raise OutputError(f"{p}: JPEG holds 8 bits per channel; use .png or .tif for 16-bit output")
    if not 1 <= int(quality) <= 100:
        raise OutputError(f"JPEG quality must be within 1..100, got {quality}")
    data = _encode(p, fmt, img, int(quality), _meta(provenance),
                   photo_meta(source, strip_location=strip_location, icc=icc), scratch=own)
    del img, arr  # (a scratch image may now hold BGR)
    if not data:
        raise OutputError(f"{p}: could not encode the image as {fmt.upper()}")
    _write_bytes(p, data, force=force, ctx=ctx)
    return p


def write_result(
    path: PathLike,
    result: Result,
    tone: ToneParams,
    *,
    bit_depth: int = 8,
    quality: int = 95,
    half: bool = True,
    inputs: Iterable[PathLike] = (),
    force: bool = False,
    ctx: TaskContext | None = None,
    strip_location: bool = False,
    colour_space: str = "srgb",
) -> Path:
    """Write a method's Result; the extension picks the format.

    ``ctx``: checked for cancellation right before the output is published, then committed
    (see :func:`_atomic_write`): a cancelled write leaves nothing, a published one stands.

    .exr / .hdr: ``result.image`` as is (linear radiance for HDR results; an LDR fused result
    is written as its display values). .png / .tif / .tiff / .jpg / .jpeg: the display rendering
    ``app.core.tonemap.render(result.image, result.kind, tone)`` quantised with
    ``app.core.tonemap.to_uint``; the tone settings are added to the provenance.
    """
    fmt = output_format(path)
    # Validate the target before the (possibly slow) rendering.
    check_output_path(path, _all_inputs(inputs, result.provenance), force)
    if fmt == "exr":
        # float16 radiance (a half export's result) goes to the half-float file as it is
        image = result.image if result.image.dtype == np.float16 and half else result.display_float()
        return write_exr(
            path, image, result.provenance, half=half, inputs=inputs, force=force, ctx=ctx,
        )
    if fmt == "hdr":
        return write_hdr_file(
            path, result.display_float(), result.provenance, inputs=inputs, force=force, ctx=ctx
        )
    if bit_depth not in (8, 16):
        raise OutputError(f"bit depth must be 8 or 16, got {bit_depth}")
    if fmt in ("jpeg", "avif") and bit_depth != 8:
        raise OutputError(f"{path}: JPEG holds 8 bits per channel; use .png or .tif for 16-bit output")
    display: np.ndarray | None
    pixels: np.ndarray | None = None
    if check_space(colour_space) == "srgb" and tonemap.only_clips(result.kind, tone):
        if result.holds_codes and result.image.dtype.itemsize * 8 == bit_depth:
            pixels, display = result.image, None  # already the file's codes
        else:
            display = result.display_float()  # to_uint clips it: no rendered copy needed
    elif check_space(colour_space) == "srgb":
        # rendered into codes strip by strip where it can (HDR through a global operator);
        # float16 radiance (a half export's result) is widened strip by strip there
        source = result.image if result.image.dtype == np.float16 else result.display_float()
        pixels, display = tonemap.render_codes(source, result.kind, tone, bit_depth), None
    else:
        display = convert_display(
            tonemap.render(result.display_float(), result.kind, tone), colour_space)
    meta = result.provenance.as_text()
    meta["lumafuse:kind"] = result.kind.value
    meta["lumafuse:tone"] = repr(
        {
            "exposure_ev": tone.exposure_ev,
            "gamma": tone.gamma,
            "tmo": tone.tmo,
            "tmo_params": dict(tone.tmo_params),
            "saturation": tone.saturation,
            "temperature": tone.temperature,
            "tint": tone.tint,
            "look": {k: v for k, v in vars(tone.look).items() if v},
        }
    )
    frames = [str(f) for f in (result.provenance.inputs or tuple(inputs)) if f]
    own = pixels is not None and pixels is not result.image  # made here: the encoder's to reuse
    if pixels is None:
        pixels, own = to_uint(display, bit_depth), True
    del display  # the float rendering (12 B/px) is not kept while the file is encoded
    return write_display(
        path,
        pixels,
        bit_depth=bit_depth,
        quality=quality,
        provenance=meta,
        inputs=tuple(inputs) + tuple(result.provenance.inputs),
        force=force,
        ctx=ctx,
        # the reference frame: the middle exposure (dark-to-bright order), as a camera's own
        # HDR mode keeps the metadata of its normal exposure
        source=frames[len(frames) // 2] if frames else None,
        strip_location=strip_location,
        icc=icc_profile(colour_space),
        scratch=own,
    )
