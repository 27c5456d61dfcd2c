"""Schema version 4: the audit trail becomes a hash chain and account names fold to one.

``audit`` gains ``prev_hash`` and ``row_hash``; the rows written before are covered by one
``chain_start`` row appended here (each hashed as if it carried the hash of the row
before). Triggers also refuse ``TRUNCATE`` (PostgreSQL) and ``INSERT OR REPLACE`` (SQLite)
on it. ``users`` gains ``name_key`` (unique; of two names that fold to one key the older
account keeps it and the others are disabled) and ``last_failed_at``; ``login_misses``
counts failed logins of names that are no account.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from posture.store.chain import GENESIS_HASH, row_hash
from posture.store.migrations import record_version
from posture.store.names import name_key  # the one definition of "the same name"

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NO_REPLACE_SQLITE = (
    # INSERT OR REPLACE deletes the row it collides with without firing DELETE triggers
    # (unless recursive_triggers is on): refuse any insert onto an id that exists
    "CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit "
    "WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'audit_append_only: the audit trail cannot be changed'); END"
)
_NO_TRUNCATE_PG = (
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
)

# the tables as this revision leaves them (for its own reads and writes)
_USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String),
                  sa.column("name_key", sa.String), sa.column("disabled", sa.Boolean))
_AUDIT = sa.table(
    "audit", sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String), sa.column("action", sa.String),
    sa.column("patient_id", sa.Integer), sa.column("assessment_id", sa.Integer),
    sa.column("detail", sa.Text), sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String))


def upgrade() -> None:
    op.add_column("users", sa.Column("name_key", sa.String(64)))
    op.add_column("users", sa.Column("last_failed_at", sa.DateTime(timezone=True)))
    op.add_column("audit", sa.Column("prev_hash", sa.String(64)))
    op.add_column("audit", sa.Column("row_hash", sa.String(64)))
    op.create_table(
        "login_misses",
        # a hash of the case-folded name typed: no typed text (a password typed in the name
        # box) is kept, and the key has a fixed size
        sa.Column("name_key", sa.String(64), primary_key=True),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), index=True),
    )
    conn = op.get_bind()
    collided = _fold_names(conn)
    op.create_index("users_folded_name", "users", ["name_key"], unique=True)
    op.execute(_NO_TRUNCATE_PG if conn.dialect.name == "postgresql" else _NO_REPLACE_SQLITE)
    _anchor_old_audit_rows(conn, collided)
    record_version(4)


def _fold_names(conn: sa.Connection) -> list[tuple[int, str]]:
    """Give each account its ``name_key``; of names that fold to one key the oldest account
    keeps it, the others are disabled and get a key no login can produce (an admin renames
    or removes them). Returns the disabled (id, name)s."""
    seen: set[str] = set()
    collided: list[tuple[int, str]] = []
    rows = conn.execute(sa.select(_USERS.c.id, _USERS.c.name).order_by(_USERS.c.id)).all()
    for uid, name in rows:
        key = name_key(name)
        values: dict = {"name_key": key}
        if key in seen:
            tag = f"#{uid}"  # '#' is in no valid name: no login reaches this key
            values = {"name_key": key[:64 - len(tag)] + tag, "disabled": True}
            collided.append((uid, name))
        seen.add(key)
        conn.execute(sa.update(_USERS).where(_USERS.c.id == uid).values(**values))
    return collided


def _anchor_old_audit_rows(conn: sa.Connection, collided: list[tuple[int, str]]) -> None:
    """Append the ``chain_start`` row: its ``prev_hash`` chains every earlier row (hashed as
    if each had carried the hash of the one before), so ``posture audit verify`` covers the
    rows written before version 4 too."""
    prev, n, last_id = GENESIS_HASH, 0, 0
    for row in conn.execute(sa.select(_AUDIT).order_by(_AUDIT.c.id)):
        m = dict(row._mapping)
        m["prev_hash"] = prev
        prev, n, last_id = row_hash(m), n + 1, int(m["id"])
    rows = [(f"covers {n} earlier row(s)" if n else "", "chain_start")] if n else []
    rows += [(f"{name} folds to the same name as an older account: disabled", "user_disable")
             for _, name in collided]
    for detail, action in rows:
        m = dict(id=last_id + 1, at=datetime.now(UTC), actor="schema-4", action=action,
                 patient_id=None, assessment_id=None, detail=detail, prev_hash=prev)
        m["row_hash"] = row_hash(m)
        conn.execute(sa.insert(_AUDIT).values(**m))
        prev, last_id = m["row_hash"], last_id + 1
