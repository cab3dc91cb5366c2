"""Registering hand-held brackets: MTB translation, ECC homography with fallback, common crop."""

from app.core.align.homography import estimate_homography, plausible
from app.core.align.mtb import mtb_shift
from app.core.align.stack import MODES, align_stack

__all__ = ["MODES", "align_stack", "estimate_homography", "mtb_shift", "plausible"]
