"""Camera response recovery: Debevec-Malik (least squares) and Robertson (iterative ML).

Both return the *inverse* response ``g``: a (256, 3) float32 table mapping an 8-bit code of each
channel to linear relative exposure (radiance x time), monotonically non-decreasing, normalised so
that the three channels agree at mid-grey (code 128, a grey code means grey light) where the
value is that of the sRGB curve (0.216), so 1.0 is about the clipping level.

Both work on a small set of pixels: Debevec on ``samples`` locations per frame chosen so that
frame's intensities cover the whole code range, in smooth areas (a pixel on an edge moves under
sub-pixel misalignment); Robertson on a strided proxy of about 100k pixels.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from app.core.errors import InputError

ROBERTSON_PROXY_PIXELS = 100_000
DEBEVEC_PROXY_PIXELS = 500_000  # samples are picked on a strided proxy of this size
ROBERTSON_ITERATIONS = 30
SMOOTH_FLOOR = 16.0
"""Least weight of Debevec's curvature penalty per code (the hat weight elsewhere). With the
plain hat (1 at the ends) the curve's last 20 codes were almost free: on a real bracket
(colour-hdri-frobisher) it flattened over codes 230-240 and then shot up 0.5 stop per code,
and a sky whose channels sat at 238 / 251 came out in hard-edged green and red bands."""


def to_codes(frame: np.ndarray) -> np.ndarray:
    """Display-referred [0, 1] float (or uint8 / uint16 codes) frame -> uint8 codes 0..255."""
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == np.uint16:  # 65535 / 257 = 255, rounded and saturated by OpenCV
        return cv2.convertScaleAbs(np.ascontiguousarray(frame), alpha=1.0 / 257.0)
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


def _check(frames: Sequence[np.ndarray], exposures: Sequence[float]) -> None:
    if len(frames) < 2:
        raise InputError(f"response recovery needs at least 2 frames, got {len(frames)}")
    if len(exposures) != len(frames):
        raise InputError(f"{len(exposures)} exposures given for {len(frames)} frames")
    if any(not np.isfinite(e) or e <= 0 for e in exposures):
        raise InputError("exposure values must be positive and finite")
    if len(set(float(e) for e in exposures)) < 2:
        raise InputError("response recovery needs frames of at least two different exposures")


def hat_weights_codes() -> np.ndarray:
    """Debevec's triangle weight over codes 0..255 (0 at both ends, 128 at mid-grey), float64."""
    z = np.arange(256, dtype=np.float64)
    return np.minimum(z, 255.0 - z)


# sRGB-decoded value of code 128: where the inverse response is pinned (see _finish)
MID_GREY_LINEAR = float(((128 / 255 + 0.055) / 1.055) ** 2.4)


_TIE_CODES = (8, 247)  # codes whose curve values are trusted for tying the channels together


def tie_channels(g: np.ndarray) -> np.ndarray:
    """Channels made to agree on neutral greys: log g_c = common + b_c (common - common(128)).

    Each channel's curve is recovered from its own samples, so noise in one channel's curve
    (sparse highlights, JPEG chroma) turns into casts and blotches. A camera's JPEG engine gives
    all channels one tone curve after white balance; what may differ is a slight per-channel
    contrast, a straight line in log-log around the pin. So each channel keeps only that: the
    common curve (the mean of the log curves) plus a weighted least-squares line through the pin,
    fitted on the well-determined codes (hat weights). Measured on the virtual-camera tuning set
    (app.bench.hdr_merge, hdr-extra): mean colour error 2.27 -> 1.36 degrees, worst 5.8 -> 2.1.
    """
    g = np.maximum.accumulate(np.maximum(np.asarray(g, np.float64), 1e-12), axis=0)
    lg = np.log(g)
    lg -= lg[128][None, :]
    common = lg.mean(axis=1)
    z = np.arange(256)
    w = np.minimum(z, 255 - z).astype(np.float64)
    w[(z < _TIE_CODES[0]) | (z > _TIE_CODES[1])] = 0.0
    x = common - common[128]
    den = float(np.sum(w * x * x))
    out = np.empty_like(lg)
    for c in range(3):
        slope = float(np.sum(w * x * (lg[:, c] - common)) / den) if den > 0 else 0.0
        out[:, c] = common + slope * x
    return np.exp(out)


def _finish(g: np.ndarray) -> np.ndarray:
    """Channels tied (:func:`tie_channels`), monotonic, scaled so g(128) = sRGB-decoded 128.

    The clipping end of a recovered curve is its least certain part (every frame's weight
    vanishes there), so the scale is pinned at mid-grey, the best-determined code: "1.0" is then
    the exposure at which a camera with an sRGB-like curve clips, i.e. about the reference frame's
    saturation, and Debevec and Robertson agree on the scale.
    """
    g = np.asarray(g, np.float64)
    if not np.all(np.isfinite(g)) or np.any(g[128] <= 0):
        raise InputError("response recovery failed: the frames carry no usable exposure range")
    g = np.maximum.accumulate(tie_channels(g), axis=0)
    mid = g[128].copy()
    return (g / mid[None, :] * MID_GREY_LINEAR).astype(np.float32)


def sample_locations(ref_codes: np.ndarray, samples: int, seed: int = 0) -> np.ndarray:
    """Flat indices of ``samples`` pixels whose grey levels in ``ref_codes`` span 0..255, in
    smooth areas (local 5x5 variance at most the frame's median): one random pixel per grey-level
    bin, topped up with random smooth pixels where the frame has no pixel of a bin.

    ref_codes: uint8 HxWx3 codes of one frame.
    """
    grey = cv2.cvtColor(ref_codes, cv2.COLOR_RGB2GRAY)
    g32 = grey.astype(np.float32)
    # local variation: a sample on an edge would mix radiances under misalignment / blur
    mean = cv2.blur(g32, (5, 5))
    var = (cv2.blur(g32 * g32, (5, 5)) - mean * mean).ravel()
    smooth = np.flatnonzero(var <= np.median(var))
    rng = np.random.default_rng(seed)
    smooth = smooth[rng.permutation(smooth.size)]  # random order: first hit per bin is random
    bins = (grey.ravel()[smooth].astype(np.int64) * samples) // 256
    _, first = np.unique(bins, return_index=True)
    picks = smooth[first]
    if picks.size < samples:
        rest = np.setdiff1d(smooth[: 4 * samples], picks)[: samples - picks.size]
        picks = np.concatenate([picks, rest])
    return np.unique(picks)


def _proxy(frame: np.ndarray, pixels: int) -> np.ndarray:
    """Strided subsample of about ``pixels`` pixels (no resampling: codes stay real codes)."""
    h, w = frame.shape[:2]
    step = max(1, int(np.sqrt(h * w / pixels)))
    return frame[::step, ::step]


def debevec_response(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    samples: int = 70,
    smoothness: float = 10.0,
) -> np.ndarray:
    """Debevec-Malik response recovery by a regularised linear least-squares solve per channel.

    frames: display-referred [0, 1] float (or uint8) RGB frames; exposures: relative exposures.
    ``samples`` pixel locations are drawn per frame, spread over that frame's grey levels.
    Unknowns: log g(0..255) and the log radiance of each sample; equations weighted by the hat
    function, plus ``smoothness`` x second differences of log g, plus log g(128) = 0.
    Returns the inverse response (256, 3) float32 (see module doc).
    """
    _check(frames, exposures)
    # contiguous once (a strided proxy is copied by every reshape below: 9 copies, ~40 ms)
    codes = [np.ascontiguousarray(to_codes(_proxy(f, DEBEVEC_PROXY_PIXELS))) for f in frames]
    # locations spread over the grey range of *every* frame: the reference alone gives few
    # samples where the darkest frame is bright, and the top of the curve is then guessed
    loc = np.unique(np.concatenate([sample_locations(c, samples, seed=j) for j, c in enumerate(codes)]))
    ns, nf = loc.size, len(frames)
    w = hat_weights_codes() + 1.0  # +1: keep end-code equations alive (weakly) for the solve
    ws = np.maximum(w, SMOOTH_FLOOR)  # curvature penalty: see SMOOTH_FLOOR
    log_t = np.log(np.asarray(exposures, np.float64))
    g_log = np.zeros((256, 3))
    rows = ns * nf + 1 + 254
    for c in range(3):
        z = np.stack([cd.reshape(-1, 3)[loc, c] for cd in codes], axis=1).astype(np.int64)
        a = np.zeros((rows, 256 + ns))
        b = np.zeros(rows)
        r = np.arange(ns * nf)
        zi = z.ravel()  # sample-major: row k = (sample k // nf, frame k % nf)
        wi = w[zi]
        a[r, zi] = wi
        a[r, 256 + r // nf] = -wi
        b[r] = wi * log_t[r % nf]
        k = ns * nf
        a[k, 128] = 1.0  # fixes the arbitrary scale
        m = np.arange(1, 255)
        rr = k + 1 + np.arange(254)
        a[rr, m - 1] = smoothness * ws[m]
        a[rr, m] = -2.0 * smoothness * ws[m]
        a[rr, m + 1] = smoothness * ws[m]
        # normal equations: the system is small (~600 x 330) and well conditioned by the
        # smoothness rows; solving A^T A is far cheaper than an SVD-based lstsq
        sol = np.linalg.solve(a.T @ a, a.T @ b)
        g_log[:, c] = sol[:256]
    return _finish(np.exp(g_log))


def _robertson_weights() -> np.ndarray:
    """Robertson's bell-shaped certainty over codes (zero at the clipped ends)."""
    z = np.arange(256, dtype=np.float64)
    w = np.exp(-4.0 * (z - 127.5) ** 2 / 127.5**2)
    w[0] = w[255] = 0.0
    return w


def robertson_response(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    iterations: int = ROBERTSON_ITERATIONS,
) -> np.ndarray:
    """Robertson-Borman-Stevenson response recovery (alternating ML estimates of E and g).

    frames: display-referred [0, 1] float (or uint8) RGB; exposures: relative exposures.
    Returns the inverse response (256, 3) float32 (see module doc).
    """
    _check(frames, exposures)
    codes = np.stack([to_codes(_proxy(f, ROBERTSON_PROXY_PIXELS)) for f in frames])
    codes = codes.reshape(len(frames), -1, 3)
    t = np.asarray(exposures, np.float64)[:, None]
    wz = _robertson_weights()
    g = np.zeros((256, 3))
    for c in range(3):
        z = codes[:, :, c].astype(np.int64)  # frames x pixels
        # start from a gamma-2.2 curve (what most cameras are close to): the fixed-point iteration
        # links distant codes only through overlapping exposures and converges slowly from a line
        gc = (np.arange(256, dtype=np.float64) / 128.0) ** 2.2
        wzz = wz[z]
        counts = np.bincount(z.ravel(), minlength=256)
        for _ in range(iterations):
            e = (wzz * t * gc[z]).sum(0) / np.maximum((wzz * t * t).sum(0), 1e-12)
            sums = np.bincount(z.ravel(), weights=(e[None, :] * t).ravel(), minlength=256)
            new = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            seen = np.flatnonzero(counts > 0)
            new = np.interp(np.arange(256), seen, new[seen])  # fill codes never observed
            new /= new[128] if new[128] > 0 else new[seen].mean()
            if np.max(np.abs(new - gc)) < 1e-6:
                gc = new
                break
            gc = new
        g[:, c] = _smooth_log_curve(gc, counts * wz)
    return _finish(g)


def _smooth_log_curve(g: np.ndarray, support: np.ndarray, smoothness: float = 5.0) -> np.ndarray:
    """Penalised smoothing of ln g: minimise sum support (y - ln g)^2 + smoothness sum (y'')^2
    (support: how many weighted samples each code had). Robertson's per-code means are noisy
    and can dip where few pixels fall, which the monotone clamp then turns into flat runs (up to
    23 % of the codes on 3-frame brackets of the tuning set); the smoothed curve rises."""
    y = np.log(np.maximum(g, 1e-12))
    w = np.asarray(support, np.float64)
    w = w / max(float(w.max()), 1e-12) + 1e-6
    d2 = np.diff(np.eye(256), 2, axis=0)
    a = np.diag(w) + smoothness * (d2.T @ d2)
    return np.exp(np.linalg.solve(a, w * y))


MAX_CHANNEL_SLOPE = 0.35  # |per-channel contrast line| beyond this: the channels disagree
MIN_RANGE, MAX_RANGE = 4.0, 2.0**20  # g(245) / g(10): 2 to 20 stops between those codes
MAX_FLAT_SHARE = 0.15  # share of codes 10..245 where the curve does not rise
MAX_STEP = 0.6  # largest |second difference| of ln g over codes 10..245 (a kink or a step)


def implausible(g: np.ndarray) -> str:
    """Why a recovered inverse response (256, 3) cannot be a camera's, '' when it can.

    A camera curve rises smoothly over the codes a bracket measures: no long flat runs (those
    come from codes no frame saw), no steps, a few to twenty stops between codes 10 and 245, and
    channels that agree up to a slight contrast difference.
    """
    g = np.asarray(g, np.float64)
    if g.shape != (256, 3) or not np.all(np.isfinite(g)) or np.any(g[10:246] <= 0):
        return "the curve is not finite and positive"
    lg = np.log(g)
    mid = slice(10, 246)
    rise = np.diff(lg[mid], axis=0)
    flat = float((rise < 1e-4).mean())
    if flat > MAX_FLAT_SHARE:
        return f"the curve is flat over {flat:.0%} of the codes (too few distinct levels)"
    span = float(np.min(g[245] / g[10]))
    if not MIN_RANGE <= span <= MAX_RANGE:
        return f"the curve spans {np.log2(max(span, 1e-9)):.1f} stops between codes 10 and 245"
    step = float(np.max(np.abs(np.diff(lg[mid], 2, axis=0))))
    if step > MAX_STEP:
        return f"the curve has a step (second difference {step:.2f})"
    common = lg.mean(axis=1)
    x = common - common[128]
    for c in range(3):
        den = float(np.sum(x[mid] ** 2))
        slope = float(np.sum(x[mid] * (lg[mid, c] - common[mid])) / den) if den > 0 else 0.0
        if abs(slope) > MAX_CHANNEL_SLOPE:
            return f"channel {'RGB'[c]} disagrees with the others (contrast {1 + slope:.2f}x)"
    return ""


def _srgb_decode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def parametric_response(frames: Sequence[np.ndarray], exposures: Sequence[float]) -> tuple[np.ndarray, float]:
    """The sRGB-like curve that fits the bracket best: g(z) = srgb_decode(z / 255) ** k, one k
    for all channels (neutral by construction), fitted in closed form to the exposures: for
    pixels well exposed in two neighbouring frames, k (ln s(z_b) - ln s(z_a)) = ln(t_b / t_a).
    Returns (inverse response (256, 3) float32 pinned like the others, k)."""
    _check(frames, exposures)
    order = np.argsort(exposures)
    s = _srgb_decode(np.arange(256) / 255.0)
    ls = np.log(np.maximum(s, 1e-12))
    num = den = 0.0
    for a, b in zip(order[:-1], order[1:]):
        za = to_codes(_proxy(frames[a], ROBERTSON_PROXY_PIXELS)).ravel().astype(np.int64)
        zb = to_codes(_proxy(frames[b], ROBERTSON_PROXY_PIXELS)).ravel().astype(np.int64)
        ok = (za > 12) & (za < 243) & (zb > 12) & (zb < 243)
        d = ls[zb[ok]] - ls[za[ok]]
        lt = float(np.log(exposures[b] / exposures[a]))
        num += float(np.sum(d * lt))
        den += float(np.sum(d * d))
    k = float(np.clip(num / den, 0.5, 2.5)) if den > 0 else 1.0
    g = np.repeat((np.maximum(s, 1e-7) ** k)[:, None], 3, axis=1)
    return (g / g[128] * MID_GREY_LINEAR).astype(np.float32), k


def recover_response_checked(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    method: str = "debevec",
    samples: int = 70,
) -> tuple[np.ndarray, str]:
    """:func:`recover_response`, refused when :func:`implausible`: then the fitted sRGB-like
    curve of :func:`parametric_response` is used instead. Returns (inverse response, note);
    the note says what was replaced and why ('' when the recovered curve is used)."""
    g = recover_response(frames, exposures, method=method, samples=samples)
    why = implausible(g)
    if not why:
        return g, ""
    fallback, k = parametric_response(frames, exposures)
    return fallback, (f"the recovered {method} response was refused ({why}); "
                      f"used an sRGB-like curve fitted to the frames (power {k:.2f})")


def recover_response(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    method: str = "debevec",
    samples: int = 70,
) -> np.ndarray:
    """Inverse camera response (256, 3) float32: 8-bit code -> linear relative exposure.

    frames: display-referred [0, 1] RGB frames (float32 or uint8); exposures: relative exposures
    (t * ISO / N^2). method: "debevec" (least squares on ``samples`` pixels) or "robertson".
    """
    if method == "debevec":
        return debevec_response(frames, exposures, samples=samples)
    if method == "robertson":
        return robertson_response(frames, exposures)
    raise InputError(f"unknown response-recovery method {method!r} (debevec or robertson)")
