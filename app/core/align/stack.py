"""Aligning a whole stack to its reference frame, and cropping to the area every frame covers."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from app.core.align.homography import estimate_homography
from app.core.align.mtb import mtb_shift
from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.types import ExposureStack

MODES = ("none", "mtb", "homography")
_MASK_PROXY = 800  # the common-area rectangle is searched on a mask of at most this size


def _coverage(hms: list[np.ndarray], shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Mask (proxy size) of reference pixels every frame covers, and the proxy scale."""
    h, w = shape
    s = min(1.0, _MASK_PROXY / max(h, w))
    ph, pw = max(1, int(h * s)), max(1, int(w * s))
    ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float64)
    pts = np.stack([(xs + 0.5) / s - 0.5, (ys + 0.5) / s - 0.5, np.ones_like(xs)], axis=-1)
    mask = np.ones((ph, pw), bool)
    for hm in hms:
        q = pts @ hm.T
        x, y = q[..., 0] / q[..., 2], q[..., 1] / q[..., 2]
        # bilinear sampling needs both neighbours inside: keep a 1 px margin
        mask &= (x >= 0) & (x <= w - 2) & (y >= 0) & (y <= h - 2)
    return mask, s


def _inner_rectangle(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of a large axis-aligned rectangle inside ``mask`` (greedy: shave the side
    with the most uncovered pixels until none is left). The covered area is convex for
    translations and small homographies, where this finds the largest rectangle closely."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    while y1 > y0 and x1 > x0:
        sub = mask[y0:y1, x0:x1]
        if sub.all():
            return int(x0), int(y0), int(x1), int(y1)
        bad = [
            (np.count_nonzero(~sub[0, :]) / sub.shape[1], "top"),
            (np.count_nonzero(~sub[-1, :]) / sub.shape[1], "bottom"),
            (np.count_nonzero(~sub[:, 0]) / sub.shape[0], "left"),
            (np.count_nonzero(~sub[:, -1]) / sub.shape[0], "right"),
        ]
        side = max(bad)[1]
        if side == "top":
            y0 += 1
        elif side == "bottom":
            y1 -= 1
        elif side == "left":
            x0 += 1
        else:
            x1 -= 1
    return None


def _crop_box(hms: list[np.ndarray], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) in reference pixels covered by every warped frame."""
    h, w = shape
    mask, s = _coverage(hms, shape)
    rect = _inner_rectangle(mask)
    if rect is None:
        raise InputError("the frames do not overlap after alignment; they are not one scene")
    x0, y0, x1, y1 = rect
    # proxy cells -> full-res pixels, shrunk by one proxy cell so rounding never leaves a hole
    margin = int(np.ceil(1.0 / s)) if s < 1.0 else 0
    fx0 = min(w, int(np.floor(x0 / s)) + margin)
    fy0 = min(h, int(np.floor(y0 / s)) + margin)
    fx1 = max(fx0, int(np.ceil(x1 / s)) - margin)
    fy1 = max(fy0, int(np.ceil(y1 / s)) - margin)
    if fx1 - fx0 < 8 or fy1 - fy0 < 8:
        raise InputError("the frames barely overlap after alignment; they are not one scene")
    return fx0, fy0, fx1 - fx0, fy1 - fy0


def align_stack(stack: ExposureStack, mode: str = "mtb", ctx: TaskContext | None = None,
                *, crop: bool = True) -> ExposureStack:
    """Register every frame to the reference frame and crop to the area all frames cover
    (``crop=False``: keep the reference's full frame, the other frames' missing borders filled
    by repeating their edge pixels, for a caller that blends with the reference's geometry).

    mode: "none" (returned unchanged), "mtb" (translation by median threshold bitmaps) or
    "homography" (ECC homography, falling back to the MTB translation when implausible).
    Frames keep their domain (display [0, 1] or linear). Returns a new stack with aligned=True and
    metadata "alignment" (per frame: type and 3x3 reference->frame matrix), "crop" (x, y, w, h in
    the input's pixels) and "fallback" (one note per frame whose homography was rejected).
    """
    ctx = ctx or TaskContext()
    if mode not in MODES:
        raise InputError(f"alignment must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none" or stack.n < 2:
        return stack
    ref_i = stack.reference
    ref = stack.frames[ref_i]
    hms: list[np.ndarray] = []
    info: list[dict[str, Any]] = []
    fallback: list[str] = []
    for i, frame in enumerate(stack.frames):
        ctx.report(0.8 * i / stack.n, f"aligning frame {i + 1}/{stack.n}")
        if i == ref_i:
            hm, kind = np.eye(3), "reference"
        else:
            hm = None
            kind = "translation"
            if mode == "homography":
                why: list[str] = []
                hm = estimate_homography(ref, frame, linear=stack.linear, reason=why)
                if hm is None:
                    name = stack.infos[i].path or f"frame {i}"
                    fallback.append(f"{name}: {why[0] if why else 'rejected'}; used a translation")
                else:
                    kind = "homography"
            if hm is None:
                dx, dy = mtb_shift(ref, frame, linear=stack.linear)
                hm = np.array([[1.0, 0, -dx], [0, 1.0, -dy], [0, 0, 1.0]])
        hms.append(hm)
        info.append({"frame": i, "type": kind, "matrix": np.round(hm, 8).tolist()})
    ctx.check()
    x, y, cw, ch = _crop_box(hms, stack.shape) if crop else (0, 0, stack.shape[1], stack.shape[0])
    out = []
    for i, (frame, hm) in enumerate(zip(stack.frames, hms)):
        ctx.report(0.8 + 0.2 * i / stack.n, "warping")
        # warp only the output window: shift the matrix so output (0,0) is reference (x, y)
        shift = np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])
        hm_c = hm @ shift
        # reference and MTB shifts: exact copy, no resampling blur (uncropped: only where no
        # border has to be filled in)
        if _is_integer_shift(hm) and (crop or not np.any(np.round(hm[:2, 2]))):
            warped = _shift_crop(frame, hm, x, y, cw, ch)
        else:
            warped = cv2.warpPerspective(
                frame, hm_c, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,  # within the 1 px crop margin when cropped
            )
        # codes stay codes (bilinear warping rounds to the nearest code: under 1/2 code)
        out.append(np.ascontiguousarray(warped, dtype=frame.dtype))
    meta = dict(stack.metadata)
    meta["alignment"] = info
    meta["crop"] = (x, y, cw, ch)
    if fallback:
        meta["fallback"] = fallback
    ctx.report(1.0, "aligned")
    return stack.with_frames(out, aligned=True, metadata=meta)


def _is_integer_shift(hm: np.ndarray) -> bool:
    return bool(
        np.allclose(hm[:2, :2], np.eye(2)) and np.allclose(hm[2], [0, 0, 1])
        and np.allclose(hm[:2, 2], np.round(hm[:2, 2]))
    )


def _shift_crop(frame: np.ndarray, hm: np.ndarray, x: int, y: int, cw: int, ch: int) -> np.ndarray:
    """Exact crop for an integer translation (no resampling): out = frame[y+ty.., x+tx..]."""
    tx, ty = int(round(hm[0, 2])), int(round(hm[1, 2]))
    return frame[y + ty : y + ty + ch, x + tx : x + tx + cw].copy()
