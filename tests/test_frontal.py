"""Front/back-view measures (posture/frontal.py): signs, roll, mirror, knees, stature."""

from pathlib import Path

import numpy as np
import pytest

from posture.frontal import (
    knee_frontal_deg,
    lateral_shift_frac,
    level_deg,
    measure_frontal,
    stature_px,
    to_body_plane,
    with_mirror,
)
from posture.horizon import Roll
from posture.pose import LM, Pose, PoseResult

FIXTURE = Path(__file__).parent / "data" / "front" / "landmarks.npz"


def turn_clockwise(points, deg, centre=(500.0, 500.0)):
    """What a camera roll of ``deg`` (horizon.py convention) does to image points."""
    r = np.radians(deg)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])  # y down: clockwise
    return (np.asarray(points, float) - centre) @ rot.T + centre


def test_level_sign_follows_the_subject_not_the_image():
    # a point on the image's right 10 px higher than the one on its left
    right_end, left_end = np.array([600.0, 490.0]), np.array([400.0, 500.0])
    expected = np.degrees(np.arctan2(10, 200))
    # front view: the image's right is the subject's left -> left higher -> positive
    assert level_deg(right_end, left_end, 0.0, "front") == pytest.approx(expected)
    assert level_deg(left_end, right_end, 0.0, "front") == pytest.approx(expected)
    # back view: the image's right is the subject's right -> negative
    assert level_deg(right_end, left_end, 0.0, "back") == pytest.approx(-expected)
    with pytest.raises(ValueError):
        level_deg(right_end, left_end, 0.0, "side")


@pytest.mark.parametrize("roll", [-3.0, 1.5, 4.0])
@pytest.mark.parametrize("view", ["front", "back"])
def test_roll_is_taken_out(roll, view):
    a, b = np.array([620.0, 480.0]), np.array([380.0, 500.0])
    level = level_deg(a, b, 0.0, view)
    ra, rb = turn_clockwise([a, b], roll)
    assert level_deg(ra, rb, roll, view) == pytest.approx(level, abs=1e-9)
    # ignoring the roll is wrong by the roll itself: the error the side view corrects too
    assert abs(level_deg(ra, rb, 0.0, view) - level) == pytest.approx(abs(roll), abs=1e-9)


def test_body_plane_axes():
    uv = to_body_plane(np.array([[10.0, 20.0]]), 0.0, "front")
    assert uv.tolist() == [[10.0, -20.0]]
    assert to_body_plane(np.array([[10.0, 20.0]]), 0.0, "back").tolist() == [[-10.0, -20.0]]


def test_lateral_shift_sign_and_scale():
    top, base = np.array([530.0, 100.0]), np.array([500.0, 900.0])
    assert lateral_shift_frac(top, base, 1000.0, 0.0, "front") == pytest.approx(0.03)
    assert lateral_shift_frac(top, base, 1000.0, 0.0, "back") == pytest.approx(-0.03)
    # a rolled camera leans the plumb line; taking the roll out removes the false shift
    t, b = turn_clockwise([[500.0, 100.0], [500.0, 900.0]], 3.0)
    assert abs(lateral_shift_frac(t, b, 1000.0, 0.0, "front")) > 0.04
    assert lateral_shift_frac(t, b, 1000.0, 3.0, "front") == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        lateral_shift_frac(top, base, 0.0, 0.0, "front")


def test_knee_valgus_positive_varus_negative_either_leg():
    # right hip at image x 450, left hip at 550 (front view); knees pulled in = valgus
    left = dict(hip=(550.0, 500.0), ankle=(550.0, 900.0), other_hip=(450.0, 500.0))
    right = dict(hip=(450.0, 500.0), ankle=(450.0, 900.0), other_hip=(550.0, 500.0))
    angle = 2 * np.degrees(np.arctan2(20, 200))
    assert knee_frontal_deg(knee=(530.0, 700.0), **left) == pytest.approx(angle)
    assert knee_frontal_deg(knee=(470.0, 700.0), **right) == pytest.approx(angle)
    assert knee_frontal_deg(knee=(570.0, 700.0), **left) == pytest.approx(-angle)
    assert knee_frontal_deg(knee=(430.0, 700.0), **right) == pytest.approx(-angle)
    assert knee_frontal_deg(knee=(550.0, 700.0), **left) == pytest.approx(0.0, abs=1e-9)


def fixture_poses(kind: str) -> list[Pose]:
    d = np.load(FIXTURE)
    out = []
    for i in np.nonzero(d["kind"] == kind)[0]:
        out.append(Pose(d["xy"][i].astype(float), d["z"][i].astype(float),
                        d["visibility"][i].astype(float), d["presence"][i].astype(float),
                        None, None))
    return out


@pytest.mark.parametrize("view", ["front", "back"])
def test_mirror_gives_the_same_size_on_the_other_side(view):
    """On landmarks of renders: the mirrored detection (left/right labels swapped, x
    flipped, roll negated) reads every level and shift with the other sign and swaps the
    knees, to rounding; whatever MediaPipe's labels say, sides come from positions."""
    for pose in fixture_poses(view):
        result = PoseResult((pose,), 540, 960)
        a = measure_frontal(pose, Roll(1.2, "estimated"), view)
        b = measure_frontal(result.mirrored().primary, Roll(-1.2, "estimated"), view)
        for key in ("pelvic_obliquity_deg", "shoulder_level_deg", "head_tilt_deg",
                    "trunk_shift_frac"):
            assert getattr(b, key) == pytest.approx(-getattr(a, key), abs=1e-9), key
        assert b.knee_left_deg == pytest.approx(a.knee_right_deg, abs=1e-9)
        assert b.knee_right_deg == pytest.approx(a.knee_left_deg, abs=1e-9)
        paired = with_mirror(a, b)
        assert paired.pelvic_obliquity_deg == pytest.approx(a.pelvic_obliquity_deg)
        assert paired.roll.deg == pytest.approx(1.2)


def test_swapped_labels_do_not_flip_the_sign():
    """Seen from behind the pose model may label the sides the wrong way round: the
    reading must not change when LEFT and RIGHT points trade places."""
    pose = fixture_poses("back")[0]
    swap = np.arange(33)
    for a, b in ((LM.LEFT_HIP, LM.RIGHT_HIP), (LM.LEFT_SHOULDER, LM.RIGHT_SHOULDER),
                 (LM.LEFT_EAR, LM.RIGHT_EAR), (LM.LEFT_KNEE, LM.RIGHT_KNEE),
                 (LM.LEFT_ANKLE, LM.RIGHT_ANKLE), (LM.LEFT_HEEL, LM.RIGHT_HEEL)):
        swap[[a, b]] = swap[[b, a]]
    swapped = Pose(pose.xy[swap], pose.z[swap], pose.visibility[swap], pose.presence[swap],
                   None, None)
    a = measure_frontal(pose, Roll(0.0, "none"), "back")
    b = measure_frontal(swapped, Roll(0.0, "none"), "back")
    assert b == a


def test_stature_from_mask_or_ears():
    pose = fixture_poses("front")[0]
    heel = max(pose.xy[LM.LEFT_HEEL, 1], pose.xy[LM.RIGHT_HEEL, 1])
    ear = pose.xy[[LM.LEFT_EAR, LM.RIGHT_EAR], 1].mean()
    assert stature_px(pose) == pytest.approx((heel - ear) / 0.91)
    mask = np.zeros((960, 540), np.float32)
    mask[100:int(heel), 200:300] = 1.0
    with_mask = Pose(pose.xy, pose.z, pose.visibility, pose.presence, None, mask)
    assert stature_px(with_mask) == pytest.approx(heel - 100.5)  # pixel centres
