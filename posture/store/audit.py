"""Reading the audit trail out: CSV for an admin (the app's audit section and
``posture audit export``). Writing happens inside the store's own transactions."""

from __future__ import annotations

import csv
import io

from .db import Store

COLUMNS = ("id", "at", "actor", "action", "patient_id", "assessment_id", "detail")


def _cell(v) -> str:
    s = "" if v is None else str(v)
    # a typed user name such as "=HYPERLINK(..)" must stay text in a spreadsheet
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s


def audit_csv(store: Store, *, patient_id: int | None = None) -> bytes:
    """The whole audit trail (or one patient's) as UTF-8 CSV, oldest first; times in UTC
    ISO 8601."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for e in store.audit_trail(patient_id=patient_id):
        w.writerow([e["at"].isoformat() if k == "at" else _cell(e[k]) for k in COLUMNS])
    return buf.getvalue().encode("utf-8")
