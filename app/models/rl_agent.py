"""The pieces of the RL intermediate-generation agent that are not a network (Yin et al. 2022):
its actions, its state, its distance, and the three-frame fusion it steers. numpy + OpenCV.

Domains: every image is display-referred RGB float32 HxWx3 in [0, 1].

* Actions (methods.md 1.6, fixed for a fresh training): contrast x0.95 / x1.05 on the HSV value
  around its image mean, saturation x0.95 / x1.05 of the BT.601 chroma around neutral (the
  released code pulls Cb and Cr toward each other on BGR data), brightness /1.1 / x1.1 (the code
  uses 0.93 / 1.07; half the scenes then hit the 20-step cap, methods.md 1.12). Each result is
  clipped to [0, 1].
* Fusion: the product's Mertens fusion of (under, middle, over) with the registry defaults, chosen
  by measurement over the spec's MEF3 (``app.core.merge.mef3``; see README, RL fusion).
* State: a 10x10x10 joint histogram of the middle frame's per-pixel (well-exposedness,
  saturation, contrast), L2-normalised (the quality feature; 20 bins per axis in the paper), and a
  content feature replacing VGG16-fc6 (not obtainable here): 24-bin luma histograms and luma
  mean / standard deviation of the under, over, middle and fused frames, the fused frame's
  clipped and crushed shares, and the step count.
* Distance: mean CIELab Delta-E 1976 between a fused image and its reference (Distort-and-Recover
  uses CIELab L2; Delta-E keeps the reward in perceptual units across scenes).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from app.core.merge import fuse_mertens
from app.core.progress import TaskContext

ACTIONS: tuple[str, ...] = (
    "contrast down", "contrast up", "saturation down", "saturation up",
    "brightness down", "brightness up",
)
FACTORS: tuple[float, ...] = (0.95, 1.05, 0.95, 1.05, 1.0 / 1.1, 1.1)
POLICY_SIZE = 224
QUALITY_BINS = 10
LUMA_BINS = 24
_LUMA601 = np.array([[0.299, 0.587, 0.114]], np.float32)
# BT.601 RGB -> (Y, Cb - 0.5, Cr - 0.5) and back: saturation scales the last two rows
_YCC = np.array([[0.299, 0.587, 0.114],
                 [-0.168736, -0.331264, 0.5],
                 [0.5, -0.418688, -0.081312]], np.float64)
_YCC_INV = np.linalg.inv(_YCC)
FUSION_PARAMS = {"contrast": 1.0, "saturation": 1.0, "exposedness": 0.5, "sigma": 0.2}


def apply_action(image: np.ndarray, action: int, out: np.ndarray | None = None) -> np.ndarray:
    """Action ``action`` (index into :data:`ACTIONS`) applied to display RGB [0, 1]; clipped."""
    beta = FACTORS[action]
    img = np.asarray(image, np.float32)
    if action in (4, 5):  # brightness: V_hsv scaled = every channel scaled
        res = cv2.multiply(img, (beta, beta, beta, 0.0), dst=out)
    elif action in (0, 1):  # contrast of the HSV value around its image mean
        flat = np.ascontiguousarray(img).reshape(-1, 3)
        value = cv2.reduce(flat, 1, cv2.REDUCE_MAX)  # (N, 1)
        shift = (1.0 - beta) * float(value.mean())
        # V' / V = beta + shift / V; V = 0 is floored so black stays black (finite ratio times
        # zero) in the product and is set to the new grey value below
        ratio = cv2.divide(shift, cv2.max(value, 1e-12))
        ratio += np.float32(beta)
        res = np.multiply(img, ratio.reshape(img.shape[:2] + (1,)), out=out)
        if shift > 0:
            black = value.reshape(img.shape[:2]) <= 0  # no hue to keep: grey at the new value
            if np.any(black):
                res[black] = np.float32(shift)
    else:  # saturation: chroma around neutral in BT.601 YCbCr, luma kept
        res = cv2.transform(img, _saturation_matrix(beta), dst=out)
    return np.clip(res, 0.0, 1.0, out=res)


def _saturation_matrix(beta: float) -> np.ndarray:
    return (_YCC_INV @ np.diag([1.0, beta, beta]) @ _YCC).astype(np.float32)


def saturate(image: np.ndarray, beta: float) -> np.ndarray:
    """Display RGB [0, 1] with its BT.601 chroma scaled by ``beta`` (luma kept), clipped."""
    res = cv2.transform(np.asarray(image, np.float32), _saturation_matrix(beta))
    return np.clip(res, 0.0, 1.0, out=res)


def fuse_three(under: np.ndarray, middle: np.ndarray, over: np.ndarray,
               ctx: TaskContext | None = None) -> np.ndarray:
    """The fusion the agent steers: Mertens of (under, middle, over), display RGB [0, 1]."""
    return fuse_mertens([under, middle, over], **FUSION_PARAMS, ctx=ctx)


def policy_view(image: np.ndarray) -> np.ndarray:
    """The image squashed to POLICY_SIZE x POLICY_SIZE (area averaging), float32 [0, 1]."""
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) * np.float32(1.0 / 255.0)
    return cv2.resize(np.ascontiguousarray(img, np.float32), (POLICY_SIZE, POLICY_SIZE),
                      interpolation=cv2.INTER_AREA)


def quality_histogram(image: np.ndarray) -> np.ndarray:
    """L2-normalised QUALITY_BINS^3 joint histogram of per-pixel (well-exposedness, saturation,
    contrast) as Mertens / MEF3 define them (exposedness exp(-10 sum (c - 0.5)^2))."""
    grey = cv2.transform(image, _LUMA601)
    contrast = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
    saturation = np.std(image, axis=2)
    exposed = np.exp(-10.0 * np.sum((image - 0.5) ** 2, axis=2))
    n = QUALITY_BINS
    idx = [np.minimum((np.clip(v, 0.0, 1.0 - 1e-7) * n).astype(np.int64), n - 1)
           for v in (exposed, saturation, contrast)]
    flat = (idx[0] * n + idx[1]) * n + idx[2]
    hist = np.bincount(flat.reshape(-1), minlength=n**3).astype(np.float32)
    return hist / max(float(np.linalg.norm(hist)), 1e-12)


def _luma_stats(image: np.ndarray) -> np.ndarray:
    y = cv2.transform(image, _LUMA601).reshape(-1)
    hist = np.bincount(np.minimum((y * LUMA_BINS).astype(np.int64), LUMA_BINS - 1),
                       minlength=LUMA_BINS).astype(np.float32) / y.size
    return np.concatenate([hist, [y.mean(), y.std()]]).astype(np.float32)


def content_feature(under: np.ndarray, over: np.ndarray, middle: np.ndarray,
                    fused: np.ndarray, step: int, max_steps: int) -> np.ndarray:
    """See the module docstring; all inputs at the policy size."""
    peak = cv2.reduce(fused.reshape(-1, 3), 1, cv2.REDUCE_MAX)
    low = cv2.reduce(fused.reshape(-1, 3), 1, cv2.REDUCE_MIN)
    extra = [float(np.mean(peak >= 0.99)), float(np.mean(low <= 0.01)), step / max(max_steps, 1)]
    return np.concatenate([_luma_stats(under), _luma_stats(over), _luma_stats(middle),
                           _luma_stats(fused), np.asarray(extra, np.float32)])


def state(under: np.ndarray, over: np.ndarray, middle: np.ndarray, fused: np.ndarray,
          step: int, max_steps: int, content: bool = True) -> np.ndarray:
    """The agent's state vector (float32); ``content`` False: the quality histogram alone."""
    q = quality_histogram(middle)
    if not content:
        return q
    return np.concatenate([q, content_feature(under, over, middle, fused, step, max_steps)])


def state_size(content: bool = True) -> int:
    return QUALITY_BINS**3 + (4 * (LUMA_BINS + 2) + 3 if content else 0)


def lab(image: np.ndarray) -> np.ndarray:
    """CIELab (L in [0, 100]) of display sRGB float32 [0, 1]."""
    return cv2.cvtColor(np.ascontiguousarray(np.clip(image, 0.0, 1.0), np.float32),
                        cv2.COLOR_RGB2Lab)


def delta_e(image: np.ndarray, reference_lab: np.ndarray) -> float:
    """Mean CIELab Delta-E 1976 between display RGB ``image`` and a reference given in Lab."""
    d = lab(image) - reference_lab
    return float(np.mean(np.sqrt(np.sum(d * d, axis=2))))


_CONTRACTIONS = (2, 4)  # saturation down, brightness down: never leave [0, 1] (no clip to do)


def _linear_matrix(action: int) -> np.ndarray:
    if action in (4, 5):
        return np.eye(3, dtype=np.float32) * np.float32(FACTORS[action])
    return _saturation_matrix(FACTORS[action])


def replay(middle: np.ndarray, actions: Sequence[int]) -> np.ndarray:
    """The middle frame after ``actions`` (in order), each clipped; float32 copy.

    Saturation and brightness are 3x3 linear maps. Saturation down (a convex blend of each pixel
    with its grey) and brightness down never leave [0, 1], so their clip does nothing: a run of
    them and the linear action after it are applied as one matrix product (17 saturation edits
    and a brightness edit: one pass over a 12 MP frame instead of 18). Equal to applying the
    actions one by one up to float rounding (~1e-7).
    """
    out = np.array(middle, np.float32, copy=True)
    pending: np.ndarray | None = None

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            cv2.transform(out, pending, dst=out)
            np.clip(out, 0.0, 1.0, out=out)
            pending = None

    for a in actions:
        if a in (0, 1):  # contrast: not linear (the image mean, the HSV value)
            flush()
            apply_action(out, a, out=out)
            continue
        m = _linear_matrix(a)
        pending = m if pending is None else (m.astype(np.float64) @ pending).astype(np.float32)
        if a not in _CONTRACTIONS:
            flush()
    flush()
    return out
