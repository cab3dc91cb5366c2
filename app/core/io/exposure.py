"""Relative exposures of a bracket: from user values, or estimated from the pixels.

A relative exposure is proportional to t * ISO / N^2 (any common unit); only ratios matter.
Estimation: frames are sorted by brightness, each neighbouring pair is compared on the pixels
that are well exposed in both (display value in [0.1, 0.9], so neither noise-dominated nor
clipped), the exposure ratio is the median of their linear-value ratios, and ratios are chained
neighbour to neighbour. Display-referred frames are linearised with the sRGB transfer function
and the ratio corrected for a typical camera's extra mid-tone contrast (CAMERA_CONTRAST): with an
unknown camera response the ratio is only defined up to such a prior (exposure and curve contrast
are indistinguishable in a static bracket), so estimates are approximate, and each comes with a
confidence; EXIF or user-given times are always preferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from app.core.errors import InputError
from app.core.tonemap.display import srgb_decode, srgb_encode
from app.core.types import ExposureStack, float_frame

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
    p = float_frame(_proxy(frame))
    if not linear:
        return p, srgb_decode(p)
    # Linear frames: the brightest value stands in for the clip level (RAW white, EXR max).
    scale = float(p.max()) or 1.0
    return srgb_encode(p / scale), p


def mean_luminance(frame: np.ndarray, linear: bool = False) -> float:
    """Mean linear luminance (Rec. 709 weights) of a frame, on a proxy: used for ordering."""
    p = float_frame(_proxy(frame))
    lin = p if linear else srgb_decode(p)
    return float((lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def estimated_exposures_message(ev: Sequence[float], confidence: str | None) -> str:
    """The line every merge says when it estimated the exposures (``ev``: stops over the darkest
    frame, dark to bright; ``confidence``: "high" / "medium" / "low")."""
    steps = ", ".join(f"{e:+.1f}" for e in ev)
    return (f"exposures estimated from the pixels: {steps} EV (confidence {confidence}); "
            + ("they may be far off: " if confidence == "low" else "")
            + "give the times or EVs for an exact merge")


CAMERA_CONTRAST = 1.2
"""Mid-tone contrast of a camera JPEG curve relative to the plain sRGB curve: ratios of
sRGB-decoded mid-tones are this power of the true exposure ratio. An exposure ratio and the
curve's contrast cannot be told apart from a static bracket (any g^k with exposures^k fits the
pixels equally well), so a prior picks one: measured 1.195 on the virtual-camera tuning set
(app.bench.hdr_merge, hdr-extra scenes, S-shaped camera curves); on the real evaluation brackets
with EXIF (mef-extra, mefb, colour-hdri-frobisher) sRGB decoding overestimated the EV span by
1.17x (mean) / 1.22x (median), confirming it without being tuned on them."""


def _pair_stats(dark: np.ndarray, bright: np.ndarray, linear: bool) -> tuple[float, float, int] | None:
    """(ratio bright/dark, spread in EV, pixel count) from pixels well exposed in both."""
    d_disp, d_lin = _display_and_linear(dark, linear)
    b_disp, b_lin = _display_and_linear(bright, linear)
    for lo, hi in (WELL_EXPOSED, _FALLBACK_RANGE):
        mask = (d_disp >= lo) & (d_disp <= hi) & (b_disp >= lo) & (b_disp <= hi)
        mask &= d_lin > 0
        count = int(mask.sum())
        if count >= _MIN_SAMPLES:
            logs = np.log2(b_lin[mask] / d_lin[mask])
            med = float(np.median(logs))
            mad = float(np.median(np.abs(logs - med)))
            if not linear:
                med /= CAMERA_CONTRAST  # sRGB-decoded ratios overstate a camera's (see above)
            spread = mad if (lo, hi) == WELL_EXPOSED else max(mad, 0.3)
            return float(2.0**med), spread, count
    return None


def pair_ratio(dark: np.ndarray, bright: np.ndarray, *, linear: bool = False) -> float | None:
    """Exposure ratio bright/dark from pixels well exposed in both frames; None if too few."""
    stats = _pair_stats(dark, bright, linear)
    return None if stats is None else stats[0]


def estimate_relative_exposures(
    frames: Sequence[np.ndarray], *, linear: bool = False, names: Sequence[str] = ()
) -> list[float]:
    """Relative exposure of each frame (input order), the darkest = 1.0.

    frames: float32 HxWx3, display-referred [0, 1] (``linear`` False) or linear >= 0.
    Raises InputError when two neighbours (by brightness) share too few well-exposed pixels,
    naming the frames (``names``, else indices) and suggesting user times.
    """
    return estimate_exposures(frames, linear=linear, names=names).relative


@dataclass(frozen=True)
class ExposureEstimate:
    """Estimated relative exposures (input order, darkest = 1.0) and how far to trust them:
    per neighbouring pair, the spread (EV) of the pixels' ratios and how many pixels gave one."""

    relative: list[float]
    spreads: list[float]
    counts: list[int]

    @property
    def confidence(self) -> str:
        """"high" (pixels agree on each ratio within ~0.15 EV), "medium", or "low" (they
        disagree by 0.35 EV or more, or too few pixels are well exposed in a pair). An estimate
        of a display-referred bracket also rests on the CAMERA_CONTRAST prior, so even "high"
        can be ~15 % off for a camera with an unusual curve."""
        worst = max(self.spreads, default=0.0)
        if worst >= 0.35 or min(self.counts, default=10**9) < 4 * _MIN_SAMPLES:
            return "low"
        return "high" if worst < 0.15 else "medium"

    @property
    def ev(self) -> list[float]:
        """EV of each frame relative to the darkest (input order)."""
        return [float(np.log2(r)) for r in self.relative]


def estimate_exposures(
    frames: Sequence[np.ndarray], *, linear: bool = False, names: Sequence[str] = ()
) -> ExposureEstimate:
    """:func:`estimate_relative_exposures` with its confidence (see :class:`ExposureEstimate`)."""
    n = len(frames)
    if n == 0:
        raise InputError("no frames to estimate exposures from")
    if n == 1:
        return ExposureEstimate([1.0], [], [])
    label = (lambda i: str(names[i])) if len(names) == n else (lambda i: f"frame {i}")
    order = sorted(range(n), key=lambda i: mean_luminance(frames[i], linear))
    rel = [0.0] * n
    rel[order[0]] = 1.0
    spreads, counts = [], []
    for a, b in zip(order[:-1], order[1:]):
        stats = _pair_stats(frames[a], frames[b], linear)
        if stats is None or not np.isfinite(stats[0]) or stats[0] <= 0:
            raise InputError(
                f"cannot estimate the exposure between {label(a)} and {label(b)}: too few pixels "
                f"are well exposed in both; give the exposure times (--times) or EV offsets (--ev)"
            )
        ratio, spread, count = stats
        rel[b] = rel[a] * max(ratio, 1.0)  # sorted by brightness, so never darker
        spreads.append(spread)
        counts.append(count)
    return ExposureEstimate(rel, spreads, counts)


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
        estimate = estimate_exposures(stack.frames, linear=stack.linear, names=names)
        exposures = estimate.relative
        check_distinct(exposures, names)
        metadata["exposure_source"] = "estimated"
        metadata["exposure_confidence"] = estimate.confidence
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
