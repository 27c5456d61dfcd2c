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

def _columns() -> tuple[tuple[str, ...], Any, list, list]:
    """(columns, head, side others, other views' measures) from the registry: the measure
    with its interval (the first, the pelvic tilt), the side view's others (values only),
    then the other views' (issue 28: values, intervals and flags), last so that the
    older columns keep their order."""
    head, *others = measures()
    side = [s for s in others if s.view == "side"]
    later = [s for s in others if s.view != "side"]
    cols = (
        "pseudonym", "name", "birth_year", "sex", "assessment_id", "taken_at",
        head.key, f"{head.name}_lo_deg", f"{head.name}_hi_deg", COVERAGE_KEY,
        "severity", ABSTAINED_KEY, REASONS_KEY, *(s.key for s in side),
        "thomas_test", "corrections", "notes", "pose_model",
        "estimator_version", "has_photo", "reference_instrument", "reference_deg",
        *(c for s in later for c in _later_columns(s)),
    )
    return cols, head, side, later


def _later_columns(s) -> tuple[str, ...]:
    ends = (f"{s.name}_lo_{s.unit}", f"{s.name}_hi_{s.unit}") if s.interval_key else ()
    return (s.key, *ends, *((s.flag,) if s.flag else ()))


#: CSV columns in order (the registry's when the package was loaded); ``name`` appears
#: only with ``include_names``.
CSV_COLUMNS = _columns()[0]


def _patients(store: Store, patient_id: int | None) -> list[Patient]:
    return store.list_patients() if patient_id is None else [store.get_patient(patient_id)]


def csv_row(p: Patient, r: AssessmentRecord, *, include_names: bool = False) -> dict[str, Any]:
    """The CSV row of one assessment (values not yet made formula-safe)."""
    d = r.reading
    _, head, side, later = _columns()
    iv = d.interval(head.name) or (None, None)
    row = {
        "pseudonym": p.pseudonym, "name": p.name or "", "birth_year": p.birth_year,
        "sex": p.sex, "assessment_id": r.id, "taken_at": r.taken_at.isoformat(),
        head.key: r.pelvic_tilt_deg, f"{head.name}_lo_deg": iv[0],
        f"{head.name}_hi_deg": iv[1], COVERAGE_KEY: d.interval_coverage,
        "severity": r.severity, ABSTAINED_KEY: r.abstained,
        REASONS_KEY: " | ".join(str(x) for x in d.reasons),
        **{s.key: d.value(s.name) for s in side},
        "thomas_test": r.thomas_test,
        "corrections": json.dumps(r.corrections) if r.corrections else "",
        "notes": r.notes, "pose_model": r.pose_model,
        "estimator_version": r.estimator_version, "has_photo": r.has_photo,
        # the clinic's own instrument beside this assessment (schema 5; empty when none)
        "reference_instrument": r.reference_instrument, "reference_deg": r.reference_deg,
    }
    for s in later:  # other views' measures (columns of _later_columns, in order)
        row[s.key] = d.value(s.name)
        if s.interval_key:
            row[f"{s.name}_lo_{s.unit}"], row[f"{s.name}_hi_{s.unit}"] = \
                d.interval(s.name) or (None, None)
        if s.flag:  # a flag without a Reading field travels in ``extra``
            row[s.flag] = getattr(d, s.flag, None) if s.flag in d.__dataclass_fields__ \
                else d.extra.get(s.flag)
    if not include_names:
        del row["name"]
    return row


def export_csv(store: Store, patient_id: int | None = None, *,
               include_names: bool = False) -> str:
    """CSV text, one row per assessment, of one patient (``patient_id``) or all."""
    cols = [c for c in _columns()[0] if include_names or c != "name"]
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
                 "instrument": r.reference_instrument, measures()[0].key: r.reference_deg},
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
