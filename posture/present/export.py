"""CSV and JSON export of one patient or the whole clinic.

Names are personal data: they are left out unless ``include_names`` is True (the
pseudonym identifies the patient within the clinic). Photos are never exported here.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return, or an apostrophe) are prefixed with an apostrophe
(:mod:`posture.csvcells`, the rule of every CSV we write), so a note such as
``=HYPERLINK(...)`` stays text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from ..contract import ABSTAINED_KEY, COVERAGE_KEY, REASONS_KEY
from ..csvcells import text_cell  # one rule for every CSV we write (batch, audit too)
from ..measures import measures
from ..store import SCHEMA_VERSION, AssessmentRecord, Patient, Store

EXPORT_FORMAT = "posture-clinic-export"
EXPORT_VERSION = 1

#: The measure with its interval in the CSV (the first of the registry, the pelvic tilt)
#: and the others, values only (``posture/data/measures.yaml``).
_HEAD, *_OTHERS = measures()
#: CSV columns in order; ``name`` appears only with ``include_names``.
CSV_COLUMNS = (
    "pseudonym", "name", "birth_year", "sex", "assessment_id", "taken_at",
    _HEAD.key, f"{_HEAD.name}_lo_deg", f"{_HEAD.name}_hi_deg", COVERAGE_KEY,
    "severity", ABSTAINED_KEY, REASONS_KEY, *(s.key for s in _OTHERS),
    "thomas_test", "corrections", "notes", "pose_model",
    "estimator_version", "has_photo", "reference_instrument", "reference_deg",
)


def _patients(store: Store, patient_id: int | None) -> list[Patient]:
    return store.list_patients() if patient_id is None else [store.get_patient(patient_id)]


def csv_row(p: Patient, r: AssessmentRecord, *, include_names: bool = False) -> dict[str, Any]:
    """The CSV row of one assessment (values not yet made formula-safe)."""
    d = r.reading
    iv = d.interval(_HEAD.name) or (None, None)
    row = {
        "pseudonym": p.pseudonym, "name": p.name or "", "birth_year": p.birth_year,
        "sex": p.sex, "assessment_id": r.id, "taken_at": r.taken_at.isoformat(),
        _HEAD.key: r.pelvic_tilt_deg, f"{_HEAD.name}_lo_deg": iv[0],
        f"{_HEAD.name}_hi_deg": iv[1], COVERAGE_KEY: d.interval_coverage,
        "severity": r.severity, ABSTAINED_KEY: r.abstained,
        REASONS_KEY: " | ".join(str(x) for x in d.reasons),
        **{s.key: d.value(s.name) for s in _OTHERS},
        "thomas_test": r.thomas_test,
        "corrections": json.dumps(r.corrections) if r.corrections else "",
        "notes": r.notes, "pose_model": r.pose_model,
        "estimator_version": r.estimator_version, "has_photo": r.has_photo,
        # the clinic's own instrument beside this assessment (schema 5; empty when none)
        "reference_instrument": r.reference_instrument, "reference_deg": r.reference_deg,
    }
    if not include_names:
        del row["name"]
    return row


def export_csv(store: Store, patient_id: int | None = None, *,
               include_names: bool = False) -> str:
    """CSV text, one row per assessment, of one patient (``patient_id``) or all."""
    cols = [c for c in CSV_COLUMNS if include_names or c != "name"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for p in _patients(store, patient_id):
        for r in store.list_assessments(p.id):
            row = csv_row(p, r, include_names=include_names)
            w.writerow({k: text_cell("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def export_dict(store: Store, patient_id: int | None = None, *,
                include_names: bool = False) -> dict[str, Any]:
    """A JSON-ready dict: patients with their assessments and full analysis contracts."""
    patients = []
    for p in _patients(store, patient_id):
        entry: dict[str, Any] = {"pseudonym": p.pseudonym, "birth_year": p.birth_year,
                                 "sex": p.sex, "created_at": p.created_at.isoformat()}
        if include_names:
            entry["name"] = p.name
        entry["assessments"] = [
            {"id": r.id, "taken_at": r.taken_at.isoformat(), "thomas_test": r.thomas_test,
             "corrections": {k: list(v) for k, v in r.corrections.items()},
             "notes": r.notes, "pose_model": r.pose_model,
             "estimator_version": r.estimator_version, "has_photo": r.has_photo,
             "reference": None if r.reference is None else {
                 "instrument": r.reference_instrument, _HEAD.key: r.reference_deg},
             "result": r.result}
            for r in store.list_assessments(p.id)
        ]
        patients.append(entry)
    return {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "patients": patients}


def export_json(store: Store, patient_id: int | None = None, *,
                include_names: bool = False) -> str:
    """:func:`export_dict` as indented UTF-8 JSON text."""
    return json.dumps(export_dict(store, patient_id, include_names=include_names),
                      ensure_ascii=False, indent=2)
