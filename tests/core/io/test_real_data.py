"""Reading real files from ../shared/data (skipped cleanly when the folder is absent)."""

from __future__ import annotations

import numpy as np
import OpenEXR
import pytest

from app.core.io import load_stack, read_exr, read_frame

EXR_CASES = [
    # (scene, storage, width, height)
    ("Desk", "scanline RGBA PIZ", 644, 874),
    ("GoldenGate", "tiled one-level RGB", 1262, 860),
    ("Bonita", "tiled mip-mapped RGB", 550, 832),
    ("StageEnvLatLong", "tiled mip-mapped, round-up", 1000, 500),
    ("Garden", "tiled luminance only", 874, 493),
    ("CrissyField", "luminance/chroma, sub-sampled chroma", 1218, 810),
    ("Cannon", "B44 compressed", 780, 566),
]


@pytest.mark.parametrize("scene,kind,w,h", EXR_CASES, ids=[c[0] for c in EXR_CASES])
def test_openexr_images_read(shared_data, scene, kind, w, h):
    path = shared_data / "openexr-images" / scene / f"{scene}.exr"
    img, info = read_frame(path)
    assert img.shape == (h, w, 3), kind
    assert img.dtype == np.float32 and info.linear
    assert np.isfinite(img).all() and img.min() >= 0
    assert img.max() > 1.0  # real HDR radiance: highlights above display white


def test_tiled_exr_matches_full_resolution_level(shared_data):
    """A mip-mapped file must come back at level 0, equal to what the binding reads."""
    path = shared_data / "openexr-images" / "Bonita" / "Bonita.exr"
    img, header = read_exr(path)
    raw = OpenEXR.File(str(path)).channels()["RGB"].pixels.astype(np.float32)
    np.testing.assert_array_equal(img, np.maximum(raw, 0))
    assert "tiles" in header


def test_luminance_chroma_keeps_the_luminance(shared_data):
    """RGB rebuilt from Y/RY/BY has the file's Y as its Rec.709 luminance (where not clipped)."""
    path = shared_data / "openexr-images" / "CrissyField" / "CrissyField.exr"
    img, _ = read_exr(path)
    y = OpenEXR.File(str(path), separate_channels=True).channels()["Y"].pixels.astype(np.float32)
    lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    unclipped = img.min(axis=2) > 0
    assert unclipped.mean() > 0.95
    np.testing.assert_allclose(lum[unclipped], y[unclipped], rtol=2e-3, atol=1e-4)
    # Chroma went to the right channels: the dry brush in the foreground is warm (R > B)
    # and the foggy sky is neutral-to-cool (swapping RY/BY would invert both).
    ground = img[700:].reshape(-1, 3).mean(axis=0)
    sky = img[:100].reshape(-1, 3).mean(axis=0)
    assert ground[0] > 1.5 * ground[2]
    assert sky[2] > sky[0]


def test_jpeg_bracket_with_exif_times(shared_data):
    """mef-extra/Villa: EXIF 1/25, 1/100, 1/400 s (MANIFEST) -> ordered dark to bright."""
    files = sorted((shared_data / "mef-extra" / "Villa").glob("*.jpg"))
    stack = load_stack(files)
    times = [i.exposure_time for i in stack.infos]
    assert times == pytest.approx([1 / 400, 1 / 100, 1 / 25])
    assert stack.metadata["exposure_source"] == "exif"
    ratios = np.array(stack.exposures[1:]) / np.array(stack.exposures[:-1])
    np.testing.assert_allclose(ratios, [4, 4], rtol=1e-6)
    assert stack.frames[0].shape == (682, 1024, 3)


def test_land_exif_with_aperture(shared_data):
    """mef-extra/Land: 1/350, 1/45, 1/125 s at f/9.5 ISO 100 (MANIFEST EV offsets 0, 2.959, 1.485)."""
    files = sorted((shared_data / "mef-extra" / "Land").glob("*"))
    infos = [read_frame(f)[1] for f in files]
    ev = np.log2(np.array([i.relative_exposure for i in infos]))
    np.testing.assert_allclose(ev - ev.min(), [0, 2.959, 1.485], atol=2e-3)
    assert all(i.f_number == pytest.approx(9.5) for i in infos)


def test_grey_bmp_mosaic(shared_data):
    path = shared_data / "imusil-ghostfree" / "bmw_x5" / "Grey_Image_000.bmp"
    img, info = read_frame(path)
    assert img.shape == (1264, 1984, 3) and not info.linear
    np.testing.assert_array_equal(img[..., 0], img[..., 1])


def test_deflate_tiff_bracket(shared_data):
    files = sorted((shared_data / "hdrps-ds8" / "Golden_Gate_1").glob("*.tif"))
    stack = load_stack(files)
    assert stack.n == 4 and stack.frames[0].shape == (356, 536, 3)
    means = [f.mean() for f in stack.frames]
    assert means == sorted(means)  # no EXIF here: ordered by brightness
