"""Homography alignment: ECC (Evangelidis & Psarakis 2008) on an exposure-normalised grey proxy.

Frames of different exposure are made comparable first: the moving frame's grey proxy is mapped
onto the reference's by histogram matching (a monotonic tone curve, which is what an exposure
change does to a display-referred image), and pixels clipped in either frame are masked out.
ECC then maximises the zero-mean normalised correlation, coarse to fine on a small pyramid,
starting from the median-threshold-bitmap translation.

Validity is masked in each frame's own coordinates: the reference's well-exposed pixels as the
template mask, the moving frame's as its input mask, which ECC warps with the frame on every
iteration, so only pixels exposed in both *after* the current warp count. The one combined mask
in reference coordinates used before (OpenCV 4's single-mask findTransformECC) cost 2.3-2.8 px at
the corners under OpenCV 5.0/5.1 on a frame 4 EV from the reference (9 % of its pixels exposed in
both) and 3.8 px between two bright frames 2 EV apart; the two masks give 0.37 and 0.11 px
(tests/core/align/test_align.py). A pixel is valid only when every channel is well exposed
(see _well_exposed: a channel that clips first bends the grey image), and ECC runs up to a
2048 px proxy: on a 12 MP photo rotated 0.15-0.5 deg against a copy 1.6 EV brighter the corner
error fell from 2.3-2.6 px (grey mask, 1024 px) to 0.13-0.14 px (0.5 px at 3 EV, 0.04-0.11 px
for darker frames), for ~0.7 s more per frame. The result is checked for plausibility
(a hand-held bracket moves a little: bounded scale, shear, perspective and shift) and rejected
(None) otherwise, so the caller can fall back to a translation.

Convention: H maps reference pixel coordinates to coordinates in the moving frame,
aligned(x) = img(H x), i.e. ``cv2.warpPerspective(img, H, size, flags=... | WARP_INVERSE_MAP)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.align.mtb import mtb_shift_grey, to_grey8
from app.core.channels import channel_max, channel_min
from app.core.types import float_frame

PROXY_LONG_SIDE = 2048  # ECC runs up to this size (ECC is sub-pixel: ~0.1 proxy px; see below)
MAX_SCALE_CHANGE = 0.10  # |sqrt(det) - 1|
MAX_ANISOTROPY = 0.06  # singular-value ratio - 1 (shear / non-uniform scale)
MAX_PERSPECTIVE = 0.03  # relative scale change across the frame from the projective terms
MAX_SHIFT = 0.15  # translation as a fraction of the frame size
MIN_CORRELATION = 0.6  # ECC correlation coefficient on the finest level
MIN_SHARED = 0.04  # share of pixels well exposed (every channel) in both frames


def match_histogram(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """uint8 ``src`` re-toned so its grey-level histogram matches uint8 ``ref`` (CDF mapping)."""
    cs = np.cumsum(np.bincount(src.ravel(), minlength=256)).astype(np.float64)
    cr = np.cumsum(np.bincount(ref.ravel(), minlength=256)).astype(np.float64)
    cs /= cs[-1]
    cr /= cr[-1]
    lut = np.clip(np.searchsorted(cr, cs), 0, 255).astype(np.uint8)
    return cv2.LUT(src, lut)


def _proxy(grey: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    h, w = grey.shape
    s = min(1.0, long_side / max(h, w))
    if s >= 1.0:
        return grey, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), s


def _scaled(hm: np.ndarray, s: float) -> np.ndarray:
    """Homography of the same motion in coordinates scaled by ``s``."""
    sm = np.diag([s, s, 1.0])
    return sm @ hm @ np.linalg.inv(sm)


def plausible(hm: np.ndarray, shape: tuple[int, int]) -> tuple[bool, str]:
    """(ok, reason) for a reference->frame homography of a hand-held bracket of size ``shape``."""
    if hm is None or not np.all(np.isfinite(hm)) or abs(hm[2, 2]) < 1e-12:
        return False, "not a finite homography"
    h, w = shape
    m = hm / hm[2, 2]
    a = m[:2, :2]
    det = float(np.linalg.det(a))
    if det <= 0:
        return False, "mirrored or degenerate"
    sv = np.linalg.svd(a, compute_uv=False)
    if abs(np.sqrt(det) - 1.0) > MAX_SCALE_CHANGE:
        return False, f"scale change {np.sqrt(det):.3f}"
    if sv[0] / sv[1] - 1.0 > MAX_ANISOTROPY:
        return False, f"shear/anisotropy {sv[0] / sv[1]:.3f}"
    persp = abs(m[2, 0]) * w + abs(m[2, 1]) * h
    if persp > MAX_PERSPECTIVE:
        return False, f"perspective {persp:.3f}"
    centre = m @ np.array([w / 2.0, h / 2.0, 1.0])
    shift = centre[:2] / centre[2] - np.array([w / 2.0, h / 2.0])
    if abs(shift[0]) > MAX_SHIFT * w or abs(shift[1]) > MAX_SHIFT * h:
        return False, f"shift {shift[0]:.0f},{shift[1]:.0f} px"
    return True, ""


def _well_exposed(frame: np.ndarray, linear: bool) -> np.ndarray:
    """uint8 HxW, 255 where every channel of the frame is neither crushed (codes 0-3) nor
    (nearly) clipped (252-255), else 0, at full size.

    Per channel, not on the grey image: where one channel clips and the others do not, the grey
    of a brighter frame is no longer a tone curve of the reference's grey, and ECC fitted those
    pixels too. Measured on a 12 MP frame 1.6 EV brighter than the reference (no motion): grey
    mask, correlation 0.92 and 2.2 px at the corners; per-channel mask, 0.997 and 0.4 px.
    Linear frames are judged as to_grey8 sees them (scaled to their maximum, gamma 2.2)."""
    if frame.dtype == np.uint8 and not linear:
        flat = np.ascontiguousarray(frame).reshape(-1, 3)
        hi = cv2.reduce(flat, 1, cv2.REDUCE_MAX).reshape(frame.shape[:2])
        lo = cv2.reduce(flat, 1, cv2.REDUCE_MIN).reshape(frame.shape[:2])
        return (((hi < 252) & (lo > 3)) * 255).astype(np.uint8)
    f = float_frame(frame)
    if linear:
        m = float(f.max())
        f = np.clip(f / m if m > 0 else f, 0.0, 1.0) ** np.float32(1 / 2.2)
    hi, lo = channel_max(f), channel_min(f)
    return (((hi < 252 / 255) & (lo > 3 / 255)) * 255).astype(np.uint8)


def _ecc(
    ref: np.ndarray, img: np.ndarray, ref_mask: np.ndarray, img_mask: np.ndarray,
    warp: np.ndarray, criteria: tuple,
) -> tuple[float, np.ndarray]:
    """One ECC homography fit; masks are uint8, each in its own frame's coordinates."""
    r, m = ref.astype(np.float32), img.astype(np.float32)
    if hasattr(cv2, "findTransformECCWithMask"):  # OpenCV >= 4.12
        return cv2.findTransformECCWithMask(
            r, m, ref_mask, img_mask, warp, cv2.MOTION_HOMOGRAPHY, criteria, 5
        )
    # older OpenCV takes one mask, applied in the reference's coordinates: the intersection
    # is exact for the small motions of a hand-held bracket
    return cv2.findTransformECC(r, m, warp, cv2.MOTION_HOMOGRAPHY, criteria, ref_mask & img_mask, 5)


def estimate_homography(
    ref: np.ndarray, img: np.ndarray, *, linear: bool = False, reason: list | None = None
) -> np.ndarray | None:
    """Reference -> frame homography (3x3 float64, see module doc) or None when ECC fails or the
    result is implausible (``reason``, when given a list, receives why).

    ref, img: HxWx3 frames, display-referred [0, 1] (linear >= 0 with ``linear=True``).
    """
    def fail(why: str) -> None:
        if reason is not None:
            reason.append(why)

    g_ref, g_img = to_grey8(ref, linear), to_grey8(img, linear)
    p_ref, s = _proxy(g_ref, PROXY_LONG_SIDE)
    p_img, _ = _proxy(g_img, PROXY_LONG_SIDE)
    p_img_m = match_histogram(p_img, p_ref)
    # a proxy pixel counts when most of the full-size pixels it covers are well exposed
    v_ref = _proxy(_well_exposed(ref, linear), PROXY_LONG_SIDE)[0] >= 128
    v_img = _proxy(_well_exposed(img, linear), PROXY_LONG_SIDE)[0] >= 128
    # before alignment, the share exposed in both is estimated at equal positions (a hand-held
    # frame moves a few pixels, which barely changes the share)
    if np.count_nonzero(v_ref & v_img) < MIN_SHARED * v_ref.size:
        fail("too few pixels exposed in both frames")
        return None
    dx, dy = mtb_shift_grey(p_ref, p_img_m)
    # MTB moves img by (dx, dy); as a ref->img sampling map that is a translation by (-dx, -dy)
    hm = np.array([[1.0, 0, -dx], [0, 1.0, -dy], [0, 0, 1.0]])
    levels = []
    r, m, vr, vi = p_ref, p_img_m, v_ref.astype(np.uint8), v_img.astype(np.uint8)
    while True:
        levels.append((r, m, vr, vi))
        if min(r.shape) < 200 or len(levels) == 3:
            break
        r, m = cv2.pyrDown(r), cv2.pyrDown(m)
        size = (r.shape[1], r.shape[0])
        vr = cv2.resize(vr, size, interpolation=cv2.INTER_NEAREST)
        vi = cv2.resize(vi, size, interpolation=cv2.INTER_NEAREST)
    hm = _scaled(hm, 0.5 ** (len(levels) - 1))
    rho = 0.0
    for k, (r, m, vr, vi) in enumerate(reversed(levels)):
        # coarse levels do the travelling; the finest level only refines (few, costly iterations)
        finest = k == len(levels) - 1
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 25 if finest else 60, 1e-4)
        if k > 0:
            hm = _scaled(hm, 2.0)
        try:
            rho, warp = _ecc(r, m, vr, vi, hm.astype(np.float32), criteria)
        except cv2.error:
            fail("ECC did not converge")
            return None
        hm = warp.astype(np.float64)
    if rho < MIN_CORRELATION:
        fail(f"ECC correlation {rho:.2f} too low")
        return None
    full = _scaled(hm, 1.0 / s)
    full /= full[2, 2]
    ok, why = plausible(full, g_ref.shape)
    if not ok:
        fail(f"implausible homography ({why})")
        return None
    return full
