"""Schema version 3: id counters (a deleted record's number is never handed out again),
accounts (``users``, ``sessions``) and the append-only audit trail.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from posture.store.migrations import record_version

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

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


def upgrade() -> None:
    counters = op.create_table(
        "id_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.CheckConstraint("role IN ('clinician', 'admin')", name="user_role"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        # no foreign keys: the trail outlives the records it names
        sa.Column("patient_id", sa.Integer, index=True),
        sa.Column("assessment_id", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False),
    )
    conn = op.get_bind()
    # the counters start at the highest id each table holds
    for name in ("patients", "assessments"):
        top = conn.execute(sa.text(f"SELECT MAX(id) FROM {name}")).scalar() or 0
        conn.execute(sa.insert(counters).values(name=name, last_id=int(top)))
    if conn.dialect.name == "postgresql":
        for stmt in _APPEND_ONLY_PG:
            op.execute(stmt)
    else:
        for name in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(op=name, OP=name.upper()))
    record_version(3)
