"""Alembic's script directory of the clinic store: ``env.py`` and one revision per schema
version in ``versions/`` (run by :mod:`posture.store.upgrade`; no ``alembic.ini``).

A new schema version N is a file ``versions/000N_<what>.py`` with ``revision = "000N"``,
``down_revision`` the one before, an ``upgrade()`` made of ``alembic.op`` calls that ends
with :func:`record_version`, and the matching change in :mod:`posture.store.schema`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

_VERSIONS = sa.table("schema_version", sa.column("version", sa.Integer),
                     sa.column("applied_at", sa.DateTime(timezone=True)))


def record_version(version: int) -> None:
    """Add ``version`` to the ``schema_version`` table (a posture from before the Alembic
    revisions reads it to refuse a database newer than itself)."""
    from alembic import op

    op.bulk_insert(_VERSIONS, [{"version": version, "applied_at": datetime.now(UTC)}])
