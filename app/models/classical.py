"""Entry points of the classical methods (registry contract: ``fn(stack, params, ctx, device)``).

Thin adapters: the algorithms live in :mod:`app.core.merge`; here parameters are unpacked, a
stack of linear frames is handled where a method needs display-referred input, and notes are
returned for the GUI / provenance.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from app.core.merge import fuse_mertens, merge_hdr
from app.core.progress import TaskContext
from app.core.types import ExposureStack
from app.models.registry import MethodOutput


def _display_frames(stack: ExposureStack) -> tuple[np.ndarray, ...]:
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


def run_mertens(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str
) -> MethodOutput:
    """Mertens exposure fusion -> display-referred float32 [0, 1]."""
    image = fuse_mertens(
        _display_frames(stack),
        contrast=float(params["contrast"]),
        saturation=float(params["saturation"]),
        exposedness=float(params["exposedness"]),
        sigma=float(params["sigma"]),
        ctx=ctx,
    )
    return MethodOutput(image=image, device="cpu")


def _hdr_output(stack: ExposureStack, method: str, params: Mapping[str, Any],
                ctx: TaskContext) -> MethodOutput:
    report = merge_hdr(stack, method, deghost=bool(params.get("deghost", False)),
                       samples=int(params.get("samples", 70)), ctx=ctx)
    notes = {
        "exposure_source": report.exposure_source,
        "exposure_confidence": report.exposure_confidence,
        "ev": list(report.ev),
        "response": None if report.response is None else report.response.tolist(),
        "messages": list(report.messages),
    }
    return MethodOutput(image=report.radiance, device="cpu", notes=notes)


def run_debevec(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str
) -> MethodOutput:
    """Debevec response recovery + HDR merge -> linear radiance (1.0 = reference clipping);
    notes: exposures used and where from, the response curve, messages for the user."""
    return _hdr_output(stack, "debevec", params, ctx)


def run_robertson(
    stack: ExposureStack, params: Mapping[str, Any], ctx: TaskContext, device: str
) -> MethodOutput:
    """Robertson response recovery + HDR merge -> linear radiance (1.0 = reference clipping);
    notes as :func:`run_debevec`."""
    return _hdr_output(stack, "robertson", params, ctx)
