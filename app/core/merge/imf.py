"""A virtual middle exposure from a two-exposure pair by intensity mapping functions (IMF).

As Yin et al.'s ``utils_fusion.py`` (methods.md 1.4), with the MATLAB-port off-by-one left out:

* per channel, the intensity mapping functions between the two frames come from matching their
  cumulative histograms: ``m_UO(i) = argmin_j |H_U(i) - H_O(j)|`` brightens the under-exposed
  frame into the over-exposed one's codes, ``m_OU`` darkens the over-exposed one;
* two middle estimates, geometric means: ``M_O = sqrt(O * m_OU(O))``, ``M_U = sqrt(U * m_UO(U))``;
* blended per channel with smooth-step weights, each estimate trusted where its own frame is
  reliable: ``M_O`` (from the over-exposed frame) fades out as O nears clipping (1 below code
  200, 0 from 250), ``M_U`` fades out in U's deep shadows (0 below code 10, 1 from 55).

The released code evaluates the two weights the other way round (the "dark" weight on O, the
"clipped" weight on U: methods.md 1.4 notes the literature intends this order). As released, M_O
keeps full weight where O is clipped, so the clip boundary of O is drawn into the middle frame
as hard-edged blotches around every light source (seen on mef-extra TableLamp); trusting each
estimate where its frame is reliable removes them. ``released=True`` gives the released order.

Frames are display-referred 8-bit codes (uint8, or float [0, 1] quantised to codes); the result
is float32 HxWx3 display-referred [0, 1] (the released code truncates it to uint8).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.errors import InputError


def _codes(frame: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 codes of a uint8 frame or a float [0, 1] one (rounded)."""
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"the virtual middle exposure needs HxWx3 frames, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"the virtual middle exposure needs uint8 or float frames, got {a.dtype}")
    return cv2.convertScaleAbs(np.ascontiguousarray(a, np.float32), alpha=255.0)


def mapping_function(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The intensity mapping function of one channel: a 256-entry uint8 table m with
    m(i) = argmin_j |H_src(i) - H_dst(j)| (H = cumulative histograms; ties take the lowest j).

    src, dst: uint8 arrays of one channel with the same number of pixels.
    """
    return mapping_from_histograms(np.bincount(src.reshape(-1), minlength=256),
                                   np.bincount(dst.reshape(-1), minlength=256))


def mapping_from_histograms(hist_src: np.ndarray, hist_dst: np.ndarray) -> np.ndarray:
    """:func:`mapping_function` from the two channels' 256-bin histograms (counts)."""
    h_src = np.cumsum(np.rint(hist_src).astype(np.int64))
    h_dst = np.cumsum(np.rint(hist_dst).astype(np.int64))
    # h_dst is non-decreasing: the nearest value is at the insertion point or just before it
    right = np.clip(np.searchsorted(h_dst, h_src, side="left"), 0, 255)
    left = np.clip(right - 1, 0, 255)
    pick_left = np.abs(h_src - h_dst[left]) <= np.abs(h_src - h_dst[right])
    # the lowest j among equal distances: step back over runs of equal cumulative counts
    best = np.where(pick_left, left, right)
    first = np.searchsorted(h_dst, h_dst[best], side="left")
    return first.astype(np.uint8)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return 1.0 - 3.0 * t * t + 2.0 * t * t * t


def _weight_table(kind: str) -> np.ndarray:
    z = np.arange(256, dtype=np.float32)
    if kind == "over":  # 0 below 10, S((55 - z) / 45) up to 55, 1 from 55
        w = np.where(z < 10, 0.0, np.where(z >= 55, 1.0, _smoothstep((55.0 - z) / 45.0)))
    else:  # "under": 1 below 200, S((z - 200) / 50) up to 250, 0 from 250
        w = np.where(z < 200, 1.0, np.where(z >= 250, 0.0, _smoothstep((z - 200.0) / 50.0)))
    return w.astype(np.float32)


_W_OVER = _weight_table("over")
_W_UNDER = _weight_table("under")


def virtual_middle(under: np.ndarray, over: np.ndarray, released: bool = False) -> np.ndarray:
    """The IMF virtual middle exposure of an (under, over) pair of one size.

    under, over: HxWx3 display-referred frames (uint8 codes, or float [0, 1]).
    Returns float32 HxWx3 display-referred [0, 1].

    Every term is a function of one frame's code in one channel (M_U and w_U of U's code, M_O
    and w_O of O's), so the blend is (A[O] + B[U]) / (C[O] + D[U]) with four 256-entry tables
    per channel, applied with OpenCV's LUT: a 12 MP pair takes about a tenth of a second.
    """
    u, o = np.ascontiguousarray(_codes(under)), np.ascontiguousarray(_codes(over))
    if u.shape != o.shape:
        raise InputError(f"the two exposures differ in size: {u.shape} vs {o.shape}")
    # weight of M_O as a function of O's code, weight of M_U as a function of U's code
    w_over, w_under = (_W_OVER, _W_UNDER) if released else (_W_UNDER, _W_OVER)
    codes = np.arange(256, dtype=np.float64)
    tables = np.empty((4, 256, 3), np.float32)  # A, B, C, D per channel
    for c in range(3):
        hist_u = cv2.calcHist([u], [c], None, [256], [0, 256]).ravel()
        hist_o = cv2.calcHist([o], [c], None, [256], [0, 256]).ravel()
        m_u = np.sqrt(codes * mapping_from_histograms(hist_u, hist_o))  # under -> over codes
        m_o = np.sqrt(codes * mapping_from_histograms(hist_o, hist_u))  # over -> under codes
        tables[0, :, c] = w_over * m_o / 255.0
        tables[1, :, c] = w_under * m_u / 255.0
        tables[2, :, c] = w_over
        tables[3, :, c] = w_under + np.float32(1e-17)
    num = cv2.add(cv2.LUT(o, tables[0][:, None, :]), cv2.LUT(u, tables[1][:, None, :]))
    den = cv2.add(cv2.LUT(o, tables[2][:, None, :]), cv2.LUT(u, tables[3][:, None, :]))
    out = cv2.divide(num, den)
    return np.clip(out, 0.0, 1.0, out=out)
