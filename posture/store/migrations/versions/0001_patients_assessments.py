"""Schema version 1: patients and their assessments.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

from posture.store.migrations import record_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200)),
        sa.Column("birth_year", sa.Integer),
        sa.Column("sex", sa.String(16)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer,
                  sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("photo_consent", sa.Boolean, nullable=False),
        sa.Column("photo_jpeg", sa.LargeBinary),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("landmarks_json", sa.Text),
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
        sa.Column("notes", sa.Text, nullable=False),
        # a photo without consent must be impossible, not merely unlikely
        sa.CheckConstraint("photo_jpeg IS NULL OR photo_consent", name="photo_needs_consent"),
    )
    record_version(1)
