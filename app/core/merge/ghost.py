"""Where the frames of a bracket disagree after exposure matching: ghost maps and deghost weights.

A moving person, car or branch appears at a different place in every exposure; an exposure
fusion or HDR merge that blends all frames shows it several times, semi-transparent. The
classical cure keeps, wherever the frames disagree, only the reference frame (the one whose
moving objects the photographer wants to keep).

Disagreement is measured in the reference frame's codes, without knowing the camera curve or
the exposure times: per channel, frame j's codes are histogram-matched to the reference (the
intensity mapping function of Grossberg & Nayar, as in :mod:`app.core.merge.imf`). A code of
frame j does not map to one reference value but to an *interval*: the reference values whose
cumulative share matches the code's (a clipped white 255 of a bright frame covers every
reference value above some level; a crushed 0 of a dark frame every value below one). The
disagreement of a pixel is its reference value's distance to that interval, so clipping and
crushing in either frame never count as motion, while a dark bird in front of a sky that is
clipped in the reference still does.

The distance is averaged over the channels (the largest channel doubles the false alarms on
static real brackets: JPEG chroma and per-channel curves), on frames reduced to at most ``WORK_SIDE`` pixels a
side and blurred a little (noise and demosaicing do not move), and mapped to a weight with a
soft threshold: 1 below ``tolerance``, 0 above twice it. The ghost regions are grown by a few
pixels (an object's soft edges and shadow move with it) and feathered, so the blend that uses
the weights has no seams.

Frames are display-referred [0, 1] (float) or uint8/uint16 codes; all maps are float32 at the
working size in [0, 1]; :meth:`GhostMaps.weight_at` scales one to any size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from app.core.errors import InputError

WORK_SIDE = 1024  # long side of the working copies (motion is large-scale; 12 MP costs ~0.2 s)
TOLERANCE = 0.06  # display units: differences below this are noise / curve mismatch, not motion
GROW = 0.006  # ghost regions grow by this share of the working long side (6 px at 1024)
MOTION_SHARE_AUTO = 0.004  # "auto" deghosts when more than this share of the frame disagrees


@dataclass(frozen=True)
class GhostMaps:
    """Per-frame consistency with the reference, at the working size.

    weights: one float32 map per frame in [0, 1] (1 = agrees with the reference; the
        reference's own map is all ones). A selective mask is already applied.
    ghost: float32 [0, 1], 1 where some frame disagrees with the reference (for display).
    motion_share: share of the frame where the test found some frame disagreeing (> 0.5; the
        selective mask not counted), in [0, 1].
    reference: index of the reference frame.
    """

    weights: tuple[np.ndarray, ...]
    ghost: np.ndarray
    motion_share: float
    reference: int

    def weight_at(self, k: int, height: int, width: int) -> np.ndarray:
        """Frame k's map resized to height x width (float32 [0, 1])."""
        w = self.weights[k]
        if w.shape == (height, width):
            return w
        return np.clip(cv2.resize(w, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)

    def weight_rows(self, k: int, height: int, width: int) -> "ResizedRows":
        """Frame k's map as :meth:`weight_at` gives it, but made row span by row span when
        sliced (``m[a:b]``): the full-size map (4 B/px) of a huge frame never exists."""
        return ResizedRows(self.weights[k], height, width)

    def ghost_at(self, height: int, width: int) -> np.ndarray:
        """The ghost map resized to height x width (float32 [0, 1])."""
        if self.ghost.shape == (height, width):
            return self.ghost
        return np.clip(cv2.resize(self.ghost, (width, height), interpolation=cv2.INTER_LINEAR),
                       0.0, 1.0)


class ResizedRows:
    """A small float32 map seen at ``shape`` = (height, width) as ``cv2.resize`` with
    INTER_LINEAR (clipped to [0, 1]) would give it, computed only for the rows sliced out:
    ``m[a:b]`` -> float32 (b - a) x width. Horizontally the few source rows needed are resized
    by OpenCV; vertically they are interpolated with OpenCV's coefficients (source row
    (y + 0.5) * h_small / height - 0.5, clamped at the edges), so a slice equals the same rows
    of the whole resize within float rounding."""

    def __init__(self, small: np.ndarray, height: int, width: int) -> None:
        self.small = np.ascontiguousarray(small, np.float32)
        self.shape = (int(height), int(width))

    def __getitem__(self, rows: slice) -> np.ndarray:
        a, b, step = rows.indices(self.shape[0])
        if step != 1:
            raise IndexError("ResizedRows takes contiguous row slices only")
        sh = self.small.shape[0]
        y = (np.arange(a, b, dtype=np.float64) + 0.5) * (sh / self.shape[0]) - 0.5
        r0 = np.floor(y).astype(np.int64)
        frac = (y - r0).astype(np.float32)
        frac[r0 < 0] = 0.0
        r0 = np.clip(r0, 0, sh - 1)
        r1 = np.minimum(r0 + 1, sh - 1)
        if len(r0) == 0:
            return np.empty((0, self.shape[1]), np.float32)
        lo, hi = int(r0.min()), int(r1.max()) + 1
        wide = cv2.resize(self.small[lo:hi], (self.shape[1], hi - lo),
                          interpolation=cv2.INTER_LINEAR)
        top, bottom = wide[r0 - lo], wide[r1 - lo]
        out = top + frac[:, None] * (bottom - top)
        return np.clip(out, 0.0, 1.0, out=out)


def _area_by_whole_factor(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``a`` area-averaged by the largest whole factor k that keeps it at least ``size`` (width,
    height); ``a`` itself when k < 2. OpenCV averages k x k blocks on a fast path (a 12 MP frame:
    9 ms, against 38 ms for the exact, fractional reduction to 1024 px), leaving a small
    fractional step. The last (width mod k) columns and (height mod k) rows are dropped: under
    one working-size pixel at the far edges."""
    k = min(a.shape[1] // size[0], a.shape[0] // size[1])
    if k < 2:
        return a
    h, w = a.shape[0] // k, a.shape[1] // k
    return cv2.resize(a[: h * k, : w * k], (w, h), interpolation=cv2.INTER_AREA)


def _codes_small(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 codes of a frame reduced (area average) to size = (width, height)."""
    a = np.ascontiguousarray(frame)
    if a.dtype in (np.uint8, np.uint16):
        # integer codes are reduced as they are (OpenCV's area average rounds to a code: within
        # half a code of the float average) and turned into floats at the small size only
        top = 255.0 if a.dtype == np.uint8 else 65535.0
        if (a.shape[1], a.shape[0]) != size:
            a = cv2.resize(_area_by_whole_factor(a, size), size, interpolation=cv2.INTER_AREA)
        a = a.astype(np.float32) * np.float32(1 / top)
    elif not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"unsupported pixel type {a.dtype} for the ghost test")
    a = np.ascontiguousarray(a, np.float32)
    if (a.shape[1], a.shape[0]) != size:
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(a, (0, 0), 0.8)
    return cv2.convertScaleAbs(a, alpha=255.0)


def _histogram(codes: np.ndarray) -> np.ndarray:
    """Counts of the 256 codes of a uint8 array (float64). OpenCV's histogram (5x numpy's
    bincount here) counts in float32, exact below 2**24 pixels a bin: larger arrays use numpy."""
    if codes.size < 2**24 and codes.ndim == 2:
        counts = cv2.calcHist([np.ascontiguousarray(codes)], [0], None, [256], [0, 256])
        return counts.ravel().astype(np.float64)
    return np.bincount(codes.reshape(-1), minlength=256).astype(np.float64)


def code_intervals(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one channel: the interval [lo(i), hi(i)] of dst codes that src code i stands for.

    src, dst: uint8 arrays of one channel and one scene (same pixel count). Code i of src covers
    the cumulative share (H_src(i-1), H_src(i)] of src's pixels; lo and hi are the dst codes at
    those shares (float64, 256 entries each, in codes). Unused src codes get the point interval
    at their share, which keeps both tables monotone.
    """
    n = src.size
    h_src = np.cumsum(_histogram(src))
    h_dst = np.cumsum(_histogram(dst))
    start = np.concatenate([[0.0], h_src[:-1]])  # pixels below code i
    # the dst code holding the (k+1)-th pixel for k = first and last pixel of the src code's run
    first = np.minimum(start, n - 1)
    last = np.maximum(h_src - 1, first)
    lo = np.searchsorted(h_dst, first, side="right").astype(np.float64)
    hi = np.searchsorted(h_dst, last, side="right").astype(np.float64)
    return np.clip(lo, 0, 255), np.clip(hi, 0, 255)


def _reliability_table() -> np.ndarray:
    """Trust in a code for the ghost test (float32, 256 entries): 1 up to RELIABLE_HIGH, falling
    to 0 at code 251. Near clipping a camera's shoulder, JPEG chroma and blooming bend the codes
    away from any global mapping. Dark codes keep full trust: the interval of a crushed code
    already covers everything it may stand for; gating them too (below code 24) lowered the
    false alarms on real static brackets only a little (median share 0.4 % instead of 0.6 %)
    and let the dark half of a moving object through."""
    z = np.arange(256, dtype=np.float32)
    return np.clip((251.0 - z) / (251.0 - RELIABLE_HIGH), 0.0, 1.0).astype(np.float32)


RELIABLE_HIGH = 224.0
_RELIABLE = _reliability_table()


def _disagreement(frame: np.ndarray, ref: np.ndarray, brighter: bool) -> np.ndarray:
    """Mean over channels of the reference code's distance to the interval frame's code maps to,
    in display units [0, 1] (float32 HxW), scaled by how far both codes can be trusted (a pixel
    clipped in the reference cannot show motion: it counts as agreeing). ``brighter``: the frame
    is exposed more than the reference; its near-clipping codes, where a camera's shoulder, JPEG
    chroma and blooming bend the mapping, then count as little as the reference's (a darker
    frame's near-white codes map onto the reference's clipped white and are decisive: a bright
    object there cannot be the static scene).

    The interval ends are whole codes, so the distance is one in codes: OpenCV's saturating
    uint8 differences give it without a float image per term (twice as fast)."""
    total = np.zeros(ref.shape[:2], np.float32)
    for f, r in zip(cv2.split(frame), cv2.split(ref)):
        lo, hi = code_intervals(f, r)
        # max(lo[f] - r, r - hi[f], 0): at most one of the two is positive (lo <= hi)
        dist = cv2.max(cv2.subtract(cv2.LUT(f, lo.astype(np.uint8)), r),
                       cv2.subtract(r, cv2.LUT(f, hi.astype(np.uint8))))
        trust = cv2.LUT(r, _RELIABLE)
        if brighter:  # its shoulder codes stand for the reference's highlights: unreliable
            trust = cv2.min(trust, cv2.LUT(f, _RELIABLE))
        cv2.add(total, cv2.multiply(dist, trust, scale=1 / 255, dtype=cv2.CV_32F), dst=total)
    return total * np.float32(1 / 3)


def fit_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A selective-deghost mask (HxW, [0, 1], any size) checked and scaled to height x width
    (float32 [0, 1]). A mask whose aspect ratio differs from the frames' by more than 2 % is
    refused: it was painted on another picture."""
    m = np.asarray(mask, np.float32)
    if m.ndim != 2 or min(m.shape) < 1:
        raise InputError(f"the reference mask must be a single-channel image, got shape {m.shape}")
    if not np.isfinite(m).all() or m.min() < 0.0 or m.max() > 1.0:
        raise InputError("the reference mask must hold values in [0, 1]")
    if abs(np.log((m.shape[1] / m.shape[0]) / (width / height))) > 0.02:
        raise InputError(f"the reference mask is {m.shape[1]}x{m.shape[0]} pixels, not the shape "
                         f"of the {width}x{height} result")
    if m.shape != (height, width):
        shrink = m.shape[0] > height
        m = cv2.resize(m, (width, height),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.clip(m, 0.0, 1.0)


def _keep_mask(mask: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    return None if mask is None else fit_mask(mask, size[1], size[0])


def feathered_regions(bad: np.ndarray, grow: int, kernel: np.ndarray | None = None) -> np.ndarray:
    """A float32 HxW map in [0, 1] of where something is wrong, as regions: tiny specks are
    noise and a moving object is a region, so the map is opened (3x3), grown by ``grow`` px
    (``kernel``: that ellipse, when the caller already has it) and feathered (Gaussian,
    sigma grow / 2)."""
    if kernel is None:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    bad = cv2.morphologyEx(bad, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    bad = cv2.dilate(bad, kernel)
    return cv2.GaussianBlur(bad, (0, 0), grow / 2.0)

def ghost_maps(
    frames: Sequence[np.ndarray],
    reference: int,
    *,
    tolerance: float = TOLERANCE,
    keep_reference: np.ndarray | None = None,
    detect: bool = True,
) -> GhostMaps:
    """Consistency of every frame with the reference frame.

    frames: N >= 2 display-referred HxWx3 frames of one size (float [0, 1], uint8 or uint16).
    reference: index of the frame whose content wins where frames disagree.
    tolerance: disagreement (display units, > 0) below which pixels agree; weights fall to 0 at
        twice it.
    keep_reference: optional HxW mask in [0, 1] of any size (scaled to the frames): 1 = take the
        reference frame only there (a painted selective-deghost region).
    detect: False skips the automatic test (only the mask acts).
    """
    n = len(frames)
    if n < 2:
        raise InputError("deghosting needs at least two frames")
    if not -n <= reference < n:
        raise InputError(f"reference frame {reference + 1} does not exist (the bracket has {n})")
    reference %= n
    if not tolerance > 0:
        raise InputError(f"the ghost tolerance must be positive, got {tolerance}")
    h, w = frames[0].shape[:2]
    for i, f in enumerate(frames):
        if f.shape[:2] != (h, w) or f.ndim != 3 or f.shape[2] != 3:
            raise InputError(f"frame {i + 1} has shape {f.shape}, frame 1 {frames[0].shape}")
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    keep = _keep_mask(keep_reference, size)
    grow = max(1, round(GROW * max(size)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    ones = np.ones((size[1], size[0]), np.float32)
    weights: list[np.ndarray] = []
    ghost = np.zeros((size[1], size[0]), np.float32)
    detected = np.zeros_like(ghost)  # motion found by the test (the mask is the user's choice)

    def disagreeing(small: np.ndarray) -> np.ndarray:
        d = _disagreement(small, ref, float(small.mean()) > ref_mean)
        bad = np.clip((d - np.float32(tolerance)) / np.float32(tolerance), 0.0, 1.0)
        return feathered_regions(bad, grow, kernel)

    others = [k for k in range(n) if k != reference]
    if detect:  # the frames' reductions and tests are independent: two at a time (OpenCV
        # frees the GIL)
        with ThreadPoolExecutor(max_workers=2) as pool:
            smalls = list(pool.map(lambda f: _codes_small(f, size), frames))
            ref = smalls[reference]
            ref_mean = float(ref.mean())
            found = dict(zip(others, pool.map(lambda k: disagreeing(smalls[k]), others)))
    for k in range(n):
        if k == reference:
            weights.append(ones)
            continue
        bad = found[k] if detect else np.zeros_like(ones)
        np.maximum(detected, bad, out=detected)
        if keep is not None:
            bad = np.maximum(bad, keep)
        np.maximum(ghost, bad, out=ghost)
        weights.append((1.0 - bad).astype(np.float32))
    share = float(np.mean(detected > 0.5))
    return GhostMaps(tuple(weights), ghost, share, reference)


def deghost_mode(deghost: bool | str) -> str:
    """"auto", "on" or "off" from a mode or a bool (True = "on")."""
    if isinstance(deghost, (bool, np.bool_)):
        return "on" if deghost else "off"
    mode = str(deghost).lower()
    if mode not in ("auto", "on", "off"):
        raise InputError(f"deghost must be auto, on or off, got {deghost!r}")
    return mode


@dataclass(frozen=True)
class Deghosting:
    """What a merge's ``deghost`` mode decided for a bracket (:func:`plan_deghosting`).

    maps: the consistency maps the merge applies (the test's, or the painted mask's alone),
        None when it applies none.
    motion_share: share of the picture where the test found motion ([0, 1]; None when the
        test did not run: mode "off").
    used: whether the test's maps are applied (None when it did not run).
    auto: the mode was "auto" (it then says what it did when it deghosted).
    """

    maps: GhostMaps | None
    motion_share: float | None
    used: bool | None
    auto: bool

    @property
    def message(self) -> str | None:
        """The line for the user: said only when "auto" found motion and deghosted."""
        if not (self.auto and self.used) or self.motion_share is None:
            return None
        return (f"motion found in {100 * self.motion_share:.1f} % of the picture: "
                "deghosted (the reference frame is kept there)")

    def notes(self) -> dict:
        """The method notes every merge reports: ``motion_share`` and ``decisions`` when the test
        ran, ``messages`` when there is something to say."""
        out: dict = {}
        if self.motion_share is not None:
            out["motion_share"] = round(self.motion_share, 4)
            out["decisions"] = {"deghost": "on" if self.used else "off",
                                "motion_share": f"{self.motion_share:.4f}"}
        if self.message:
            out["messages"] = [self.message]
        return out


def plan_deghosting(frames: Sequence[np.ndarray], reference: int, deghost: bool | str,
                    keep_reference: np.ndarray | None = None) -> Deghosting:
    """Run the ghost test as ``deghost`` ("auto", "on", "off" or a bool) asks and decide: "on"
    applies its maps, "auto" only when motion covers more than MOTION_SHARE_AUTO of the picture,
    "off" never; a painted ``keep_reference`` mask applies in every mode. Shared by exposure
    fusion and the HDR merges, so they decide and report alike."""
    mode = deghost_mode(deghost)
    if mode == "off":
        maps = (None if keep_reference is None else
                ghost_maps(frames, reference, keep_reference=keep_reference, detect=False))
        return Deghosting(maps, None, None, auto=False)
    maps = ghost_maps(frames, reference, keep_reference=keep_reference)
    used = mode == "on" or maps.motion_share > MOTION_SHARE_AUTO
    share = maps.motion_share
    if not used:
        maps = (None if keep_reference is None else
                ghost_maps(frames, reference, keep_reference=keep_reference, detect=False))
    return Deghosting(maps, share, used, auto=mode == "auto")


Stroke = tuple[float, Sequence[tuple[float, float]], bool]  # (radius, points, erase)


def rasterize_strokes(strokes: Sequence[Stroke], height: int, width: int) -> np.ndarray:
    """A painted selective-deghost mask from brush strokes, at any size.

    strokes: (radius, points, erase) in paint order; radius and points are fractions of the
    image (points (x, y) in [0, 1] of the width / height, radius of the long side), so one list
    of strokes fits the preview and the full-size export alike; erase=True removes paint.
    Returns float32 HxW in [0, 1] (1 = painted), edges anti-aliased.
    """
    if height < 1 or width < 1:
        raise InputError(f"cannot paint a mask of {width}x{height} pixels")
    shift = 4  # sub-pixel precision of OpenCV's drawing (coordinates in 1/16 px)
    scale = float(1 << shift)
    canvas = np.zeros((height, width), np.uint8)
    long_side = max(height, width)
    for radius, points, erase in strokes:
        r = float(radius)
        if not (np.isfinite(r) and 0 < r <= 1):
            raise InputError(f"a brush radius must be in (0, 1] of the image, got {radius}")
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if len(pts) == 0 or not np.isfinite(pts).all():
            raise InputError("a brush stroke needs finite points")
        px = np.round(np.clip(pts, -0.5, 1.5) * (width, height) * scale).astype(np.int64)
        thick = max(1, int(round(2 * r * long_side)))
        colour = 0 if erase else 255
        if len(px) == 1:
            cv2.circle(canvas, tuple(int(v) for v in px[0]), int(round(r * long_side * scale)),
                       colour, -1, cv2.LINE_AA, shift)
        else:
            cv2.polylines(canvas, [px.astype(np.int32).reshape(-1, 1, 2)], False, colour,
                          thick, cv2.LINE_AA, shift)
    return canvas.astype(np.float32) * np.float32(1 / 255)
