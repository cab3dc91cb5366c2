"""Random-initialised weights in the shipped files' layouts, for tests that need no trained file."""

from __future__ import annotations

import numpy as np


def random_deepfuse_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """The deepfuse network's arrays (app.models.deepfuse.expected_shapes), He-uniform like
    torch's Conv2d, the output layer included (torch starts it at zero), so the network part of
    the blend is not a no-op."""
    from app.models import deepfuse

    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in deepfuse.expected_shapes(deepfuse.DEFAULT_HPARAMS).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 16
        bound = 1.0 / np.sqrt(fan_in)
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return out


def random_hdrcnn_arrays(width: float = 0.25, seed: int = 0) -> dict[str, np.ndarray]:
    """The HDRCNN network's arrays (app.models.hdrcnn_numpy.expected_shapes), He-uniform
    weights, BatchNorm with unit statistics."""
    from app.models import hdrcnn_numpy

    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in hdrcnn_numpy.expected_shapes(width).items():
        if name.endswith("running_var"):
            out[name] = np.ones(shape, np.float32)
        elif name.endswith("running_mean"):
            out[name] = np.zeros(shape, np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 16
            out[name] = rng.uniform(-1, 1, shape).astype(np.float32) * np.float32(
                np.sqrt(6.0 / fan_in))
    return out


def fake_numpy_weights(key: str):
    """Stand-in for app.models.weights.load_numpy: (arrays, metadata, sha256) per key."""
    from app.models import deepfuse, hdrcnn, hdrcnn_numpy, rl_fusion

    if key == deepfuse.WEIGHTS_KEY:
        return random_deepfuse_arrays(), {"arch": deepfuse.ARCH}, "ab" * 32
    if key == hdrcnn.WEIGHTS_KEY:
        return (random_hdrcnn_arrays(), {"arch": hdrcnn_numpy.ARCH_ID,
                                         "hparams": '{"width": 0.25}'}, "ab" * 32)
    return (rl_fusion.random_weights(1),
            {"arch": rl_fusion.ARCH, "hparams": '{"content": true, "hidden": [256, 256]}'},
            "ab" * 32)


def numpy_deepfuse_model():
    """The deepfuse CPU network with :func:`random_deepfuse_arrays` (what fake_numpy_weights
    makes run() use)."""
    from app.models import deepfuse

    return deepfuse.NumpyWeightNet(random_deepfuse_arrays(), dict(deepfuse.DEFAULT_HPARAMS))
