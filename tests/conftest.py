"""Shared fixtures: the location of ../shared/data (skip cleanly when absent) and a synthetic
bracket with ground truth (always available)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import synthetic

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LUMAFUSE_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; tests using it skip (with the reason) when it is not there."""
    if not (SHARED_DATA / "manifest.json").is_file():
        pytest.skip(f"real-photo data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_scene():
    """(radiance HxWx3 linear, frames list display [0,1], times seconds)."""
    rad = synthetic.radiance_field()
    return rad, synthetic.photograph(rad), synthetic.TIMES


@pytest.fixture
def one_torch_thread():
    """Small tensors on a shared 2-core machine: one torch thread avoids OpenMP wait storms."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
