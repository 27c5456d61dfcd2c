"""The clinic store's Alembic revisions (posture/store/migrations) and the bridge from the
hand-written migrations that came before them (tests/legacy_store_schema.py).

Checked on SQLite here and on PostgreSQL in test_store_postgres.py (the ``check_*``
functions take a URL): a fresh database is at the head revision with exactly the tables of
posture/store/schema.py; a database made by each old version is stamped at its revision
and upgraded with its data kept, and ends with the same tables as a fresh one; each
revision builds what the hand-written migration of its version built.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from legacy_store_schema import migrate as legacy_migrate
from test_store import make_result

from posture.store import SCHEMA_VERSION, StoreError, open_store
from posture.store.audit import verify
from posture.store.schema import METADATA
from posture.store.upgrade import migrate, revision_of

VERSIONS = range(1, SCHEMA_VERSION + 1)


def schema_of(url: str) -> dict:
    """Every table's columns, keys, indexes and checks, and the trigger names: what two
    databases must share to be the same schema (Alembic's own table left out)."""
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        insp = sa.inspect(conn)
        out: dict = {}
        for t in sorted(set(insp.get_table_names()) - {"alembic_version"}):
            out[t] = dict(
                columns=[(c["name"], str(c["type"]), c["nullable"])
                         for c in insp.get_columns(t)],
                pk=insp.get_pk_constraint(t)["constrained_columns"],
                fks=sorted((tuple(f["constrained_columns"]), f["referred_table"],
                            f["options"].get("ondelete")) for f in insp.get_foreign_keys(t)),
                indexes=sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                               for i in insp.get_indexes(t)),
                unique=sorted(tuple(u["column_names"])
                              for u in insp.get_unique_constraints(t)),
                checks=sorted((c["name"], " ".join(c["sqltext"].split()))
                              for c in insp.get_check_constraints(t)),
            )
        if conn.dialect.name == "postgresql":
            q = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        out["triggers"] = sorted(conn.execute(sa.text(q)).scalars())
        out["schema_version"] = sorted(conn.execute(sa.text(
            "SELECT version FROM schema_version")).scalars())
    eng.dispose()
    return out


def model_differences(url: str) -> list:
    """What Alembic's autogenerate finds between the database and schema.py's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    eng = sa.create_engine(url)
    with eng.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), METADATA)
    eng.dispose()
    return diffs


def alembic_revision(url: str) -> str | None:
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    eng.dispose()
    return rev


def check_fresh_database_is_at_head(url: str) -> None:
    with open_store(url) as s:
        assert (s.migrated_from, s.schema_version) == (0, SCHEMA_VERSION)
    assert alembic_revision(url) == revision_of(SCHEMA_VERSION)
    assert model_differences(url) == []
    assert schema_of(url)["schema_version"] == list(VERSIONS)


def make_old_database(url: str, version: int) -> None:
    """A database as posture made it at schema ``version`` (the hand-written migrations),
    holding a patient, an assessment and, from version 3 on, an account and audit rows."""
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        legacy_migrate(conn, target=version)
        old = "2024-01-02 08:00:00.000000"
        conn.execute(sa.text("INSERT INTO patients (id, pseudonym, birth_year, created_at) "
                             "VALUES (7, 'OLD-7', 1970, :t)"), {"t": old})
        conn.execute(sa.text(
            "INSERT INTO assessments (id, patient_id, taken_at, created_at, photo_consent, "
            "result_json, pelvic_tilt_deg, abstained, notes) VALUES (3, 7, :t, :t, false, "
            ":r, 12.3, false, 'old note')"),
            {"t": old, "r": _result_json()})
        if version >= 2:
            conn.execute(sa.text("UPDATE assessments SET thomas_test = 'yes'"))
        if version >= 3:
            conn.execute(sa.text(
                "INSERT INTO users (name, role, password_hash, created_at, failed_logins, "
                "disabled) VALUES ('Lee', 'clinician', 'x', :t, 0, false)"), {"t": old})
        if version == 3:  # before the hash chain: rows without hashes
            for action in ("login", "view"):
                conn.execute(sa.text(
                    "INSERT INTO audit (at, actor, action, patient_id, detail) VALUES "
                    "(:t, 'Lee', :a, 7, '')"), {"t": old, "a": action})
    eng.dispose()


def _result_json() -> str:
    import json

    return json.dumps(make_result())


def check_old_database_is_stamped_and_upgraded(url: str, fresh_url: str,
                                               version: int) -> None:
    make_old_database(url, version)
    with open_store(url) as s:
        assert (s.migrated_from, s.schema_version) == (version, SCHEMA_VERSION)
        p = s.find_patient("OLD-7")
        assert (p.id, p.birth_year) == (7, 1970)
        [rec] = s.list_assessments(7)
        assert (rec.id, rec.notes, rec.pelvic_tilt_deg) == (3, "old note", 12.3)
        assert rec.taken_at == datetime(2024, 1, 2, 8, tzinfo=UTC)
        assert rec.thomas_test == ("yes" if version >= 2 else None)
        assert s.add_patient("NEW").id == 8  # numbering goes on above the old ids
        assert s.save_assessment(7, make_result(), reference=("inclinometer", 9.0)).id == 4
        assert verify(s).ok
        if version == 3:
            assert [e["action"] for e in s.audit_trail()][:3] == ["login", "view",
                                                                   "chain_start"]
    with open_store(url) as s:  # stamped and upgraded once: nothing left to do
        assert (s.migrated_from, s.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert alembic_revision(url) == revision_of(SCHEMA_VERSION)
    open_store(fresh_url).close()
    assert schema_of(url) == schema_of(fresh_url)
    assert model_differences(url) == []


def check_revision_builds_what_the_old_code_built(url: str, old_url: str,
                                                  version: int) -> None:
    for u, run in ((url, migrate), (old_url, legacy_migrate)):
        eng = sa.create_engine(u)
        with eng.begin() as conn:
            run(conn, target=version)
        eng.dispose()
    assert alembic_revision(url) == revision_of(version)
    assert schema_of(url) == schema_of(old_url)


def _sqlite(tmp_path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def test_fresh_database_is_at_head(tmp_path):
    check_fresh_database_is_at_head(_sqlite(tmp_path, "fresh.db"))


@pytest.mark.parametrize("version", VERSIONS)
def test_old_database_is_stamped_and_upgraded(tmp_path, version):
    check_old_database_is_stamped_and_upgraded(
        _sqlite(tmp_path, "old.db"), _sqlite(tmp_path, "fresh.db"), version)


@pytest.mark.parametrize("version", VERSIONS)
def test_revision_builds_what_the_old_code_built(tmp_path, version):
    check_revision_builds_what_the_old_code_built(
        _sqlite(tmp_path, "new.db"), _sqlite(tmp_path, "old.db"), version)


def test_sqlite_ddl_is_the_old_ddl_verbatim(tmp_path):
    """On SQLite the table definitions are kept as text: the revisions write the same."""
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    open_store(new).close()
    eng = sa.create_engine(f"sqlite:///{old}")
    with eng.begin() as conn:
        legacy_migrate(conn)
    eng.dispose()

    def ddl(p):
        con = sqlite3.connect(p)
        rows = con.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE "
                           "'%alembic%' ORDER BY type, name").fetchall()
        con.close()
        return rows

    assert ddl(new) == ddl(old)


def test_newer_alembic_revision_is_refused(tmp_path):
    url = _sqlite(tmp_path, "db.db")
    open_store(url).close()
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"),
                     {"v": revision_of(SCHEMA_VERSION + 1)})
    eng.dispose()
    with pytest.raises(StoreError) as e:
        open_store(url)
    assert e.value.code == "schema_too_new"


def test_migrations_ship_in_the_package():
    """The revisions are found inside the installed package, with no alembic.ini."""
    from alembic.script import ScriptDirectory

    from posture.store.upgrade import SCRIPTS

    script = ScriptDirectory(str(SCRIPTS))
    assert script.get_current_head() == revision_of(SCHEMA_VERSION)
    chain = [r.revision for r in script.walk_revisions()]
    assert chain == [revision_of(v) for v in reversed(VERSIONS)]


def test_read_only_old_database_at_todays_version_still_opens(tmp_path):
    """A version-5 database of the hand-written migrations on a read-only disk reads as it
    is (it cannot be stamped there); an older one is refused with the read-only code."""
    for version in (SCHEMA_VERSION, SCHEMA_VERSION - 1):
        db = tmp_path / f"v{version}.db"
        make_old_database(f"sqlite:///{db}", version)
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode = WAL")  # as the store left it when it made it
        con.close()
        ro = f"sqlite:///file:{db}?mode=ro&uri=true"
        if version == SCHEMA_VERSION:
            with open_store(ro) as s:
                assert s.schema_version == SCHEMA_VERSION
                assert s.list_assessments(7)[0].notes == "old note"
        else:
            with pytest.raises(StoreError) as e:
                open_store(ro)
            assert e.value.code == "database_read_only"
        con = sqlite3.connect(db)
        assert con.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'"
                           ).fetchall() == []
        con.close()
