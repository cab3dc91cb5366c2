"""HDR radiance merge of a bracket, optionally ghost-aware.

Every frame is mapped to linear radiance (through the inverse response for display-referred
frames, directly for linear RAW/EXR frames), divided by its relative exposure and averaged with a
triangle ("hat") weight of each channel's level: mid-tones count most, values near black
(noise, quantisation) and near clipping (the response flattens) count least, and the last few
codes at either end not at all (see :func:`merge_weights`).

Output radiance: float32 HxWx3 >= 0, normalised so 1.0 is the exposure at which the reference
frame clips: exactly its white level for linear frames; for display frames the recovered response
is pinned at mid-grey to the sRGB curve (see response.py), which puts 1.0 at about code 255.

Ghost-aware merge (``deghost="on"``, or ``"auto"``: on when the test finds motion in more than
``MOTION_SHARE_AUTO`` of the picture; ``True`` / ``False`` read as on / off): the ghost test of
:mod:`app.core.merge.ghost` (codes matched between frames, clipping never counted as motion) gives each other frame a weight map;
where a frame disagrees with the reference, its share of the merge weight goes to the reference
frame's radiance, so moving objects come from the reference alone and the merge keeps its
normalisation (no holes, no black specks where every weight would have been dropped). A painted
``keep_reference`` mask acts the same way, with or without ``deghost``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from app.core.channels import channel_max as _max_channel
from app.core.errors import InputError
from app.core.io.exposure import estimated_exposures_message
from app.core.io.exr import to_half
from app.core.merge.ghost import Deghosting, deghost_mode
from app.core.progress import TaskContext
from app.core.types import ExposureStack, float_frame

_MIN_WEIGHT = 1e-4  # hat weights below this count as "no information"


def hat(level: np.ndarray) -> np.ndarray:
    """Triangle weight of a [0, 1] level: 0 at 0 and 1, 1 at 0.5. float32, same shape."""
    out = np.abs(level.astype(np.float32, copy=True) * 2.0 - 1.0)
    np.subtract(1.0, out, out=out)
    return np.maximum(out, 0.0, out=out)


TRUSTED_LEVELS = (2.5 / 255, 250.5 / 255)  # outside: quantised black / (near-)clipped codes


def _hat_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.float32) / np.float32(255.0)
    w = hat(codes)
    w[codes >= TRUSTED_LEVELS[1]] = 0.0
    return w


def merge_weights(level: np.ndarray) -> np.ndarray:
    """Merge weight of a display-like [0, 1] frame, float32 HxWx3.

    The hat of the pixel's brightest channel, the same for its three channels: where one frame
    takes over from another, all channels switch together, so an error in the curve's shape
    changes brightness, never colour (per-channel hats made colour rings on bright walls and
    hard-edged green/red streaks in a sky that clips in one channel first). On top of that,
    per channel, no weight for near-black codes (0-2: noise and quantisation, the curve is flat
    there), and none for the whole pixel once its brightest channel is near clipping (251-255):
    a channel that clips before the others would pull the colour toward grey (magenta/cyan
    highlights). Pixels no frame sees are filled from one frame for all channels (see _merge).
    """
    codes = eight_bit_codes(level)
    if codes is not None:  # the same weights from 8-bit codes through lookup tables
        r, g, b = cv2.split(codes)
        w = cv2.LUT(cv2.max(cv2.max(r, g), b), _HAT_TABLE)
        out = cv2.merge([w, w, w])
        out[codes <= round(TRUSTED_LEVELS[0] * 255)] = 0.0
        return out
    mx = _max_channel(level)
    w = hat(mx)
    w[mx >= TRUSTED_LEVELS[1]] = 0.0
    out = cv2.merge([w, w, w])
    out[level <= TRUSTED_LEVELS[0]] = 0.0
    return out


_HAT_TABLE = _hat_table()  # brightest-channel code -> weight (float32, 256)
_SUB = 4  # table steps per 8-bit code: 8-bit values hit table entries exactly


def eight_bit_codes(frame: np.ndarray) -> np.ndarray | None:
    """uint8 codes of a display [0, 1] frame that holds 8-bit values (k / 255), else None.

    Checked on a sparse grid of pixels (a 16-bit or float frame fails it at once); rounding and
    saturation by OpenCV in one pass."""
    f = np.asarray(frame)
    if f.ndim != 3 or f.dtype != np.float32 or f.shape[2] != 3:
        return None
    probe = f[:: max(1, f.shape[0] // 61), :: max(1, f.shape[1] // 67)]
    if not np.allclose(probe * 255.0, np.rint(probe * 255.0), atol=1e-3) or probe.min() < 0 \
            or probe.max() > 1:
        return None
    # black and white are "8-bit" in any depth: the verdict needs mid-tones (a 16-bit frame's
    # mid-tones are multiples of 1/255 with a chance of 1/257 each)
    if np.count_nonzero((probe > 0) & (probe < 1)) < 64:
        return None
    return cv2.convertScaleAbs(np.ascontiguousarray(f), alpha=255.0)


def _apply_curve(frame: np.ndarray, inv_response: np.ndarray) -> np.ndarray:
    """Display [0, 1] frame -> linear exposure through the (256,3) table, per channel.

    8-bit frames: one OpenCV LUT on their codes (~20x faster than a gather). Others: a lookup
    in the table resampled at quarter codes (within 1/8 code for 16-bit data): a gather is ~10x
    faster than np.interp on a 12 MP frame.
    """
    codes = eight_bit_codes(frame) if frame.ndim == 3 else None
    if codes is not None:
        table = np.ascontiguousarray(np.asarray(inv_response, np.float32).reshape(1, 256, 3))
        return cv2.LUT(codes, table)
    n = 255 * _SUB
    fine = np.linspace(0.0, 255.0, n + 1)
    x = np.multiply(frame, np.float32(n), dtype=np.float32)
    flat = x.reshape(x.shape[0], -1)  # one-channel view: cv2 scalars then apply to every value
    cv2.max(flat, 0.0, dst=flat)  # OpenCV clamps: numpy's clip costs several times more
    cv2.min(flat, float(n), dst=flat)
    cv2.add(flat, 0.5, dst=flat)
    idx = x.astype(np.int16)  # truncation of x + 0.5 = rounding (x >= 0)
    del x, flat
    out = np.empty(frame.shape, np.float32)
    for c in range(3):
        table = np.interp(fine, np.arange(256), inv_response[:, c]).astype(np.float32)
        out[..., c] = np.take(table, idx[..., c])
    return out


def _merge(
    levels: Sequence[np.ndarray],
    to_linear,
    exposures: Sequence[float],
    reference: int,
    consistency: Sequence[np.ndarray | None] | None,
    ctx: TaskContext,
) -> np.ndarray:
    """Shared weighted average. levels[j]: display-like [0,1] encoding of frame j (for weights and
    ghost tests); to_linear(j, top=None, sel=None) -> frame j's linear exposure (1.0 = its
    clipping), its levels first capped at ``top`` when given, only at pixels ``sel`` (HxW bool,
    giving Nx3) when given;
    consistency: per-frame HxW maps in [0, 1] (None for the reference) from the ghost test, or
    None: the share 1 - c of a frame's weight goes to the reference frame's radiance."""
    n = len(levels)
    exps = np.asarray(exposures, np.float64)
    shape = levels[0].shape
    num = np.zeros(shape, np.float32)
    den = np.zeros(shape, np.float32)
    ref_rad = None
    if consistency is not None:
        ref_rad = to_linear(reference) / np.float32(exps[reference])
    for j in range(n):
        ctx.report(j / n, f"merging frame {j + 1}/{n}")
        rad = to_linear(j)  # a fresh array: scaled in place
        np.multiply(rad, np.float32(1.0 / exps[j]), out=rad)
        wj = merge_weights(levels[j])
        if consistency is not None and consistency[j] is not None:
            c = np.repeat(consistency[j][..., None], 3, axis=2)
            moved = wj * (np.float32(1.0) - c)  # this frame's say, handed to the reference
            wj *= c
            cv2.accumulateProduct(ref_rad, moved, num)
            den += moved
        cv2.accumulateProduct(rad, wj, num)  # num += w * rad
        den += wj
    # channels no frame sees in range: clipped everywhere -> darkest frame, black everywhere ->
    # brightest frame (the best information there is about them)
    empty = den < _MIN_WEIGHT
    if empty.any():
        # only the pixels that need it: a full-frame curve lookup costs a frame's merge
        sel = empty.any(axis=2)
        # capped at the last trusted code: the curve's top codes are its least certain part, and
        # a sky that clips in every frame must fade to white smoothly, not in bands
        dark = to_linear(0, TRUSTED_LEVELS[1], sel) / np.float32(exps[0])
        bright = to_linear(n - 1, None, sel) / np.float32(exps[n - 1])
        high = levels[0][sel].max(axis=1) > 0.5  # one source frame for all channels of a pixel
        fill = np.where(high[:, None], dark, bright)
        sub_num, sub_den, sub_empty = num[sel], den[sel], empty[sel]
        sub_num[sub_empty] = fill[sub_empty]
        sub_den[sub_empty] = 1.0
        num[sel], den[sel] = sub_num, sub_den
    rad = num / den
    rad *= np.float32(exps[reference])  # 1.0 = the reference frame's clipping exposure
    np.maximum(rad, 0.0, out=rad)
    ctx.report(1.0, "merged")
    return rad


REFERENCE_CLIPPED = 0.99  # display level from which a reference channel bounds the truth below
REFERENCE_BOUND_CODE = 230  # the code whose exposure is that bound (chosen on validation)


def keep_within_reference(radiance: np.ndarray, reference: np.ndarray,
                          inv_response: np.ndarray) -> None:
    """Make a ghost-aware merge agree with what its reference frame recorded, in place.

    A reference channel that clipped (level >= REFERENCE_CLIPPED) says the truth there is at
    least its clipping level. The ghost test cannot compare codes the reference clips, so an
    object that moved there is merged from another frame: a dark ghost in a blown-out sky or
    lamp. Such values are raised to the exposure of code REFERENCE_BOUND_CODE in the merge's
    own curve (the sky comes out near the clipping level, as the reference shows it); where
    nothing moved the merge lies above it already and nothing changes.

    Chosen on the 36 dynamic and 12 static validation brackets of app.bench.deghost
    (debevec + homography + deghost, PSNR-mu): no bound 31.39 / 34.58; the exposure of code 252
    31.55 / 33.44 (the recovered curve's top codes are its least certain part and overshoot);
    code 230 31.67 / 34.63. The same bound on the black side (at most the exposure of code 3
    where the reference is black) cost static quality (34.45 with code 230): a JPEG's toe
    crushes dark codes the truth lies above, so it is not applied.

    radiance: HxWx3 float32, 1.0 = the reference's clipping exposure (as :func:`_merge`
    returns it); reference: its display levels [0, 1]; inv_response: (256, 3) code -> linear
    exposure, the merge's own curve."""
    low = np.asarray(inv_response, np.float32)[REFERENCE_BOUND_CODE]  # per channel
    np.copyto(radiance, np.maximum(radiance, low), where=reference >= REFERENCE_CLIPPED)


def _pick(level: np.ndarray, top: float | None, sel: np.ndarray | None) -> np.ndarray:
    """``level`` (HxWx3), or its pixels at ``sel`` as an Nx1x3 image, capped at ``top``."""
    out = level if sel is None else level[sel][:, None, :]
    return out if top is None else np.minimum(out, np.float32(top))


def merge_with_response(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    inv_response: np.ndarray,
    *,
    deghost: bool | str = False,
    reference: int | None = None,
    ctx: TaskContext | None = None,
    keep_reference: np.ndarray | None = None,
    report: dict | None = None,
    half: bool = False,
    release_frames: bool = False,
    within_reference: bool = True,
) -> np.ndarray:
    """Merge display-referred frames into linear radiance with a known inverse response.

    frames: HxWx3 display-referred, float32 [0, 1] or uint8 / uint16 codes, dark to bright;
    exposures: relative exposures;
    inv_response: (256, 3) code -> linear exposure, pinned at sRGB mid-grey (from
    :func:`recover_response`), so 1.0 is about where a frame clips.
    Returns float32 HxWx3 radiance >= 0, 1.0 = clipping level of the reference frame; with
    ``half``, float16 (6 B/px instead of 12) clipped to the half maximum 65504, strip by strip as
    it is merged (what an EXR export stores anyway).
    ``release_frames``: for a one-shot export that never reads the frames again: each strip's
    rows of the frames are handed back to the operating system once it is merged
    (app.core.allocator.release_rows), so the frames and the whole radiance are never resident
    at once (3 x 200 MP, 8-bit frames and float16 radiance: 15 -> 9 B/px at the peak). The
    frames' merged rows read as zeros afterwards; the result is the same.
    ``report``: a dict that receives the deghosting decision (see :func:`_consistency`).
    ``within_reference``: when deghosting, keep the result within what the reference frame
    recorded (:func:`keep_within_reference`); False leaves the merge as it is (ESBN's hand-over
    looks for exactly those contradictions).
    """
    ctx = ctx or TaskContext()
    if len(frames) != len(exposures):
        raise InputError(f"{len(exposures)} exposures given for {len(frames)} frames")
    g = np.asarray(inv_response, np.float32)
    if g.shape != (256, 3):
        raise InputError(f"inverse response must be 256x3, got {g.shape}")
    ref = len(frames) // 2 if reference is None else int(reference)
    # used as is: values outside [0, 1] get zero hat weight and clamp in the curve lookup.
    # Integer codes stay codes; each strip is turned into [0, 1] floats only while it merges.
    levels = [f if f.dtype in (np.uint8, np.uint16) else np.asarray(f, dtype=np.float32)
              for f in map(np.asarray, frames)]
    n = len(levels)
    maps = _consistency(levels, ref, deghost, keep_reference, report)

    def merge_rows(part: list[np.ndarray], part_ctx: TaskContext) -> np.ndarray:
        lv = [float_frame(x) for x in part[:n]]
        rad = _merge(
            lv,
            lambda j, top=None, sel=None: _apply_curve(_pick(lv[j], top, sel), g).reshape(
                lv[j].shape if sel is None else (-1, 3)),
            exposures,
            ref,
            None if maps is None else _unpack(part[n:], ref, n),
            part_ctx,
        )
        if maps is not None and within_reference:  # deghosting: the reference's content wins
            keep_within_reference(rad, lv[ref], g)
        return rad

    return _run_merge(levels, maps, merge_rows, ctx, np.float16 if half else np.float32,
                      release=n if release_frames else 0)


def _stored(radiance: np.ndarray, dtype) -> np.ndarray:
    """float32 radiance as the merge's output type (float16: see app.core.io.exr.to_half)."""
    return radiance if dtype == np.float32 else to_half(radiance)


def _run_merge(levels: list[np.ndarray], maps: list[np.ndarray | None] | None, merge_rows,
               ctx: TaskContext, dtype=np.float32, release: int = 0) -> np.ndarray:
    """merge_rows on the whole frame or on strips, into an array of ``dtype`` (float32 or
    float16); the consistency maps travel with the levels (after them in the list, the
    reference's left out). ``release``: see :func:`_merge_in_strips`."""
    arrays = levels + ([m for m in maps if m is not None] if maps is not None else [])
    if levels[0].shape[0] < 2 * _MIN_STRIP_ROWS:
        # (a[:]: ResizedRows maps as arrays)
        return _stored(merge_rows([a[:] for a in arrays], ctx), dtype)
    return _merge_in_strips(arrays, merge_rows, ctx, dtype=dtype, release=release)


def _consistency(levels: list[np.ndarray], ref: int, deghost: bool | str,
                 keep_reference: np.ndarray | None,
                 report: dict | None = None) -> list[np.ndarray | None] | None:
    """Full-size ghost-test weight maps (None for the reference) from display-like levels, or
    None without deghosting and mask (:func:`app.core.merge.ghost.plan_deghosting` decides).
    ``report`` (when given) receives the decision as ``report["deghosting"]``."""
    from app.core.merge.ghost import plan_deghosting

    plan = plan_deghosting(levels, ref, deghost, keep_reference)
    if report is not None:
        report["deghosting"] = plan
    if plan.maps is None:
        return None
    h, w = levels[0].shape[:2]
    # resized strip by strip as the merge slices them (no 4 B/px map per frame)
    return [None if k == ref else plan.maps.weight_rows(k, h, w) for k in range(len(levels))]


def _unpack(cons: list[np.ndarray], ref: int, n: int) -> list[np.ndarray | None]:
    """A strip's consistency maps back in frame order (the reference has none)."""
    it = iter(cons)
    return [None if k == ref else next(it) for k in range(n)]


_MIN_STRIP_ROWS = 64
# Row strips, run on all cores (every pixel is merged on its own). Their size bounds the merge's
# working memory: each strip has about ten float temporaries of its own, so four quarter-image
# strips took 755 MB over the frames for a 3 x 12 MP merge; strips of ~1/4 MP keep it to tens
# of MB at any image size, and fit the caches better.
_STRIP_PIXELS = 262_144


def _merge_in_strips(levels: list[np.ndarray], merge_rows, ctx: TaskContext,
                     overlap: int = 0, dtype=np.float32, release: int = 0) -> np.ndarray:
    """Merge run on row strips in a thread pool (OpenCV and numpy release the GIL). Each strip
    is merged with ``overlap`` extra rows on both sides (for the ghost mask's neighbourhood
    filters) and only its own rows are kept, so the result is the same pixel for pixel as in
    one piece. Measured on 3 x 12 MP: 2.5 s in one piece, 1.1-1.4 s in four strips on 2 cores
    (also from cache locality). The result is stored as ``dtype`` (see :func:`_stored`).
    ``release``: the first ``release`` arrays' rows are released (app.core.allocator.
    release_rows) as each strip finishes (strips are disjoint without ``overlap``; with it,
    nothing is released)."""
    from concurrent.futures import ThreadPoolExecutor

    from app.core.allocator import release_rows

    h, w = levels[0].shape[:2]
    strips = max(1, min(h // _MIN_STRIP_ROWS, round(h * w / _STRIP_PIXELS)))
    bounds = np.linspace(0, h, strips + 1).astype(int)
    out = np.empty(levels[0].shape, dtype)
    done = [0]

    def work(a: int, b: int) -> None:
        ctx.check()
        lo, hi = max(0, a - overlap), min(h, b + overlap)
        part = merge_rows([lv[lo:hi] for lv in levels], TaskContext(token=ctx.token))
        out[a:b] = _stored(part[a - lo : a - lo + (b - a)], dtype)
        if overlap == 0:
            for lv in levels[:release]:
                release_rows(lv, a, b)
        done[0] += 1

    workers = max(1, min(strips, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="lumafuse-merge") as pool:
        futures = [pool.submit(work, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        for fut in futures:
            fut.result()
            ctx.report(done[0] / strips, "merging")
    ctx.report(1.0, "merged")
    return out


def merge_linear(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    *,
    deghost: bool | str = False,
    reference: int | None = None,
    ctx: TaskContext | None = None,
    keep_reference: np.ndarray | None = None,
    report: dict | None = None,
) -> np.ndarray:
    """Merge linear frames (RAW / EXR: values proportional to radiance) directly, no response.

    Each frame's white level is its own maximum (at least 1.0 when it never reaches 1: the usual
    normalised-sensor convention). Weights are the hat of the level in a gamma-2.2 encoding (so the
    shadows are not thrown away as they would be on a linear scale).
    Returns float32 HxWx3 radiance >= 0, 1.0 = clipping level of the reference frame.
    """
    ctx = ctx or TaskContext()
    ref = len(frames) // 2 if reference is None else int(reference)
    whites = [max(float(np.max(f)), 1.0) for f in frames]
    white_ref = whites[ref]
    lins = [np.clip(f, 0.0, None).astype(np.float32) / np.float32(wt) for f, wt in zip(frames, whites)]
    levels = [np.clip(x, 0.0, 1.0) ** np.float32(1 / 2.2) for x in lins]
    rad = _merge(
        levels,
        # linear frames know their white exactly: no cap needed (top ignored)
        lambda j, top=None, sel=None: (lins[j] if sel is None else lins[j][sel])
        * np.float32(whites[j] / white_ref),
        exposures,
        ref,
        _consistency(levels, ref, deghost, keep_reference, report),
        ctx,
    )
    return rad


def _stack_exposures(stack: ExposureStack) -> ExposureStack:
    """Exposures filled in (estimated from the pixels when missing) and frames dark to bright."""
    from app.core.io import ensure_exposures  # IO owns the estimate and the ordering

    return ensure_exposures(stack)


@dataclass(frozen=True)
class HdrMerge:
    """An HDR merge and what it assumed, for the user to see.

    radiance: float32 HxWx3 >= 0, 1.0 = clipping level of the reference frame (float16 when
        asked for with ``half``).
    response: the inverse camera response used, (256, 3) code -> linear exposure (None for
        linear frames, which need none).
    ev: each merged frame's exposure in stops over the darkest, dark to bright.
    exposure_source: "user times", "user EV offsets", "exif", "estimated", or "given" for a
        stack built with exposures but no record of where they came from.
    exposure_confidence: "high" / "medium" / "low" when estimated, else None.
    messages: one line each, for the status bar / stderr (estimates, a refused curve,
        ``deghost="auto"`` deghosting where it found motion).
    deghosting: what the ``deghost`` mode decided (:class:`app.core.merge.ghost.Deghosting`:
        motion share, whether applied).
    """

    radiance: np.ndarray
    response: np.ndarray | None
    ev: tuple[float, ...]
    exposure_source: str
    exposure_confidence: str | None
    messages: tuple[str, ...]
    deghosting: Deghosting | None = None


def merge_hdr(stack: ExposureStack, method: str = "debevec", *, deghost: bool | str = False,
              samples: int = 70, ctx: TaskContext | None = None, half: bool = False,
              release_frames: bool = False, within_reference: bool = True) -> HdrMerge:
    """Debevec or Robertson merge of a stack with the report of :class:`HdrMerge`.

    Missing exposures are estimated from the pixels (app.core.io.ensure_exposures) and said so;
    a recovered response that no camera could have is replaced by a fitted sRGB-like curve and
    said so (app.core.merge.response.recover_response_checked). ``deghost``: "auto", "on" or
    "off" (or a bool); "auto" says so when it found motion and deghosted. ``half``: display-
    referred frames are merged into float16 radiance (see :func:`merge_with_response`; linear
    frames stay float32). ``release_frames``: display-referred frames are released as they are
    merged (see :func:`merge_with_response`); the caller never reads ``stack.frames`` again.
    ``within_reference``: see :func:`merge_with_response` (display-referred frames only).
    """
    from app.core.merge.response import recover_response_checked

    ctx = ctx or TaskContext()
    mode = deghost_mode(deghost)  # a bad mode is refused before any work
    if stack.n < 2:
        raise InputError(f"an HDR merge needs at least 2 frames, got {stack.n}")
    stack = _stack_exposures(stack)
    source = str(stack.metadata.get("exposure_source", "given"))
    assert stack.exposures is not None
    ev = tuple(float(np.log2(e / stack.exposures[0])) for e in stack.exposures)
    confidence = stack.metadata.get("exposure_confidence")
    messages: list[str] = []
    if source == "estimated":
        messages.append(estimated_exposures_message(ev, confidence))
    report: dict = {}
    if stack.linear:
        rad = merge_linear(stack.frames, stack.exposures, deghost=mode,
                           reference=stack.reference, ctx=ctx,
                           keep_reference=stack.reference_mask, report=report)
        g = None
    else:
        ctx.report(0.0, f"recovering the camera response ({method})")
        g, note = recover_response_checked(stack.frames, stack.exposures, method=method,
                                           samples=samples)
        if note:
            messages.append(note)
        ctx.check()
        rad = merge_with_response(stack.frames, stack.exposures, g, deghost=mode,
                                  reference=stack.reference, ctx=ctx.sub(0.2, 1.0),
                                  keep_reference=stack.reference_mask, report=report,
                                  half=half, release_frames=release_frames,
                                  within_reference=within_reference)
    plan = report["deghosting"]
    if plan.message:
        messages.append(plan.message)
    return HdrMerge(rad, g, ev, source, confidence, tuple(messages), plan)


def merge_debevec(stack: ExposureStack, *, deghost: bool | str = False, samples: int = 70,
                  ctx: TaskContext | None = None) -> np.ndarray:
    """Debevec HDR merge of a stack: response from ``samples`` pixels, hat-weighted average.

    Display-referred stacks get their response recovered; linear stacks are merged directly.
    Missing exposures are estimated from the pixels (app.core.io.ensure_exposures).
    Returns float32 HxWx3 radiance >= 0, 1.0 = clipping level of the reference frame.
    """
    return merge_hdr(stack, "debevec", deghost=deghost, samples=samples, ctx=ctx).radiance


def merge_robertson(stack: ExposureStack, *, deghost: bool | str = False,
                    ctx: TaskContext | None = None) -> np.ndarray:
    """Robertson HDR merge of a stack (iterative response recovery on a proxy, hat-weighted
    average). Same conventions as :func:`merge_debevec`."""
    return merge_hdr(stack, "robertson", deghost=deghost, ctx=ctx).radiance
