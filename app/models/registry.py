"""The method catalogue: one explicit tuple of :class:`MethodSpec`, no file scanning.

Classical entries point into ``app.core``; learned entries point at their own module in
``app.models`` (which imports torch lazily, inside functions). A method whose dependency or
weights are missing stays listed, marked unavailable with the reason.

Entry-point contract: ``entry`` names ``"module:callable"`` with signature
``fn(stack: ExposureStack, params: dict, ctx: TaskContext, device: str) -> MethodOutput``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from app.core.errors import InputError
from app.core.types import ParamSpec, ResultKind


@dataclass(frozen=True)
class MethodOutput:
    """What an entry point returns; the runner wraps it into a Result with provenance.

    image: float32 HxWx3, linear radiance for HDR_LINEAR methods, [0, 1] display for LDR_FUSED;
    uint8 / uint16 display codes when the entry point was asked for ``codes`` (returns_codes);
    float16 radiance when it was asked for ``half`` (returns_half).
    """

    image: np.ndarray
    weights_sha256: str | None = None
    device: str = "cpu"
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    id: str  # snake_case; the CLI -m value, weight file prefix, provenance name
    title: str
    kind: str  # "classical" | "learned"
    output: ResultKind
    entry: str  # "module:callable"
    description: str  # one line shown in the GUI and list-methods
    citation: str
    params: tuple[ParamSpec, ...] = ()
    min_exposures: int = 2
    max_exposures: int | None = None  # None = any number
    needs_times: bool = False  # needs relative exposures (estimated when EXIF is missing)
    requires: tuple[str, ...] = ()  # importable modules, e.g. ("torch",)
    weights_key: str | None = None  # key in weights/manifest.json
    size_multiple: int = 1
    # takes display frames as uint8 / uint16 codes (what load_stack keeps); run() hands float32
    # [0, 1] frames to a method without it
    accepts_codes: bool = False
    # can return its display result quantised (entry point keyword ``codes`` = 8 or 16): an
    # export with a neutral tone needs nothing more, and no float32 image (12 B/px) is made
    returns_codes: bool = False
    # can return its HDR radiance as float16 (entry point keyword ``half=True``): an export
    # that only writes half-float EXRs or 8-bit renderings needs no float32 radiance (12 B/px -> 6)
    returns_half: bool = False
    # reads each frame row once, in strips, and can release the rows it has merged (entry point
    # keyword ``release_frames=True``): a one-shot export that never reads the frames again
    # then never holds the frames and the whole result at once
    releases_frames: bool = False

    def load(self) -> Callable[..., MethodOutput]:
        module, _, name = self.entry.partition(":")
        return getattr(importlib.import_module(module), name)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise InputError(f"method {self.id!r} has no parameter {name!r} (valid: {valid})")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def exposure_range_text(self) -> str:
        if self.max_exposures is None:
            return f"{self.min_exposures}+"
        if self.max_exposures == self.min_exposures:
            return str(self.min_exposures)
        return f"{self.min_exposures}-{self.max_exposures}"


_MERTENS_PARAMS = (
    ParamSpec("contrast", float, 1.0, "weight exponent of local contrast", 0.0, 4.0),
    ParamSpec("saturation", float, 1.0, "weight exponent of colour saturation", 0.0, 4.0),
    ParamSpec(
        "exposedness", float, 0.5,
        "weight exponent of well-exposedness (paper: 1; 0.5 scored best on the training "
        "scenes, both as extreme pairs and as full stacks)",
        0.0, 4.0,
    ),
    ParamSpec("sigma", float, 0.2, "width of the well-exposedness Gaussian", 0.01, 1.0),
    ParamSpec(
        "deghost", str, "auto",
        "where frames disagree (motion), keep the reference frame: on, off, or auto (on when "
        "the ghost test finds motion in more than 0.4 % of the picture)",
        choices=("auto", "on", "off"),
    ),
)

_HDR_MERGE_PARAMS = (
    # "auto" like mertens': measured on static brackets (app.bench.deghost), the ghost-aware
    # merge costs nothing there (static PSNR-mu 36.07 with it, 35.71 without), and a moving
    # scene merged without it shows transparent people and colour blotches
    ParamSpec(
        "deghost", str, "auto",
        "where frames disagree (motion), keep the reference frame: on, off, or auto (on when "
        "the ghost test finds motion in more than 0.4 % of the picture)",
        choices=("auto", "on", "off"),
    ),
    ParamSpec("samples", int, 70, "pixel samples for response-curve recovery", 20, 1000),
)

METHODS: tuple[MethodSpec, ...] = (
    MethodSpec(
        id="mertens",
        title="Exposure fusion (Mertens)",
        kind="classical",
        output=ResultKind.LDR_FUSED,
        entry="app.models.classical:run_mertens",
        description="Blends the best-exposed parts of each frame; no exposure times needed.",
        citation="Mertens, Kautz, Van Reeth: Exposure Fusion, Pacific Graphics 2007",
        params=_MERTENS_PARAMS,
        min_exposures=2,
        accepts_codes=True,
        returns_codes=True,
    ),
    MethodSpec(
        id="debevec",
        title="HDR merge (Debevec)",
        kind="classical",
        output=ResultKind.HDR_LINEAR,
        entry="app.models.classical:run_debevec",
        description="Recovers the camera response and merges a linear HDR radiance map.",
        citation="Debevec, Malik: Recovering High Dynamic Range Radiance Maps, SIGGRAPH 1997",
        params=_HDR_MERGE_PARAMS,
        min_exposures=2,
        needs_times=True,
        accepts_codes=True,
        returns_half=True,
        releases_frames=True,
    ),
    MethodSpec(
        id="robertson",
        title="HDR merge (Robertson)",
        kind="classical",
        output=ResultKind.HDR_LINEAR,
        entry="app.models.classical:run_robertson",
        description="Iterative response recovery and maximum-likelihood HDR radiance merge.",
        citation="Robertson, Borman, Stevenson: Estimation-theoretic HDR imaging, JEI 2003",
        params=_HDR_MERGE_PARAMS[:1],
        min_exposures=2,
        accepts_codes=True,
        needs_times=True,
        returns_half=True,
        releases_frames=True,
    ),
    MethodSpec(
        id="hdrcnn",
        title="Single-photo HDR (HDRCNN)",
        kind="learned",
        output=ResultKind.HDR_LINEAR,
        entry="app.models.hdrcnn:run_hdrcnn",
        description="Reconstructs clipped highlights of one photo into a linear HDR image.",
        citation="Eilertsen, Kronander, Denes, Mantiuk, Unger: HDR image reconstruction from a "
        "single exposure using deep CNNs, SIGGRAPH Asia 2017",
        params=(
            ParamSpec("gamma", float, 1.0, "highlight boost: predict on x^(1/g), output H^g "
                      "(1.1-1.3 brightens reconstructed highlights)", 0.5, 3.0),
            ParamSpec("scale", float, 1.0, "pre-scale x -> min(1, s*x) before the network "
                      "(> 1 suppresses JPEG artefacts near highlights)", 1.0, 4.0),
            ParamSpec("net_size", int, 384, "long side in px at which the network sees the "
                      "photo (384: the scale it was trained at, measured best); the blend stays "
                      "at full resolution", 128, 2048),
            ParamSpec("highlights", str, "surround", "blend of the prediction: surround (keep "
                      "measured channels, a clipped channel never below its clip level, fully "
                      "clipped pixels take the colour of their measured surround), channel (the "
                      "first two only), paper (one weight per pixel, all channels predicted)",
                      choices=("surround", "channel", "paper")),
            ParamSpec("peak", float, 1.3, "scales the predicted log radiance above the clip "
                      "level: 1 = as the network predicts; 1.3 (measured best on the images it "
                      "was trained on) makes up for its too-low peaks", 1.0, 2.0),
        ),
        min_exposures=1,
        max_exposures=1,  # one photo: for brackets use debevec/robertson
        requires=("safetensors",),  # the network runs in numpy on the CPU; torch only for cuda
        weights_key="hdrcnn",
        returns_half=True,
    ),
    MethodSpec(
        id="deepfuse",
        title="Learned two-exposure fusion (DeepFuse)",
        kind="learned",
        output=ResultKind.LDR_FUSED,
        entry="app.models.deepfuse:run_deepfuse",
        description="CNN trained here with the MEF-SSIM loss predicts blend weights for two "
        "exposures; with more than two it fuses the darkest and brightest unless 'pair' says "
        "otherwise. By default it keeps its blend, OpenCV's Mertens or ours, whichever scores "
        "the highest MEF-SSIM on the pair.",
        citation="Prabhakar, Srikar, Babu: DeepFuse: A Deep Unsupervised Approach for Exposure "
        "Fusion with Extreme Exposure Image Pairs, ICCV 2017",
        params=(
            ParamSpec("pair", str, "extremes", "which two frames to fuse: 'extremes' (darkest "
                      "and brightest) or 0-based indices in dark-to-bright order, e.g. '0,2'"),
            ParamSpec("proxy", int, 256, "long side in px (at most) at which the network "
                      "predicts weights; blending stays at full resolution", 64, 2048),
            ParamSpec("select", str, "auto", "auto: render the network's blend, OpenCV's "
                      "MergeMertens and the product's Mertens at 512 px and keep the one with the "
                      "highest MEF-SSIM against the pair; net: the network's blend only",
                      choices=("auto", "net")),
        ),
        min_exposures=2,
        requires=("safetensors",),  # the network runs in numpy on the CPU; torch only for cuda
        weights_key="deepfuse",
        accepts_codes=True,
        returns_codes=True,
    ),
    MethodSpec(
        id="rl_fusion",
        title="Two-exposure fusion with a learned middle frame (RL)",
        kind="learned",
        output=ResultKind.LDR_FUSED,
        entry="app.models.rl_fusion:run_rl_fusion",
        description="Builds a virtual middle exposure from the pair; an agent trained here edits "
        "it (contrast, saturation, brightness) until the three-frame fusion stops improving.",
        citation="Yin, Chen, Peng, Hwang: Automatic Intermediate Generation With Deep "
        "Reinforcement Learning for Robust Two-Exposure Image Fusion, IEEE TNNLS 33(12), 2022",
        params=(
            ParamSpec("max_steps", int, 20, "most edits the agent may make", 0, 50),
            ParamSpec("stop_at", int, -1, "use only the agent's first N edits (-1: all it "
                      "chose); the GUI's step slider sets it", -1, 50),
        ),
        min_exposures=2,
        max_exposures=2,
        requires=("safetensors",),  # the agent runs in numpy: no torch
        weights_key="rl_fusion",
    ),
    MethodSpec(
        id="esbn",
        title="Ghost-free HDR of moving scenes (ESBN)",
        kind="learned",
        output=ResultKind.HDR_LINEAR,
        entry="app.models.esbn:run_esbn",
        description="Networks trained here re-draw the darker and brighter frames with the "
        "reference frame's structure (moving people, cars, leaves stay where the reference has "
        "them), then merge the three into linear HDR.",
        citation="Lee, Chung, Cho: Exposure-Structure Blending Network for High Dynamic Range "
        "Imaging of Dynamic Scenes, IEEE Access 8, 2020",
        params=(
            ParamSpec("tile", int, 512, "tile side in px the networks run on (multiple of 8; "
                      "memory grows with it)", 128, 2048),
            ParamSpec("outside_motion", str, "merge", "merge: the networks where things moved "
                      "and the reference frame is clipped or black, the classical ghost-aware "
                      "merge elsewhere (exact on static content); network: the networks' output "
                      "everywhere",
                      choices=("merge", "network")),
        ),
        min_exposures=2,
        max_exposures=5,
        needs_times=True,
        requires=("torch",),
        weights_key="esbn",
    ),
)


def _check_unique(methods: tuple[MethodSpec, ...]) -> None:
    seen: set[str] = set()
    for m in methods:
        if m.id in seen:
            raise RuntimeError(f"duplicate method id {m.id!r} in the registry")
        seen.add(m.id)


_check_unique(METHODS)


def get_method(method_id: str) -> MethodSpec:
    for m in METHODS:
        if m.id == method_id:
            return m
    raise InputError(
        f"unknown method {method_id!r}; valid methods: {', '.join(m.id for m in METHODS)}"
    )


def availability(spec: MethodSpec) -> tuple[bool, str]:
    """(available, reason). Cheap: checks importability and the weights manifest, loads nothing."""
    for mod in spec.requires:
        if importlib.util.find_spec(mod) is None:
            return False, f"needs the Python package {mod!r}, which is not installed"
    if spec.weights_key is not None:
        from app.models import weights

        ok, reason = weights.status(spec.weights_key)
        if not ok:
            return False, reason
    return True, ""


def runnable_on(spec: MethodSpec, n_frames: int) -> tuple[bool, str]:
    """Whether the method can run on a stack of ``n_frames``: availability and exposure count."""
    ok, reason = availability(spec)
    if not ok:
        return ok, reason
    if n_frames < spec.min_exposures:
        need = spec.min_exposures
        return False, f"{spec.title} needs at least {need} exposures, {n_frames} loaded"
    if spec.max_exposures is not None and n_frames > spec.max_exposures:
        return False, f"{spec.title} takes at most {spec.max_exposures} exposures, {n_frames} loaded"
    return True, ""
