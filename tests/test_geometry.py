"""Unit tests of the pure geometry on hand-made landmarks (no model needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from handmade import PROFILE_RIGHT as _PROFILE_RIGHT
from handmade import make_pose

from posture.classify import band_of, bands, classify_tilt
from posture.horizon import Roll, estimate_roll, roll_from_vertical, up_vector
from posture.metrics import head_neck_angle, knee_angle, plumb_offsets, trunk_lean
from posture.pose import LM, PoseResult
from posture.sagittal import analyze_side, body_frame, facing_direction


def test_facing_right_and_mirrored_left():
    pose = make_pose(_PROFILE_RIGHT)
    assert facing_direction(pose)[0] == "right"
    assert facing_direction(make_pose(_PROFILE_RIGHT, mirror=True))[0] == "left"


def test_body_frame_round_trip_and_orientation():
    pose = make_pose(_PROFILE_RIGHT)
    f = body_frame(pose, "right", Roll(3.0, "declared"))
    pts = np.array([[100.0, 200.0], [650.0, 900.0]])
    assert np.allclose(f.to_image(f.to_body(pts)), pts)
    # the ears are above the ankles: v > 0.8 of stature
    ear = f.to_body(pose.xy[LM.LEFT_EAR])
    assert 0.8 < ear[1] < 0.95


def test_side_view_is_mirror_invariant():
    a = analyze_side(PoseResult((make_pose(_PROFILE_RIGHT),), 1000, 1200))
    b = analyze_side(PoseResult((make_pose(_PROFILE_RIGHT, mirror=True),), 1000, 1200))
    assert a.facing == "right" and b.facing == "left"
    for k in ("ear", "shoulder", "hip", "knee", "toe"):
        assert np.allclose(a.points[k], b.points[k], atol=1e-9), k
    assert np.allclose(a.silhouette.anterior, b.silhouette.anterior, atol=0.003, equal_nan=True)


def test_view_gate_flags_frontal_view_and_second_person():
    frontal = dict(_PROFILE_RIGHT)
    frontal[LM.LEFT_SHOULDER], frontal[LM.RIGHT_SHOULDER] = (380, 330), (580, 330)
    frontal[LM.LEFT_HIP], frontal[LM.RIGHT_HIP] = (420, 620), (540, 620)
    side = analyze_side(PoseResult((make_pose(frontal),), 1000, 1200))
    assert not side.gate.ok
    assert any(r.code == "not_side_on" for r in side.gate.reasons)

    big = make_pose(_PROFILE_RIGHT)
    beside = make_pose({k: (v[0] + 300, v[1]) for k, v in _PROFILE_RIGHT.items()})
    ok = analyze_side(PoseResult((big,), 1000, 1200))
    assert ok.gate.ok, ok.gate.reasons
    two = analyze_side(PoseResult((big, beside), 1000, 1200))
    assert any(r.code == "several_people" for r in two.gate.reasons)
    # the same person found twice (MediaPipe does this on some grayscale photos) is one
    twice = analyze_side(PoseResult((big, make_pose(_PROFILE_RIGHT)), 1000, 1200))
    assert twice.gate.ok, twice.gate.reasons
    # a person a third of the size far behind does not count
    tiny_pts = {k: (v[0] * 0.3 + 50, v[1] * 0.3) for k, v in _PROFILE_RIGHT.items()}
    tiny = analyze_side(PoseResult((big, make_pose(tiny_pts)), 1000, 1200))
    assert tiny.gate.ok, tiny.gate.reasons


def test_view_gate_flags_a_person_lying_down():
    lying = {k: (1100 - v[1], v[0]) for k, v in _PROFILE_RIGHT.items()}  # turned 90°
    side = analyze_side(PoseResult((make_pose(lying, width=1200, mask=False),), 1200, 1000))
    assert any(r.code == "not_standing" for r in side.gate.reasons)


def test_view_without_feet_is_a_partial_view_measured_with_a_note():
    pose = make_pose(_PROFILE_RIGHT)
    whole = analyze_side(PoseResult((pose,), 1000, 1200))
    side = analyze_side(PoseResult((pose,), 1000, 900))  # image ends above the ankles
    assert side.gate.ok and side.gate.partial and not side.gate.whole_body
    assert [n.code for n in side.gate.notes] == ["partial_view"]
    # the stature comes from ear–knee height: close to the whole view's ear–ankle one
    assert side.frame.stature_px == pytest.approx(whole.frame.stature_px, rel=0.1)
    # foot points are left out, not guessed
    assert np.isnan(side.points["ankle"]).all() and np.isfinite(side.points["knee"]).all()
    assert not whole.gate.partial and not whole.gate.notes


def test_view_cut_above_the_thighs_abstains():
    pose = make_pose(_PROFILE_RIGHT)
    side = analyze_side(PoseResult((pose,), 1000, 700))  # ends just below the hips
    assert not side.gate.ok and not side.gate.partial
    assert any(r.code == "body_cut_off" and "feet" in r.detail for r in side.gate.reasons)


def test_secondary_angles_signs():
    assert head_neck_angle(np.array([0.0, 0.9]), np.array([0.0, 0.8])) == pytest.approx(90)
    assert head_neck_angle(np.array([0.1, 0.9]), np.array([0.0, 0.8])) == pytest.approx(45)
    assert trunk_lean(np.array([0, 0.5]), np.array([0.05, 0.8])) > 0  # forward lean
    hip, ankle = np.array([0.0, 0.5]), np.array([0.0, 0.04])
    assert knee_angle(hip, np.array([-0.02, 0.28]), ankle) > 0  # knee behind: hyperextension
    assert knee_angle(hip, np.array([0.03, 0.28]), ankle) < 0  # knee bent forward
    assert knee_angle(hip, np.array([0.0, 0.28]), ankle) == pytest.approx(0)
    offs = plumb_offsets({k: np.array([0.02, 0.5]) for k in ("ear", "shoulder", "hip", "knee")}
                         | {"ankle": np.array([0.0, 0.0])})
    assert offs["ear"] == pytest.approx(0.02)


def test_roll_conventions():
    # a vertical line whose top leans 3° to the right on screen is a +3° roll
    top = (100 + 100 * math.sin(math.radians(3)), 100 - 100 * math.cos(math.radians(3)))
    assert roll_from_vertical((100, 100), top).deg == pytest.approx(3.0)
    assert roll_from_vertical(top, (100, 100)).deg == pytest.approx(3.0)
    assert np.allclose(up_vector(0.0), [0, -1])
    with pytest.raises(ValueError):
        roll_from_vertical((0, 0), (100, 0))


@pytest.mark.parametrize("roll_deg", [-3.0, 0.0, 2.0])
def test_estimate_roll_from_synthetic_lines(roll_deg):
    import cv2

    img = np.full((800, 600, 3), 200, np.uint8)
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    for x in (80, 160, 440, 520):  # door-frame-like verticals rotated clockwise by roll
        p0 = (x - 350 * s + 300 * 0, 400 + 350 * c)
        p1 = (x + 350 * s, 400 - 350 * c)
        cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), (30, 30, 30), 3)
    r = estimate_roll(img)
    assert r.source == "estimated"
    assert r.deg == pytest.approx(roll_deg, abs=0.6)


def test_blank_background_gives_no_roll():
    assert estimate_roll(np.full((400, 300, 3), 128, np.uint8)).source == "none"


def test_bands_and_probabilities():
    assert [b.id for b in bands()] == ["posterior", "neutral", "mild", "moderate", "severe"]
    assert band_of(-1).id == "posterior" and band_of(0).id == "neutral"
    assert band_of(15).id == "mild" and band_of(24.9).id == "moderate"
    assert band_of(40).id == "severe"
    sev = classify_tilt(17.5, 1.0)
    assert sev.band == "mild"
    assert sum(sev.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert sev.probabilities["mild"] > 0.9
    near_edge = classify_tilt(20.0, 2.0)
    assert near_edge.probabilities["mild"] == pytest.approx(near_edge.probabilities["moderate"],
                                                           abs=0.02)


def test_a_pose_result_mirrored_twice_is_itself_and_faces_the_other_way():
    pose = make_pose(_PROFILE_RIGHT)
    r = PoseResult((pose,), 1000, 1200)
    m = r.mirrored()
    assert facing_direction(m.primary)[0] == "left"
    # left and right landmarks trade places: the near hip of the mirror is the far hip here
    assert m.primary.xy[LM.LEFT_HIP][0] == pytest.approx(1000 - pose.xy[LM.RIGHT_HIP][0])
    back = m.mirrored().primary
    assert np.allclose(back.xy, pose.xy) and np.array_equal(back.mask, pose.mask)


def test_close_bands_are_named_together():
    from posture.classify import band_phrase

    # the two most probable bands within 10 points (bands.yaml): both, in tilt order
    assert band_phrase(classify_tilt(19.9, 3.0)) == "Mild to moderate anterior tilt"
    assert band_phrase(classify_tilt(-0.3, 3.0)) == "Posterior tilt or neutral"
    # just inside a narrow band, the wide neighbour is more probable: still both
    assert band_phrase(classify_tilt(15.2, 4.5)) == "Neutral or mild anterior tilt"
    # clear cases keep the one label
    assert band_phrase(classify_tilt(17.4, 3.0)) == "Mild anterior tilt"
    assert band_phrase(classify_tilt(30.0, 3.0)) == "Severe anterior tilt"


def test_roll_does_not_jump_between_edge_clusters():
    # Verticals at +0.2°, horizontals at -1.9°, nearly equal in length: one short segment
    # more or less (a re-saved copy) flips a median from one cluster to the other.
    from posture.horizon import _huber_location, _weighted_median

    dev = np.array([0.2] * 10 + [-1.9] * 10 + [0.25])
    length = np.array([1.0] * 10 + [1.02] * 10 + [0.3])
    before = (_weighted_median(dev, length), _huber_location(dev, length,
                                                            _weighted_median(dev, length)))
    dev2, length2 = dev[:-1], length[:-1]
    after = (_weighted_median(dev2, length2), _huber_location(dev2, length2,
                                                             _weighted_median(dev2, length2)))
    assert abs(before[0] - after[0]) > 1.5  # the median jumps
    assert abs(before[1] - after[1]) < 0.3  # the estimate we report does not
    assert -1.9 < after[1] < 0.25


def test_weighted_median_is_the_lower_half_weight_value():
    # the first sorted value whose cumulative weight reaches half the total, exactly as
    # the hand-written sort/cumsum/searchsorted it replaced (the roll's numbers unchanged)
    from posture.horizon import _weighted_median

    def by_hand(values, weights):
        order = np.argsort(values)
        cw = np.cumsum(weights[order])
        return float(values[order][np.searchsorted(cw, cw[-1] / 2.0)])

    # half the weight exactly at a value: that value, not the midpoint to the next
    assert _weighted_median(np.array([3.0, 1.0, 2.0, 4.0]), np.ones(4)) == 2.0
    assert _weighted_median(np.array([1.0, 5.0]), np.array([1.0, 3.0])) == 5.0
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 50, 400):
        for _ in range(40):
            v = np.round(rng.normal(0, 2, n), 1)  # ties included
            w = rng.choice([0.5, 1.0, 2.0], n) * rng.uniform(0.1, 3.0)
            assert _weighted_median(v, w) == by_hand(v, w)
