"""DeepFuse (Prabhakar et al., ICCV 2017) two-exposure fusion, as trained here.

What is the paper's and what changed (measured, see README SECTION:deepfuse):

* Kept: only the luma Y goes through the CNN; tied pre-fusion layers on each input's Y
  (5x5 1->16, 7x7 16->32), their feature maps summed, then reconstruction layers (7x7, 5x5, 5x5);
  per-pixel chroma fusion (paper Eq. 6) with tau = 0.5 on [0, 1] data; the MEF-SSIM training loss.
* Changed: the head does not output Y (that drifts dark, methods.md 2.8). It outputs one weight
  logit per input (computed from that input's features and the shared sum, so the net stays
  symmetric in the input order); a softmax over the inputs gives convex weights, and the inputs'
  Y are blended with them through a Laplacian pyramid (no seams or halos, brightness stays that of
  the inputs). The CNN runs at reduced resolution (1/4 size, at most
  ``proxy`` px on the long side at inference); its weights are upsampled bilinearly. Training and inference share this code.

Colour: BT.601 full-range YCbCr on display-referred [0, 1] RGB (chroma offset 0.5). The luma
weights equal the rgb2gray weights MEF-SSIM scores with. Output: display-referred RGB in [0, 1].
torch is imported inside functions only, so the registry lists this method without torch; on the
CPU the weight network runs in numpy (:mod:`app.models.deepfuse_numpy`) and torch is never
imported by a fusion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.errors import InputError
from app.core.progress import TaskContext
from app.core.types import float_frame
from app.models import deepfuse_blend as blend
from app.models.registry import MethodOutput

ARCH = "deepfuse-wpyr-v1"
WEIGHTS_KEY = "deepfuse"
DEFAULT_PROXY = 256  # max long side (px) of the CNN's input at inference; the blend is full size
DEFAULT_HPARAMS: dict[str, Any] = {
    "c1": 16, "c2": 32, "c3": 32, "c4": 16, "down": 4, "prior_sigma": 0.2,
}
_MODEL_CLASS: Any = None


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 full range. rgb: float32 HxWx3 [0, 1] -> (Y [0,1], Cb, Cr [0,1] centred on 0.5)."""
    ycc = blend.rgb_to_ycc(rgb)
    return ycc[..., 0].copy(), ycc[..., 1].copy(), ycc[..., 2].copy()


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; returns float32 HxWx3 clipped to [0, 1]."""
    return blend.ycc_to_rgb(np.dstack([y, cb, cr]))


fuse_chroma = blend.fuse_chroma
pyramid_levels = blend.pyramid_levels


def _binomial(t: Any) -> Any:
    import torch

    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=t.dtype, device=t.device) / 16.0
    return k


def _blur(t: Any, k: Any) -> Any:
    """Separable 5-tap binomial blur with reflect-101 borders (as cv2.pyrDown). t: (N,1,H,W)."""
    import torch.nn.functional as F

    def mode(n: int) -> str:  # reflect-101 of 2 samples is periodic, of 1 sample constant
        return "reflect" if n > 2 else ("circular" if n == 2 else "replicate")

    t = F.conv2d(F.pad(t, (2, 2, 0, 0), mode=mode(t.shape[-1])), k.view(1, 1, 1, 5))
    return F.conv2d(F.pad(t, (0, 0, 2, 2), mode=mode(t.shape[-2])), k.view(1, 1, 5, 1))


def _down(t: Any, k: Any) -> Any:
    return _blur(t, k)[..., ::2, ::2]


def _up(t: Any, size: tuple[int, int], k: Any) -> Any:
    """Zero-insertion upsampling, blur x4, crop to ``size`` (equals cv2.pyrUp, odd sizes too)."""
    import torch

    n, c, h, w = t.shape
    z = torch.zeros((n, c, 2 * h, 2 * w), dtype=t.dtype, device=t.device)
    z[..., ::2, ::2] = t
    return _blur(z, k)[..., : size[0], : size[1]] * 4.0


def pyramid_blend(ys: Any, weights: Any, levels: int | None = None) -> Any:
    """Laplacian-pyramid blend (Burt & Adelson; Mertens' fusion step), differentiable.

    ys, weights: torch (B, K, H, W); weights sum to 1 over K. Returns (B, 1, H, W), not clipped.
    """
    import torch

    b, kk, h, w = ys.shape
    levels = levels or pyramid_levels(h, w)
    k = _binomial(ys)
    laps = []
    with torch.set_grad_enabled(ys.requires_grad and torch.is_grad_enabled()):
        g_img = ys.reshape(b * kk, 1, h, w)  # inputs' Laplacian pyramid: no gradient needed
        for _ in range(levels - 1):
            down_img = _down(g_img, k)
            laps.append(g_img - _up(down_img, g_img.shape[-2:], k))
            g_img = down_img
        laps.append(g_img)
    g_w = weights.reshape(b * kk, 1, h, w)
    bands = []
    for i, lap in enumerate(laps):
        bands.append((lap * g_w).reshape(b, kk, *lap.shape[-2:]).sum(1, keepdim=True))
        if i < len(laps) - 1:
            g_w = _down(g_w, k)
    out = bands.pop()
    for band in reversed(bands):
        out = _up(out, band.shape[-2:], k) + band
    return out


def _model_class() -> Any:
    global _MODEL_CLASS
    if _MODEL_CLASS is not None:
        return _MODEL_CLASS
    import torch
    from torch import nn

    def conv(cin: int, cout: int, ks: int) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, ks, padding=ks // 2, padding_mode="reflect")

    class DeepFuseWeightNet(nn.Module):
        """Y of K exposures (B, K, h, w) in [0, 1] -> softmax weights (B, K, h, w)."""

        def __init__(
            self, c1: int = 16, c2: int = 32, c3: int = 32, c4: int = 16, down: int = 4,
            prior_sigma: float = 0.2,
        ) -> None:
            super().__init__()
            self.down = int(down)  # the CNN sees the image downsampled by this factor
            # logits = CNN residual + log of Mertens' well-exposedness Gaussian on Y: the net
            # starts from that blend (measured 0.98 MEF-SSIM) instead of the plain average (0.92)
            self.prior_sigma = float(prior_sigma)
            self.pre1 = conv(1, c1, 5)  # tied pre-fusion layers (paper C1, C2)
            self.pre2 = conv(c1, c2, 7)
            self.rec3 = conv(c2, c3, 7)  # on the fused (summed) features, as the paper's C3
            self.rec4 = conv(c2 + c3, c4, 5)  # per input: own features + shared context
            self.out = conv(c4, 1, 5)
            nn.init.zeros_(self.out.weight)  # start from the prior's blend
            nn.init.zeros_(self.out.bias)
            self.act = nn.LeakyReLU(0.1)

        def forward(self, ys: torch.Tensor) -> torch.Tensor:
            b, k, h, w = ys.shape
            x = ys.reshape(b * k, 1, h, w) - 0.5
            f = self.act(self.pre2(self.act(self.pre1(x))))
            fk = f.reshape(b, k, -1, h, w)
            ctx = self.act(self.rec3(fk.sum(1)))  # feature sum: order-independent
            ctx = ctx.unsqueeze(1).expand(-1, k, -1, -1, -1)
            z = torch.cat([fk, ctx], 2).reshape(b * k, -1, h, w)
            logits = self.out(self.act(self.rec4(z))).reshape(b, k, h, w)
            if self.prior_sigma > 0:
                logits = logits - (ys - 0.5) ** 2 / (2 * self.prior_sigma**2)
            return torch.softmax(logits, dim=1)

    _MODEL_CLASS = DeepFuseWeightNet
    return _MODEL_CLASS


def build_model(**hparams: Any) -> Any:
    """The network with ``DEFAULT_HPARAMS`` overridden by ``hparams`` (random initialisation)."""
    return _model_class()(**{**DEFAULT_HPARAMS, **hparams})


def fuse_y_train(model: Any, ys: Any) -> Any:
    """Training path: ys (B, K, H, W) [0, 1], H, W multiples of model.down -> fused Y (B, 1, H, W).

    The CNN sees the block-averaged proxy (what inference's INTER_AREA resize gives)."""
    import torch.nn.functional as F

    wts = model(F.avg_pool2d(ys, model.down))
    wts = F.interpolate(wts, size=ys.shape[-2:], mode="bilinear", align_corners=False)
    return pyramid_blend(ys, wts).clamp(0.0, 1.0)


def choose_pair(n: int, pair: str) -> tuple[int, int]:
    """Indices of the two frames to fuse: "extremes" (darkest, brightest) or "i,j" (0-based)."""
    if pair.strip().lower() == "extremes":
        return 0, n - 1
    try:
        i, j = (int(s) for s in pair.split(","))
    except ValueError:
        raise InputError(f"pair must be 'extremes' or two indices 'i,j', got {pair!r}") from None
    if not (0 <= i < n and 0 <= j < n) or i == j:
        raise InputError(f"pair {pair!r}: need two different indices in 0..{n - 1}")
    return min(i, j), max(i, j)


class NumpyWeightNet:
    """The weight network from its safetensors arrays, run by :mod:`app.models.deepfuse_numpy`
    (no torch): what a fusion on the CPU uses. Same interface as the torch module for
    :func:`net_weights` (``down``, ``prior_sigma``)."""

    def __init__(self, arrays: dict[str, np.ndarray], hparams: dict[str, Any]) -> None:
        self.arrays = arrays
        self.down = int(hparams["down"])
        self.prior_sigma = float(hparams["prior_sigma"])

    def __call__(self, ys: np.ndarray) -> np.ndarray:
        """(K, h, w) luma in [0, 1] -> (K, h, w) softmax weights."""
        from app.models.deepfuse_numpy import weight_net

        return weight_net(ys, self.arrays, self.prior_sigma)


def expected_shapes(hparams: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Array name -> shape of the network with these hyper-parameters (the file layout)."""
    c1, c2, c3, c4 = (int(hparams[k]) for k in ("c1", "c2", "c3", "c4"))
    convs = {"pre1": (c1, 1, 5), "pre2": (c2, c1, 7), "rec3": (c3, c2, 7),
             "rec4": (c4, c2 + c3, 5), "out": (1, c4, 5)}
    out: dict[str, tuple[int, ...]] = {}
    for name, (cout, cin, k) in convs.items():
        out[f"{name}.weight"] = (cout, cin, k, k)
        out[f"{name}.bias"] = (cout,)
    return out


def load_numpy_model() -> tuple[NumpyWeightNet, str]:
    """The shipped network as numpy arrays (sha256-checked, layout checked strictly as
    weights.load_into does) and its sha256."""
    from app.core.errors import WeightsError
    from app.models import weights

    arrays, meta, digest = weights.load_numpy(WEIGHTS_KEY)
    path = weights.weights_file(WEIGHTS_KEY)
    if meta.get("arch") not in (None, ARCH):
        raise WeightsError(f"{path}: architecture {meta.get('arch')!r} does not match {ARCH!r}")
    hp = {**DEFAULT_HPARAMS, **weights.hparams(meta)}
    want = expected_shapes(hp)
    have = {k: tuple(v.shape) for k, v in arrays.items()}
    if have != want:
        wrong = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have[k])
        raise WeightsError(f"{path}: does not hold the deepfuse network ({', '.join(wrong)})")
    return NumpyWeightNet({k: np.asarray(v, np.float32) for k, v in arrays.items()}, hp), digest


def net_weights(
    frames: list[np.ndarray], model: Any, *, device: str = "cpu", proxy: int = DEFAULT_PROXY,
    reduced: list[np.ndarray] | None = None,
) -> np.ndarray:
    """The network's blend weights for display-referred float32 HxWx3 [0, 1] frames: float32
    (K, h, w) at the proxy size (1/down of the frames, long side at most ``proxy``), summing to 1
    over K. The network sees the frames' luma area-averaged to that size; ``reduced``: the
    frames already area-averaged to some size at least the proxy's (8-bit codes or floats), to
    take the luma from instead of the full-size frames. ``model``: a :class:`NumpyWeightNet`
    (CPU, no torch) or the torch module (training, benches, GPU)."""
    import cv2

    h, w = frames[0].shape[:2]
    if min(h, w) < 16:
        raise InputError(f"frames of {w}x{h} pixels are too small for deepfuse (16 px minimum)")
    scale = min(1.0 / model.down, proxy / max(h, w))
    ph, pw = max(8, round(h * scale)), max(8, round(w * scale))
    if reduced is not None and min(reduced[0].shape[0] - ph, reduced[0].shape[1] - pw) >= 0:
        frames = reduced
    small = np.stack([cv2.resize(blend.luma(f), (pw, ph), interpolation=cv2.INTER_AREA)
                      for f in frames])
    if isinstance(model, NumpyWeightNet):
        return model(small)
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(small)[None].to(device))[0].float().cpu().numpy()


def blend_with_weights(
    frames: list[np.ndarray], proxy_weights: np.ndarray, ctx: TaskContext | None = None,
    bits: int | None = None,
) -> np.ndarray:
    """Blend frames (HxWx3 display-referred: float32 [0, 1] or uint8 / uint16 codes) with
    proxy-size weights (K, h, w): weights upsampled
    bilinearly, luma through the Laplacian pyramid, chroma per pixel (paper Eq. 6).
    Returns display-referred float32 HxWx3 [0, 1] (``bits`` 8 / 16: uint8 / uint16 codes).
    Memory stays a small multiple of one frame."""
    import cv2

    ctx = ctx or TaskContext()
    h, w = frames[0].shape[:2]
    ys, chroma = blend.split_luma_chroma(frames)  # codes become floats strip by strip
    ctx.report(0.4, "deepfuse: colour conversion")
    if len(frames) == 2:  # the pair form: one weight map, one pyramid of each kind
        w0 = cv2.resize(proxy_weights[0], (w, h), interpolation=cv2.INTER_LINEAR)
        ctx.check()
        y = blend.pyramid_blend_pair(ys[0], ys[1], w0)
        del w0, ys
    else:
        full_w = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in proxy_weights]
        ctx.check()
        y = blend.pyramid_blend(ys, full_w)
        del full_w, ys
    ctx.report(0.8, "deepfuse: pyramid blend")
    return blend.compose_rgb(y, chroma, bits)


def fuse_pair(
    frames: list[np.ndarray], model: Any, *, device: str = "cpu", proxy: int = DEFAULT_PROXY,
    ctx: TaskContext | None = None, bits: int | None = None,
) -> np.ndarray:
    """The network's fusion of display-referred float32 HxWx3 [0, 1] frames -> float32 HxWx3
    [0, 1] or ``bits`` codes (no candidate choice; see :func:`fuse_pair_auto`)."""
    ctx = ctx or TaskContext()
    wts = net_weights(frames, model, device=device, proxy=proxy)
    ctx.report(0.3, "deepfuse: weight maps")
    return blend_with_weights(frames, wts, ctx, bits=bits)


# Test-time choice (issue 11): the candidates are the network's blend, OpenCV's MergeMertens
# with its defaults (contrast x saturation, no well-exposedness; it wins on wide gaps; OpenCV's
# own code, because our re-implementation of those weights trailed it by up to 0.003 MEF-SSIM on
# 13 of 69 held-out pairs in a first run) and the product's Mertens. Each is rendered at
# SELECT_SIDE px and scored by MEF-SSIM against the pair (the training loss, no reference
# needed); the best is rendered at full size.
SELECT_SIDE = 512
SELECT_MIN_SIDE = 44  # MEF-SSIM's three scales need this many px on the short side
CANDIDATES = ("net", "opencv-mertens", "mertens")


def opencv_mertens(frames: list[np.ndarray]) -> np.ndarray:
    """cv2.createMergeMertens() (defaults) on 8-bit codes of display-referred [0, 1] frames ->
    display-referred float32 HxWx3 [0, 1] (clipped, as saved)."""
    import cv2

    bgr = [cv2.cvtColor(f if f.dtype == np.uint8 else _to8(float_frame(f)), cv2.COLOR_RGB2BGR)
           for f in frames]
    out = cv2.cvtColor(cv2.createMergeMertens().process(bgr), cv2.COLOR_BGR2RGB)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def _render(name: str, frames: list[np.ndarray], proxy_weights: np.ndarray,
            ctx: TaskContext | None = None, bits: int | None = None) -> np.ndarray:
    """Candidate ``name`` at the frames' size: float32 [0, 1], or ``bits`` 8 / 16 codes."""
    from app.core.merge import fuse_mertens
    from app.core.tonemap.display import to_uint
    from app.models.classical import mertens_fusion_defaults

    if name == "net":
        return blend_with_weights(frames, proxy_weights, ctx, bits=bits)
    if name == "opencv-mertens":
        out = opencv_mertens(frames)
        return out if bits is None else to_uint(out, bits)
    return fuse_mertens(frames, **mertens_fusion_defaults(), ctx=ctx, bits=bits)


def _to8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(img, np.float32) * 255.0), 0, 255).astype(np.uint8)


def select_copies(frames: list[np.ndarray], side: int = SELECT_SIDE) -> list[np.ndarray]:
    """8-bit codes of the frames area-averaged to ``side`` px on the long side (not enlarged).

    Codes are averaged as codes (OpenCV rounds to the nearest code, as _to8 does: on a 12 MP
    JPEG pair 0.001 % of the pixels differ by one code from averaging floats), without a
    full-size float copy of each frame (144 MB at 12 MP; 0.2-0.45 s with its page faults)."""
    import cv2

    h, w = frames[0].shape[:2]
    s = min(1.0, side / max(h, w))
    size = (max(16, round(w * s)), max(16, round(h * s)))
    return [_to8(float_frame(cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                             if s < 1 else f)) for f in frames]


def choose_candidate(
    frames: list[np.ndarray], proxy_weights: np.ndarray, *, side: int = SELECT_SIDE,
    small8: list[np.ndarray] | None = None,
) -> tuple[str, dict[str, float]]:
    """(name of the best candidate, MEF-SSIM per candidate) at ``side`` px; ties go to the net.
    ``small8``: the frames' :func:`select_copies` when already made."""
    from concurrent.futures import ThreadPoolExecutor

    from app.core.metrics import mef_ssim_many

    small8 = small8 if small8 is not None else select_copies(frames, side)
    small = [f.astype(np.float32) * np.float32(1 / 255) for f in small8]
    # The small renders are mostly single-threaded work (OpenCV and numpy on ~0.2 MP): two at a
    # time on two cores; the inputs' side of MEF-SSIM is computed once for all three.
    with ThreadPoolExecutor(max_workers=2) as pool:
        renders = list(pool.map(lambda name: _to8(_render(name, small, proxy_weights)),
                                CANDIDATES))
    scores = dict(zip(CANDIDATES, mef_ssim_many(small8, renders)))
    best = max(scores, key=lambda k: (scores[k], k == "net"))
    return best, scores


def fuse_pair_auto(
    frames: list[np.ndarray], model: Any, *, device: str = "cpu", proxy: int = DEFAULT_PROXY,
    side: int = SELECT_SIDE, ctx: TaskContext | None = None, bits: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fuse with the candidate MEF-SSIM prefers (see SELECT_SIDE). Returns (display-referred
    float32 HxWx3 [0, 1] or, with ``bits``, uint8 / uint16 codes, {"candidate": name,
    "mef_ssim": {name: score at ``side`` px}})."""
    ctx = ctx or TaskContext()
    h, w = frames[0].shape[:2]
    if min(h, w) * min(1.0, side / max(h, w)) < SELECT_MIN_SIDE:  # too small to score: the net
        wts = net_weights(frames, model, device=device, proxy=proxy)
        return blend_with_weights(frames, wts, ctx, bits=bits), {"candidate": "net",
                                                                 "mef_ssim": {}}
    # the choice's small copies also feed the network (its input is smaller still): the
    # full-size frames are read once, not twice
    small8 = select_copies(frames, side)
    wts = net_weights(frames, model, device=device, proxy=proxy, reduced=small8)
    ctx.report(0.2, "deepfuse: weight maps")
    best, scores = choose_candidate(frames, wts, side=side, small8=small8)
    ctx.report(0.35, f"deepfuse: chose {best}")
    ctx.check()
    out = _render(best, frames, wts, ctx, bits=bits)
    return out, {"candidate": best, "mef_ssim": {k: round(v, 5) for k, v in scores.items()}}


def load_model(device: str = "cpu") -> tuple[Any, str]:
    """The shipped network (strict load, sha256-checked) and its sha256."""
    from app.models import weights

    meta: dict[str, str] = {}
    try:
        _, meta, _ = weights.load_weights(WEIGHTS_KEY)
    except Exception:  # the hook below raises the real message (or random init in tests)
        meta = {}
    model = build_model(**weights.hparams(meta))
    _, digest = weights.load_into(model, WEIGHTS_KEY, arch=ARCH)
    return model.to(device).eval(), digest


def run_deepfuse(stack: Any, params: dict, ctx: TaskContext, device: str,
                 codes: int | None = None) -> MethodOutput:
    """Registry entry: fuse two frames of ``stack`` (display-referred [0, 1]); param ``pair``;
    ``codes`` 8 / 16: the result as uint8 / uint16 display codes (see ``run``)."""
    from app.models import weights

    if stack.linear:
        raise InputError("deepfuse fuses display-referred photos (JPEG/PNG/TIFF), not linear RAW/EXR")
    i, j = choose_pair(stack.n, str(params.get("pair", "extremes")))
    # the CPU: numpy (see deepfuse_numpy); the torch module only for --device cuda
    model, digest, dev = weights.numpy_or_cuda_model(WEIGHTS_KEY, "deepfuse", device,
                                                     load_model, load_numpy_model)
    ctx.report(0.05, "deepfuse: model loaded")
    pair = [stack.frames[i], stack.frames[j]]
    proxy = int(params.get("proxy", DEFAULT_PROXY))
    notes: dict[str, Any] = {"pair": [i, j], "arch": ARCH}
    if str(params.get("select", "auto")) == "auto":
        out, choice = fuse_pair_auto(pair, model, device=dev, proxy=proxy, ctx=ctx, bits=codes)
        notes.update(choice)
        # into the provenance: `fuse --json` and the output file's metadata say what was chosen
        notes["decisions"] = {"candidate": choice["candidate"], **{
            f"mef_ssim_{k}": f"{v:.5f}" for k, v in choice["mef_ssim"].items()}}
    else:
        out = fuse_pair(pair, model, device=dev, proxy=proxy, ctx=ctx, bits=codes)
        notes["candidate"] = "net"
    return MethodOutput(image=out, weights_sha256=digest, device=dev, notes=notes)
