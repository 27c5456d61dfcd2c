"""The clinic store with a front view beside the side view (issue 28.4): one combined
result per assessment, kept whole; history and before/after list the frontal measures
where recorded; side-only records read as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from frontal_reading import FRONT_KEYS, frontal_registry, with_front
from test_store import make_result

from posture.contract import from_dict
from posture.store import AssessmentRecord, compare, open_store, trend, trend_rows
from posture.store.history import NO_RETAKE_FIGURE

SIDE = ["pelvic_tilt", "lumbar_lordosis", "head_neck_angle", "trunk_lean", "knee_angle"]


@pytest.fixture(autouse=True)
def _registry(monkeypatch):
    frontal_registry(monkeypatch)


def _rec(i: int, result: dict, day: int) -> AssessmentRecord:
    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    return AssessmentRecord(i, 1, t, t, result, {}, None, "", "full", None, False, False)


@pytest.mark.parametrize("typed", [False, True], ids=["dict", "reading"])
def test_side_and_front_are_one_assessment_and_survive_a_round_trip(tmp_path, typed):
    d = with_front(make_result(), obliquity=6.1, shoulder=-2.0)
    db = tmp_path / "clinic.db"
    with open_store(db) as s:
        p = s.add_patient("P-F1")
        s.save_assessment(p.id, from_dict(d) if typed else d, actor="doc")
    with open_store(db) as s:
        [rec] = s.list_assessments(p.id)
        assert len(s.list_assessments(p.id)) == 1  # one assessment, both views
    stored = rec.result
    for k in (*FRONT_KEYS, "views", "view_kind", "obliquity_flag"):
        assert stored[k] == d[k], k
    assert [m["name"] for m in stored["measurements"]] == \
        [m["name"] for m in d["measurements"]]
    r = rec.reading
    assert r.value("pelvic_obliquity") == 6.1 and r.value("shoulder_level") == -2.0
    assert r.interval("pelvic_obliquity") == (4.3, 7.9)
    assert tuple(getattr(r, "views", None) or r.extra["views"]) == ("side", "front")
    assert rec.pelvic_tilt_deg == 12.3 and rec.severity == "mild"  # the side view's


def test_side_only_records_compare_and_chart_as_before():
    a, b = _rec(1, make_result(tilt=14.0), 0), _rec(2, make_result(tilt=4.0), 30)
    assert [x.metric for x in compare(a, b).changes] == SIDE
    labels = {r["metric"] for r in trend_rows([a, b])}
    assert "Pelvic obliquity" not in labels and "Shoulder level" not in labels
    assert trend([a, b])["pelvic_tilt"][0].value == 14.0


def test_history_charts_list_obliquity_and_shoulder_level_when_recorded():
    recs = [_rec(1, with_front(make_result(), obliquity=4.0, shoulder=-1.0), 0),
            _rec(2, make_result(), 20),
            _rec(3, with_front(make_result(), obliquity=1.5, shoulder=0.5), 40)]
    rows = [r for r in trend_rows(recs) if r["metric"] == "Pelvic obliquity"]
    assert [(r["assessment_id"], r["value"], r["lo"], r["hi"]) for r in rows] == [
        (1, 4.0, 2.2, 5.8), (3, 1.5, -0.3, 3.3)]  # the side-only visit has no point
    assert [r["value"] for r in trend_rows(recs) if r["metric"] == "Shoulder level"] == \
        [-1.0, 0.5]
    assert [p.value for p in trend(recs)["pelvic_obliquity"]] == [4.0, None, 1.5]
    # trunk shift is a fraction of stature, not degrees: not on the degree charts
    assert "trunk_shift" not in trend(recs)


def test_frontal_change_is_shown_with_sign_and_interval_but_not_judged():
    before = _rec(1, with_front(make_result(), obliquity=6.2, shoulder=-2.0), 0)
    after = _rec(2, with_front(make_result(), obliquity=1.0, shoulder=-1.0), 30)
    c = compare(before, after)
    assert [x.metric for x in c.changes][:len(SIDE)] == SIDE
    ob = c.change("pelvic_obliquity")
    assert (ob.before, ob.after, ob.change) == (6.2, 1.0, -5.2)
    # no retake figure in change.yaml: the change is shown, never called real or noise
    assert (ob.threshold, ob.rule, ob.exceeds_uncertainty) == (None, "no retake figure",
                                                              None)
    assert ob.words == NO_RETAKE_FIGURE and "not judged" in ob.words
    assert "left" in ob.sign and ob.view == "front"
    assert ob.intervals == ((4.4, 8.0), (-0.8, 2.8))
    assert c.change("shoulder_level").change == 1.0
    assert c.change("pelvic_tilt").rule == "mdc"  # the side view is judged as before
    half = compare(before, _rec(3, make_result(), 40)).change("pelvic_obliquity")
    assert (half.before, half.after, half.change, half.rule, half.words) == (
        6.2, None, None, None, "")
