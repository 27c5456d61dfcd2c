"""The Clinic page and the two numbers (issue 25 items 2, 3, 5), through Streamlit's
AppTest: a clinician enters a meter reading beside an assessment (stored and audited), later
visits show the palpation-equivalent calibrated to it, and the history and before/after
call a change real only beyond the retake MDC95, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_clinic_exports import PW, app, log_in, make_result, run, text, trail

from posture.store import accounts, open_store


@pytest.fixture
def visits(tmp_path, monkeypatch):
    """(db, patient, records): two estimated visits, 20° then 14° (a 6° drop)."""
    db = tmp_path / "clinic.db"
    monkeypatch.setenv("POSTURE_DB", str(db))
    with open_store(db) as s:
        accounts.add_user(s, "dr_lee", PW, role="clinician")
        p = s.add_patient("PA-1")
        recs = [s.save_assessment(p.id, make_result(tilt),
                                  taken_at=datetime(2026, 2, 1, tzinfo=UTC)
                                  + timedelta(days=30 * i)) for i, tilt in enumerate((20.0,
                                                                                      14.0))]
    return db, p, recs


def _history_frame(at):
    return next(d.value for d in at.dataframe if "Palpation-equivalent" in d.value.columns)


def test_a_meter_reading_calibrates_later_visits(visits):
    db, p, (first, later) = visits
    at = log_in(app(), "dr_lee")
    # before any reading: uncalibrated, and the page says how to calibrate
    assert "Not calibrated: enter a palpation-meter or inclinometer reading" in text(at)
    row = _history_frame(at).set_index("#").loc[later.id]
    assert "calibrated" not in row["Palpation-equivalent"]
    assert row["Palpation-equivalent"].startswith("+14.0°")
    # the reading goes beside the first visit
    at.selectbox(key="clinic_detail").set_value(first.id)
    run(at)
    at.selectbox(key=f"clinic_ref_inst_{first.id}").set_value("palpation_meter")
    at.number_input(key=f"clinic_ref_val_{first.id}").set_value(25.0)
    next(b for b in at.button if b.label == "Save reading").click()
    run(at)
    with open_store(db) as s:
        assert s.get_assessment(first.id).reference == ("palpation_meter", 25.0)
    rows = [e for e in trail(db) if e["action"] == "reference"]
    assert [(e["actor"], e["assessment_id"], e["detail"]) for e in rows] == [
        ("dr_lee", first.id, "reference reading: palpation_meter +25.0°")]
    frame = _history_frame(at).set_index("#")
    # later visit: 14 + (25 − 20) = 19, calibrated; the first shows its meter reading
    assert frame.loc[later.id, "Palpation-equivalent"].startswith("+19.0° (")
    assert frame.loc[later.id, "Palpation-equivalent"].endswith(", calibrated)")
    assert frame.loc[first.id, "Meter reading"] == "+25.0° (Palpation meter (PALM))"
    page = text(at)
    assert "Calibrated once to your instrument, Palpation meter (PALM): its reading +25.0°" \
        in page
    labels = [m.label for m in at.metric]
    assert "Palpation-equivalent (calibrated)" in labels
    assert "Latest pelvic tilt (postural)" in labels


def test_history_and_before_after_use_the_retake_mdc_in_plain_words(visits):
    db, p, recs = visits
    at = log_in(app(), "dr_lee")
    since = next(m for m in at.metric if m.label == "Change since first")
    assert since.value == "-6.0°"
    # 6.0° > the retake MDC95 5.72° (the old interval rule needed > 5.66°: both real) ...
    assert since.delta == "more than a retaken photo varies: likely a real change"
    table = next(d.value for d in at.dataframe if "Real change?" in d.value.columns)
    tilt = table.set_index("Metric").loc["Pelvic tilt"]
    assert tilt["Retakes vary up to"] == "±5.7°"
    assert tilt["Real change?"].startswith("more than a retaken photo varies")
    assert "the most two retaken photos of an unchanged person differ" in text(at)


def test_a_smaller_change_is_called_possible_noise(tmp_path, monkeypatch):
    # 4.9° apart with intervals of ±2: the old rule (√(2² + 2²) = 2.8°) called it real
    db = tmp_path / "c.db"
    monkeypatch.setenv("POSTURE_DB", str(db))
    with open_store(db) as s:
        accounts.add_user(s, "dr_lee", PW, role="clinician")
        p = s.add_patient("PA-2")
        for i, tilt in enumerate((20.0, 15.1)):
            r = make_result(tilt)
            r["pelvic_tilt_interval_deg"] = r["measurements"][0]["interval"] = [tilt - 2,
                                                                                tilt + 2]
            s.save_assessment(p.id, r, taken_at=datetime(2026, 2, 1, tzinfo=UTC)
                              + timedelta(days=30 * i))
    at = log_in(app(), "dr_lee")
    since = next(m for m in at.metric if m.label == "Change since first")
    assert since.delta == "within what a retaken photo varies: may be measurement noise"
