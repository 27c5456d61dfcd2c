"""The overlay's label stays whole on small pictures (issue 16: "…neutr" was cut off)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from posture.classify import band_phrase, classify_tilt
from posture.present.overlay import _label, label_text


def fake_assessment(value=-12.3, interval=(-18.0, -6.0), band="posterior"):
    tilt = SimpleNamespace(value=value, interval=interval)
    sev = classify_tilt(value, 0.1)
    assert sev.band == band
    return SimpleNamespace(measurements=SimpleNamespace(pelvic_tilt=tilt), severity=sev)


def test_label_names_both_bands_when_they_are_close():
    """The picture says what the page says: 15.2° (σ 2°) is neutral or mild, not one band
    (the old label printed the most probable band alone: "mild")."""
    tilt = SimpleNamespace(value=15.2, interval=(11.9, 18.5))
    a = SimpleNamespace(measurements=SimpleNamespace(pelvic_tilt=tilt),
                        severity=classify_tilt(15.2, 2.0))
    assert label_text(a).endswith(band_phrase(a.severity).lower())
    assert "neutral" in label_text(a) and "mild" in label_text(a)


@pytest.mark.parametrize("width", [120, 180, 260, 400, 1200])
def test_label_fits_the_picture_width(width):
    img = np.full((400, width, 3), 128, np.uint8)
    _label(img, fake_assessment(7.5, (1.5, 13.5), "neutral"),
           max(1, round(max(img.shape[:2]) / 400)))
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


@pytest.mark.slow
def test_the_app_overlay_carries_no_baked_text(analyzer):
    """The app shows the numbers as page text (they scale, screen readers reach them): its
    overlay is drawn without the label box that ``--annotate`` pictures keep."""
    from conftest import SAMPLES

    from posture.images import load_image
    from posture.present.overlay import draw_overlay

    rgb = load_image(SAMPLES / "s2024_000023.jpg").rgb
    a = analyzer.analyze(rgb)
    with_label, bare = draw_overlay(rgb, a), draw_overlay(rgb, a, label=False)
    corner = (slice(0, 20), slice(0, 60))
    assert (with_label[corner] == 0).all(axis=2).mean() > 0.5  # the black label box
    assert (bare[corner] == rgb[corner]).all()
