"""HDRCNN's network run in numpy, so a single-photo HDR on the CPU never imports torch.

Why: at the default width (0.25: 16..128 channels) and net size (384 px) the forward pass is
~4 GFLOP, a fraction of a second of BLAS work, while ``import torch`` alone took 2.0-3.5 s of
every ``fuse -m hdrcnn`` command on this 2-core machine (the issue's budget for the whole
command is 5 s) and ~300 MB of memory. Training, the benches and the GPU keep the torch module
(:mod:`app.models.hdrcnn_net`); this file computes the same function from the same safetensors
arrays (a test compares the two on the shipped weights).

Layers on channel-last float32 arrays (H, W, C), as the module has them in eval mode:
3x3 convolutions with zero padding (:func:`app.models.numpy_conv.conv2d`), 2x2 max-pools,
BatchNorm folded into the convolution before it (running statistics), the 4x4 stride-2
transposed convolutions as four 2x2 sub-pixel convolutions (one per output parity), and the
1x1 skip fusions as matrix products over [decoder, log(e^2 + 1/255)].
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from app.models.numpy_conv import conv2d

EPS = 1.0 / 255.0  # offset of the network's log domain and of the skip transform
BN_EPS = 1e-5  # torch's BatchNorm2d default
# the layout, shared with the torch module (app.models.hdrcnn_net imports it from here)
VGG_BLOCKS = (2, 2, 3, 3, 3)  # convs per VGG16 block
VGG_WIDTHS = (64, 128, 256, 512, 512)  # paper channel counts at width 1.0
ARCH_ID = "hdrcnn-vgg16-unet-v1"
MULTIPLE = 32  # five 2x2 max-pools


def channels(width: float) -> tuple[int, ...]:
    """Per-level channel counts at a width multiplier (at least 4 channels per level)."""
    return tuple(max(4, int(round(c * width))) for c in VGG_WIDTHS)


def expected_shapes(width: float) -> dict[str, tuple[int, ...]]:
    """Array name -> shape of the network's float arrays at this width (the file layout; the
    BatchNorm counters ``num_batches_tracked`` are not used in eval mode and left out)."""
    ch = channels(width)
    out: dict[str, tuple[int, ...]] = {}

    def layer(name: str, weight: tuple[int, ...], bias: int) -> None:
        out[f"{name}.weight"], out[f"{name}.bias"] = weight, (bias,)

    def bn(name: str, c: int) -> None:
        layer(name, (c,), c)
        out[f"{name}.running_mean"] = out[f"{name}.running_var"] = (c,)

    c_prev = 3
    for b, (n_conv, c) in enumerate(zip(VGG_BLOCKS, ch)):
        for k in range(n_conv):
            layer(f"encoder.{b}.{2 * k}", (c, c_prev, 3, 3), c)
            c_prev = c
    layer("latent.0", (ch[4], ch[4], 3, 3), ch[4])
    bn("latent.1", ch[4])
    for i, (cin, cout) in enumerate(zip((ch[4], ch[4], ch[3], ch[2], ch[1]),
                                        (ch[4], ch[3], ch[2], ch[1], ch[0]))):
        layer(f"up.{i}.deconv", (cin, cout, 4, 4), cout)
        bn(f"up.{i}.bn", cout)
    for i, c in enumerate((ch[4], ch[3], ch[2], ch[1], ch[0])):
        layer(f"fuse.{i}.conv", (c, 2 * c, 1, 1), c)
    layer("head", (3, ch[0], 1, 1), 3)
    bn("head_bn", 3)
    layer("fuse_in.conv", (3, 6, 1, 1), 3)
    return out


class NumpyHdrcnn:
    """The shipped network as float32 arrays, called like the torch module on one image:
    display [0, 1] (H, W, 3), multiples of 32 -> log HDR (H, W, 3)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return forward(x, self.arrays)


def _bn(arrays: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode BatchNorm ``name`` as a per-channel (scale, shift)."""
    scale = arrays[f"{name}.weight"] / np.sqrt(arrays[f"{name}.running_var"] + np.float32(BN_EPS))
    shift = arrays[f"{name}.bias"] - arrays[f"{name}.running_mean"] * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _pool(x: np.ndarray) -> np.ndarray:
    """2x2 max-pool, stride 2 (H and W even)."""
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))


def _log_t(e: np.ndarray) -> np.ndarray:
    """T(e) = log(e^2 + 1/255), the skip connections' domain transform."""
    return np.log(e * e + np.float32(EPS))


def _conv1x1(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    h, w, c = x.shape
    return (x.reshape(-1, c) @ weight[:, :, 0, 0].T + bias).reshape(h, w, -1)


def _skip_fuse(arrays: Mapping[str, np.ndarray], name: str, d: np.ndarray,
               e: np.ndarray) -> np.ndarray:
    """1x1 conv over the channel concatenation [d, T(e)] (SkipFuse), without making it."""
    weight, bias = arrays[f"{name}.conv.weight"][:, :, 0, 0], arrays[f"{name}.conv.bias"]
    c = d.shape[2]
    h, w = d.shape[:2]
    out = d.reshape(-1, c) @ weight[:, :c].T
    out += _log_t(e).reshape(-1, e.shape[2]) @ weight[:, c:].T
    out += bias
    return out.reshape(h, w, -1)


def _deconv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ConvTranspose2d(k=4, stride=2, padding=1) of (H, W, Cin) -> (2H, 2W, Cout); ``weight``
    (Cin, Cout, 4, 4). Output row 2m takes input rows m-1 and m (kernel rows 3 and 1), row
    2m+1 rows m and m+1 (kernel rows 2 and 0); the same for columns."""
    h, w, cin = x.shape
    cout = weight.shape[1]
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.empty((2 * h, 2 * w, cout), np.float32)
    for ry in (0, 1):
        for rx in (0, 1):
            acc = np.zeros((h * w, cout), np.float32)
            for dy in (0, 1):
                ky = (3 if ry == 0 else 2) - 2 * dy
                for dx in (0, 1):
                    kx = (3 if rx == 0 else 2) - 2 * dx
                    win = xp[ry + dy: ry + dy + h, rx + dx: rx + dx + w].reshape(-1, cin)
                    acc += win @ weight[:, :, ky, kx]
            out[ry::2, rx::2] = acc.reshape(h, w, cout)
    out += bias
    return out


def forward(x: np.ndarray, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The network on one display-referred [0, 1] image (H, W, 3), H and W multiples of 32:
    log HDR y = log(H + 1/255), (H, W, 3) float32 (see hdrcnn_net.HDRCNN.forward)."""
    h, w = x.shape[:2]
    if h % MULTIPLE or w % MULTIPLE:
        raise ValueError(f"HDRCNN input must be a multiple of 32 pixels, got {w}x{h}")
    x = np.ascontiguousarray(x, np.float32)
    with threadpool_limits(limits=1, user_api="blas"):  # conv2d's row blocks use the cores
        return _forward(x, arrays)


def _forward(x: np.ndarray, a: Mapping[str, np.ndarray]) -> np.ndarray:
    skips = []
    f = x - np.float32(0.5)
    for b, n_conv in enumerate(VGG_BLOCKS):
        for k in range(n_conv):
            name = f"encoder.{b}.{2 * k}"
            f = _relu(conv2d(f, a[f"{name}.weight"], a[f"{name}.bias"], padding="zeros"))
        skips.append(f)
        f = _pool(f)
    scale, shift = _bn(a, "latent.1")
    f = _relu(conv2d(f, a["latent.0.weight"] * scale[:, None, None, None],
                     a["latent.0.bias"] * scale + shift, padding="zeros"))

    def up(i: int, t: np.ndarray) -> np.ndarray:
        s, sh = _bn(a, f"up.{i}.bn")
        return _relu(_deconv(t, a[f"up.{i}.deconv.weight"] * s[None, :, None, None],
                             a[f"up.{i}.deconv.bias"] * s + sh))

    f = up(0, f)  # H/32 -> H/16
    for i in range(1, 5):  # fuse e5..e2, then up-sample
        f = up(i, _skip_fuse(a, f"fuse.{i - 1}", f, skips[5 - i]))
    f = _skip_fuse(a, "fuse.4", f, skips[0])  # full resolution
    s, sh = _bn(a, "head_bn")
    f = _relu(_conv1x1(f, a["head.weight"] * s[:, None, None, None], a["head.bias"] * s + sh))
    return np.ascontiguousarray(_skip_fuse(a, "fuse_in", f, x), np.float32)
