"""Relative exposures of a bracket: from user values, or estimated from the pixels.

A relative exposure is proportional to t * ISO / N^2 (any common unit); only ratios matter.
Estimation: frames are sorted by brightness, each neighbouring pair is compared on the pixels
that are well exposed in both (display value in [0.1, 0.9], so neither noise-dominated nor
clipped), the exposure ratio is the median of their linear-value ratios, and ratios are chained
neighbour to neighbour. Display-referred frames are linearised with the sRGB transfer function:
with an unknown camera response the ratio is only defined up to that assumption (a pure power
law curve makes exposure and gamma indistinguishable), so estimates are approximate, typically
within ~10% for sRGB-like cameras; EXIF or user-given times are always preferred.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from app.core.errors import InputError
from app.core.tonemap.display import srgb_decode, srgb_encode
from app.core.types import ExposureStack

WELL_EXPOSED = (0.1, 0.9)  # display-value range counted as well exposed
_FALLBACK_RANGE = (0.03, 0.97)  # used when too few pixels fall in WELL_EXPOSED
_MIN_SAMPLES = 200
_PROXY_SAMPLES = 250_000  # pixels kept per frame for estimation (strided, no blending)
IDENTICAL_RATIO = 1.03  # neighbours closer than this (3%) count as identical exposures


def ev_to_relative(ev: Sequence[float]) -> list[float]:
    """EV offsets -> relative exposures (+1 EV = one stop more light = twice the exposure)."""
    return [float(2.0 ** float(e)) for e in ev]


def _proxy(frame: np.ndarray) -> np.ndarray:
    """Strided subsample (no blending, so clipped and unclipped pixels never mix)."""
    h, w = frame.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / _PROXY_SAMPLES))))
    return frame[::step, ::step]


def _display_and_linear(frame: np.ndarray, linear: bool) -> tuple[np.ndarray, np.ndarray]:
    """(display-like [0,1] values for masking, linear values for ratios) of a proxy frame."""
    p = _proxy(frame).astype(np.float32)
    if not linear:
        return p, srgb_decode(p)
    # Linear frames: the brightest value stands in for the clip level (RAW white, EXR max).
    scale = float(p.max()) or 1.0
    return srgb_encode(p / scale), p


def mean_luminance(frame: np.ndarray, linear: bool = False) -> float:
    """Mean linear luminance (Rec. 709 weights) of a frame, on a proxy: used for ordering."""
    p = _proxy(frame).astype(np.float32)
    lin = p if linear else srgb_decode(p)
    return float((lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def pair_ratio(dark: np.ndarray, bright: np.ndarray, *, linear: bool = False) -> float | None:
    """Exposure ratio bright/dark from pixels well exposed in both frames; None if too few."""
    d_disp, d_lin = _display_and_linear(dark, linear)
    b_disp, b_lin = _display_and_linear(bright, linear)
    for lo, hi in (WELL_EXPOSED, _FALLBACK_RANGE):
        mask = (d_disp >= lo) & (d_disp <= hi) & (b_disp >= lo) & (b_disp <= hi)
        mask &= d_lin > 0
        if int(mask.sum()) >= _MIN_SAMPLES:
            return float(np.median(b_lin[mask] / d_lin[mask]))
    return None


def estimate_relative_exposures(
    frames: Sequence[np.ndarray], *, linear: bool = False, names: Sequence[str] = ()
) -> list[float]:
    """Relative exposure of each frame (input order), the darkest = 1.0.

    frames: float32 HxWx3, display-referred [0, 1] (``linear`` False) or linear >= 0.
    Raises InputError when two neighbours (by brightness) share too few well-exposed pixels,
    naming the frames (``names``, else indices) and suggesting user times.
    """
    n = len(frames)
    if n == 0:
        raise InputError("no frames to estimate exposures from")
    if n == 1:
        return [1.0]
    label = (lambda i: str(names[i])) if len(names) == n else (lambda i: f"frame {i}")
    order = sorted(range(n), key=lambda i: mean_luminance(frames[i], linear))
    rel = [0.0] * n
    rel[order[0]] = 1.0
    for a, b in zip(order[:-1], order[1:]):
        ratio = pair_ratio(frames[a], frames[b], linear=linear)
        if ratio is None or not np.isfinite(ratio) or ratio <= 0:
            raise InputError(
                f"cannot estimate the exposure between {label(a)} and {label(b)}: too few pixels "
                f"are well exposed in both; give the exposure times (--times) or EV offsets (--ev)"
            )
        rel[b] = rel[a] * max(ratio, 1.0)  # sorted by brightness, so never darker
    return rel


def check_distinct(exposures: Sequence[float], names: Sequence[str]) -> None:
    """InputError when two frames have the same exposure (within IDENTICAL_RATIO)."""
    order = sorted(range(len(exposures)), key=lambda i: exposures[i])
    for a, b in zip(order[:-1], order[1:]):
        if exposures[b] < exposures[a] * IDENTICAL_RATIO:
            raise InputError(
                f"identical exposures: {names[a]} and {names[b]} have the same exposure; a "
                f"bracket needs frames taken at different exposures"
            )


def ensure_exposures(stack: ExposureStack) -> ExposureStack:
    """The stack with relative exposures filled in (estimated when missing), ordered dark->bright.

    A stack that already has exposures is returned unchanged (apart from ordering). Estimated
    values are marked in ``metadata["exposure_source"] = "estimated"``.
    """
    names = [info.path or f"frame {i}" for i, info in enumerate(stack.infos)]
    metadata = dict(stack.metadata)
    if stack.exposures is not None:
        exposures = list(stack.exposures)
    else:
        exposures = estimate_relative_exposures(stack.frames, linear=stack.linear, names=names)
        check_distinct(exposures, names)
        metadata["exposure_source"] = "estimated"
    order = sorted(range(stack.n), key=lambda i: exposures[i])
    if order == list(range(stack.n)) and stack.exposures is not None:
        return stack
    ref_frame = stack.reference
    return stack.with_frames(
        [stack.frames[i] for i in order],
        exposures=tuple(exposures[i] for i in order),
        infos=tuple(stack.infos[i] for i in order),
        reference=order.index(ref_frame),
        metadata=metadata,
    )
