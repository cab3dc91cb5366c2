"""HDRCNN network (Eilertsen et al., SIGGRAPH Asia 2017), methods.md section 3.2, in PyTorch.

Only importable where torch is installed: :mod:`app.models.hdrcnn` imports this module lazily.

Layout (width multiplier ``width`` scales every channel count; 1.0 = the paper's 64..512):

* encoder: VGG16 conv blocks (2, 2, 3, 3, 3 convs of 3x3 + ReLU) each followed by a 2x2 max-pool;
  the pre-pool activations e1..e5 feed the skip connections;
* latent: 3x3 conv + BatchNorm + ReLU at H/32;
* decoder: transposed conv 4x4 stride 2 initialised as a bilinear up-sampler + BN + ReLU,
  five times, each (except the first) after a skip fusion with T(e) of the matching encoder level;
* head: 1x1 conv -> 3 channels + BN + ReLU, then fusion with T(x) of the input image.

Input domain: x in [0, 1], display-referred (camera JPEG values). The paper feeds 255*x minus the
Caffe VGG mean and transforms skips with T(e) = log((e/255)^2 + 1/255). We train from scratch,
so the encoder takes (x - 0.5) directly and T(e) = log(e^2 + 1/255) is applied to activations in
the [0, 1]-input scale: the same function with the 1/255 rescaling folded in.

Output: y = log(H + 1/255), H the predicted linear relative radiance (1.0 = sensor saturation).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# the layout, shared with the numpy forward pass the CPU runs (app.models.hdrcnn_numpy)
from app.models.hdrcnn_numpy import ARCH_ID, EPS, VGG_BLOCKS, VGG_WIDTHS, channels

__all__ = ["ARCH_ID", "EPS", "VGG_BLOCKS", "VGG_WIDTHS", "channels", "log_transform", "SkipFuse",
           "UpBlock", "HDRCNN", "build_model", "count_parameters"]


def log_transform(e: torch.Tensor) -> torch.Tensor:
    """Skip-connection domain transform T(e) = log(e^2 + 1/255): LDR display -> log HDR."""
    return torch.log(e * e + EPS)


def _bilinear_kernel(ch_in: int, ch_out: int, k: int = 4) -> torch.Tensor:
    """ConvTranspose2d weight [in, out, k, k] that up-samples each channel bilinearly (x2)."""
    factor = (k + 1) // 2
    centre = factor - 0.5 if k % 2 == 0 else factor - 1
    og = torch.arange(k, dtype=torch.float32)
    filt1d = 1 - torch.abs(og - centre) / factor
    filt = filt1d[:, None] * filt1d[None, :]
    w = torch.zeros(ch_in, ch_out, k, k)
    for c in range(min(ch_in, ch_out)):
        w[c, c] = filt
    return w


class SkipFuse(nn.Module):
    """1x1 conv over [decoder, T(encoder)] (2c -> c), initialised to an element-wise sum."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * c, c, 1)
        with torch.no_grad():
            eye = torch.eye(c)[:, :, None, None]
            self.conv.weight.copy_(torch.cat([eye, eye], dim=1))
            self.conv.bias.zero_()

    def forward(self, d: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([d, log_transform(e)], dim=1))


class UpBlock(nn.Module):
    """Transposed conv 4x4/2 (bilinear init) + BatchNorm + ReLU: doubles the resolution."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        with torch.no_grad():
            self.deconv.weight.copy_(_bilinear_kernel(c_in, c_out))
            self.deconv.bias.zero_()
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.deconv(x)))


class HDRCNN(nn.Module):
    """Encoder-decoder predicting log HDR from a display-referred [0,1] RGB image.

    Input: N x 3 x H x W, H and W multiples of 32. Output: same shape, log(H + 1/255).
    """

    def __init__(self, width: float = 0.25) -> None:
        super().__init__()
        self.width = float(width)
        ch = channels(width)
        self.encoder = nn.ModuleList()
        c_prev = 3
        for n_conv, c in zip(VGG_BLOCKS, ch):
            layers: list[nn.Module] = []
            for _ in range(n_conv):
                layers += [nn.Conv2d(c_prev, c, 3, padding=1), nn.ReLU(inplace=True)]
                c_prev = c
            self.encoder.append(nn.Sequential(*layers))
        self.pool = nn.MaxPool2d(2, 2)
        self.latent = nn.Sequential(
            nn.Conv2d(ch[4], ch[4], 3, padding=1), nn.BatchNorm2d(ch[4]), nn.ReLU(inplace=True)
        )
        # decoder: h1 up (c5->c5); h2..h5 skip-fuse then up; h6 skip-fuse at full resolution
        self.up = nn.ModuleList(
            [UpBlock(ch[4], ch[4]), UpBlock(ch[4], ch[3]), UpBlock(ch[3], ch[2]),
             UpBlock(ch[2], ch[1]), UpBlock(ch[1], ch[0])]
        )
        self.fuse = nn.ModuleList([SkipFuse(c) for c in (ch[4], ch[3], ch[2], ch[1], ch[0])])
        self.head = nn.Conv2d(ch[0], 3, 1)
        nn.init.xavier_normal_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.head_bn = nn.BatchNorm2d(3)
        self.fuse_in = SkipFuse(3)
        for m in self.encoder.modules():
            if isinstance(m, nn.Conv2d):  # He init: no pretrained VGG is available here
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % 32 or w % 32:
            raise ValueError(f"HDRCNN input must be a multiple of 32 pixels, got {w}x{h}")
        skips = []
        f = x - 0.5
        for block in self.encoder:
            f = block(f)
            skips.append(f)
            f = self.pool(f)
        f = self.latent(f)
        f = self.up[0](f)  # H/32 -> H/16
        for i in range(1, 5):  # fuse e5..e2, then up-sample
            f = self.up[i](self.fuse[i - 1](f, skips[5 - i]))
        f = self.fuse[4](f, skips[0])  # h6 at full resolution
        f = torch.relu(self.head_bn(self.head(f)))
        return self.fuse_in(f, x)


def build_model(width: float = 0.25) -> HDRCNN:
    """A randomly initialised HDRCNN at the given width multiplier."""
    if not (0.0 < width <= 1.0) or math.isnan(width):
        raise ValueError(f"width multiplier must be in (0, 1], got {width}")
    return HDRCNN(width=width)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
