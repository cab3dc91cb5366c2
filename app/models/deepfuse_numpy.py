"""DeepFuse's weight network run in numpy, so a fusion never imports torch.

Why: the network is small (5 convolutions, ~80 k parameters) and runs on a proxy of at most
256 px, so its forward pass is ~0.2 s of BLAS work, while importing torch costs 1.2-1.6 s of every
``fuse -m deepfuse`` command on this machine (and ~650 MB of memory). Training and the
leave-one-source-out bench keep the torch module (:func:`app.models.deepfuse._model_class`);
this file computes the same function from the same safetensors arrays (tests compare the two).
The convolutions are :func:`app.models.numpy_conv.conv2d` (reflect padding, as the module has).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from app.models.numpy_conv import conv2d

LEAK = 0.1  # LeakyReLU slope of the network


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
