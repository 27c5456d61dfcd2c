"""Shared fixtures: the owners' real photos (skipped when absent) and one pose model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
SAMPLES = ROOT / "samples"


def _manifest() -> list[dict]:
    path = SHARED_PHOTOS / "manifest.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


REAL_PHOTOS = _manifest()


@pytest.fixture(scope="session")
def shared_photos() -> Path:
    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/photos is absent (a clone outside the project workspace)")
    return SHARED_PHOTOS


@pytest.fixture(scope="session")
def analyzer():
    """One Analyzer (full model) for the whole run; skipped when no model can be had."""
    from posture.analysis import Analyzer
    from posture.errors import ModelError

    try:
        a = Analyzer("full")
    except ModelError as exc:
        pytest.skip(f"no pose model: {exc.message}")
    yield a
    a.close()
