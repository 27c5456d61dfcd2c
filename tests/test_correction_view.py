"""The clinic's landmark correction view (issue 22 item 12): the red pelvis line runs
through the ASIS and PSIS the clinician placed, and the magnified inset's labels stay
apart. Hand-made landmarks, no pose model."""

from __future__ import annotations

import numpy as np
import pytest
from handmade import make_pose

from posture.analysis import assess, reassess
from posture.correction import drawable, image_to_inset, pelvis_line_through, pelvis_window
from posture.pose import PoseResult
from posture.present.compare import inset, label_boxes, mark_points
from posture.present.overlay import PELVIS_COLOUR, draw_overlay

PLACED = {"asis": (540.0, 600.0), "psis": (430.0, 590.0)}


@pytest.fixture(scope="module")
def placed():
    a = assess(PoseResult((make_pose(),), 1000, 1200), None)
    return a, reassess(a, PLACED)


def _off_line(p, ends) -> float:
    a, b = (np.asarray(e, float) for e in ends)
    d, q = b - a, np.asarray(p, float) - a
    return float(abs(d[0] * q[1] - d[1] * q[0]) / np.linalg.norm(d))


def test_pelvis_line_runs_through_the_placed_points(placed):
    _, shown = placed
    ends = pelvis_line_through(shown, PLACED)
    for p in PLACED.values():
        assert _off_line(p, ends) < 0.5  # pixels
    # as drawn: the overlay's red line covers the middle of the placed pair
    img = draw_overlay(np.full((1200, 1000, 3), 128, np.uint8), drawable(shown, PLACED),
                       contour=False)
    img = mark_points(img, PLACED)
    red = np.all(np.abs(img.astype(int) - PELVIS_COLOUR) < 40, axis=2)
    for t in (0.1, 0.5, 0.9):
        x, y = (int(round((1 - t) * PLACED["psis"][i] + t * PLACED["asis"][i])) for i in (0, 1))
        assert red[y - 2:y + 3, x - 2:x + 3].any(), t


def test_estimated_line_is_left_where_the_overlay_puts_it(placed):
    a, _ = placed
    assert drawable(a) is a  # no tilt: nothing to change


def test_inset_labels_of_close_points_stay_apart(placed):
    a, shown = placed
    box = pelvis_window(a)
    pts = {"hip": tuple(shown.side.points_px["hip_near"]), **PLACED}
    pic = inset(np.zeros((1200, 1000, 3), np.uint8), box)
    mapped = {n: image_to_inset(p, box, (pic.shape[1], pic.shape[0])) for n, p in pts.items()}
    boxes = list(label_boxes(pic.shape, mapped).values())
    for i, b1 in enumerate(boxes):
        for b2 in boxes[i + 1:]:
            assert not (b1[0] < b2[2] and b2[0] < b1[2] and b1[1] < b2[3] and b2[1] < b1[3])


def test_inset_mapping_inverts_the_click_mapping():
    from posture.correction import click_to_image

    box = (100, 200, 300, 500)
    x, y = image_to_inset((150.0, 260.0), box, (420, 630))
    assert click_to_image({"x": x, "y": y, "width": 420, "height": 630}, box) == \
        pytest.approx((150.0, 260.0))
