"""Entry points of the classical methods (registry contract: ``fn(stack, params, ctx, device)``).

Thin adapters: the algorithms live in :mod:`app.core.merge`; here parameters are unpacked, a
stack of linear frames is handled where a method needs display-referred input, and notes are
returned for the GUI / provenance.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from app.core.merge import fuse_mertens, merge_hdr
from app.core.merge.ghost import ResizedRows, plan_deghosting
from app.core.progress import TaskContext
from app.core.types import ExposureStack
from app.models.registry import MethodOutput, get_method


def display_frames(stack: ExposureStack) -> tuple[np.ndarray, ...]:
    """Frames as display-referred [0, 1]: linear (RAW/EXR) frames are sRGB-encoded after scaling
    each to its own white level, which is what a camera JPEG of that exposure would show."""
    if not stack.linear:
        return stack.frames
    out = []
    for f in stack.frames:
        white = max(float(np.max(f)), 1e-12)
        x = np.clip(f / np.float32(white) if white > 1.0 else f, 0.0, 1.0)
        out.append(np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
                   .astype(np.float32))
    return tuple(out)


def deghost_weights(
    frames: tuple[np.ndarray, ...], stack: ExposureStack, mode: str
) -> tuple[list[ResizedRows | None] | None, dict[str, Any]]:
    """Per-frame deghost weight maps at full size for a display-referred bracket (None = no
    deghosting; each map made row span by row span when sliced, see ``ResizedRows``) and the
    notes saying what was decided (:meth:`Deghosting.notes`). mode: "auto", "on" or "off"; a
    painted reference mask always applies."""
    plan = plan_deghosting(frames, stack.reference, mode, stack.reference_mask)
    if plan.maps is None:
        return None, plan.notes()
    h, w = stack.shape
    # resized row span by row span as the fusion asks for them (no 4 B/px map per frame)
    return [None if k == stack.reference else plan.maps.weight_rows(k, h, w)
            for k in range(stack.n)], plan.notes()


def run_mertens(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str,
    codes: int | None = None,
) -> MethodOutput:
    """Mertens exposure fusion -> display-referred float32 [0, 1] (``codes`` 8 / 16: uint8 /
    uint16 display codes); with deghosting, pixels where a frame disagrees with the reference
    frame (or inside the painted mask) come from the reference frame (and the frames that agree
    with it)."""
    frames = display_frames(stack)
    scales, notes = deghost_weights(frames, stack, str(params.get("deghost", "off")))
    image = fuse_mertens(
        frames,
        contrast=float(params["contrast"]),
        saturation=float(params["saturation"]),
        exposedness=float(params["exposedness"]),
        sigma=float(params["sigma"]),
        ctx=ctx,
        weight_scale=scales,
        bits=codes,
    )
    return MethodOutput(image=image, device="cpu", notes=notes)


def _hdr_output(stack: ExposureStack, method: str, params: Mapping[str, Any],
                ctx: TaskContext, half: bool, release_frames: bool) -> MethodOutput:
    report = merge_hdr(stack, method, deghost=params.get("deghost", "off"),
                       samples=int(params.get("samples", 70)), ctx=ctx, half=half,
                       release_frames=release_frames)
    notes: dict[str, Any] = {
        "exposure_source": report.exposure_source,
        "exposure_confidence": report.exposure_confidence,
        "ev": list(report.ev),
        "response": None if report.response is None else report.response.tolist(),
        "messages": list(report.messages),
    }
    if report.deghosting is not None:  # as run_mertens reports it (its message is in messages)
        notes.update({k: v for k, v in report.deghosting.notes().items() if k != "messages"})
    return MethodOutput(image=report.radiance, device="cpu", notes=notes)


def run_debevec(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str,
    half: bool = False, release_frames: bool = False,
) -> MethodOutput:
    """Debevec response recovery + HDR merge -> linear radiance (1.0 = reference clipping),
    float32 (float16 with ``half``: an export that only stores half floats); notes: exposures
    used and where from, the response curve, messages for the user. ``release_frames``: the
    stack's frames are released row strip by row strip as they are merged (they read as zeros
    afterwards; see app.core.merge.hdr.merge_with_response)."""
    return _hdr_output(stack, "debevec", params, ctx, half, release_frames)


def run_robertson(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str,
    half: bool = False, release_frames: bool = False,
) -> MethodOutput:
    """Robertson response recovery + HDR merge -> linear radiance (1.0 = reference clipping);
    ``half``, ``release_frames`` and notes as :func:`run_debevec`."""
    return _hdr_output(stack, "robertson", params, ctx, half, release_frames)


FUSION_WEIGHTS = ("contrast", "saturation", "exposedness", "sigma")


def mertens_fusion_defaults() -> dict[str, float]:
    """The product's Mertens weight settings (the registry defaults), as keyword arguments of
    :func:`app.core.merge.fuse_mertens` (deghosting, a pipeline choice, left out)."""
    defaults = get_method("mertens").defaults()
    return {k: float(defaults[k]) for k in FUSION_WEIGHTS}
