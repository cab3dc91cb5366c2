"""ESBN networks (Lee, Chung, Cho, IEEE Access 2020; methods.md section 4), sized for CPU training.

Two alignment networks (low -> reference, high -> reference) and one merging network. The layout
is the paper's; what changed, and why (2 CPU cores, one session per training run):

* widths: encoder 16 / 32 channels, blending 64 (paper 64 / 128 / 256) and 3 residual blocks at
  1/8 resolution (paper 9): ~0.3 M parameters per alignment net instead of 15.3 M;
* decoder convolutions 3x3 (paper 5x5), PyTorch symmetric padding (the paper's TF SAME padding
  only matters when porting weights, and there are none to port);
* merging network: 16 features per exposure, one residual dense block of 4 convolutions with
  growth 16 (paper 64 features, 6 convolutions, growth 32);
* everything else as the paper: two-way encoders with separate weights, pre-activation skips,
  batch norm in the alignment nets, nearest up-sampling, tanh outputs, global skip in the merge.

Tensors: inputs ``[L~, H~]`` (6 channels) with L~ = 2 L - 1 (display [0, 1] -> [-1, 1]) and
H~ = 2 f(L) / t - 1 (t relative to the darkest frame, so H <= 1 is what the darkest frame can
record). f is L^2.2 as the paper (``linearise="gamma"``), or, with ``linearise="response"``,
the bracket's own camera response as the product's HDR merge recovers it (one table of 256
codes per channel, scaled so code 255 of the brightest channel is 1; tried as v3 because a
gamma of 2.2 is ~3 dB PSNR-mu from the truth on the virtual cameras' static brackets; it
validated lower than v2, see the README). Alignment outputs are display images in [-1, 1]; the
merge output o in [-1, 1] is
H = (o + 1) / 2 (the paper), linear radiance in units of the darkest frame's clipping level, or,
with ``mu_output``, the mu-law tone-mapped T(H) = (o + 1) / 2: the loss is then linear in o
instead of going through tanh near -1, where the dark half of the picture lives (a change from
the paper, measured in the README).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

ARCH_ID = "esbn-small-v1"
DEFAULT_HPARAMS: dict[str, Any] = {"c1": 16, "c2": 32, "c3": 64, "blocks": 3, "merge": 16,
                                   "growth": 16, "dense": 4, "mu_output": False,
                                   "linearise": "gamma"}
MU = 5000.0  # the mu-law of the loss (methods.md 4.5)
MULTIPLE = 8  # three stride-2 stages


class _Encoder(nn.Module):
    """One branch of the two-way encoder: keeps both pre-activation outputs as skips."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(6, c1, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, stride=2, padding=2)
        self.bn2 = nn.BatchNorm2d(c2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1 = self.conv1(x)
        x2 = self.bn2(self.conv2(F.leaky_relu(x1, 0.2)))
        return x1, x2


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(u)))))


class AlignNet(nn.Module):
    """Synthesises the non-reference exposure with the reference frame's structure."""

    def __init__(self, c1: int, c2: int, c3: int, blocks: int) -> None:
        super().__init__()
        self.enc_other, self.enc_ref = _Encoder(c1, c2), _Encoder(c1, c2)
        self.blend = nn.Conv2d(2 * c2, c3, 5, stride=2, padding=2)
        self.bn_blend = nn.BatchNorm2d(c3)
        self.res = nn.Sequential(*[_ResBlock(c3) for _ in range(blocks)])
        self.up1, self.bn1 = nn.Conv2d(2 * c3, c2, 3, padding=1), nn.BatchNorm2d(c2)
        self.up2, self.bn2 = nn.Conv2d(3 * c2, c1, 3, padding=1), nn.BatchNorm2d(c1)
        self.up3, self.bn3 = nn.Conv2d(3 * c1, c1, 3, padding=1), nn.BatchNorm2d(c1)
        self.out = nn.Conv2d(c1, 3, 3, padding=1)

    def forward(self, other: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        a1, a2 = self.enc_other(other)
        r1, r2 = self.enc_ref(ref)
        b0 = self.bn_blend(self.blend(F.leaky_relu(torch.cat([a2, r2], 1), 0.2)))
        y = self.res(b0)
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
        y = self.bn1(self.up1(up(F.relu(torch.cat([y, b0], 1)))))
        y = self.bn2(self.up2(up(F.relu(torch.cat([y, a2, r2], 1)))))
        y = self.bn3(self.up3(up(F.relu(torch.cat([y, a1, r1], 1)))))
        return torch.tanh(self.out(F.relu(y)))


class MergeNet(nn.Module):
    """Fuses aligned low, reference and aligned high ([L~, H~] each) into H = (o + 1) / 2."""

    def __init__(self, m: int, growth: int, dense: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Conv2d(6, m, 3, padding=1) for _ in range(3)])
        self.fuse = nn.Conv2d(3 * m, m, 3, padding=1)
        self.dense = nn.ModuleList(
            [nn.Conv2d(m + i * growth, growth, 3, padding=1) for i in range(dense)])
        self.squeeze = nn.Conv2d(m + dense * growth, m, 1)
        self.out = nn.Conv2d(m, 3, 3, padding=1)

    def forward(self, low: torch.Tensor, mid: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        f = [F.leaky_relu(h(x), 0.2) for h, x in zip(self.heads, (low, mid, high))]
        x0 = F.leaky_relu(self.fuse(torch.cat(f, 1)), 0.2)
        feats = [x0]
        for conv in self.dense:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        x1 = x0 + F.leaky_relu(self.squeeze(torch.cat(feats, 1)), 0.2)
        return torch.tanh(self.out(x1 + f[1]))


def mu_law(h: torch.Tensor) -> torch.Tensor:
    """T(H) = log(1 + mu H) / log(1 + mu) of linear H in [0, 1] (negative values as 0): the
    torch twin of :func:`app.core.metrics.psnr.mu_law`."""
    return torch.log1p(MU * h.clamp(min=0)) / math.log1p(MU)


def through_table(ldr: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Display LDR in [-1, 1] (B, 3, H, W) through per-sample response tables (B, 3, 256):
    linear interpolation between codes, so gradients reach the (aligned) input."""
    b, c, h, w = ldr.shape
    x = ((ldr + 1) * 127.5).clamp(0, 255).reshape(b, c, h * w)
    i0 = x.detach().floor().clamp(max=254).long()
    v0 = table.gather(2, i0)
    v1 = table.gather(2, i0 + 1)
    return (v0 + (x - i0) * (v1 - v0)).reshape(b, c, h, w)


def hdr_channels(ldr: torch.Tensor, t: torch.Tensor,
                 table: torch.Tensor | None = None) -> torch.Tensor:
    """[L~, H~] (B, 6, H, W) from display LDR in [-1, 1] (B, 3, H, W) and times t (B,) relative to
    the darkest frame; ``table`` (B, 3, 256): the camera response (else L^2.2)."""
    lin = (((ldr + 1) * 0.5).clamp(0, 1) ** 2.2 if table is None
           else through_table(ldr, table)) / t.view(-1, 1, 1, 1)
    return torch.cat([ldr, 2 * lin - 1], 1)


class ESBN(nn.Module):
    """The whole system: align low and high to the reference, then merge."""

    def __init__(self, c1: int = 16, c2: int = 32, c3: int = 64, blocks: int = 3,
                 merge: int = 16, growth: int = 16, dense: int = 4,
                 mu_output: bool = False, linearise: str = "gamma") -> None:
        super().__init__()
        if linearise not in ("gamma", "response"):
            raise ValueError(f"linearise must be 'gamma' or 'response', got {linearise!r}")
        self.mu_output = bool(mu_output)
        self.linearise = linearise
        self.align_low = AlignNet(c1, c2, c3, blocks)
        self.align_high = AlignNet(c1, c2, c3, blocks)
        self.merge = MergeNet(merge, growth, dense)

    def forward(self, low: torch.Tensor, mid: torch.Tensor, high: torch.Tensor,
                times: torch.Tensor, table: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """low/mid/high: (B, 3, H, W) display in [-1, 1]; times (B, 3) relative to low; table
        (B, 3, 256): the bracket's camera response (required with ``linearise="response"``,
        ignored otherwise). Returns (aligned low, aligned high, o) all in [-1, 1]."""
        if self.linearise == "response":
            if table is None:
                raise ValueError("this network needs the bracket's response table")
        else:
            table = None

        def inputs(x: torch.Tensor, k: int) -> torch.Tensor:
            return hdr_channels(x, times[:, k], table)

        lo6, mid6, hi6 = inputs(low, 0), inputs(mid, 1), inputs(high, 2)
        a_low = self.align_low(lo6, mid6)
        a_high = self.align_high(hi6, mid6)
        o = self.merge(inputs(a_low, 0), mid6, inputs(a_high, 2))
        return a_low, a_high, o

    def tone_mapped(self, o: torch.Tensor) -> torch.Tensor:
        """The merge output as mu-law tone-mapped T(H) in [0, 1] (what the loss compares)."""
        if self.mu_output:
            return (o + 1) * 0.5
        return mu_law((o + 1) * 0.5)

    def radiance(self, o: torch.Tensor) -> torch.Tensor:
        """The merge output as H (units of the low frame's clipping level, [0, 1])."""
        if self.mu_output:
            t = ((o + 1) * 0.5).clamp(0, 1)
            return torch.expm1(t * torch.log1p(torch.tensor(MU))) / MU
        return ((o + 1) * 0.5).clamp(0, 1)


def build_model(**hparams: Any) -> ESBN:
    return ESBN(**{**DEFAULT_HPARAMS, **hparams})
