"""Merging a bracket: Mertens exposure fusion (display-referred) and HDR radiance merges."""

from app.core.merge.mertens import fuse_mertens

__all__ = ["fuse_mertens"]
