"""A virtual camera that photographs HDR radiance maps into 8-bit JPEG brackets with a known truth.

Per camera (drawn from a seed): one S-shaped tone curve, per-channel deviations of it that vanish
at mid-grey (channels agree on a neutral mid-grey, as a camera's JPEG engine makes them, and
drift apart slightly in the shadows and highlights), white-balance gains (so one channel clips
before the others), shot and read noise in linear light, 8-bit quantisation and JPEG.

The truth a merge should return is the scene radiance times the white-balance gains (the
camera's colours; a merge reproduces them, it does not re-balance), up to one global scale.
Value domains: radiance >= 0 linear; frames display-referred float32 [0, 1] after decoding.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from app.core.io import read_exr

MID_GREY = 0.18  # linear exposure the middle frame gives the scene's median luminance
REC709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


@dataclass(frozen=True)
class Camera:
    contrast: float  # S-curve strength (tanh slope); ~0 = a plain gamma curve
    gamma: float  # base encoding gamma before the S-curve
    channel_bend: tuple[float, float, float]  # per-channel exponent deviation around mid-grey
    wb: tuple[float, float, float]  # white-balance gains applied to the raw channels
    shot: float  # shot-noise variance per unit linear signal
    read: float  # read-noise standard deviation (linear)
    jpeg_quality: int


def draw_camera(rng: np.random.Generator) -> Camera:
    bend = rng.uniform(-0.06, 0.06, 3)
    bend[1] = 0.0  # green is the reference channel
    wb = np.exp(rng.uniform(-0.25, 0.25, 3))
    wb[1] = 1.0
    return Camera(
        contrast=float(rng.uniform(0.5, 3.0)),
        gamma=float(rng.uniform(1.8, 2.6)),
        channel_bend=tuple(float(b) for b in bend),
        wb=tuple(float(w) for w in wb),
        shot=float(rng.uniform(2e-4, 2e-3)),
        read=float(rng.uniform(5e-4, 3e-3)),
        jpeg_quality=int(rng.integers(85, 97)),
    )


def _s_curve(x: np.ndarray, cam: Camera) -> np.ndarray:
    """Common tone curve: linear [0, 1] -> display [0, 1], monotone, F(MID_GREY) not pinned."""
    y = np.power(np.clip(x, 0.0, 1.0), 1.0 / cam.gamma)
    k = cam.contrast
    if k < 1e-3:
        return y
    return 0.5 + 0.5 * np.tanh(k * (y - 0.5)) / math.tanh(k / 2)


def tone_curve(x: np.ndarray, cam: Camera, channel: int) -> np.ndarray:
    """Channel ``channel``'s curve: the common curve of (m (x/m)^(1+bend)), m = mid-grey, so all
    channels give the same code to a neutral mid-grey and differ slightly away from it."""
    bend = cam.channel_bend[channel]
    x = np.clip(x, 0.0, None)
    bent = MID_GREY * np.power(np.maximum(x, 1e-12) / MID_GREY, 1.0 + bend)
    return _s_curve(np.minimum(bent, 1.0), cam)


def photograph(radiance: np.ndarray, exposure: float, cam: Camera,
               rng: np.random.Generator) -> np.ndarray:
    """One JPEG frame (decoded, display float32 [0, 1]) of ``radiance`` x ``exposure``."""
    lin = radiance * np.asarray(cam.wb, np.float32) * np.float32(exposure)
    sigma = np.sqrt(cam.shot * np.clip(lin, 0, 1) + cam.read**2)
    lin = lin + rng.standard_normal(lin.shape).astype(np.float32) * sigma.astype(np.float32)
    disp = np.stack([tone_curve(lin[..., c], cam, c) for c in range(3)], axis=-1)
    codes = np.clip(np.rint(disp * 255), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", codes[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, cam.jpeg_quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


@dataclass(frozen=True)
class Bracket:
    scene: str
    frames: tuple[np.ndarray, ...]  # display [0, 1], dark to bright
    times: tuple[float, ...]  # relative exposures (the truth)
    target: np.ndarray  # radiance x white balance: what a merge should return, up to scale
    camera: Camera


def load_radiance(path: Path, long_side: int = 600, crop_poles: bool = False) -> np.ndarray:
    """Linear radiance float32 HxWx3, >= 0, at most ``long_side`` px; latitude-longitude
    panoramas lose their stretched poles (top and bottom 15 %)."""
    img, _ = read_exr(path)
    if crop_poles:
        h = img.shape[0]
        img = img[int(0.15 * h): int(0.85 * h)]
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    if s < 1:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    return np.maximum(img, 0.0).astype(np.float32)


PANORAMA_SOURCES = ("hdr-extra",)  # latitude-longitude maps: poles cropped when loaded


def radiance_map_paths(data: Path, sources: Sequence[str]) -> list[tuple[str, Path]]:
    """(source, path) of the .exr radiance maps of ``sources`` (manifest role hdr-radiance),
    in manifest order."""
    man = json.loads((data / "manifest.json").read_text())
    return [(s["source"], data / f["path"]) for s in man["scenes"]
            if s["source"] in sources and s.get("role") == "hdr-radiance"
            for f in s["files"] if f["path"].lower().endswith(".exr")]


def radiance_maps(data: Path, sources: Sequence[str],
                  long_side: int) -> Iterator[tuple[str, Path, np.ndarray]]:
    """(source, path, radiance) of every map of :func:`radiance_map_paths`, loaded by
    :func:`load_radiance` (panoramas without their poles)."""
    for source, path in radiance_map_paths(data, sources):
        yield source, path, load_radiance(path, long_side=long_side,
                                          crop_poles=source in PANORAMA_SOURCES)


def bracket(scene: str, radiance: np.ndarray, n_frames: int, spacing_ev: float,
            seed: int) -> Bracket:
    """``n_frames`` exposures ``spacing_ev`` apart, centred so the middle frame gives the scene's
    median luminance MID_GREY; camera and noise drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    cam = draw_camera(rng)
    lum = radiance @ REC709
    median = float(np.median(lum[lum > 0])) if np.any(lum > 0) else 1.0
    base = MID_GREY / median
    offsets = (np.arange(n_frames) - (n_frames - 1) / 2) * spacing_ev
    times = tuple(float(base * 2.0**o) for o in offsets)
    frames = tuple(photograph(radiance, t, cam, rng) for t in times)
    target = radiance * np.asarray(cam.wb, np.float32)
    return Bracket(scene, frames, times, target, cam)


def valid_mask(b: Bracket) -> np.ndarray:
    """Pixels the bracket can measure: not clipped in the darkest frame, above the noise floor
    in the brightest (by the truth's luminance)."""
    lum = b.target @ REC709
    return (lum * b.times[0] < 0.9) & (lum * b.times[-1] > 0.02) & (lum > 0)


def well_exposed(b: Bracket) -> np.ndarray:
    """Pixels some frame records well in every channel (for the colour error)."""
    mask = np.zeros(b.target.shape[:2], bool)
    for t in b.times:
        x = b.target * np.float32(t)
        mask |= (x.min(axis=2) > 0.03) & (x.max(axis=2) < 0.7)
    return mask & valid_mask(b)


def log_psnr(estimate: np.ndarray, b: Bracket) -> float:
    """Log2-luminance PSNR (dB) on the measurable pixels after one global scale (the median log
    ratio): a wrong response curve counts, an overall brightness does not. Peak = the truth's
    log2 range there (0.1-99.9 percentile)."""
    mask = valid_mask(b)
    lt = np.log2(np.maximum(b.target @ REC709, 1e-12))[mask]
    le = np.log2(np.maximum(estimate @ REC709, 1e-12))[mask]
    d = le - lt
    d -= np.median(d)
    rmse = float(np.sqrt(np.mean(d * d)))
    lo, hi = np.percentile(lt, [0.1, 99.9])
    return float(20 * np.log10(max(hi - lo, 1e-6) / max(rmse, 1e-9)))


def exponent_fit(estimate: np.ndarray, b: Bracket) -> float:
    """The power p with estimate ~ c * truth^p on the measurable pixels (least squares on
    log2 luminance). Without exposure times a static bracket cannot tell an exponent apart:
    any response g^p with exposures t^p fits its pixels exactly as well (Grossberg and Nayar's
    exponential ambiguity), so a merge without times can be off by such a power however good
    it is. ``estimate ** (1 / p)`` is what it would give had the ambiguity been resolved right."""
    mask = valid_mask(b)
    lt = np.log2(np.maximum(b.target @ REC709, 1e-12))[mask]
    le = np.log2(np.maximum(estimate @ REC709, 1e-12))[mask]
    lt = lt - lt.mean()
    return float((lt * (le - le.mean())).sum() / max(float((lt * lt).sum()), 1e-12))


COLOUR_BLOCK = 4  # px: colour is compared on block means


def _block_mean(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    k = COLOUR_BLOCK
    img = img[: h - h % k, : w - w % k].astype(np.float64)
    return img.reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))


def colour_error_deg(estimate: np.ndarray, b: Bracket) -> float:
    """Mean angle (degrees) between estimated and true RGB on well-exposed 4x4 blocks.

    Blocks, not pixels: a cast or a blotch is a regional colour error; per pixel the score
    would be dominated by the chroma blur JPEG puts on every edge (about 1.8 degrees with a
    perfect merge of noise-free quality-100 JPEGs), which no merge can undo."""
    mask = _block_mean(well_exposed(b)[..., None].astype(np.float64))[..., 0] > 0.999
    e = _block_mean(estimate)[mask]
    t = _block_mean(b.target)[mask]
    cos = (e * t).sum(1) / np.maximum(np.linalg.norm(e, axis=1) * np.linalg.norm(t, axis=1), 1e-20)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())
