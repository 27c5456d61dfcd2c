"""Bringing a clinic database to the current schema with the Alembic revisions.

The revisions live in the package (``posture/store/migrations``) and run on the store's
own connection, inside its write transaction: nothing to configure at the user's side (no
``alembic.ini``), and a failed step leaves the database at its previous version (DDL is
transactional on SQLite and PostgreSQL).

A database made by posture before the Alembic revisions (hand-written migrations) has a
``schema_version`` table and no ``alembic_version``: it is *stamped* at the revision of its
version (revision ``000N`` makes exactly what version N made), then upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from .schema import SCHEMA_VERSION

#: Alembic's script directory, inside the package (shipped in the wheel).
SCRIPTS = Path(__file__).resolve().parent / "migrations"


def revision_of(version: int) -> str:
    """The Alembic revision id that makes schema ``version`` (``"0003"`` for 3)."""
    return f"{version:04d}"


def _alembic_version(conn: sa.Connection) -> int | None:
    """The version of the revision Alembic recorded (None when Alembic never ran here)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return int(rev) if rev and rev.isdigit() else None


def _legacy_version(conn: sa.Connection) -> int:
    """The highest version in ``schema_version`` (0 when there is no such table)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar() or 0)


def current_version(conn: sa.Connection) -> int:
    """Schema version of the database on ``conn`` (0 when it has no tables yet): the higher
    of Alembic's revision and the ``schema_version`` table, so that a database written by a
    newer posture reads as newer whichever of the two that posture kept."""
    return max(_alembic_version(conn) or 0, _legacy_version(conn))


def up_to_date(conn: sa.Connection) -> bool:
    """Whether the database is at :data:`SCHEMA_VERSION` under Alembic (nothing to do)."""
    return _alembic_version(conn) == SCHEMA_VERSION == _legacy_version(conn)


def _config(conn: sa.Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn  # env.py migrates this connection
    return cfg


def migrate(conn: sa.Connection, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Apply the revisions from the database's version up to ``target``.

    Runs inside the caller's transaction. A database of the hand-written migrations is
    stamped at its version first (the bridge). Returns (from, to).
    """
    from alembic import command

    start = current_version(conn)
    if start and _alembic_version(conn) is None:  # made before the Alembic revisions
        command.stamp(_config(conn), revision_of(start))
    if target > start:
        command.upgrade(_config(conn), revision_of(target))
    return start, max(start, target)
