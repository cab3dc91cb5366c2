"""PSNR on linear HDR values (PSNR-L) and on mu-law compressed values (PSNR-mu).

Both normalise the reference and the test image by the reference's maximum, so H in [0, 1] for
the reference (the convention of Kalantari et al. 2017 and later dynamic-HDR papers; anchors.md).
The mu-law T(H) = log(1 + mu H) / log(1 + mu), mu = 5000, is defined once here (:func:`mu_law`)
and used by everything that needs it (metrics, training losses).
"""

from __future__ import annotations

import numpy as np

from app.core.errors import InputError

MU = 5000.0


def mu_law(h: np.ndarray, mu: float = MU) -> np.ndarray:
    """T(H) = log(1 + mu H) / log(1 + mu). h: linear values normalised to [0, 1] -> [0, 1]."""
    h = np.asarray(h)
    dtype = h.dtype if np.issubdtype(h.dtype, np.floating) else np.float64
    return (np.log1p(mu * h) / np.log1p(mu)).astype(dtype, copy=False)


def _normalised(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ref, test / max(ref) in float64, checked (same shape, finite, ref has a positive maximum)."""
    r = np.asarray(ref, dtype=np.float64)
    t = np.asarray(test, dtype=np.float64)
    if r.shape != t.shape:
        raise InputError(f"PSNR: reference shape {r.shape} differs from test shape {t.shape}")
    if r.size == 0:
        raise InputError("PSNR: empty images")
    if not (np.isfinite(r).all() and np.isfinite(t).all()):
        raise InputError("PSNR: images contain NaN or infinite values")
    peak = float(r.max())
    if peak <= 0:
        raise InputError("PSNR: the reference image is all zero (no peak to normalise by)")
    return r / peak, t / peak


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB for signals with peak 1; identical images give +inf."""
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(1.0 / mse))


def psnr_l(ref: np.ndarray, test: np.ndarray) -> float:
    """PSNR-L in dB: PSNR of linear values, both divided by the reference maximum (peak 1).

    ref: linear radiance >= 0 (ground truth); test: linear radiance, same shape.
    """
    r, t = _normalised(ref, test)
    return _psnr(r, t)


def psnr_mu(ref: np.ndarray, test: np.ndarray, mu: float = MU) -> float:
    """PSNR-mu in dB: PSNR after :func:`mu_law` on values divided by the reference maximum.

    The test image is clipped to [0, 1] after normalisation (T is defined on [0, 1]; values above
    the reference peak are a highlight error that the clip still counts against it).
    """
    r, t = _normalised(ref, test)
    return _psnr(mu_law(r, mu), mu_law(np.clip(t, 0.0, 1.0), mu))
