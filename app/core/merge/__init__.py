"""Merging a bracket: Mertens exposure fusion (display-referred [0, 1]) and HDR radiance merges
(linear, 1.0 = clipping level of the reference frame), with camera-response recovery."""

from app.core.merge.hdr import (
    HdrMerge,
    hat,
    merge_debevec,
    merge_hdr,
    merge_linear,
    merge_robertson,
    merge_with_response,
)
from app.core.merge.mertens import fuse_mertens
from app.core.merge.response import recover_response

__all__ = [
    "HdrMerge",
    "fuse_mertens",
    "merge_hdr",
    "hat",
    "merge_debevec",
    "merge_linear",
    "merge_robertson",
    "merge_with_response",
    "recover_response",
]
