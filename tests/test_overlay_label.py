"""The overlay's label stays whole on small pictures (issue 16: "…neutr" was cut off)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from posture.present.overlay import _label


def fake_assessment(value=-12.3, interval=(-18.0, -6.0), band="posterior"):
    tilt = SimpleNamespace(value=value, interval=interval)
    return SimpleNamespace(measurements=SimpleNamespace(pelvic_tilt=tilt),
                           severity=SimpleNamespace(band=band))


@pytest.mark.parametrize("width", [120, 180, 260, 400, 1200])
def test_label_fits_the_picture_width(width):
    img = np.full((400, width, 3), 128, np.uint8)
    _label(img, fake_assessment(band="neutral"), max(1, round(max(img.shape[:2]) / 400)))
    white = (img > 200).all(axis=2)
    assert white.any(), "no label drawn"
    cols = np.flatnonzero(white.any(axis=0))
    assert cols.max() < width - 3, f"text reaches the right edge at width {width}"


def test_small_picture_wraps_instead_of_cutting():
    narrow = np.full((400, 120, 3), 128, np.uint8)
    _label(narrow, fake_assessment(), 1)
    box_h = np.flatnonzero((narrow == 0).all(axis=2).any(axis=1)).max()
    # one line at the smallest scale is a 28 px box: a taller one holds several lines
    assert box_h > 30
