"""Find the brackets in a shoot: a folder of photos in, groups of files (one per bracket) out.

Signals, strongest first (each can only split, never join across a stronger one):

1. Camera and image size (incl. orientation): a change always starts a new group.
2. Capture time (EXIF DateTimeOriginal + sub-seconds): a pause longer than ``max_gap_s``
   between the end of one exposure and the start of the next starts a new group.
3. Content: consecutive frames of one bracket show the same view. Exposure-invariant structure
   (directions of log-luminance gradients on a 96 px thumbnail, weighted where both frames are
   well exposed) below :data:`SAME_VIEW` means another scene.
4. Exposure pattern: a bracket never holds the same exposure twice. Within each run left by
   1-3, the split points are chosen by dynamic programming in two passes. The first takes the
   fewest groups and learns the shoot's usual bracket: the most common shooting order (dark to
   bright, bright to dark, or centre first: 0, -, +, --, ++, as many cameras shoot) and, with
   EXIF, the most common EV pattern. The second prices each group by how well it fits that
   (see :func:`_segment`: off-order, off-pattern, a pause inside the group, single shots), then
   the tightest groups in time. So 0/-2/+2 brackets fired back to back split right, and a
   single shot before or after a bracket stays single. The exposure is EXIF's
   log2(t * ISO / N^2) when every frame of the run has one; else the measured brightness of
   the thumbnail (a frame clipped almost everywhere fits any bracket).

``group_size`` replaces 2-4 by fixed groups of N files in order (the fallback for
unusual shoots). Files that cannot be read are left out with the reason; so are single
shots (a group of one) unless the caller processes them.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np

from app.core.errors import InputError
from app.core.io.exif import ExifData, read_exif

THUMB_LONG_SIDE = 96
SAME_VIEW = 0.5
"""Structure similarity (weighted mean cosine of gradient directions, -1..1) at or above which
two frames show the same view. On the 746 frames of ../shared/data: consecutive frames of one
stack 0.85 at least (median 0.997); neighbouring different scenes median 0.07, 95th percentile
0.42, above 0.5 only for re-shoots of one view (which the exposure pattern then splits)."""
DISTINCT_EV = {"exif": 0.25, "measured": 0.03}
"""Exposures closer than this count as the same exposure. Measured brightness is squeezed at
the ends of a bracket (a frame mostly clipped or black barely changes its mean), so its limit
sits just above measurement noise; EXIF steps are 1/3 EV at least."""
DEFAULT_MAX_GAP_S = 60.0
MIN_OVERLAP = 0.1  # share of pixels well exposed in both frames needed to compare views
WHITE_SHARE = 0.95  # a frame clipped over this share has no measurable exposure
ORDERED = ("up", "down", "centre")
SINGLE_COST = 1.4
UNORDERED_COST = 2.1
"""Group costs of the second pass (an ordered group in the usual direction costs 1). Chosen so
that two ordered brackets of one view back to back split (2 < 2.1), while one bracket in no
order stays whole rather than becoming a pair and a single shot (2.1 < 1 + 1.4)."""


@dataclass(frozen=True)
class Shot:
    """One file as grouping sees it. ``thumb``: grey, display-referred [0, 1], long side
    :data:`THUMB_LONG_SIDE` (``colour``: the same in RGB); ``brightness_ev``: log2 of the
    thumbnail's mean linear level."""

    path: str
    exif: ExifData
    size: tuple[int, int]  # (width, height) upright
    thumb: np.ndarray = field(repr=False)
    brightness_ev: float
    colour: np.ndarray | None = field(default=None, repr=False)  # RGB [0, 1], for display

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class Group:
    """A bracket (or single shot): ``files`` in shooting order, ``ev`` per file relative to the
    darkest (None where unknown), ``ev_source`` "exif" / "measured"."""

    files: tuple[str, ...]
    ev: tuple[float | None, ...]
    ev_source: str
    pixels: int = 0  # width * height of a frame
    @property
    def is_single(self) -> bool:
        return len(self.files) == 1


@dataclass(frozen=True)
class Plan:
    """The groups found and the files left out (path -> reason)."""

    groups: tuple[Group, ...]
    left_out: dict[str, str]

    @property
    def brackets(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if not g.is_single)


def _natural_key(path: str) -> list:
    """IMG_9.JPG before IMG_10.JPG."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path)]


def _thumbnail(path: str, orientation: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Small upright RGB thumbnail (display-referred [0, 1]) and the full upright size.
    JPEGs decode at 1/8 scale (fast) and are turned by ``orientation`` (EXIF, already read);
    others go through the full reader."""
    from app.core.io.readers import read_frame

    with open(path, "rb") as fh:
        head = fh.read(3)
    if head == b"\xff\xd8\xff":
        img = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION)
        size = _jpeg_size(path)
        if img is not None and size is not None:
            from app.core.io.exif import apply_orientation

            img = apply_orientation(img, orientation)
            if orientation in (5, 6, 7, 8):
                size = (size[1], size[0])
            rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            return _shrink(rgb), size
    frame, info = read_frame(path)
    small = _shrink(np.ascontiguousarray(frame, np.float32))
    if info.linear:  # exposure-invariant measures below want display-like values
        small = np.clip(small, 0, 1) ** (1 / 2.2)
    return small, (frame.shape[1], frame.shape[0])


def _jpeg_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - size unknown: the caller falls back to the full reader
        return None


def _shrink(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = THUMB_LONG_SIDE / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, np.float32)


def scan(path: str) -> Shot:
    """Read what grouping needs from one file (EXIF, size, thumbnail); InputError if unreadable."""
    exif = read_exif(path)
    colour, size = _thumbnail(path, exif.orientation)
    thumb = np.ascontiguousarray(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY))
    linear_mean = float(np.mean(np.clip(thumb, 0, 1) ** 2.2))
    return Shot(path=path, exif=exif, size=size, thumb=thumb,
                brightness_ev=math.log2(max(linear_mean, 1e-6)), colour=colour)


def view_similarity(a: np.ndarray, b: np.ndarray) -> float | None:
    """Exposure-invariant structure similarity of two grey thumbnails in [-1, 1]; None when
    too little of them is well exposed in both to tell. Gradients of log luminance keep their
    direction under any monotone tone curve, so brackets of one view agree whatever the EV."""
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    feats = []
    for img in (a, b):
        blurred = cv2.GaussianBlur(img, (0, 0), 1.0)  # tolerate a hand-held shift of a pixel
        log = np.log(blurred + 1.0 / 64)
        gx = cv2.Sobel(log, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(log, cv2.CV_32F, 0, 1, ksize=3)
        ok = (blurred > 0.02) & (blurred < 0.98)
        feats.append((gx, gy, ok))
    (ax, ay, aok), (bx, by, bok) = feats
    ma, mb = np.hypot(ax, ay), np.hypot(bx, by)
    weight = np.sqrt(ma * mb) * (aok & bok)
    total = float(weight.sum())
    if total < 1e-3 or np.count_nonzero(weight) < MIN_OVERLAP * weight.size:
        return None
    cos = (ax * bx + ay * by) / np.maximum(ma * mb, 1e-12)
    return float((weight * cos).sum() / total)


def _gap_s(prev: Shot, cur: Shot) -> float | None:
    """Seconds between the end of the earlier exposure of the two and the start of the later
    one (name order need not be shooting order when not every file has a capture time);
    negative when the clock logs the shutter closing."""
    if prev.exif.captured is None or cur.exif.captured is None:
        return None
    dt = cur.exif.captured - prev.exif.captured
    earlier = prev if dt >= 0 else cur
    return abs(dt) - (earlier.exif.exposure_time or 0.0)


def _hard_break(prev: Shot, cur: Shot, max_gap_s: float) -> bool:
    if prev.size != cur.size:
        return True
    if prev.exif.camera and cur.exif.camera and prev.exif.camera != cur.exif.camera:
        return True
    gap = _gap_s(prev, cur)
    if gap is not None and gap > max_gap_s:
        return True
    sim = view_similarity(prev.thumb, cur.thumb)
    return sim is not None and sim < SAME_VIEW


def _exposures(run: Sequence[Shot]) -> tuple[list[float | None], str]:
    """EXIF exposures when every frame has one; else measured brightness, None for a frame
    clipped almost everywhere (its mean no longer tells its exposure: it fits any bracket)."""
    values = [s.exif.exposure_ev for s in run]
    if all(v is not None for v in values):
        return values, "exif"  # type: ignore[return-value]
    return [None if float((s.thumb >= 0.98).mean()) > WHITE_SHARE else s.brightness_ev
            for s in run], "measured"


def _known(evs: Sequence[float | None]) -> list[float]:
    return [e for e in evs if e is not None]


def _signature(evs: Sequence[float | None]) -> tuple[float, ...]:
    evs = _known(evs)
    if not evs:
        return ()
    low = min(evs)
    return tuple(sorted(round(3 * (e - low)) / 3 for e in evs))


def _has_pause(gaps: Sequence[float | None], cadence: float | None) -> bool:
    """A pause inside a would-be bracket (``gaps``: seconds between the end of one exposure and
    the start of the next): one over 2 s and over 8 x the run's usual gap ``cadence`` (a
    bracket is fired in one go; a shot taken later is not part of it)."""
    if cadence is None:
        return False
    return any(g is not None and g > max(2.0, 8 * cadence) for g in gaps)


def _symmetric(evs: Sequence[float]) -> bool:
    """Sorted exposures spaced evenly around the middle one (within 0.5 EV)."""
    m = len(evs) // 2
    return all(abs((evs[m + k] - evs[m]) - (evs[m] - evs[m - k])) <= 0.5
               for k in range(1, m + 1))


Usual = tuple[object, tuple | None] | None
"""(order kind or None = "up or down", EXIF EV pattern or None); None: the first pass."""


def _order(evs: Sequence[float | None], exact: bool = False) -> object:
    """How a group's exposures run in shooting order: "up", "down", "centre" (the middle
    exposure first, then alternating outwards: 0, -, +, --, ++ or 0, +, -, ..., and with
    ``exact`` (EXIF) exposures also evenly around the middle one), or their ranks for any other
    order."""
    evs = _known(evs)
    if len(evs) < 2:
        return "up"
    diffs = np.diff(evs)
    if np.all(diffs > 0):
        return "up"
    if np.all(diffs < 0):
        return "down"
    ranks = [int(r) for r in np.argsort(np.argsort(evs))]
    n = len(ranks)
    if n % 2 == 1 and ranks[0] == n // 2:
        m = n // 2
        for first in (-1, 1):
            expected = [m] + [m + sign * d for d in range(1, m + 1) for sign in (first, -first)]
            if ranks == expected and (not exact or _symmetric(sorted(evs))):
                return "centre"
    return tuple(ranks)


def _segment(evs: Sequence[float | None], source: str, times: Sequence[float | None],
             usual: Usual, gaps: Sequence[float | None] = ()) -> list[tuple[int, int]]:
    """Split points of one run (see the module docstring): [(start, end), ...].

    Cost per group, summed, then the summed time spread (lexicographic): a group whose
    exposures run in the shoot's usual order costs 1, ordered the other way 1.5, unordered
    2.1 (what two brackets of one view back to back look like), a single shot 1.4; an EXIF
    group of the usual size off the usual EV pattern +0.5; a group with a pause inside (see
    :func:`_has_pause`) +1. Without a usual bracket (first pass) every group costs 1: fewest
    groups."""
    n = len(evs)
    gaps = list(gaps) or [None] * max(0, n - 1)
    known_gaps = [max(0.0, g) for g in gaps if g is not None]
    cadence = float(np.median(known_gaps)) if known_gaps else None
    limit = DISTINCT_EV[source]
    valid = [[False] * (n + 1) for _ in range(n)]
    for i in range(n):
        seen: list[float] = []
        for j in range(i, n):
            if evs[j] is not None:
                if any(abs(evs[j] - e) < limit for e in seen):
                    break
                seen.append(evs[j])
            valid[i][j + 1] = True

    def spread(i: int, j: int) -> float:
        ts = [t for t in times[i:j] if t is not None]
        return (max(ts) - min(ts)) if len(ts) > 1 else 0.0

    def group_cost(i: int, j: int) -> float:
        if usual is None:
            return 1.0
        if j - i == 1:
            return SINGLE_COST
        order, pattern = usual
        kind = _order(evs[i:j], exact=source == "exif")
        pair = len(_known(evs[i:j])) <= 2  # two exposures: the start of a centre-first order
        if kind == order or (order is None and kind in ORDERED) or (pair and order == "centre"):
            cost = 1.0
        elif kind in ORDERED:
            cost = 1.5  # ordered another way: a source or camera of its own
        else:
            cost = UNORDERED_COST
        if pattern is not None and source == "exif" and len(pattern) == j - i and \
                _signature(evs[i:j]) != pattern:
            cost += 0.5
        if _has_pause(gaps[i:j - 1], cadence):
            cost += 1.0
        return cost

    best: list[tuple[float, float] | None] = [None] * (n + 1)
    back = [0] * (n + 1)
    best[0] = (0.0, 0.0)
    for j in range(1, n + 1):
        for i in range(j):
            if best[i] is None or not valid[i][j]:
                continue
            cost = (best[i][0] + group_cost(i, j), best[i][1] + spread(i, j))
            if best[j] is None or cost < best[j]:
                best[j], back[j] = cost, i
    cuts, j = [], n
    while j > 0:
        cuts.append((back[j], j))
        j = back[j]
    return cuts[::-1]


def _usual(runs: Sequence[tuple[list[float], str, list]], first: Sequence[list]) -> Usual:
    """The shoot's usual bracket from the first pass: the most common order of exposures (a
    kind of :func:`_order`), and
    the most common EV pattern of EXIF groups (measured exposures are not exact enough); each
    only when it occurs at least twice (else the prior: exposures run up or down)."""
    orders = Counter(_order(evs[i:j], source == "exif") for (evs, source, _), cuts in zip(runs, first)
                     for i, j in cuts if len(_known(evs[i:j])) > 2)
    if not orders or orders.most_common(1)[0][1] < 2:
        return None, None  # nothing repeats: brackets run up or down, the prior
    patterns = Counter(_signature(evs[i:j]) for (evs, source, _), cuts in zip(runs, first)
                       for i, j in cuts if j - i > 1 and source == "exif")
    pattern = patterns.most_common(1)[0] if patterns else (None, 0)
    return orders.most_common(1)[0][0], (pattern[0] if pattern[1] >= 2 else None)


def plan_groups(
    paths: Sequence[str],
    *,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    group_size: int | None = None,
    scanner: Callable[[str], Shot] = scan,
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """Group ``paths`` into brackets (see the module docstring). Unreadable files are left out
    with their reason; single shots are returned as groups of one."""
    if group_size is not None and group_size < 1:
        raise InputError(f"group size must be at least 1, got {group_size}")
    if not max_gap_s > 0:
        raise InputError(f"the time gap must be positive, got {max_gap_s}")
    left_out: dict[str, str] = {}
    shots: list[Shot] = []
    for k, path in enumerate(sorted(dict.fromkeys(map(str, paths)), key=_natural_key)):
        try:
            shots.append(scanner(path))
        except InputError as exc:
            left_out[path] = str(exc)
        if progress is not None:
            progress(k + 1, len(paths))
    if all(s.exif.captured is not None for s in shots):  # shooting order; name breaks ties
        shots.sort(key=lambda s: (s.exif.captured, _natural_key(s.path)))

    runs: list[list[Shot]] = []
    if group_size is not None:
        runs = [shots[i:i + group_size] for i in range(0, len(shots), group_size)]
        return Plan(tuple(_group(r, *_exposures(r), 0, len(r)) for r in runs), left_out)
    for shot in shots:
        if runs and not _hard_break(runs[-1][-1], shot, max_gap_s):
            runs[-1].append(shot)
        else:
            runs.append([shot])
    described = [(*_exposures(run), [s.exif.captured for s in run]) for run in runs]
    first = [_segment(evs, source, times, None) for evs, source, times in described]
    usual = _usual(described, first)
    groups: list[Group] = []
    for run, (evs, source, times) in zip(runs, described):
        gaps = [_gap_s(a, b) for a, b in zip(run, run[1:])]
        groups.extend(_group(run, evs, source, i, j)
                      for i, j in _segment(evs, source, times, usual, gaps))
    return Plan(tuple(groups), left_out)


def _group(run: Sequence[Shot], evs, source, i: int, j: int) -> Group:
    part = evs[i:j]
    low = min(_known(part), default=0.0)
    return Group(files=tuple(s.path for s in run[i:j]),
                 ev=tuple(None if e is None else round(e - low, 2) for e in part),
                 ev_source=source,
                 pixels=run[i].size[0] * run[i].size[1])
