"""HDRCNN: linear HDR from a single display-referred photo (Eilertsen et al., SIGGRAPH Asia 2017).

Pipeline (methods.md section 3; torch imported inside functions only, and only for the GPU:
on the CPU the network runs in numpy, :mod:`app.models.hdrcnn_numpy`):

1. input x: the one frame of the stack, display-referred [0, 1] (8- or 16-bit file);
   optional pre-scale ``x <- min(1, scale * x)`` and the gamma control ``x <- x^(1/gamma)``;
2. the network (:mod:`app.models.hdrcnn_net`) predicts log HDR y = log(H + 1/255) on a copy
   whose long side is at most ``net_size`` px (default 384, the scale it was trained at),
   padded to a multiple of 32; y is up-sampled bilinearly (log domain) to the full resolution,
   and its part above the clip level (y > 0) multiplied by ``peak`` (default :data:`PEAK`);
3. blend at full resolution, in row strips (cancellable), :func:`blend`. The paper's blend is
   alpha = clamp((max_c x - 0.95) / 0.05, 0, 1), H = (1 - alpha) x^2 + alpha (exp(y) - 1/255);
   the default ("surround") keeps every channel the photo measured, never puts a clipped
   channel below its clip level, and gives pixels clipped in all channels the colour of their
   measured surround (the network's guess of colour there turned warm skies mint-green);
   then H <- H^gamma. x^2 is the paper's inverse camera curve at test time.

Output: float32 HxWx3 linear relative radiance >= 0, 1.0 = sensor saturation; only pixels near
saturation (a channel > 0.95) differ from the linearised input x^2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.channels import channel_max, channel_min
from app.core.errors import InputError
from app.core.io.exr import to_half
from app.core.progress import TaskContext
from app.models.registry import MethodOutput

WEIGHTS_KEY = "hdrcnn"
TAU = 0.95  # saturation threshold of the blend mask
EPS = 1.0 / 255.0  # offset of the network's log domain
MULTIPLE = 32  # five 2x2 max-pools
STRIP_ROWS = 256  # rows per blend strip (bounds temporaries; cancel point)
# The network sees the whole photo at this long side. It was trained on 128 px crops of 30-80 %
# of 640 px images, i.e. on content at roughly 300-400 px per picture; measured on the
# openexr-images it trained on (app.bench.hdrcnn --sets choice, surround blend): 1024 px +1.72 dB
# log-PSNR in the clipped region over doing nothing, 512 px +1.98, 384 px +2.12, 256 px +2.19.
NET_SIZE = 384
DEFAULT_MODE = "surround"
# The network's log prediction above the clip level (log H > 0) is multiplied by this: trained
# with a regression loss, it predicts too-low peaks. Chosen on the "choice" set (the 11
# openexr-images it trained on; app.bench.hdrcnn --sets choice, surround blend at 384 px):
# clipped-region log-PSNR gain over doing nothing +2.12 dB at 1.0, +2.27 at 1.15, +2.35 at 1.3,
# +2.36 at 1.5, +2.19 at 1.8 (cases worse than nothing: 3, 3, 3, 3, 5); 1.3, the smaller step.
PEAK = 1.3
DEFAULT_HPARAMS: dict[str, Any] = {"width": 0.25}


def build_model(**hparams: Any) -> Any:
    """HDRCNN network with ``DEFAULT_HPARAMS`` overridden by ``hparams`` (random init)."""
    from app.models.hdrcnn_net import build_model as _build

    return _build(**{**DEFAULT_HPARAMS, **hparams})


def saturation_mask(x: np.ndarray, tau: float = TAU) -> np.ndarray:
    """alpha = clamp((max_c x - tau) / (1 - tau), 0, 1) of display [0,1] x; HxWx1 float32."""
    m = channel_max(x)[..., None]
    m -= np.float32(tau)
    m *= np.float32(1.0 / (1.0 - tau))
    return np.clip(m, 0.0, 1.0, out=m)


def linearise(x: np.ndarray) -> np.ndarray:
    """Inverse camera curve assumed at test time: display [0,1] -> linear [0,1], x^2."""
    return np.square(x, dtype=np.float32)


def blend(x: np.ndarray, log_pred: np.ndarray, tau: float = TAU, mode: str = "paper",
          fill: np.ndarray | None = None) -> np.ndarray:
    """Display x [0,1] + log HDR prediction y -> linear radiance >= 0 (1.0 = saturation).

    mode "paper": H = (1 - alpha) x^2 + alpha (exp(y) - eps), one alpha per pixel from the
    largest channel, so a pixel with one clipped channel takes all three from the network.
    mode "channel": alpha per channel, so channels the photo measured keep their value, and a
    clipped channel is never darker than its clip level: H_c = (1 - a_c) x_c^2 + a_c max(p_c, x_c^2).
    mode "surround": "channel", and where every channel clipped, the prediction's luminance with
    ``fill``'s colour (HxWx3 RGB / luminance ratios, :func:`surround_colour`).
    """
    pred = np.maximum(np.exp(log_pred, dtype=np.float32) - EPS, 0.0)
    lin = linearise(x)
    if mode in ("channel", "surround"):
        a = np.clip((x - np.float32(tau)) * np.float32(1.0 / (1.0 - tau)), 0.0, 1.0)
        h = (1.0 - a) * lin + a * np.maximum(pred, lin)
        if mode == "surround" and fill is not None:
            # where every channel clipped the photo holds no colour: the network's brightness
            # with the colour of the nearest measured surround, never below the clip level
            # (OpenCV's channel reduce: numpy's min over the 3-long last axis took ~0.5 s
            # of a 12 MP photo's 1.5 s reconstruction; the same values)
            b = np.clip((channel_min(x)[..., None] - np.float32(tau))
                        * np.float32(1.0 / (1.0 - tau)), 0.0, 1.0)
            lum = np.maximum(pred @ LUMA, lin @ LUMA)[..., None]
            h = (1.0 - b) * h + b * np.maximum(lum * fill, lin)
        return h.astype(np.float32)
    a = saturation_mask(x, tau)
    return ((1.0 - a) * lin + a * pred).astype(np.float32)


LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 luminance of linear RGB
FILL_SIGMA = 0.04  # Gaussian reach of the surround colour, as a share of the long side


def surround_colour(x: np.ndarray, tau: float = TAU) -> np.ndarray:
    """Colour (RGB / luminance ratios, HxWx3 float32) of the measured pixels around each pixel:
    a normalised convolution of the unclipped pixels' linear colour, weighted by their
    brightness (the bright rim of a highlight says most about its colour); neutral where
    nothing is measured within reach. x: display [0, 1], any size (run on the network's copy)."""
    import cv2

    lin = linearise(x)
    lum = lin @ LUMA
    w = np.where(x.max(axis=2) < tau, lum, 0.0).astype(np.float32)
    ratio = lin / np.maximum(lum, 1e-6)[..., None]
    sigma = max(1.0, FILL_SIGMA * max(x.shape[:2]))
    den = cv2.GaussianBlur(w, (0, 0), sigma)
    num = cv2.GaussianBlur(ratio * w[..., None], (0, 0), sigma)
    fill = num / np.maximum(den, 1e-12)[..., None]
    weak = (den < 1e-4)[..., None]
    return np.where(weak, np.float32(1.0), fill).astype(np.float32)


def prepare_input(frame: np.ndarray, scale: float = 1.0, gamma: float = 1.0) -> np.ndarray:
    """Display [0,1] frame -> network/blend input: min(1, scale * x)^(1/gamma), float32."""
    x = np.clip(np.asarray(frame, np.float32) * np.float32(scale), 0.0, 1.0)
    if gamma != 1.0:
        x = np.power(x, np.float32(1.0 / gamma))
    return x


def net_shape(h: int, w: int, net_size: int) -> tuple[int, int]:
    """(height, width) at which the network sees an h x w image: long side <= net_size."""
    s = min(1.0, net_size / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def net_copy(x: np.ndarray, net_size: int) -> np.ndarray:
    """The copy of display x the network sees: long side at most ``net_size`` (INTER_AREA)."""
    import cv2

    h, w = x.shape[:2]
    nh, nw = net_shape(h, w, net_size)
    return x if (nh, nw) == (h, w) else cv2.resize(x, (nw, nh), interpolation=cv2.INTER_AREA)


def predict_log(model: Any, x: np.ndarray, net_size: int, device: str = "cpu",
                small: np.ndarray | None = None) -> np.ndarray:
    """Network log-HDR prediction for display x (HxWx3 [0,1]) at full size, float32 HxWx3.
    ``small``: :func:`net_copy` of x when the caller already made it. ``model``: a
    :class:`app.models.hdrcnn_numpy.NumpyHdrcnn` (CPU, no torch) or the torch module."""
    import cv2

    from app.models.hdrcnn_numpy import NumpyHdrcnn

    h, w = x.shape[:2]
    small = net_copy(x, net_size) if small is None else small
    nh, nw = small.shape[:2]
    ph, pw = (-nh) % MULTIPLE, (-nw) % MULTIPLE
    if nh + ph < MULTIPLE:
        ph += MULTIPLE
    if nw + pw < MULTIPLE:
        pw += MULTIPLE
    padded = np.pad(small, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
    if isinstance(model, NumpyHdrcnn):
        y = np.ascontiguousarray(model(padded)[:nh, :nw])
    else:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))[None].to(device)
        with torch.inference_mode():
            y = model(t)[0].float().cpu().numpy().transpose(1, 2, 0)[:nh, :nw]
        y = np.ascontiguousarray(y)
    if (nh, nw) != (h, w):
        y = cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR)
    return y


def reconstruct(model: Any, frame: np.ndarray, ctx: TaskContext, *, gamma: float = 1.0,
                scale: float = 1.0, net_size: int = NET_SIZE, device: str = "cpu",
                mode: str = DEFAULT_MODE, peak: float = PEAK, half: bool = False) -> np.ndarray:
    """Display [0,1] frame -> linear relative radiance (1.0 = saturation), float32 HxWx3
    (float16 with ``half``, clipped to 65504 strip by strip: what a half-float EXR stores).
    ``peak``: the prediction's log radiance above the clip level is multiplied by it (see
    :data:`PEAK`)."""
    x = prepare_input(frame, scale, gamma)
    ctx.report(0.1, "hdrcnn: network")
    small = net_copy(x, net_size)
    y = predict_log(model, x, net_size, device, small=small)
    if peak != 1.0:  # in place: log H > 0 is above the clip level
        np.multiply(y, np.float32(peak), out=y, where=y > 0)
    fill = None
    if mode == "surround":  # the surround's colour, worked out on the network's copy
        import cv2

        fill = surround_colour(small)
        if fill.shape[:2] != x.shape[:2]:
            fill = cv2.resize(fill, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_LINEAR)
    ctx.report(0.7, "hdrcnn: blend")
    out = np.empty(x.shape, np.float16 if half else np.float32)
    h = x.shape[0]
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        hs = blend(x[r0:r1], y[r0:r1], mode=mode, fill=None if fill is None else fill[r0:r1])
        if gamma != 1.0:
            hs = np.power(hs, np.float32(gamma))
        out[r0:r1] = to_half(hs) if half else hs
        ctx.report(0.7 + 0.3 * r1 / h, "hdrcnn: blend")
    return out


def load_model(device: str = "cpu") -> tuple[Any, str]:
    """The shipped network (strict load, sha256-checked), in eval mode, and its sha256."""
    from app.core.errors import WeightsError
    from app.models import weights
    from app.models.hdrcnn_net import ARCH_ID

    try:
        meta = weights.load_weights(WEIGHTS_KEY)[1]
    except WeightsError:
        meta = {}  # the hook below raises the real message (or keeps random init in tests)
    model = build_model(**weights.hparams(meta))
    _, digest = weights.load_into(model, WEIGHTS_KEY, arch=ARCH_ID)
    return model.to(device).eval(), digest


def load_numpy_model() -> tuple[Any, str]:
    """The shipped network as numpy arrays for :mod:`app.models.hdrcnn_numpy` (sha256-checked,
    architecture and layout checked strictly, as :func:`load_model` does) and its sha256."""
    from app.core.errors import WeightsError
    from app.models import weights
    from app.models.hdrcnn_numpy import ARCH_ID, NumpyHdrcnn, expected_shapes

    arrays, meta, digest = weights.load_numpy(WEIGHTS_KEY)
    path = weights.weights_file(WEIGHTS_KEY)
    if meta.get("arch") not in (None, ARCH_ID):
        raise WeightsError(f"{path}: architecture {meta.get('arch')!r} does not match {ARCH_ID!r}")
    hp = {**DEFAULT_HPARAMS, **weights.hparams(meta)}
    want = expected_shapes(float(hp["width"]))
    have = {k: tuple(v.shape) for k, v in arrays.items() if not k.endswith("num_batches_tracked")}
    if have != want:
        wrong = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have[k])
        raise WeightsError(f"{path}: does not hold the hdrcnn network ({', '.join(wrong[:5])})")
    return NumpyHdrcnn({k: np.asarray(arrays[k], np.float32) for k in want}), digest


def run_hdrcnn(stack: Any, params: dict, ctx: TaskContext, device: str,
               half: bool = False) -> MethodOutput:
    """Registry entry: one display-referred frame in, linear HDR (1.0 = saturation) out
    (float16 with ``half``: an export that only stores half floats).

    params: gamma (highlight boost, y = f(x^(1/g))^g), scale (pre-scale before clipping),
    net_size (long side in px at which the network runs), highlights (the blend mode, see
    :func:`blend`), peak (see :data:`PEAK`).
    """
    ctx.check()
    if stack.n != 1:
        raise InputError(f"HDRCNN reconstructs HDR from one photo; {stack.n} were loaded")
    if stack.linear:
        name = stack.paths[0] or "the input"
        raise InputError(
            f"{name}: HDRCNN needs a display-referred 8/16-bit photo (JPEG/PNG/TIFF), "
            "not linear data (EXR/RAW), which has no clipped highlights to reconstruct"
        )
    from app.models import weights

    # the CPU: numpy (see hdrcnn_numpy); the torch module only for --device cuda
    model, digest, dev = weights.numpy_or_cuda_model(WEIGHTS_KEY, "hdrcnn", device,
                                                     load_model, load_numpy_model)
    ctx.report(0.05, "hdrcnn: model loaded")
    frame = stack.frames[0]
    out = reconstruct(model, frame, ctx, gamma=float(params.get("gamma", 1.0)),
                      scale=float(params.get("scale", 1.0)),
                      net_size=int(params.get("net_size", NET_SIZE)), device=dev,
                      mode=str(params.get("highlights", DEFAULT_MODE)),
                      peak=float(params.get("peak", PEAK)), half=half)
    notes = {"saturated_fraction": float(np.count_nonzero(channel_max(frame) > TAU)) / frame[..., 0].size,
             "net_shape": net_shape(*frame.shape[:2], int(params.get("net_size", NET_SIZE)))}
    return MethodOutput(image=out, weights_sha256=digest, device=dev, notes=notes)
