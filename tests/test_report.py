"""PDF report (text checked with pypdf) and CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from posture.present import report_pdf
from posture.present.export import export_csv, export_dict, export_json
from posture.present.report_pdf import build_report, to_latin1
from posture.store import Patient, open_store

pypdf = pytest.importorskip("pypdf")

NAME = "Zoë Ødegård-Ñúñez"


def make_result(tilt: float | None = 12.3, half: float = 4.0) -> dict:
    abstained = tilt is None
    iv = None if abstained else [tilt - half, tilt + half]
    return {
        "schema_version": 1, "ok": True, "facing": "left", "pelvic_tilt_deg": tilt,
        "pelvic_tilt_interval_deg": iv, "interval_coverage": None if abstained else 0.9,
        "lumbar_lordosis_deg": None if abstained else 38.0,
        "severity": None if abstained else "mild",
        "severity_label": None if abstained else "Mild anterior tilt",
        "severity_probabilities": None if abstained else {"mild": 0.62, "moderate": 0.3},
        "severity_disclaimer": "Severity bands are this tool's heuristic, not a diagnosis.",
        "abstained": abstained,
        "abstain_reasons": ["estimator_unavailable: estimator not available"] if abstained
        else [],
        "retake_guidance": [], "head_neck_angle_deg": 47.5, "forward_head": True,
        "trunk_lean_deg": 2.0, "knee_angle_deg": -3.0, "knee_hyperextension": False,
        "model": {"pose_variant": "full", "estimator_version": "2025.1"},
        "landmarks_px": [[50.0 + 2 * i, 20.0 + 5 * i, 0.9] for i in range(33)],
    }


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() for p in reader.pages)


def squash(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture
def patient():
    return Patient(7, "P-0042", NAME, 1980, "female", datetime(2024, 1, 1, tzinfo=UTC))


def test_report_holds_metrics_intervals_severity_plan_and_safety(patient):
    from posture.plan import PlanInput, make_plan

    result = make_result()
    photo = np.full((400, 200, 3), 200, np.uint8)
    data = build_report(result, patient=patient, photo=photo, draw_landmarks=True,
                        thomas_test="yes", notes="Knee pain\x07 since May\n=SUM(A1)",
                        corrections={"hip": (101.0, 230.0)},
                        taken_at=datetime(2024, 5, 2, 9, 0, tzinfo=UTC))
    text = squash(pdf_text(data))
    for expected in ("P-0042", NAME, "1980 / female", "2024-05-02 09:00 UTC",
                     "Pelvic tilt", "+12.3°", "+8.3° to +16.3°", "90% interval",
                     "Lumbar lordosis", "+38.0°", "Ear–shoulder angle", "+47.5°",
                     "Severity band: Mild anterior tilt", "mild 62%",
                     "Severity bands are this tool's heuristic, not a diagnosis.",
                     "Modified Thomas test: yes", "hip → (101, 230) px",
                     "Knee pain since May", "=SUM(A1)", "full / 2025.1",
                     "not a diagnosis"):
        assert expected in text, expected
    plan = make_plan(PlanInput.from_result(result), thomas_test="yes")
    assert plan.items, "a mild anterior tilt must give exercises"
    for item in plan.items:
        assert squash(item.name) in text
    for flag in plan.red_flags:
        assert squash(flag) in text
    assert squash(plan.disclaimer)[:60] in text
    reader = pypdf.PdfReader(io.BytesIO(data))
    n_images = sum(len(p.images) for p in reader.pages)
    assert n_images >= 1 + len(plan.items)  # the photo and one picture per exercise


def test_abstained_report_says_not_measured_and_why(patient):
    text = squash(pdf_text(build_report(make_result(tilt=None), patient=patient)))
    assert "not measured" in text
    assert "Pelvic tilt was not graded" in text
    assert "estimator_unavailable" in text
    assert "Severity band:" not in text


def test_name_can_be_left_out(patient):
    text = pdf_text(build_report(make_result(), patient=patient, include_name=False,
                                 plan=None))
    assert "P-0042" in text and "Zoë" not in text


def test_glyphs_missing_from_the_font_show_as_question_marks(patient):
    if report_pdf.find_unicode_font() is None:
        pytest.skip("no unicode font installed")
    p = Patient(1, "P-1", "王小明 Zoë", None, None, datetime.now(UTC))
    text = pdf_text(build_report(make_result(), patient=p, plan=None))
    assert "??? Zoë" in text


def test_core_font_fallback_transliterates(monkeypatch, patient):
    monkeypatch.setattr(report_pdf, "find_unicode_font", lambda: None)
    text = squash(pdf_text(build_report(make_result(), patient=patient, plan=None,
                                        notes="≥ 5° – ok ✓ 王")))
    assert "+12.3 deg" in text and "Zoë" in text
    assert ">= 5 deg - ok v ?" in text
    assert to_latin1("Ørsted 45°") == "Ørsted 45 deg"


def test_stored_photo_bytes_are_embedded(tmp_path, patient):
    from posture.store import encode_jpeg

    jpeg = encode_jpeg(np.zeros((300, 150, 3), np.uint8))
    reader = pypdf.PdfReader(io.BytesIO(build_report(make_result(), patient=patient,
                                                     photo=jpeg, plan=None)))
    assert sum(len(p.images) for p in reader.pages) == 1


# ------------------------------------------------------------------------- export

@pytest.fixture
def clinic(tmp_path):
    s = open_store(tmp_path / "c.db")
    a = s.add_patient("A-1", name=NAME, birth_year=1970, sex="male")
    b = s.add_patient("B-2")
    s.save_assessment(a.id, make_result(14.0), notes="=HYPERLINK(\"x\")", thomas_test="no",
                      taken_at=datetime(2024, 1, 1, tzinfo=UTC))
    s.save_assessment(a.id, make_result(9.0), corrections={"knee": (1, 2)},
                      taken_at=datetime(2024, 3, 1, tzinfo=UTC))
    s.save_assessment(b.id, make_result(None))
    yield s, a, b
    s.close()


def test_csv_export_of_one_patient_and_the_clinic(clinic):
    s, a, _ = clinic
    rows = list(csv.DictReader(io.StringIO(export_csv(s, a.id))))
    assert [r["pelvic_tilt_deg"] for r in rows] == ["14.0", "9.0"]
    assert [(r["pelvic_tilt_lo_deg"], r["pelvic_tilt_hi_deg"]) for r in rows] == [
        ("10.0", "18.0"), ("5.0", "13.0")]
    assert "name" not in rows[0]  # names only on request
    assert rows[0]["notes"] == "'=HYPERLINK(\"x\")"  # a formula stays text
    assert rows[0]["thomas_test"] == "no" and json.loads(rows[1]["corrections"]) == {
        "knee": [1.0, 2.0]}
    assert rows[1]["knee_angle_deg"] == "-3.0"  # numbers are not quoted as text
    everyone = list(csv.DictReader(io.StringIO(export_csv(s, include_names=True))))
    assert [r["pseudonym"] for r in everyone] == ["A-1", "A-1", "B-2"]
    assert everyone[0]["name"] == NAME
    assert everyone[2]["pelvic_tilt_deg"] == "" and everyone[2]["abstained"] == "True"


def test_json_export_keeps_full_contracts(clinic):
    s, a, _ = clinic
    d = json.loads(export_json(s))
    assert d["format"] == "posture-clinic-export" and len(d["patients"]) == 2
    first = d["patients"][0]
    assert "name" not in first
    assert [x["result"]["pelvic_tilt_interval_deg"] for x in first["assessments"]] == [
        [10.0, 18.0], [5.0, 13.0]]
    assert len(first["assessments"][0]["result"]["landmarks_px"]) == 33
    one = export_dict(s, a.id, include_names=True)
    assert [p["name"] for p in one["patients"]] == [NAME]
