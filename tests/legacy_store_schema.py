"""The clinic store's schema code as it was before the Alembic revisions, frozen for tests.

posture up to schema version 5 made and upgraded its databases with these hand-written
migrations (``migrate(conn, target)``); the tests build old databases with them exactly as
an existing install has them, then check that the store stamps and upgrades them
(:mod:`posture.store.upgrade`) and that the Alembic revisions build the same tables. Do not
edit: this is a record of what shipped (only its imports point at where the two helpers it
borrows live now).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

SCHEMA_VERSION = 5

# Columns added after version 1, with the version that added them.
_V2_COLUMNS = (
    ("assessments", "thomas_test", sa.String(8)),
    ("assessments", "corrections_json", sa.Text()),
)


def build_tables(md: sa.MetaData, version: int = SCHEMA_VERSION) -> dict[str, sa.Table]:
    """The tables of schema ``version`` (1 or later) on ``md``."""
    version_t = sa.Table(
        "schema_version", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    patients = sa.Table(
        "patients", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200)),
        sa.Column("birth_year", sa.Integer),
        sa.Column("sex", sa.String(16)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    cols = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer,
                  sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("photo_consent", sa.Boolean, nullable=False, default=False),
        sa.Column("photo_jpeg", sa.LargeBinary),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("landmarks_json", sa.Text),
        # denormalised for queries and exports; the contract JSON stays the source of truth
        sa.Column("pelvic_tilt_deg", sa.Float),
        sa.Column("pelvic_tilt_lo_deg", sa.Float),
        sa.Column("pelvic_tilt_hi_deg", sa.Float),
        sa.Column("lumbar_lordosis_deg", sa.Float),
        sa.Column("head_neck_angle_deg", sa.Float),
        sa.Column("trunk_lean_deg", sa.Float),
        sa.Column("knee_angle_deg", sa.Float),
        sa.Column("severity", sa.String(16)),
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("pose_model", sa.String(64)),
        sa.Column("estimator_version", sa.String(64)),
        sa.Column("notes", sa.Text, nullable=False, default=""),
        # a photo without consent must be impossible, not merely unlikely
        sa.CheckConstraint("photo_jpeg IS NULL OR photo_consent", name="photo_needs_consent"),
    ]
    if version >= 2:
        cols += [sa.Column(name, typ) for _, name, typ in _V2_COLUMNS]
    if version >= 5:
        cols += [sa.Column(name, typ) for _, name, typ in _V5_COLUMNS]
    assessments = sa.Table("assessments", md, *cols)
    out = {"schema_version": version_t, "patients": patients, "assessments": assessments}
    if version >= 3:
        out.update(_v3_tables(md, version))
    if version >= 4:
        out["login_misses"] = _misses_table(md)
    return out


# Columns added by version 5: the reference reading of an assessment.
_V5_COLUMNS = (
    ("assessments", "reference_instrument", sa.String(32)),
    ("assessments", "reference_deg", sa.Float()),
)

# Columns added by version 4, with their tables.
_V4_COLUMNS = (
    ("users", "name_key", sa.String(64)),
    ("users", "last_failed_at", sa.DateTime(timezone=True)),
    ("audit", "prev_hash", sa.String(64)),
    ("audit", "row_hash", sa.String(64)),
)


def _misses_table(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "login_misses", md,
        # a hash of the case-folded name typed: no typed text (a password typed in the name
        # box) is kept, and the key has a fixed size
        sa.Column("name_key", sa.String(64), primary_key=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), index=True),
    )


def _v3_tables(md: sa.MetaData, version: int = 3) -> dict[str, sa.Table]:
    def v4(table: str) -> list[sa.Column]:
        return ([sa.Column(n, typ) for t, n, typ in _V4_COLUMNS if t == table]
                if version >= 4 else [])

    counters = sa.Table(
        "id_counters", md,
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
    )
    users = sa.Table(
        "users", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("disabled", sa.Boolean, nullable=False, default=False),
        sa.CheckConstraint("role IN ('clinician', 'admin')", name="user_role"),
        *v4("users"),
    )
    sessions = sa.Table(
        "sessions", md,
        # only a hash of the token: a copy of the database does not log anyone in
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    audit = sa.Table(
        "audit", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        # no foreign keys: the trail outlives the records it names
        sa.Column("patient_id", sa.Integer, index=True),
        sa.Column("assessment_id", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False, default=""),
        *v4("audit"),
    )
    return {"id_counters": counters, "users": users, "sessions": sessions, "audit": audit}


def _to_v1(conn: sa.Connection) -> None:
    md = sa.MetaData()
    build_tables(md, 1)
    md.create_all(conn)


def _add_columns(conn: sa.Connection, columns) -> None:
    prep = conn.dialect.identifier_preparer
    for table, name, typ in columns:
        conn.exec_driver_sql(
            f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(name)} "
            f"{typ.compile(dialect=conn.dialect)}"
        )


def _to_v5(conn: sa.Connection) -> None:
    _add_columns(conn, _V5_COLUMNS)


def _to_v2(conn: sa.Connection) -> None:
    prep = conn.dialect.identifier_preparer
    for table, name, typ in _V2_COLUMNS:
        conn.exec_driver_sql(
            f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(name)} "
            f"{typ.compile(dialect=conn.dialect)}"
        )


_APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER audit_no_{op} BEFORE {OP} ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit_append_only: the audit trail cannot be changed'); END"
)
_APPEND_ONLY_PG = (
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'audit_append_only: the audit trail cannot be changed'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
)


def _to_v3(conn: sa.Connection) -> None:
    md = sa.MetaData()
    tables = _v3_tables(md, 3)
    md.create_all(conn)
    for name in ("patients", "assessments"):
        top = conn.execute(sa.text(f"SELECT MAX(id) FROM {name}")).scalar() or 0
        conn.execute(sa.insert(tables["id_counters"]).values(name=name, last_id=int(top)))
    if conn.dialect.name == "postgresql":
        for stmt in _APPEND_ONLY_PG:
            conn.exec_driver_sql(stmt)
    else:
        for op in ("update", "delete"):
            conn.exec_driver_sql(_APPEND_ONLY_SQLITE.format(op=op, OP=op.upper()))


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


def _to_v4(conn: sa.Connection) -> None:
    from posture.store.names import name_key  # the one definition of "the same name"

    prep = conn.dialect.identifier_preparer
    for table, name, typ in _V4_COLUMNS:
        conn.exec_driver_sql(
            f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(name)} "
            f"{typ.compile(dialect=conn.dialect)}"
        )
    md = sa.MetaData()
    tables = build_tables(md, 4)
    tables["login_misses"].create(conn)
    users, audit = tables["users"], tables["audit"]
    # names that fold to one key: the oldest account keeps it, the others are disabled and
    # get a key no login can produce (an admin renames or removes them)
    seen: set[str] = set()
    collided: list[tuple[int, str]] = []
    for uid, name in conn.execute(sa.select(users.c.id, users.c.name).order_by(users.c.id)):
        key = name_key(name)
        values: dict = {"name_key": key}
        if key in seen:
            tag = f"#{uid}"  # '#' is in no valid name: no login reaches this key
            values = {"name_key": key[:64 - len(tag)] + tag, "disabled": True}
            collided.append((uid, name))
        seen.add(key)
        conn.execute(sa.update(users).where(users.c.id == uid).values(**values))
    conn.exec_driver_sql("CREATE UNIQUE INDEX users_folded_name ON users (name_key)")
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_NO_TRUNCATE_PG)
    else:
        conn.exec_driver_sql(_NO_REPLACE_SQLITE)
    _anchor_old_audit_rows(conn, audit, collided)


def _anchor_old_audit_rows(conn: sa.Connection, audit: sa.Table,
                           collided: list[tuple[int, str]]) -> None:
    """Append the ``chain_start`` row: its ``prev_hash`` chains every earlier row (hashed as
    if each had carried the hash of the one before), so ``posture audit verify`` covers the
    rows written before version 4 too."""
    from posture.store.chain import GENESIS_HASH, row_hash

    prev, n, last_id = GENESIS_HASH, 0, 0
    for row in conn.execute(sa.select(audit).order_by(audit.c.id)):
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
        conn.execute(sa.insert(audit).values(**m))
        prev, last_id = m["row_hash"], last_id + 1


#: MIGRATIONS[v] brings a database from version v - 1 to version v.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {
    1: _to_v1, 2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5}


_VERSION_TABLE = build_tables(sa.MetaData(), 1)["schema_version"]


def current_version(conn: sa.Connection) -> int:
    """Schema version of the database on ``conn`` (0 when it has no tables yet)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    v = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(v or 0)


def migrate(conn: sa.Connection, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Apply the migrations from the database's version up to ``target``.

    Runs inside the caller's transaction (DDL is transactional on SQLite and PostgreSQL,
    so a failed step leaves the previous version intact). Returns (from, to).
    """
    start = current_version(conn)
    for v in range(start + 1, target + 1):
        MIGRATIONS[v](conn)
        conn.execute(sa.insert(_VERSION_TABLE).values(version=v, applied_at=datetime.now(UTC)))
    return start, max(start, target)
