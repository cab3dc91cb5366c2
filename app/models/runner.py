"""``run()``: the one entry point used by the GUI and the CLI alike.

It validates the parameters against the method's ParamSpecs, checks exposure count and
availability, optionally aligns, calls the method's entry point and wraps the output into a
:class:`~app.core.types.Result` with provenance.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from app.core.errors import InputError, MethodUnavailable
from app.core.io.stack import check_bracket
from app.core.merge.ghost import fit_mask
from app.core.progress import TaskContext
from app.core.types import ExposureStack, Provenance, Result
from app.models.registry import MethodOutput, get_method, runnable_on

ALIGN_MODES = ("none", "mtb", "homography")


def resolve_params(method_id: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``params`` (values or strings), each validated; unknown names fail."""
    spec = get_method(method_id)
    out = spec.defaults()
    for name, value in (params or {}).items():
        p = spec.param(name)
        out[name] = p.parse(value) if isinstance(value, str) else p.validate(value)
    return out


def run(
    stack: ExposureStack,
    method_id: str,
    params: Mapping[str, Any] | None = None,
    ctx: TaskContext | None = None,
    *,
    align: str = "none",
    device: str = "auto",
    reference: int | None = None,
    reference_mask: np.ndarray | None = None,
    ghost_map: bool = False,
    codes: int | None = None,
    half: bool = False,
    release_frames: bool = False,
) -> Result:
    """Run a registered method on a stack.

    stack: frames ordered dark to bright (display-referred [0,1] or linear, see ExposureStack).
    reference: index (0 = darkest) of the frame alignment and deghosting keep; None = the
    stack's own (the middle one unless it says otherwise).
    reference_mask: optional HxW map in [0, 1] in the result's coordinates (any size: scaled to
    the aligned frames), 1 = take the reference frame alone there (selective deghosting).
    ghost_map: also put the ghost map of the (aligned) frames against the reference into
    ``notes["ghost_map"]`` (float32 [0, 1], long side at most 1024 px; 1 = frames disagree) and
    the share of the picture it covers into ``notes["motion_share"]``, for the GUI overlay.
    codes: 8 or 16 when the caller only quantises the result (an export with a neutral tone):
    a method that can (``MethodSpec.returns_codes``) then returns uint8 / uint16 display codes
    and never makes the float32 image; others return float32 as always.
    half: True when the caller only needs the result at half-float precision (half-float EXRs,
    8-bit renderings: ``app.models.pipeline.half_export``): a method that can
    (``MethodSpec.returns_half``) then returns float16 radiance (6 B/px instead of 12, clipped to
    65504), others float32.
    release_frames: True when the caller never reads ``stack.frames`` after the run (a one-shot
    export; not with ``ghost_map``, which reads them): a method that can
    (``MethodSpec.releases_frames``) then releases each frame's rows as it merges them, so the
    frames and the whole result are never resident at once; the frames read as zeros after.
    Returns a Result whose image is linear radiance (hdr_linear) or display [0,1] (ldr_fused),
    or display codes (see ``codes``), or float16 radiance (see ``half``).
    Raises InputError (bad input/params), MethodUnavailable, Cancelled.
    """
    ctx = ctx or TaskContext()
    spec = get_method(method_id)
    resolved = resolve_params(method_id, params)
    ok, reason = runnable_on(spec, stack.n)
    if not ok:
        if stack.n < spec.min_exposures or (
            spec.max_exposures is not None and stack.n > spec.max_exposures
        ):
            raise InputError(reason)
        raise MethodUnavailable(f"{spec.id}: {reason}")
    if align not in ALIGN_MODES:
        raise InputError(f"alignment must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    if codes not in (None, 8, 16):
        raise InputError(f"codes must be 8 or 16 bits, got {codes!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"device must be auto, cpu or cuda, got {device!r}")
    check_bracket(stack)  # one rule for GUI, CLI and batch: duplicates, nothing usable
    if reference is not None:
        if not 0 <= int(reference) < stack.n:
            raise InputError(f"reference frame {int(reference) + 1} does not exist: the bracket "
                             f"has {stack.n} frames (1 = darkest)")
        stack = replace(stack, reference=int(reference))

    if stack.holds_codes and not spec.accepts_codes:
        stack = stack.as_float()
    t0 = time.perf_counter()
    work_ctx = ctx
    if align != "none" and stack.n > 1 and not stack.aligned:
        from app.core.align import align_stack

        stack = align_stack(stack, align, ctx.sub(0.0, 0.2))
        work_ctx = ctx.sub(0.2, 1.0)
    if reference_mask is not None:
        stack = replace(stack, reference_mask=fit_mask(reference_mask, *stack.shape))
    ctx.check()
    fn = spec.load()
    as_codes = codes is not None and spec.returns_codes
    as_half = bool(half) and spec.returns_half and not as_codes
    extra: dict[str, Any] = {"codes": codes} if as_codes else {"half": True} if as_half else {}
    if release_frames and spec.releases_frames and not ghost_map:
        extra["release_frames"] = True
    out: MethodOutput = fn(stack, resolved, work_ctx, device, **extra)
    ctx.check()
    notes = dict(out.notes)
    if ghost_map and stack.n > 1:
        from app.core.merge.ghost import ghost_maps
        from app.models.classical import display_frames

        maps = ghost_maps(display_frames(stack), stack.reference, detect=True)
        notes.setdefault("motion_share", round(maps.motion_share, 4))
        notes["ghost_map"] = maps.ghost
    if as_codes:
        image = np.ascontiguousarray(out.image)
        valid = image.dtype == (np.uint8 if codes == 8 else np.uint16)
    else:
        image = np.ascontiguousarray(
            out.image, dtype=np.float16 if as_half and out.image.dtype == np.float16 else np.float32)
        # one float64 sum (NaN / inf propagate; finite float32 values cannot overflow it)
        # instead of a full-size boolean map (1 B/px: 600 MB for 3 x 200 MP)
        valid = bool(np.isfinite(np.sum(image, dtype=np.float64)))
    if image.ndim != 3 or image.shape[2] != 3 or not valid:
        raise RuntimeError(f"method {spec.id} returned an invalid image {image.shape}")
    if not np.any(image[::4, ::4] > 0) and not np.any(image > 0):
        # a merge that found no exposure to trust (everything black, noise or clipped)
        raise InputError(f"{spec.id}: no usable exposure, the result would be all black")
    prov = Provenance(
        method=spec.id,
        params={**resolved, "align": align, "reference": stack.reference + 1,
                **({"reference_mask": f"{float(np.mean(stack.reference_mask > 0.5)):.4f}"}
                   if stack.reference_mask is not None else {})},
        inputs=stack.paths,
        weights_sha256=out.weights_sha256,
        device=out.device,
        duration_s=time.perf_counter() - t0,
        decisions={str(k): str(v) for k, v in dict(out.notes.get("decisions", {})).items()},
    )
    ctx.report(1.0, "done")
    return Result(image=image, kind=spec.output, provenance=prov, notes=notes)
