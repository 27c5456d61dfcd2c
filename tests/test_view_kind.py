"""Side / front / back view classifier (posture/view_kind.py)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from posture.pose import Pose, PoseResult
from posture.view_kind import ViewCues, classify_view, decide_kind, view_cues

FIXTURE = Path(__file__).parent / "data" / "front" / "landmarks.npz"


def fixture_poses():
    d = np.load(FIXTURE)
    for i in range(len(d["kind"])):
        yield str(d["kind"][i]), str(d["name"][i]), Pose(
            d["xy"][i].astype(float), d["z"][i].astype(float),
            d["visibility"][i].astype(float), d["presence"][i].astype(float), None, None)


def test_renders_of_each_view_are_told_apart():
    kinds = {}
    for kind, name, pose in fixture_poses():
        got = classify_view(pose)
        assert got.kind == kind, (name, got)
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"front": 6, "back": 6, "side": 6}


def test_a_mirrored_front_or_back_view_keeps_its_kind():
    for kind, name, pose in fixture_poses():
        mirrored = PoseResult((pose,), 540, 960).mirrored().primary
        assert classify_view(mirrored).kind == kind, name


SQUARE = ViewCues(width=0.55, order=1.0, face_depth=-1.2, axis_deg=2.0, visibility=0.99)


@pytest.mark.parametrize("change, reason", [
    (dict(width=0.46), "part-way"),
    (dict(order=-1.0), "face or the back"),  # labels say back, the face says front
    (dict(face_depth=0.02), "face or the back"),
    (dict(axis_deg=80.0), "from vertical"),
    (dict(visibility=0.1), "not all seen"),
])
def test_what_is_none_of_them_is_refused_with_a_reason(change, reason):
    assert decide_kind(SQUARE).kind == "front"
    got = decide_kind(dataclasses.replace(SQUARE, **change))
    assert got.kind == "unclear" and reason in got.reason


def test_nobody_is_refused():
    assert classify_view(None).kind == "unclear"


def test_side_threshold_matches_the_side_gate():
    """No side photo changes fate: side-on up to the side gate's frontal ratio."""
    from posture.config import load_data_file
    from posture.view_kind import view_kind_thresholds

    gate = load_data_file("thresholds.yaml")["view"]["max_frontal_ratio"]
    assert view_kind_thresholds()["max_side_width"] == gate
    for kind, _, pose in fixture_poses():
        if kind == "side":
            assert view_cues(pose).width <= gate


def test_the_owners_real_side_photos_are_side_views(shared_photos):
    import cv2

    from posture.pose import PoseEstimator

    photos = sorted(shared_photos.glob("*.jpg"))
    assert len(photos) == 8
    with PoseEstimator("full") as est:
        for path in photos:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            scale = 1024 / max(rgb.shape[:2])
            if scale < 1:
                rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            assert classify_view(est.detect(rgb).primary).kind == "side", path.name
