"""Schema version 5: a reference reading of the pelvic tilt per assessment (an instrument
id of ``posture/data/palpation.yaml`` and its degrees, + = anterior).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from posture.store.migrations import record_version

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assessments", sa.Column("reference_instrument", sa.String(32)))
    op.add_column("assessments", sa.Column("reference_deg", sa.Float()))
    record_version(5)
