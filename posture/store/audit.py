"""Reading the audit trail out: CSV for an admin (the app's audit section and
``posture audit export``), and checking its hash chain (``posture audit verify``). Writing
happens inside the store's own transactions (:meth:`posture.store.Store._audit`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa

from ..csvcells import text_cell
from .chain import GENESIS_HASH, row_hash
from .db import Store
from .schema import AUDIT

COLUMNS = ("id", "at", "actor", "action", "patient_id", "assessment_id", "detail")


def audit_csv(store: Store, *, patient_id: int | None = None) -> bytes:
    """The whole audit trail (or one patient's) as UTF-8 CSV, oldest first; times in UTC
    ISO 8601. Cells are made spreadsheet-safe as in every export
    (:func:`posture.csvcells.text_cell`): a typed user name such as ``=HYPERLINK(..)`` stays
    text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for e in store.audit_trail(patient_id=patient_id):
        w.writerow([e["at"].isoformat() if k == "at" else text_cell("" if e[k] is None else e[k])
                    for k in COLUMNS])
    return buf.getvalue().encode("utf-8")


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    ok
        True when every row's hash matches its content and links to the row before.
    rows
        Rows read (all of them when ok; up to and including the broken one otherwise).
    broken_id
        Id of the first row that fails (None when ok).
    reason
        Why it fails, in words ("" when ok).
    head_hash
        ``row_hash`` of the last row checked: note it down; a trail later cut short after
        that row, or rewritten from it on with fresh hashes by someone who can write to the
        database as its owner, no longer ends in this hash.
    """

    ok: bool
    rows: int
    broken_id: int | None
    reason: str
    head_hash: str

    def text(self) -> str:
        if self.ok:
            return f"OK: {self.rows} audit row(s), hash chain intact; head {self.head_hash}"
        return (f"BROKEN at audit row {self.broken_id}: {self.reason} "
                f"({self.rows - 1} row(s) before it are intact)")


def verify(store: Store) -> ChainCheck:
    """Check the audit trail's hash chain, oldest row first; stop at the first broken row.

    A row fails when its content no longer gives its ``row_hash`` (it was edited), when its
    ``prev_hash`` is not the ``row_hash`` of the row before it (a row was removed, inserted
    or reordered; the first row must carry the genesis hash), or when it carries no hash
    after the chain began. Rows written before schema version 4 carry none; the
    ``chain_start`` row that the upgrade appended covers them (each hashed as if it carried
    the hash of the row before).
    """
    prev, n, chained = GENESIS_HASH, 0, False
    with store._read() as conn:
        for row in conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id)):
            m = dict(row._mapping)
            n += 1
            rid = int(m["id"])
            if m["row_hash"] is None and m["prev_hash"] is None and not chained:
                prev = row_hash({**m, "prev_hash": prev})  # written before schema 4
                continue
            chained = True
            if m["prev_hash"] != prev:
                why = ("it does not follow the row before it (a row was removed, inserted "
                       "or reordered)" if m["prev_hash"] else "it carries no hash")
                return ChainCheck(False, n, rid, why, prev)
            if m["row_hash"] != row_hash(m):
                return ChainCheck(False, n, rid, "its content was changed after it was "
                                  "written", prev)
            prev = m["row_hash"]
    return ChainCheck(True, n, None, "", prev)
