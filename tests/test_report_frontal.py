"""The PDFs and the before/after table with a front view (issue 28.4): a frontal section
in the single-assessment report, the "see a clinician" note on a flagged obliquity, the
frontal measures in the progress report with unit, sign in words and interval; side-only
records print as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from frontal_reading import frontal_registry, with_front
from test_report import make_result, pdf_text, squash
from test_store import make_result as stored_result

from posture.present.report_pdf import build_report
from posture.store import AssessmentRecord, Patient, compare

pytest.importorskip("pypdf")


@pytest.fixture(autouse=True)
def _registry(monkeypatch):
    frontal_registry(monkeypatch)


@pytest.fixture
def patient():
    return Patient(7, "P-0042", None, 1980, "female", datetime(2024, 1, 1, tzinfo=UTC))


def _rec(i: int, result: dict, day: int) -> AssessmentRecord:
    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    return AssessmentRecord(i, 7, t, t, result, {}, None, "", "full", None, False, False)


def test_report_of_a_side_and_front_assessment_has_a_frontal_section(patient):
    text = squash(pdf_text(build_report(with_front(make_result(), obliquity=3.2,
                                                   shoulder=-1.5), patient=patient)))
    assert "Front view" in text
    assert "Pelvic obliquity +3.2° +1.4° to +5.0° positive = left side higher" in text
    assert "Shoulder level -1.5°" in text
    assert "% of height" in text  # the trunk shift, a fraction of stature
    assert "See a clinician" not in text  # 3.2° is not flagged
    assert "Severity band: Mild anterior tilt" in text  # from the side view, as before


def test_flagged_obliquity_gives_a_see_a_clinician_note(patient):
    d = with_front(make_result(), obliquity=-6.5, flag=True)
    text = squash(pdf_text(build_report(d, patient=patient, plan=None)))
    assert "See a clinician: your pelvis is not level (right side higher, 6.5° off level)" \
        in text
    assert "leg length" in text


def test_back_photo_is_named_and_side_only_report_prints_as_before(patient):
    back = squash(pdf_text(build_report(with_front(make_result(), kind="back"),
                                        patient=patient)))
    assert "Back view" in back and "Pelvic obliquity" in back
    side = squash(pdf_text(build_report(make_result(), patient=patient)))
    assert "Front view" not in side and "Pelvic obliquity" not in side
    assert "Shoulder level" not in side and "Ear–shoulder angle +47.5°" in side


def test_progress_report_shows_frontal_changes_with_sign_interval_and_no_verdict(patient):
    from posture.present.progress_pdf import build_progress_report

    a = _rec(1, with_front(stored_result(tilt=14.0), obliquity=6.2, shoulder=-2.0), 0)
    b = _rec(2, with_front(stored_result(tilt=8.0), obliquity=1.0, shoulder=-1.0), 30)
    text = squash(pdf_text(build_progress_report(patient, [a, b], a, b)))
    assert "Pelvic obliquity (positive = left side higher)" in text
    assert "interval +4.4° to +8.0°" in text and "interval -0.8° to +2.8°" in text
    assert "-5.2°" in text and "no retake figure yet" in text
    assert "not judged" in text
    old = squash(pdf_text(build_progress_report(
        patient, [a, b], _rec(1, stored_result(tilt=14.0), 0),
        _rec(2, stored_result(tilt=8.0), 30))))
    assert "Pelvic obliquity" not in old and "no retake figure" not in old


def test_before_after_cells_for_the_clinic_page():
    from posture.present.compare import change_interval, change_label, change_vary

    a = _rec(1, with_front(stored_result(), obliquity=6.2), 0)
    b = _rec(2, with_front(stored_result(), obliquity=1.0), 30)
    c = compare(a, b)
    ob, tilt = c.change("pelvic_obliquity"), c.change("pelvic_tilt")
    assert change_label(ob) == "Pelvic obliquity (positive = left side higher)"
    assert (change_interval(ob, 0), change_interval(ob, 1)) == (
        "interval +4.4° to +8.0°", "interval -0.8° to +2.8°")
    assert change_vary(ob) == "no retake figure yet"
    # the side view's cells are as before issue 28
    assert (change_label(tilt), change_interval(tilt, 0), change_vary(tilt)) == (
        "Pelvic tilt", "", "±5.7°")
