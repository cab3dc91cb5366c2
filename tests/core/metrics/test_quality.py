"""The quality read-out: clipped and crushed shares, MEF-SSIM ranks a good fusion above a
single exposure."""

from __future__ import annotations

import numpy as np

from app.core.metrics.quality import quality
from tests import synthetic


def test_clipped_and_crushed_shares():
    img = np.zeros((100, 100, 3), np.float32)
    img[:25] = 1.0  # a quarter clipped
    img[25:50] = 0.5
    q = quality(img)
    assert q.mef_ssim is None  # no exposures given
    assert abs(q.clipped - 0.25) < 1e-6 and abs(q.crushed - 0.5) < 1e-6
    assert "clipped 25.0 %" in q.text() and "crushed 50.0 %" in q.text()


def test_mef_ssim_prefers_a_fusion_to_one_exposure():
    frames = synthetic.photograph(synthetic.radiance_field(120, 160), synthetic.TIMES)
    from app.core.types import ExposureStack
    from app.models.runner import run

    fused = run(ExposureStack(frames=tuple(frames)), "mertens").image
    good = quality(fused, frames)
    single = quality(frames[1], frames)
    assert good.mef_ssim > single.mef_ssim + 0.02
    assert good.as_dict()["mef_ssim"] == round(good.mef_ssim, 4)
