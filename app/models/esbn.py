"""ESBN: ghost-free HDR from a hand-held bracket of a moving scene (Lee, Chung, Cho, IEEE Access
2020; networks in :mod:`app.models.esbn_net`, torch imported inside functions only).

Inference (methods.md 4.7, with the captured reference always used):

1. Three frames: the reference (the one whose moving objects are kept; default the middle
   one), the nearest darker and the nearest brighter frame. A 2-frame bracket uses the
   reference in the missing slot (its own time), 4-5 frames use the reference's neighbours.
2. Exposure times from EXIF, or estimated from the pixels (said in the notes), relative to
   the low frame; display frames [0, 1] (linear inputs are encoded as a camera JPEG would be).
   Networks trained with ``linearise="response"`` also get the bracket's camera response
   (:func:`response_table`, recovered from all its frames as the HDR merge does).
3. The networks run on overlapping tiles (size a multiple of 8, 64 px overlap, feathered
   blend), one tile at a time: memory is bounded by the tile, not the photo; cancel between
   tiles; GPU when asked for and present.
4. The merge gives H in units of the low frame's clipping level; the result is returned in the
   product's convention, linear radiance with 1.0 = where the reference frame clips
   (H x t_ref / t_low), aligned to the reference frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.types import float_frame
from app.models.registry import MethodOutput

WEIGHTS_KEY = "esbn"
OVERLAP = 64  # px of context shared by neighbouring tiles (blended linearly across it)


def build_model(**hparams: Any) -> Any:
    from app.models.esbn_net import build_model as _build

    return _build(**hparams)


def load_model(device: str = "cpu") -> tuple[Any, str]:
    """The shipped networks (strict load, sha256-checked), eval mode, and the file's sha256."""
    from app.core.errors import WeightsError
    from app.models import weights
    from app.models.esbn_net import ARCH_ID

    try:
        meta = weights.load_weights(WEIGHTS_KEY)[1]
    except WeightsError:
        meta = {}  # load_into below raises the real message (or keeps random init in tests)
    model = build_model(**weights.hparams(meta))
    _, digest = weights.load_into(model, WEIGHTS_KEY, arch=ARCH_ID)
    return model.to(device).eval(), digest


def response_table(frames: Any, exposures: Any) -> tuple[np.ndarray, str]:
    """The bracket's camera response for networks with ``linearise="response"``: (3, 256)
    float32, code -> linear exposure, scaled so code 255 of the brightest channel is 1 (the
    darkest frame's clipping, the unit of the network's output). Recovered as the product's
    HDR merge does it (Debevec, channels tied, an implausible curve replaced by a fitted
    sRGB-like one); the note says when that happened ('' otherwise).

    frames: display-referred [0, 1] frames (float32 or 8-bit codes) of one scene; exposures:
    their relative exposures."""
    from app.core.merge.response import recover_response_checked

    g, note = recover_response_checked(frames, exposures)
    table = np.asarray(g, np.float64).T
    return (table / max(float(table[:, 255].max()), 1e-12)).astype(np.float32), note


def pick_frames(n: int, reference: int) -> tuple[int, int, int]:
    """(low, reference, high) frame indices of an n-frame dark-to-bright bracket."""
    if n < 2:
        raise InputError("ESBN merges 2 to 5 exposures; 1 was loaded")
    return max(reference - 1, 0), reference, min(reference + 1, n - 1)


def _ramp(length: int, start: bool, end: bool) -> np.ndarray:
    """Blend weight along one axis of a tile: rises over OVERLAP px unless at the image edge."""
    w = np.ones(length, np.float32)
    k = min(OVERLAP, length // 2)
    if start and k:
        w[:k] = np.linspace(1.0 / (k + 1), 1.0, k, dtype=np.float32)
    if end and k:
        w[-k:] = np.minimum(w[-k:], np.linspace(1.0, 1.0 / (k + 1), k, dtype=np.float32))
    return w


def _starts(size: int, tile: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - OVERLAP
    out = list(range(0, size - tile, step))
    return out + [size - tile]


def merge_tiled(model: Any, low: np.ndarray, mid: np.ndarray, high: np.ndarray,
                times: tuple[float, float, float], ctx: TaskContext, *, tile: int = 512,
                device: str = "cpu", table: np.ndarray | None = None) -> np.ndarray:
    """H (units of the low frame's clipping, float32 HxWx3 in [0, 1]) from three display frames
    [0, 1] of one size; ``times`` relative to the low frame; ``table``: the bracket's
    :func:`response_table` (networks with ``linearise="response"``)."""
    import torch

    from app.models.esbn_net import MULTIPLE

    if tile % MULTIPLE or tile < 2 * OVERLAP:
        raise InputError(f"the tile size must be a multiple of {MULTIPLE} and at least "
                         f"{2 * OVERLAP}, got {tile}")
    h, w = mid.shape[:2]
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w, 1), np.float32)
    ys, xs = _starts(h, tile), _starts(w, tile)
    t = torch.tensor([times], dtype=torch.float32, device=device)
    tab = None if table is None else torch.from_numpy(np.asarray(table, np.float32))[None].to(device)
    done, total = 0, len(ys) * len(xs)
    for y0 in ys:
        for x0 in xs:
            ctx.check()
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            th, tw = y1 - y0, x1 - x0
            ph, pw = (-th) % MULTIPLE, (-tw) % MULTIPLE
            batch = []
            for f in (low, mid, high):
                part = np.pad(f[y0:y1, x0:x1], ((0, ph), (0, pw), (0, 0)), mode="reflect"
                              if min(th, tw) > max(ph, pw) else "edge")
                batch.append(torch.from_numpy(
                    np.ascontiguousarray(part.transpose(2, 0, 1) * 2.0 - 1.0, np.float32)
                )[None].to(device))
            with torch.inference_mode():
                o = model.radiance(model(*batch, t, tab)[2])
            hdr = o[0].float().cpu().numpy().transpose(1, 2, 0)[:th, :tw]
            wy = _ramp(th, y0 > 0, y1 < h)
            wx = _ramp(tw, x0 > 0, x1 < w)
            wt = (wy[:, None] * wx[None, :])[..., None]
            acc[y0:y1, x0:x1] += hdr * wt
            wsum[y0:y1, x0:x1] += wt
            done += 1
            ctx.report(0.1 + 0.85 * done / total, f"esbn: tile {done}/{total}")
    return acc / np.maximum(wsum, 1e-8)


def with_merge_outside_motion(stack: Any, frames: Any, net: np.ndarray,
                              ctx: TaskContext) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """The network's radiance where frames disagree and the reference frame is clipped or near
    black, the classical merge elsewhere.

    stack: the bracket (exposures known); frames: its display-referred frames; net: the
    network's radiance (HxWx3, 1.0 = the reference's clipping). Where nothing moved, the
    ghost-aware Debevec merge of every frame with the recovered response is exact (on the
    static test brackets 35.7 dB PSNR-mu against the network's 29.5), and where something moved
    it keeps the reference frame's own pixels, exact where the reference is well exposed. The
    network's radiance is kept where the ghost test finds motion (or the painted mask asks for
    the reference) and the reference is poorly exposed: what the merge cannot know. The merge
    is scaled to the network's units by the median ratio on static, well-exposed pixels, and
    the two meet across feathered edges. Returns (radiance, share of the picture taken from
    the network, the merge's messages for the user: a refused response curve, ...)."""
    from app.core.merge.ghost import ghost_maps
    from app.core.merge.hdr import merge_hdr

    h, w = net.shape[:2]
    if not stack.aligned:
        # the networks align the frames themselves; the merge needs them registered too (a
        # hand-held bracket's shake would blur it), in the reference's full frame
        from app.core.align import align_stack

        from app.models.classical import display_frames

        stack = align_stack(stack, "homography", ctx.sub(0.0, 0.5), crop=False)
        frames = display_frames(stack)
        ctx = ctx.sub(0.5, 1.0)
    maps = ghost_maps(frames, stack.reference, keep_reference=stack.reference_mask)
    ctx.check()
    # as merged: its contradictions of the reference are what the check below looks for
    report = merge_hdr(stack, "debevec", deghost=True, ctx=ctx, within_reference=False)
    merged = report.radiance
    g = maps.ghost_at(h, w)
    step = max(1, int(np.sqrt(h * w / 250_000)))  # the scale from ~250 k pixels
    a, b, gs = net[::step, ::step], merged[::step, ::step], g[::step, ::step]
    level = float_frame(frames[stack.reference][::step, ::step]).mean(axis=2)
    sel = (gs < 0.05) & (level > 0.1) & (level < 0.9) & (b.mean(axis=2) > 0)
    scale = (float(np.median(a.mean(axis=2)[sel] / b.mean(axis=2)[sel]))
             if sel.sum() >= 100 else 1.0)
    out = merged
    out *= np.float32(scale)
    # the reference bounds the truth where it clipped or crushed: a merge that contradicts it
    # there took a moving object from another frame that the ghost test could not see
    g = np.maximum(g, contradicts_reference(frames[stack.reference], out))
    g = g * _poorly_exposed(frames[stack.reference], h, w)
    for y0 in range(0, h, 256):  # (1 - g) merge + g net, in place, no full-size temporaries
        rows = slice(y0, y0 + 256)
        out[rows] += g[rows, :, None] * (net[rows] - out[rows])
    # exposures were settled by the caller: only the merge's own findings are passed on
    said = tuple(m for m in report.messages if not m.startswith("exposures estimated"))
    return out, float(np.mean(g > 0.5)), said


BLACK_CODE = 0.01  # display value up to which a reference channel counts as crushed


def contradicts_reference(reference: np.ndarray, radiance: np.ndarray) -> np.ndarray:
    """float32 HxW in [0, 1]: where a merged radiance contradicts what the reference frame
    recorded. A clipped reference channel (display value >= REFERENCE_CLIPPED, as the HDR
    merges' bound, app.core.merge.hdr) says the truth there
    is at least its clipping level (1.0 in the hand-over's units); a crushed one (<= BLACK_CODE)
    says it is near black. A merge far below the clipping level (under 0.6, fully at 0.4) or
    far above black (over 0.03, fully at 0.06) in such a channel took the pixel from a frame
    where something else stood: motion inside the reference's clipped or black areas, which
    the ghost test discounts (there the codes cannot be compared). Found on a copy of at most
    1024 px, cleared of specks, grown and feathered like the ghost maps.

    reference: display frame HxWx3 (uint8/uint16 codes or float [0, 1]); radiance: HxWx3 in
    the reference's units (1.0 = its clipping level)."""
    import cv2

    from app.core.merge.ghost import WORK_SIDE, feathered_regions
    from app.core.merge.hdr import REFERENCE_CLIPPED

    h, w = radiance.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))

    def small(a: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.resize(a, size, interpolation=interpolation) if scale < 1 else a

    # nearest for the codes (a clipped pixel stays clipped), area for the radiance
    ref = float_frame(small(np.ascontiguousarray(reference), cv2.INTER_NEAREST))
    rad = small(np.ascontiguousarray(radiance, np.float32), cv2.INTER_AREA)
    too_dark = np.clip((0.6 - rad) / 0.2, 0.0, 1.0) * (ref >= REFERENCE_CLIPPED)
    too_bright = np.clip((rad - 0.03) / 0.03, 0.0, 1.0) * (ref <= BLACK_CODE)
    bad = np.maximum(too_dark, too_bright).max(axis=2).astype(np.float32)
    bad = feathered_regions(bad, max(1, round(0.01 * max(size))))
    if scale < 1:
        bad = cv2.resize(bad, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(bad, 0.0, 1.0)


def poorly_exposed_level(brightest: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """How poorly exposed display pixels are, from their brightest channel and channel mean
    (display [0, 1]): 1 near clipping (brightest above 0.95) or near black (mean below 0.02),
    0 when well exposed (brightest below 0.85 and mean above 0.08), linear in between. Shared
    by the hand-over and the training that fine-tunes the networks for it."""
    high = np.clip((brightest - 0.85) / 0.10, 0.0, 1.0)
    low = np.clip((0.08 - mean) / 0.06, 0.0, 1.0)
    return np.maximum(high, low)


def _poorly_exposed(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    """float32 HxW in [0, 1]: 1 where a display frame is near clipping (brightest channel above
    0.95) or near black (mean below 0.02), 0 where it is well exposed (brightest channel below
    0.85 and mean above 0.08), smoothed over a few pixels so the hand-over leaves no seam."""
    import cv2

    scale = min(1.0, 1024 / max(h, w))
    small = float_frame(cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                                   interpolation=cv2.INTER_AREA) if scale < 1 else frame)
    bad = poorly_exposed_level(small.max(axis=2), small.mean(axis=2)).astype(np.float32)
    bad = cv2.GaussianBlur(bad, (0, 0), 2.0)
    return np.clip(cv2.resize(bad, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def run_esbn(stack: Any, params: dict, ctx: TaskContext, device: str) -> MethodOutput:
    """Registry entry: 2-5 frames (dark to bright) -> linear HDR radiance aligned to the
    reference frame, 1.0 = the reference's clipping level. params: tile (px, multiple of 8),
    outside_motion ("merge": the classical merge where nothing moved, see
    :func:`with_merge_outside_motion`; "network": the networks' output everywhere)."""
    from app.core.io.exposure import ensure_exposures, estimated_exposures_message
    from app.models import weights
    from app.models.classical import display_frames

    ctx.check()
    if not 2 <= stack.n <= 5:
        raise InputError(f"ESBN merges 2 to 5 exposures; {stack.n} were loaded")
    stack = ensure_exposures(stack)
    exps = stack.exposures
    lo, ref, hi = pick_frames(stack.n, stack.reference)
    frames = display_frames(stack)
    dev = weights.resolve_device(device)
    model, digest = weights.kept_model(WEIGHTS_KEY, dev, lambda: load_model(dev))
    ctx.report(0.1, "esbn: model loaded")
    times = (1.0, exps[ref] / exps[lo], exps[hi] / exps[lo])
    table, note = (response_table(frames, exps) if getattr(model, "linearise", "gamma")
                   == "response" else (None, ""))
    hybrid = str(params.get("outside_motion", "merge")) == "merge"
    h = merge_tiled(model, frames[lo], frames[ref], frames[hi], times,
                    ctx.sub(0.0, 0.85) if hybrid else ctx, tile=int(params.get("tile", 512)),
                    device=dev, table=table)
    rad = h
    rad *= np.float32(exps[ref] / exps[lo])  # in place: one full-size image less
    net_share, merge_said = 1.0, ()
    if hybrid:
        ctx.report(0.85, "esbn: classical merge where nothing moved")
        rad, net_share, merge_said = with_merge_outside_motion(stack, frames, rad,
                                                               ctx.sub(0.85, 1.0))
    source = str(stack.metadata.get("exposure_source", "given"))
    notes: dict[str, Any] = {
        "frames_used": [lo + 1, ref + 1, hi + 1],
        "exposure_source": source,
        "exposure_confidence": stack.metadata.get("exposure_confidence"),
        "decisions": {"frames": f"{lo + 1},{ref + 1},{hi + 1}",
                      "network_share": f"{net_share:.4f}"},
    }
    messages = ([note] if note else []) + list(merge_said)
    if source == "estimated":
        messages.append(estimated_exposures_message([np.log2(e / exps[0]) for e in exps],
                                                    notes["exposure_confidence"]))
    if messages:
        notes["messages"] = messages
    return MethodOutput(image=rad.astype(np.float32), weights_sha256=digest, device=dev,
                        notes=notes)
