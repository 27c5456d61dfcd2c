"""The audit trail's hash chain: what a row's hash covers, and appending a row.

Each row stores the SHA-256 of its own canonical content (:func:`row_hash`) and the hash
of the row before it, so a changed, removed or inserted row shows (``posture audit
verify``, :func:`posture.store.audit.verify`). Kept apart from the store's class because
the schema migration that starts the chain (revision 0004) needs the same definition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .records import StoreError
from .schema import AUDIT

#: Actions recorded in the audit trail.
AUDIT_ACTIONS = ("view", "create", "correct", "export", "delete", "login", "logout",
                 "login_failed", "user_add", "user_unlock", "user_disable", "user_enable",
                 "user_password", "user_remove", "sessions_revoked", "chain_start",
                 "reference")
#: Who did it when a caller names nobody (a script or the CLI without accounts).
DEFAULT_ACTOR = "local"
#: ``prev_hash`` of the first row of a trail.
GENESIS_HASH = hashlib.sha256(b"posture audit trail").hexdigest()
#: What a row's hash covers (everything but the hash itself).
CHAIN_FIELDS = ("id", "at", "actor", "action", "patient_id", "assessment_id", "detail",
                "prev_hash")
# PostgreSQL advisory lock held by the transaction that appends to the chain
_AUDIT_LOCK = 724872


def from_db_time(dt: datetime) -> datetime:
    """An aware UTC datetime of a stored one (SQLite keeps no offset: we only ever store
    UTC, so a naive value is UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an audit row's canonical content.

    The canonical form is the JSON object of :data:`CHAIN_FIELDS` with sorted keys, ASCII
    escapes, no spaces, ``at`` as UTC ISO 8601 with microseconds, ids as integers: the same
    text on SQLite and PostgreSQL and after a round trip through either.
    """
    d = {k: row[k] for k in CHAIN_FIELDS}
    d["at"] = from_db_time(d["at"]).isoformat(timespec="microseconds")
    for k in ("id", "patient_id", "assessment_id"):
        d[k] = None if d[k] is None else int(d[k])
    text = json.dumps(d, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def clean_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, control characters replaced (a NUL is refused
    by PostgreSQL, a newline forges a log line)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])


def append(conn: sa.Connection, actor: str | None, action: str, *,
           patient_id: int | None = None, assessment_id: int | None = None,
           detail: str = "") -> None:
    """Append one row to the audit trail inside the caller's write transaction."""
    if action not in AUDIT_ACTIONS:
        raise StoreError(f"unknown audit action {action!r}", code="invalid_record")
    if conn.dialect.name == "postgresql":
        # one appender at a time until commit, so ids and the chain agree (SQLite:
        # BEGIN IMMEDIATE already serialises writers)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    last = conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(1)).first()
    prev = GENESIS_HASH
    if last is not None:
        prev = last.row_hash or row_hash(last._mapping)  # an unhashed row: verify flags it
    row = dict(id=(int(last.id) + 1 if last is not None else 1), at=datetime.now(UTC),
               actor=clean_text(actor or DEFAULT_ACTOR, 64), action=action,
               patient_id=patient_id, assessment_id=assessment_id,
               detail=clean_text(detail, 2000), prev_hash=prev)
    row["row_hash"] = row_hash(row)
    conn.execute(sa.insert(AUDIT).values(**row))
