"""DeepFuse's weight network run in numpy, so a fusion never imports torch.

Why: the network is small (5 convolutions, ~80 k parameters) and runs on a proxy of at most
256 px, so its forward pass is ~0.2 s of BLAS work, while importing torch costs 1.2-1.6 s of every
``fuse -m deepfuse`` command on this machine (and ~650 MB of memory). Training and the
leave-one-source-out bench keep the torch module (:func:`app.models.deepfuse._model_class`);
this file computes the same function from the same safetensors arrays (tests compare the two).

Each convolution is torch's ``Conv2d(padding=k // 2, padding_mode="reflect")`` on channel-last
arrays (H, W, C): the input is padded by reflection (numpy's "reflect" = torch's) and flattened
to rows of C values with the padded width as row stride, so a window shifted by (ky, kx) is one
contiguous slice of it. The k horizontal shifts are laid side by side once per block of rows
(a k*C-wide matrix, 4 MB at a time whatever the image size: cache-sized); each of the k vertical shifts
is then one matrix product with the weights (numpy's BLAS, one thread per block; the blocks
run on a small thread pool, one per core). The extra columns that
the flat layout computes past each row's end are dropped. Measured on the 7x7 32->32 layer at
256 x 190 px: 0.08 s, vs 2.3 s for a plain window gather (im2col through a transposed view).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

LEAK = 0.1  # LeakyReLU slope of the network
_BLOCK_BYTES = 4 << 20  # shifted rows per block (4 MB: 0.25 s for the net; 32 MB: 0.40 s)
# Blocks of rows run on this many threads with one BLAS thread each: OpenBLAS's own threads
# gained only 1.3x on these thin products (N = Cout = 16-32) on 2 cores, the blocks ~1.9x.
_THREADS = max(1, min(4, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(H, W, Cin) float32 -> (H, W, Cout): reflect-padded 'same' convolution with ``weight``
    (Cout, Cin, k, k), k odd, and ``bias`` (Cout,), as torch computes it."""
    h, w, cin = x.shape
    cout, cin_w, k, k2 = weight.shape
    if cin_w != cin or k != k2 or k % 2 == 0 or min(h, w) <= k // 2:
        raise ValueError(f"weight {weight.shape} does not fit input {x.shape}")
    p = k // 2
    wp = w + 2 * p
    xp = np.pad(np.asarray(x, np.float32), ((p, p), (p, p), (0, 0)), mode="reflect")
    # k - 1 zero rows at the end: the last shifted slices stay in bounds (they only feed the
    # dropped columns)
    flat = np.concatenate([xp.reshape(-1, cin), np.zeros((k - 1, cin), np.float32)])
    # weights as [ky][kx * Cin + c, o], matching the side-by-side horizontal shifts
    mats = np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(k, k * cin, cout),
                                np.float32)
    out = np.empty((h, w, cout), np.float32)
    rows = max(1, _BLOCK_BYTES // (wp * k * cin * 4) - (k - 1))
    rows = min(rows, -(-h // _THREADS))  # at least one block per thread

    def block(a: int) -> None:
        b = min(h, a + rows)
        span = (b - a + k - 1) * wp  # padded rows a .. b + k - 2, flattened
        shifted = np.empty((span, k * cin), np.float32)
        for kx in range(k):
            shifted[:, kx * cin : (kx + 1) * cin] = flat[a * wp + kx : a * wp + kx + span]
        acc = shifted[: (b - a) * wp] @ mats[0]
        for ky in range(1, k):
            acc += shifted[ky * wp : ky * wp + (b - a) * wp] @ mats[ky]
        out[a:b] = acc.reshape(b - a, wp, cout)[:, :w]

    list(_pool().map(block, range(0, h, rows)))  # list(): re-raises a block's exception
    out += bias.astype(np.float32)
    return out


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="deepfuse-conv")
    return _POOL


def _act(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * np.float32(LEAK)).astype(np.float32, copy=False)


def weight_net(ys: np.ndarray, arrays: Mapping[str, np.ndarray], prior_sigma: float) -> np.ndarray:
    """The network's forward pass: luma of K exposures (K, h, w) in [0, 1] -> softmax blend
    weights (K, h, w), float32, summing to 1 over K (see DeepFuseWeightNet.forward)."""
    with threadpool_limits(limits=1, user_api="blas"):  # conv2d's blocks use the cores
        return _weight_net(ys, arrays, prior_sigma)


def _weight_net(ys: np.ndarray, arrays: Mapping[str, np.ndarray], prior_sigma: float) -> np.ndarray:
    def conv(name: str, x: np.ndarray) -> np.ndarray:
        return conv2d(x, arrays[f"{name}.weight"], arrays[f"{name}.bias"])

    ys = np.asarray(ys, np.float32)
    # tied pre-fusion layers on each input's luma
    feats = [_act(conv("pre2", _act(conv("pre1", (y - np.float32(0.5))[..., None]))))
             for y in ys]
    ctx = _act(conv("rec3", np.sum(feats, axis=0)))  # the order-free feature sum
    logits = np.stack([conv("out", _act(conv("rec4", np.concatenate([f, ctx], axis=2))))[..., 0]
                       for f in feats])
    if prior_sigma > 0:
        logits = logits - (ys - np.float32(0.5)) ** 2 / np.float32(2 * prior_sigma**2)
    logits -= logits.max(axis=0, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)
