"""Behaviour of the helpers added for speed (issue 8): same answers as the slow way.

No timings here: bench/speed.py measures those.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from posture.horizon import estimate_roll, line_segments, roll_from_segments
from posture.sagittal import BodyFrame, silhouette


def _room(width: int, height: int, roll_deg: float) -> np.ndarray:
    """A plain wall with door-frame verticals rotated clockwise by ``roll_deg``."""
    import cv2

    img = np.full((height, width, 3), 200, np.uint8)
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    half = 0.45 * height
    for fx in (0.12, 0.25, 0.75, 0.88):
        x, y = fx * width, height / 2
        p0 = (int(x - half * s), int(y + half * c))
        p1 = (int(x + half * s), int(y - half * c))
        cv2.line(img, p0, p1, (30, 30, 30), max(2, width // 200))
    return img


def _person(width: int, height: int) -> np.ndarray:
    """A person-shaped probability mask over the middle third, one of the lines included."""
    m = np.zeros((height, width), np.float32)
    m[height // 10: 9 * height // 10, int(0.22 * width): int(0.45 * width)] = 0.9
    return m


@pytest.mark.parametrize("size", [(600, 800), (1200, 1600), (640, 480)])
@pytest.mark.parametrize("roll_deg", [-2.5, 0.0, 1.5])
def test_roll_from_segments_finds_the_drawn_roll_at_every_size(size, roll_deg):
    # Against the roll the picture was drawn with (not against estimate_roll, whose body is
    # roll_from_segments(line_segments(...))): the 640 px line search loses no accuracy on
    # a large picture, and a mask given as probabilities, booleans or integers is one mask.
    img = _room(*size, roll_deg)
    mask = _person(*size)
    segs = line_segments(img)
    found = [roll_from_segments(segs, m) for m in
             (mask, mask > 0.5, (mask > 0.5).astype(np.int64))]
    for r in found:
        assert r.source == "estimated" and r.deg == pytest.approx(roll_deg, abs=0.6)
    assert len({(r.deg, r.evidence) for r in found}) == 1
    unmasked = roll_from_segments(segs)
    assert unmasked.deg == pytest.approx(roll_deg, abs=0.6)
    assert unmasked.evidence > found[0].evidence  # the masked door line is left out
    assert estimate_roll(img, mask).deg == pytest.approx(roll_deg, abs=0.6)


def test_segments_at_640px_take_a_full_size_mask():
    img = _room(1200, 1600, 1.0)
    segs = line_segments(img)
    assert max(segs.size) == 640 and segs.seg.shape[1] == 4
    # a full-size mask covering one door line drops it: less evidence than without the mask
    with_mask = roll_from_segments(segs, _person(1200, 1600))
    assert with_mask.evidence < roll_from_segments(segs).evidence


def test_no_lines_gives_level():
    segs = line_segments(np.full((400, 300, 3), 128, np.uint8))
    assert len(segs.seg) == 0
    assert roll_from_segments(segs, np.ones((400, 300), np.float32)).source == "none"


def _frame(h: float) -> BodyFrame:
    # facing right, level, ankles at the bottom centre, stature = image height
    return BodyFrame(np.array([150.0, h - 1]), np.array([1.0, 0.0]), np.array([0.0, -1.0]),
                     float(h))


def test_silhouette_keeps_only_the_region_under_the_hips():
    h, w = 400, 300
    mask = np.zeros((h, w), np.float32)
    mask[40:399, 130:170] = 1.0  # the body, through the hip point (150, 199)
    mask[150:250, 171:260] = 1.0  # a blob in front of it (a chair), column 170 empty
    sil = silhouette(mask, _frame(h), 0.4, 0.6, 11)
    assert np.nanmax(sil.anterior) < (170 - 150) / h  # the chair is not the front
    # one pixel joining them only diagonally: 8-connected, so the blob is now the body
    joined = mask.copy()
    joined[149, 170] = 1.0
    sil2 = silhouette(joined, _frame(h), 0.4, 0.6, 11)
    assert np.nanmax(sil2.anterior) > (250 - 150) / h
    assert mask[149, 170] == 0.0 and joined.max() == 1.0  # inputs are not modified


def test_silhouette_falls_back_to_the_largest_region_when_the_hips_miss():
    h, w = 400, 300
    mask = np.zeros((h, w), np.float32)
    mask[40:399, 60:100] = 1.0  # large, away from the axis
    mask[300:320, 220:230] = 1.0  # small
    sil = silhouette(mask, _frame(h), 0.2, 0.8, 13)
    got = sil.posterior[np.isfinite(sil.posterior)]
    assert got.size and np.allclose(got, (60 - 150) / h, atol=1 / 800 + 1e-9)
    assert silhouette(np.zeros((h, w), np.float32), _frame(h), 0.2, 0.8, 13) is None


def test_the_patch_network_answers_the_same_in_one_call_or_many():
    """The graph takes any batch (a photo's 18 patches x 3 members in one call); the library
    feeds it CHUNK patches at a time to keep the activations small (issue 26). The answer
    of a patch must not depend on the batch it rides in."""
    from posture.estimator import load_estimator, network_input
    from posture.estimator_runtime import CHUNK

    net = load_estimator().patchnet
    rng = np.random.default_rng(54)
    patches = rng.integers(0, 256, (18, 2, 64, 64)).astype(np.uint8)
    patches[:, 1] = np.where(patches[:, 1] > 128, 255, 0)  # a mask is mostly 0 or 255
    x = network_input(patches, net.mask_blur_px)
    whole = net._session.run(None, {net._input: x})[0]  # one call, all 18 patches
    assert whole.shape == (18, net.n_members, 2) and 1 <= CHUNK < 18
    chunked = net.forward(x)
    one_by_one = np.concatenate([net.forward(x[i:i + 1]) for i in range(len(x))])
    assert np.abs(whole - chunked).max() < 1e-4
    assert np.abs(whole - one_by_one).max() < 1e-4
    assert np.abs(net.predict(patches) - whole.mean(axis=1)).max() < 1e-4
