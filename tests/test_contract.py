"""The JSON contract as one pair, to_dict/from_dict (posture.contract), and the typed
Reading every consumer reads. No model needed: the dicts here are contract-shaped."""

from __future__ import annotations

import json

import pytest

from posture.contract import error_to_dict, exit_code_for, from_dict, to_dict
from posture.errors import InputError, NoPersonError
from posture.palpation import PALPATION_METHOD
from posture.result import Reading, Reason, forward_head, knee_hyperextension

GRADED = {
    "schema_version": 1, "ok": True, "source": "x.jpg", "facing": "left",
    "pelvic_tilt_deg": 14.2, "pelvic_tilt_interval_deg": [9.1, 19.3], "interval_coverage": 0.9,
    "lumbar_lordosis_deg": 41.0, "lumbar_lordosis_interval_deg": [35.0, 47.0],
    "severity": "moderate", "severity_label": "Moderate anterior tilt",
    "severity_phrase": "Mild to moderate anterior tilt",
    "severity_probabilities": {"posterior": 0.0, "neutral": 0.01, "mild": 0.3,
                               "moderate": 0.6, "severe": 0.09},
    "severity_disclaimer": "heuristic", "abstained": False, "abstain_reasons": [],
    "notes": ["partial_view: feet out of the picture"], "retake_guidance": [],
    "head_neck_angle_deg": 47.5, "forward_head": True,
    "trunk_lean_deg": 1.5, "knee_angle_deg": 6.0, "knee_hyperextension": True,
    "plumb_offsets_stature": {"ear": 0.04, "shoulder": 0.01, "hip": None, "knee": 0.0},
    "measurements": [
        {"name": "pelvic_tilt", "value": 14.2, "unit": "deg", "convention": "+ anterior",
         "interval": [9.1, 19.3], "coverage": 0.9, "method": "learned"},
        {"name": "head_neck_angle", "value": 47.5, "unit": "deg", "convention": "c",
         "interval": None, "coverage": None, "method": "landmarks"},
    ],
    "view": {"ok": True, "side_on_score": 0.9, "frontal_ratio": 0.02, "whole_body": True,
             "other_people": 0, "facing_confidence": 0.99, "near_side": "left",
             "partial": False},
    "roll_deg": 1.2, "roll_source": "lines", "image_size": [1080, 1920],
    "model": {"pose_variant": "full", "estimator_version": "2025.1"},
    "landmarks_px": [[100.0 + i, 200.0 + i, 0.9] for i in range(33)],
    # the palpation-equivalent tilt (issue 25): the postural value, interval widened by the
    # bony offset's spread (SD 5°) from the postural half-width 5.1°
    "pelvic_tilt_palpation_deg": 14.2, "pelvic_tilt_palpation_interval_deg": [4.63, 23.77],
    "pelvic_tilt_palpation_method": PALPATION_METHOD,
    "plan": {"kept": "outside the contract"},
}


def test_round_trip_is_exact_and_typed():
    r = from_dict(GRADED)
    assert isinstance(r, Reading) and r.usable and r.severity == "moderate"
    assert r.pelvic_tilt_interval_deg == (9.1, 19.3) and r.image_size == (1080, 1920)
    assert r.view.near_side == "left" and r.estimator_version == "2025.1"
    assert r.metric("pelvic_tilt") == (14.2, (9.1, 19.3), 0.9)
    assert r.extra == {"plan": {"kept": "outside the contract"}}
    assert r.notes == (Reason("partial_view", "feet out of the picture"),)
    out = to_dict(r)
    # issue 28 adds keys only: the view kinds and the front view's measures (null here)
    added = [k for k in out if k not in GRADED]
    assert set(added) == {"view_kind", "views", "pelvic_obliquity_deg",
                          "pelvic_obliquity_interval_deg", "obliquity_flag",
                          "shoulder_level_deg", "head_tilt_deg", "trunk_shift_stature",
                          "knee_frontal_left_deg", "knee_frontal_right_deg"}
    assert all(out[k] in (None, []) for k in added)
    assert json.dumps({k: v for k, v in out.items() if k in GRADED}) == json.dumps(GRADED)


def test_older_results_without_measurements_use_the_top_level_keys():
    r = from_dict({"pelvic_tilt_deg": 3.0, "pelvic_tilt_interval_deg": [1, 5],
                   "interval_coverage": 0.9, "lumbar_lordosis_deg": 30.0})
    assert r.metric("pelvic_tilt") == (3.0, (1.0, 5.0), 0.9)
    assert r.metric("lumbar_lordosis") == (30.0, None, None)


def test_reasons_are_typed_and_print_as_before():
    d = {**GRADED, "abstained": True, "abstain_reasons": [
        "body_cut_off: not visible: feet", "odd text without a code"]}
    r = from_dict(d)
    assert r.reasons[0] == Reason("body_cut_off", "not visible: feet")
    assert r.reason_codes == ("body_cut_off", "odd text without a code")
    assert to_dict(r)["abstain_reasons"][0] == "body_cut_off: not visible: feet"
    assert str(Reason.parse(str(r.reasons[0]))) == str(r.reasons[0])


def test_error_layout_round_trips():
    d = error_to_dict(NoPersonError("nobody"), source="a.jpg")
    assert d["abstain_reasons"] == ["no_person: nobody"] and d["error"]["exit_code"] == 3
    r = from_dict(d)
    assert not r.analysed and r.error.code == "no_person" and exit_code_for(r) == 3
    assert json.dumps(to_dict(r)) == json.dumps(d)
    assert exit_code_for(d) == 3 and exit_code_for(from_dict(GRADED)) == 0


@pytest.mark.parametrize("bad", [
    {"severity": "extreme"}, {"pelvic_tilt_deg": "12"}, {"forward_head": "yes"},
    {"pelvic_tilt_interval_deg": [1.0]}, {"abstain_reasons": "blurry"},
    {"image_size": [1, 2, 3]}, {"measurements": [{"value": 1}]}, {"view": []},
    {"landmarks_px": [[1, 2]]}, {"schema_version": 10**400}, [], "text",
])
def test_wrong_types_are_invalid_result(bad):
    with pytest.raises(InputError) as err:
        from_dict(bad)
    assert err.value.code == "invalid_result"


def test_findings_follow_thresholds_yaml():
    from posture.config import thresholds

    t = thresholds()
    head, knee = t["head"]["forward_head_below_deg"], t["knee"]["hyperextension_above_deg"]
    assert forward_head(head - 0.01) is True and forward_head(head) is False
    assert knee_hyperextension(knee + 0.01) is True and knee_hyperextension(knee) is False
    assert forward_head(None) is None and knee_hyperextension(None) is None
