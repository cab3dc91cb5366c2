"""HDRCNN training data: ground-truth HDR gathering (cached once) and the "virtual camera".

Ground truth (linear radiance, float32 HxWx3 >= 0):

* openexr-images: the 16 OpenEXR sample images minus the evaluation subset :data:`EVAL_EXRS`
  (5 images kept for :mod:`app.bench.hdrcnn` only; the two lat-long environment maps are used
  for training, never for evaluation, because their projection is unlike a photograph);
* hdrps-ds8 (35 brackets) and deepfuse-iccv17 (46 brackets): merged to radiance by our own core
  (``app.core.io.load_stack`` + ``ensure_exposures`` for the unknown relative exposures, then
  ``app.core.merge.merge_debevec``).

With the shared data of this project that gives 92 images (11 EXR + 81 merged brackets).

The cache (``runs/hdrcnn_cache/``, git-ignored) holds one float16 .npy per image, long side at
most ``max_side`` px, plus ``index.json``.

Virtual camera (methods.md 3.6): random crop (a fraction of the width), bilinear resize, flip,
exposure by a random quantile q in [0.85, 0.95], Gaussian noise, hue/saturation jitter in the
sqrt domain, random camera curve f(H) = (1 + s) H^n / (H^n + s), 8-bit quantisation and JPEG at a
random quality in [30, 100]. It returns (ldr display [0,1], hdr ground truth linear >= 0) where
hdr 1.0 is the saturation level of the rendered LDR image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.core.errors import LumafuseError

EVAL_EXRS = ("Bonita", "CandleGlass", "Desk", "GoldenGate", "Tree")
"""openexr-images scenes held out for the benchmark (never trained on)."""

BRACKET_SETS = ("hdrps-ds8", "deepfuse-iccv17")
EXR_SET = "openexr-images"


# ----------------------------------------------------------------------------- gathering
def _read_exr(path: Path) -> np.ndarray:
    from app.core.io import read_exr

    return read_exr(path)[0]


MERGE = "app.core.merge.merge_debevec"


def _merge_bracket(paths: list[Path]) -> np.ndarray:
    """Radiance of one bracket by our core (exposures estimated from the pixels when EXIF has
    none); linear float32, 1.0 = saturation of the reference frame."""
    from app.core.io import ensure_exposures, load_stack
    from app.core.merge import merge_debevec

    stack = ensure_exposures(load_stack([str(p) for p in paths]))
    return np.asarray(merge_debevec(stack), np.float32)


def _resize_long(img: np.ndarray, max_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return img
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def list_sources(data_root: Path, radiance: tuple[str, ...] = ()) -> list[tuple[str, str, list[Path]]]:
    """(name, kind "exr"|"panorama"|"bracket", files) of every training source, in a fixed
    order; ``radiance`` adds every map of those folders (lat-long panoramas: poles cropped)."""
    out: list[tuple[str, str, list[Path]]] = []
    for d in sorted((data_root / EXR_SET).iterdir()):
        if d.is_dir() and d.name not in EVAL_EXRS:
            out.append((f"{EXR_SET}/{d.name}", "exr", sorted(d.glob("*.exr"))))
    for s in BRACKET_SETS:
        for d in sorted(p for p in (data_root / s).iterdir() if p.is_dir()):
            files = sorted(p for p in d.iterdir()
                           if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff"))
            if len(files) >= 2:
                out.append((f"{s}/{d.name}", "bracket", files))
    for r in radiance:
        for path in sorted((data_root / r).glob("*.exr")):
            out.append((f"{r}/{path.stem}", "panorama", [path]))
    return out


def build_cache(data_root: Path, cache_dir: Path, max_side: int = 640, log=print,
                radiance: tuple[str, ...] = ()) -> list[dict]:
    """Compute (or reuse) the ground-truth HDR cache; returns the index entries."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    index_path = cache_dir / "index.json"
    if index_path.is_file():
        index = json.loads(index_path.read_text())
        if index.get("max_side") == max_side and all(
            (cache_dir / e["file"]).is_file() for e in index["images"]
        ):
            return index["images"]
    entries = []
    for i, (name, kind, files) in enumerate(list_sources(data_root, radiance)):
        how = MERGE if kind == "bracket" else "exr"
        try:
            rad = _merge_bracket(files) if kind == "bracket" else _read_exr(files[0])
            if kind == "panorama":  # the stretched poles of a lat-long map are unlike a photo
                rad = rad[int(0.15 * rad.shape[0]): int(0.85 * rad.shape[0])]
        except LumafuseError as exc:  # e.g. a bracket the core refuses: skip it, say why
            log(f"skip {name}: {exc}")
            continue
        rad = _resize_long(rad, max_side)
        if not np.isfinite(rad).all() or rad.max() <= 0:
            log(f"skip {name}: merge gave no valid radiance")
            continue
        rad = rad / np.percentile(rad, 99.0)  # common scale; the camera re-exposes anyway
        fname = f"{i:03d}.npy"
        np.save(cache_dir / fname, np.minimum(rad, 6e4).astype(np.float16))
        dr = float(np.log2(np.percentile(rad, 99.9) / max(np.percentile(rad, 1.0), 1e-6)))
        entries.append({"name": name, "file": fname, "merge": how, "shape": list(rad.shape),
                        "dynamic_range_ev": round(dr, 2)})
        log(f"cached {name} {rad.shape[1]}x{rad.shape[0]} via {how}, ~{dr:.1f} EV")
    index_path.write_text(json.dumps({"max_side": max_side, "images": entries}, indent=1))
    return entries


def load_cache(cache_dir: Path, entries: list[dict]) -> list[np.ndarray]:
    return [np.load(cache_dir / e["file"]).astype(np.float32) for e in entries]


# ----------------------------------------------------------------------------- virtual camera
@dataclass(frozen=True)
class CameraParams:
    """One draw of the virtual camera (all ranges from methods.md 3.6)."""

    q: float  # exposure quantile in [0.85, 0.95]
    noise: float  # Gaussian noise sigma in [0, 0.01]
    hue_deg: float  # hue shift, N(0, 7 degrees)
    sat: float  # HSV saturation offset, N(0, 0.1)
    n: float  # camera curve exponent, N(0.9, 0.1) clamped to [0.2, 2.5]
    sigma: float  # camera curve knee, N(0.6, 0.1) clamped to [0, 5]
    jpeg: int  # JPEG quality in [30, 100] (100 slightly over-represented)


def draw_camera(rng: np.random.Generator) -> CameraParams:
    return CameraParams(
        q=float(rng.uniform(0.85, 0.95)),
        noise=float(rng.uniform(0.0, 0.01)),
        hue_deg=float(rng.normal(0.0, 7.0)),
        sat=float(rng.normal(0.0, 0.1)),
        n=float(np.clip(rng.normal(0.9, 0.1), 0.2, 2.5)),
        sigma=float(np.clip(rng.normal(0.6, 0.1), 0.0, 5.0)),
        jpeg=int(min(100, rng.integers(30, 106))),  # 101..105 -> 100
    )


def camera_curve(h: np.ndarray, n: float, sigma: float) -> np.ndarray:
    """f(H) = (1 + s) H^n / (H^n + s): linear >= 0 -> display, f(1) = 1 (values > 1 clip later)."""
    hn = np.power(np.maximum(h, 0.0), n)
    return (1.0 + sigma) * hn / (hn + sigma + 1e-12)


def _colour_jitter(h: np.ndarray, hue_deg: float, sat: float) -> np.ndarray:
    """Hue/saturation jitter in the sqrt domain (values may exceed 1; OpenCV float HSV keeps V)."""
    s = np.sqrt(h).astype(np.float32)
    hsv = cv2.cvtColor(s, cv2.COLOR_RGB2HSV)  # H in degrees, S in [0,1], V = max
    hsv[..., 0] = np.mod(hsv[..., 0] + hue_deg, 360.0)
    hsv[..., 1] = np.clip(hsv[..., 1] + sat, 0.0, 1.0)
    return np.square(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))


def expose(h: np.ndarray, q: float) -> np.ndarray:
    """Divide by the q-quantile of all channel values so a fraction 1 - q exceeds 1."""
    return h / max(float(np.quantile(h, q)), 1e-8)


def render(h: np.ndarray, cam: CameraParams, rng: np.random.Generator,
           jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Photograph radiance ``h`` (linear >= 0) with ``cam``.

    Returns (ldr float32 display [0,1] after 8-bit + JPEG, ground truth float32 linear >= 0 with
    1.0 = the LDR saturation level).
    """
    g = np.clip(h, 1e-5, 1e5).astype(np.float32)
    g = expose(g, cam.q)
    g = np.maximum(g + rng.normal(0.0, cam.noise, g.shape).astype(np.float32), 0.0)
    if jitter:
        g = _colour_jitter(g, cam.hue_deg, cam.sat)
    g = np.clip(g, 1e-5, 1e10).astype(np.float32)
    ldr8 = np.round(np.clip(camera_curve(g, cam.n, cam.sigma), 0.0, 1.0) * 255.0).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(ldr8, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, cam.jpeg])
    if not ok:
        raise RuntimeError("JPEG encoding failed in the virtual camera")
    ldr = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return ldr.astype(np.float32) / 255.0, g


def random_crop(h: np.ndarray, size: int, rng: np.random.Generator,
                frac: tuple[float, float] = (0.3, 0.8)) -> np.ndarray:
    """Square crop of a random fraction of the short side, resized to ``size``, random flip.

    The paper uses [0.2, 0.6] of the width on large photos; our sources are 356-640 px, so a
    larger fraction keeps the resize close to 1:1.
    """
    ih, iw = h.shape[:2]
    side = int(min(ih, iw) * rng.uniform(*frac))
    side = max(side, min(ih, iw, size // 2))
    y = int(rng.integers(0, ih - side + 1))
    x = int(rng.integers(0, iw - side + 1))
    c = cv2.resize(h[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        c = c[:, ::-1]
    return np.ascontiguousarray(c)


def sample_batch(images: list[np.ndarray], batch: int, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ldr N x 3 x S x S display [0,1], hdr N x 3 x S x S linear) float32 training batch."""
    xs, ys = [], []
    for _ in range(batch):
        img = images[int(rng.integers(len(images)))]
        ldr, gt = render(random_crop(img, size, rng), draw_camera(rng), rng)
        xs.append(ldr.transpose(2, 0, 1))
        ys.append(gt.transpose(2, 0, 1))
    return np.stack(xs), np.stack(ys)
