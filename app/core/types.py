"""Value types that flow between the core, the method catalogue and the front ends.

Pixel-domain conventions used everywhere in Lumafuse:

* *display-referred* images are float32 HxWx3 in [0, 1] (sRGB-encoded, as a camera JPEG);
* *linear* images are float32 HxWx3, >= 0, proportional to scene radiance (RAW, EXR, HDR merges);
  relative radiance uses 1.0 = sensor saturation of the reference frame unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from app.core.errors import InputError


class ResultKind(str, Enum):
    """What a method returns."""

    HDR_LINEAR = "hdr_linear"  # relative scene radiance, >= 0, unbounded
    LDR_FUSED = "ldr_fused"  # display-referred, [0, 1]


_CODE_TYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def float_frame(frame: np.ndarray) -> np.ndarray:
    """A frame as C-contiguous float32: uint8 / uint16 display codes -> [0, 1] (code / 255,
    code / 65535, the same values as float32(code) * float32(1 / 255)); a float frame as it is
    (no copy when it already is contiguous float32)."""
    a = np.asarray(frame)
    if a.dtype in _CODE_TYPES:
        import cv2  # one multithreaded convert-and-scale pass, ~2x numpy's astype then *=

        scale = 1.0 / (255.0 if a.dtype == np.uint8 else 65535.0)
        a = np.ascontiguousarray(a)
        return cv2.addWeighted(a, scale, a, 0.0, 0.0, dtype=cv2.CV_32F)
    return np.ascontiguousarray(a, np.float32)


@dataclass(frozen=True)
class FrameInfo:
    """Per-frame metadata read from the file (EXIF or container)."""

    path: str = ""
    exposure_time: float | None = None  # seconds
    iso: float | None = None
    f_number: float | None = None
    linear: bool = False  # True for RAW / EXR / .hdr sources
    bit_depth: int = 8

    @property
    def relative_exposure(self) -> float | None:
        """t * ISO / N^2 when the time is known (ISO and N default to 100 and 1 when absent)."""
        if self.exposure_time is None or self.exposure_time <= 0:
            return None
        iso = self.iso if self.iso and self.iso > 0 else 100.0
        n = self.f_number if self.f_number and self.f_number > 0 else 1.0
        return float(self.exposure_time * iso / (n * n))


@dataclass(frozen=True)
class ExposureStack:
    """An immutable bracket of frames of one scene, ordered dark to bright.

    frames: HxWx3 arrays. Display-referred when ``linear`` is False (JPEG/PNG/TIFF): float32 in
        [0, 1], or the file's integer codes (uint8 / uint16; code / 255 or / 65535 is the [0, 1]
        value), which is how :func:`app.core.io.load_stack` keeps them (a quarter / half of the
        memory of float32; methods that work on floats get them through :meth:`as_float`).
        Linear radiance >= 0 when True (RAW, EXR): always floating point.
    exposures: relative exposure of each frame (t * ISO / N^2, any common unit), or None when
        unknown; methods that need them call :func:`app.core.io.exposure.ensure_exposures`.
    reference: index of the reference frame (for alignment / deghosting), default the middle one.
    reference_mask: optional HxW float32 map in [0, 1] at the frames' size: 1 where the result
        must come from the reference frame alone (selective deghosting, painted by the user).
    """

    frames: tuple[np.ndarray, ...]
    exposures: tuple[float, ...] | None = None
    infos: tuple[FrameInfo, ...] = ()
    linear: bool = False
    reference: int = -1
    aligned: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    reference_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        frames = tuple(self.frames)
        if len(frames) < 1:
            raise InputError("the stack holds no frames")
        h, w = frames[0].shape[:2]
        for i, f in enumerate(frames):
            if f.ndim != 3 or f.shape[2] != 3:
                raise InputError(f"frame {i} must be HxWx3, got shape {f.shape}")
            if f.dtype != frames[0].dtype:
                raise InputError(f"frame {i} holds {f.dtype} values, frame 0 {frames[0].dtype}")
            if f.dtype.kind in "iub" and (f.dtype not in _CODE_TYPES or self.linear):
                raise InputError(f"frame {i}: {f.dtype} pixels are not display codes (uint8 or "
                                 "uint16; linear frames are floating point)")
            if f.shape[:2] != (h, w):
                raise InputError(
                    f"frames differ in size: frame 0 is {w}x{h}, frame {i} is "
                    f"{f.shape[1]}x{f.shape[0]} (use --align to register hand-held shots)"
                )
        object.__setattr__(self, "frames", frames)
        if self.exposures is not None:
            exps = tuple(float(e) for e in self.exposures)
            if len(exps) != len(frames):
                raise InputError(f"{len(exps)} exposure values given for {len(frames)} frames")
            if any(not np.isfinite(e) or e <= 0 for e in exps):
                raise InputError("exposure values must be positive and finite")
            object.__setattr__(self, "exposures", exps)
        if not self.infos:
            object.__setattr__(self, "infos", tuple(FrameInfo() for _ in frames))
        ref = self.reference if self.reference >= 0 else len(frames) // 2
        object.__setattr__(self, "reference", min(ref, len(frames) - 1))
        if self.reference_mask is not None:
            m = np.asarray(self.reference_mask, np.float32)
            if m.shape != (h, w):
                raise InputError(f"the reference mask is {m.shape[1::-1]} pixels, the frames {w}x{h}")
            if not np.isfinite(m).all() or m.min() < 0.0 or m.max() > 1.0:
                raise InputError("the reference mask must hold values in [0, 1]")
            object.__setattr__(self, "reference_mask", m)

    @property
    def n(self) -> int:
        return len(self.frames)

    @property
    def shape(self) -> tuple[int, int]:
        return self.frames[0].shape[:2]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(i.path for i in self.infos)

    @property
    def holds_codes(self) -> bool:
        """True when the frames are integer display codes (uint8 / uint16), not floats."""
        return self.frames[0].dtype in _CODE_TYPES

    def as_float(self) -> "ExposureStack":
        """The same stack with float32 frames (codes scaled to [0, 1]); itself when already float."""
        if not self.holds_codes:
            return self
        return self.with_frames([float_frame(f) for f in self.frames])

    def with_frames(self, frames: Sequence[np.ndarray], **changes: Any) -> "ExposureStack":
        """A copy with new frames (same metadata) and optional field changes."""
        return replace(self, frames=tuple(frames), **changes)


@dataclass(frozen=True)
class Provenance:
    """Where a result came from; written into EXR headers and PNG/TIFF text."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    weights_sha256: str | None = None
    device: str = "cpu"
    duration_s: float = 0.0
    software: str = "lumafuse"
    # what a method decided on its own (e.g. the RL agent's edits), written as lumafuse:<key>
    decisions: Mapping[str, str] = field(default_factory=dict)

    def as_text(self) -> dict[str, str]:
        """Flat string map for file metadata."""
        out = {
            "lumafuse:method": self.method,
            "lumafuse:params": repr(dict(self.params)),
            "lumafuse:inputs": ";".join(self.inputs),
            "lumafuse:device": self.device,
            "lumafuse:duration_s": f"{self.duration_s:.3f}",
            "Software": self.software,
        }
        if self.weights_sha256:
            out["lumafuse:weights_sha256"] = self.weights_sha256
        for key, value in self.decisions.items():
            out[f"lumafuse:{key}"] = str(value)
        return out


@dataclass(frozen=True)
class Result:
    """A method's output. ``image`` is float32 HxWx3: radiance (HDR_LINEAR) or [0,1] (LDR_FUSED);
    an LDR_FUSED result made for a plain export (``run(..., codes=8|16)``) may hold its display
    values as uint8 / uint16 codes instead (:attr:`holds_codes`; :meth:`display_float`), and an
    HDR_LINEAR result made for half-float EXR / 8-bit exports (``run(..., half=True)``, see
    ``app.models.pipeline.half_export``) its radiance as float16."""

    image: np.ndarray
    kind: ResultKind
    provenance: Provenance
    # what the method assumed, for the user: e.g. "ev", "exposure_source", "response",
    # "messages" (one-line notes: estimated exposures, a refused response curve)
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(self.notes.get("messages", ()))

    @property
    def is_hdr(self) -> bool:
        return self.kind == ResultKind.HDR_LINEAR

    @property
    def holds_codes(self) -> bool:
        """True when ``image`` holds uint8 / uint16 display codes rather than float32."""
        return self.image.dtype in _CODE_TYPES

    def display_float(self) -> np.ndarray:
        """``image`` as float32: as it is, codes scaled to [0, 1], or float16 radiance widened
        (both a new array)."""
        if self.holds_codes:
            return float_frame(self.image)
        return self.image if self.image.dtype == np.float32 else self.image.astype(np.float32)


@dataclass(frozen=True)
class Look:
    """The look controls applied to the display rendering (see app.core.tonemap.look): sliders
    in -100..100 (0 = unchanged) and tone-curve points (x, y) in [0, 1] on encoded luminance."""

    contrast: float = 0.0
    highlights: float = 0.0
    shadows: float = 0.0
    whites: float = 0.0
    blacks: float = 0.0
    vibrance: float = 0.0
    clarity: float = 0.0
    curve: tuple[tuple[float, float], ...] = ()

    @property
    def is_neutral(self) -> bool:
        return self == Look()

    @property
    def is_local(self) -> bool:
        """Clarity needs the neighbourhood of each pixel (background render in the GUI)."""
        return self.clarity != 0.0


@dataclass(frozen=True)
class ToneParams:
    """Display rendering settings shared by preview and export (what you see is what you export).

    exposure_ev: stops applied in linear light before tone mapping.
    gamma: display gamma; 0 means the sRGB transfer function.
    tmo: tone-mapping operator name from :data:`app.core.tonemap.OPERATORS` ("none" = clip).
    tmo_params: operator-specific parameters.
    saturation: colour saturation multiplier applied after tone mapping (1 = unchanged).
    temperature, tint: white balance (kelvin of the light to neutralise, green-magenta shift),
    per-channel gains in linear light before everything else; 6504 K and 0 = as shot
    (see :mod:`app.core.tonemap.white_balance`).
    look: contrast, highlights, shadows, whites, blacks, vibrance, clarity and a tone curve,
    applied last on the display-encoded image (see :mod:`app.core.tonemap.look`).
    """

    exposure_ev: float = 0.0
    gamma: float = 0.0
    tmo: str = "reinhard"
    tmo_params: Mapping[str, float] = field(default_factory=dict)
    saturation: float = 1.0
    temperature: float = 6504.0
    tint: float = 0.0
    look: Look = field(default_factory=Look)


@dataclass(frozen=True)
class ParamSpec:
    """A method parameter: the GUI builds its form and the CLI parses ``--param`` from this."""

    name: str
    type: type  # int, float, bool or str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def parse(self, text: str) -> Any:
        """Parse and validate a string value (CLI); raises InputError with a clear message."""
        try:
            if self.type is bool:
                low = text.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    value: Any = True
                elif low in ("0", "false", "no", "off"):
                    value = False
                else:
                    raise ValueError(text)
            elif self.type is int:
                value = int(text)
            elif self.type is float:
                value = float(text)
            else:
                value = self.type(text)
        except ValueError:
            raise InputError(
                f"parameter {self.name!r}: {text!r} is not a valid {self.type.__name__}"
            ) from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Check range / choices; returns the (type-coerced) value. A switch (choices with "on"
        and "off", e.g. ``deghost``) also takes a bool or a yes/no word, as "on" / "off": the HDR
        merges' ``deghost`` was a bool before it got "auto", and presets keep it so."""
        if self.choices is not None and {"on", "off"} <= set(self.choices):
            word = str(value).strip().lower() if not isinstance(value, bool) else value
            if word in (True, "true", "yes", "1"):
                value = "on"
            elif word in (False, "false", "no", "0"):
                value = "off"
        if self.type in (int, float) and not isinstance(value, bool):
            try:
                value = self.type(value)
            except (OverflowError, ValueError):  # int(inf), int(nan)
                raise InputError(f"parameter {self.name!r} must be a finite number, got {value}") from None
            if not np.isfinite(value):  # NaN compares False with every bound: refuse it here
                raise InputError(f"parameter {self.name!r} must be a finite number, got {value}")
            if self.minimum is not None and value < self.minimum:
                raise InputError(f"parameter {self.name!r} must be >= {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise InputError(f"parameter {self.name!r} must be <= {self.maximum}, got {value}")
        if self.choices is not None and value not in self.choices:
            raise InputError(
                f"parameter {self.name!r} must be one of {', '.join(self.choices)}, got {value!r}"
            )
        return value


ProgressCallback = Callable[[float, str], None]
