"""Schema version 2: assessments gain the Thomas test answer and the clinician's landmark
corrections (kept apart from the landmarks, so a corrected point reads as corrected).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from posture.store.migrations import record_version

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assessments", sa.Column("thomas_test", sa.String(8)))
    op.add_column("assessments", sa.Column("corrections_json", sa.Text()))
    record_version(2)
