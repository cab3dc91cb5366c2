"""Before/after 100 % crops of deghosting on the real dynamic brackets (no truth exists for them):
``python -m app.bench.deghost_figures [-o resources/readme/deghost-crops.jpg]``.

Brackets: pmef-dynamic/dynamic (5 TIFFs, people walking; exposures estimated) and
imusil-ghostfree/bmw_x5 (3 raw colour-filter-array BMPs, demosaiced here with OpenCV's
bilinear Bayer conversion, relative exposures 400:1600:6400 from the manifest; moving cars).
For each, the crop is centred on the strongest motion the ghost test finds; columns: Mertens
without and with deghosting, Debevec without and with its ghost-aware merge, ESBN (the HDR
results tone mapped with the same Reinhard rendering).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from app.bench.dynamic_brackets import DATA
from app.core.merge.ghost import ghost_maps
from app.core.tonemap import render
from app.core.types import ExposureStack, ResultKind, ToneParams
from app.models.registry import availability, get_method
from app.models.runner import run

CROP = (360, 240)  # width, height of each 100 % crop
COLUMNS = (("mertens", {"deghost": "off"}, "mertens"),
           ("mertens", {"deghost": "on"}, "mertens + deghost"),
           ("debevec", {"deghost": "off"}, "debevec"),
           ("debevec", {"deghost": "on"}, "debevec + deghost"),
           ("esbn", {}, "esbn"))


def _read(path: Path, bayer: bool = False) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bayer:
        raw = raw if raw.ndim == 2 else raw[..., 0]
        rgb = cv2.cvtColor(raw, cv2.COLOR_BayerBG2RGB)
    else:
        rgb = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return rgb.astype(np.float32) / np.float32(scale)


def brackets() -> list[tuple[str, ExposureStack]]:
    dyn = sorted((DATA / "pmef-dynamic" / "dynamic").glob("*.tif"))
    frames = sorted((_read(p) for p in dyn), key=lambda f: float(f.mean()))
    bmw = sorted((DATA / "imusil-ghostfree" / "bmw_x5").glob("*.bmp"))
    cars = [_read(p, bayer=True) for p in bmw]
    # the raw channels carry no white balance: grey-world gains of the middle frame, the same
    # for every frame (a camera's white balance)
    mid = cars[1].reshape(-1, 3)
    gains = (mid.mean() / np.maximum(mid.mean(axis=0), 1e-6)).astype(np.float32)
    # every channel clips at the lowest gained white, so clipped highlights stay neutral
    white = np.float32(gains.min())
    cars = [np.minimum(c * gains, white) / white for c in cars]
    return [("pmef-dynamic (5 frames, exposures estimated)", ExposureStack(frames=tuple(frames))),
            ("imusil bmw_x5 (3 raw frames, 0/+2/+4 EV)",
             ExposureStack(frames=tuple(cars), exposures=(400.0, 1600.0, 6400.0)))]


def _centre(stack: ExposureStack) -> tuple[int, int]:
    ghost = ghost_maps(stack.frames, stack.reference).ghost_at(*stack.shape)
    score = cv2.blur(ghost, CROP)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(y), int(x)


def figure(out: Path) -> Path:
    tone = ToneParams(tmo="reinhard")
    rows = []
    for title, stack in brackets():
        h, w = stack.shape
        cy, cx = _centre(stack)
        y0 = int(np.clip(cy - CROP[1] // 2, 0, h - CROP[1]))
        x0 = int(np.clip(cx - CROP[0] // 2, 0, w - CROP[0]))
        tiles = []
        for method, params, label in COLUMNS:
            if not availability(get_method(method))[0]:
                continue
            res = run(stack, method, params)
            kind = ResultKind.HDR_LINEAR if res.is_hdr else ResultKind.LDR_FUSED
            img = render(res.image, kind, tone)[y0:y0 + CROP[1], x0:x0 + CROP[0]]
            tile = (np.clip(img, 0, 1) * 255).astype(np.uint8)[..., ::-1].copy()
            cv2.rectangle(tile, (0, 0), (CROP[0], 22), (0, 0, 0), -1)
            cv2.putText(tile, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)
            tiles.append(tile)
        band = np.zeros((24, len(tiles) * CROP[0], 3), np.uint8)
        cv2.putText(band, title, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1,
                    cv2.LINE_AA)
        rows += [band, np.hstack(tiles)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=Path("resources/readme/deghost-crops.jpg"))
    args = ap.parse_args(argv)
    print(figure(args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
