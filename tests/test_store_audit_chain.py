"""The audit trail is tamper-evident (issue 23 item 8): a hash chain that ``posture audit
verify`` checks, REPLACE refused on SQLite (TRUNCATE on PostgreSQL: test_store_postgres),
old databases upgraded through the schema versions. The same checks run on PostgreSQL.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from legacy_store_schema import migrate

from posture.cli import main
from posture.store import SCHEMA_VERSION, StoreError, accounts, open_store, passwords
from posture.store.audit import verify


@pytest.fixture
def db(tmp_path):
    return tmp_path / "clinic.db"


def _some_history(s) -> None:
    p = s.add_patient("CH-1", actor="dr_a")
    s.log("dr_a", "view", patient_id=p.id)
    s.log("dr_b", "export", patient_id=p.id, detail="csv, names ✓ \u00e9")
    s.add_patient("CH-2", actor="dr_b")
    s.log("dr_a", "view", patient_id=p.id)


def sqlite_tamper(db):
    """A function running SQL on the file as its owner would, past the triggers."""

    def run(sql: str) -> None:
        con = sqlite3.connect(db)
        for t in ("audit_no_update", "audit_no_delete"):
            con.execute(f"DROP TRIGGER IF EXISTS {t}")
        con.execute(sql)
        con.commit()
        con.close()

    return run


def check_chain_names_the_broken_row(s, tamper) -> None:
    _some_history(s)
    ok = verify(s)
    assert ok.ok and ok.rows == 5 and ok.broken_id is None and len(ok.head_hash) == 64
    ids = [e["id"] for e in s.audit_trail()]
    tamper(f"UPDATE audit SET detail = 'nothing to see' WHERE id = {ids[2]}")
    bad = verify(s)
    assert not bad.ok and bad.broken_id == ids[2] and "changed" in bad.reason
    assert f"row {ids[2]}" in bad.text()


def check_chain_names_the_row_after_a_removed_one(s, tamper) -> None:
    _some_history(s)
    ids = [e["id"] for e in s.audit_trail()]
    tamper(f"DELETE FROM audit WHERE id = {ids[1]}")
    bad = verify(s)
    assert not bad.ok and bad.broken_id == ids[2] and "removed" in bad.reason


def check_new_rows_chain_on(s) -> None:
    _some_history(s)
    trail = s.audit_trail(hashes=True)
    for before, after in zip(trail, trail[1:], strict=False):
        assert after["prev_hash"] == before["row_hash"]
    assert "row_hash" not in s.audit_trail()[0]  # the app's table shows no hashes


def test_chain_verifies_and_names_an_edited_row(db):
    with open_store(db) as s:
        check_chain_names_the_broken_row(s, sqlite_tamper(db))


def test_chain_names_the_row_after_a_removed_one(db):
    with open_store(db) as s:
        check_chain_names_the_row_after_a_removed_one(s, sqlite_tamper(db))


def test_chain_names_a_row_added_without_the_store(db):
    with open_store(db) as s:
        _some_history(s)
        con = sqlite3.connect(db)
        con.execute("INSERT INTO audit (at, actor, action, detail) VALUES "
                    "('2030-01-01 00:00:00.000000', 'forger', 'view', '')")
        con.commit()
        con.close()
        bad = verify(s)
        forged = s.audit_trail()[-1]
        assert forged["actor"] == "forger"
        assert not bad.ok and bad.broken_id == forged["id"] and "no hash" in bad.reason


def test_each_row_carries_the_previous_rows_hash(db):
    with open_store(db) as s:
        check_new_rows_chain_on(s)


def test_insert_or_replace_cannot_rewrite_a_row(db):
    with open_store(db) as s:
        _some_history(s)
        first = s.audit_trail()[0]
        with pytest.raises(StoreError) as e, s._write() as conn:
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO audit (id, at, actor, action, detail) VALUES "
                f"({first['id']}, '2020-01-01 00:00:00', 'nobody', 'view', 'rewritten')")
        assert e.value.code == "audit_append_only"
        assert s.audit_trail()[0] == first
        # and straight through the driver (no store in between): refused as well
        con = sqlite3.connect(db)
        with pytest.raises(sqlite3.DatabaseError, match="audit_append_only"):
            con.execute("REPLACE INTO audit (id, at, actor, action, detail) VALUES "
                        f"({first['id']}, '2020-01-01', 'x', 'view', 'y')")
        con.close()
        assert verify(s).ok


def make_v3_database(url: str, *, twins: bool = False) -> None:
    """A version-3 database with an audit trail (and, with ``twins``, accounts ``Lee`` and
    ``lee``), as posture made them before the hash chain."""
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        migrate(conn, target=3)
        for i, (actor, action) in enumerate([("setup", "user_add"), ("Lee", "login"),
                                             ("Lee", "view"), ("Lee", "logout")]):
            conn.execute(sa.text(
                "INSERT INTO audit (at, actor, action, patient_id, detail) VALUES "
                "(:at, :actor, :action, :pid, '')"),
                dict(at=f"2024-05-0{i + 1} 10:00:00.123456", actor=actor, action=action,
                     pid=3 if action == "view" else None))
        if twins:
            hashed = passwords.hasher().hash("correct horse battery")
            for name in ("Lee", "lee"):
                conn.execute(sa.text(
                    "INSERT INTO users (name, role, password_hash, created_at, failed_logins, "
                    "disabled) VALUES (:n, 'clinician', :h, '2024-05-01 09:00:00', 0, false)"),
                    dict(n=name, h=hashed))
    eng.dispose()


def check_v3_upgrade(url: str, tamper) -> None:
    make_v3_database(url, twins=True)
    with open_store(url) as s:
        assert (s.migrated_from, s.schema_version) == (3, SCHEMA_VERSION)
        trail = s.audit_trail()
        assert [e["action"] for e in trail][-2:] == ["chain_start", "user_disable"]
        assert trail[-2]["detail"] == "covers 4 earlier row(s)"
        assert verify(s).ok
        s.log("dr_new", "view", patient_id=3)  # new rows chain on after the upgrade
        assert verify(s).ok
        # the twin account is disabled; the older one logs in under any case
        assert accounts.session_user(
            s, accounts.login(s, "LEE", "correct horse battery")).name == "Lee"
        with pytest.raises(StoreError) as e:
            accounts.set_disabled(s, "lee", False)
        assert e.value.code == "duplicate_user"
        start_id = trail[-2]["id"]
        tamper(f"UPDATE audit SET actor = 'someone' WHERE id = {trail[1]['id']}")
        bad = verify(s)
        assert not bad.ok and bad.broken_id == start_id  # an old row: its cover row breaks


def test_v3_database_upgrades_with_its_old_rows_covered(db):
    check_v3_upgrade(f"sqlite:///{db}", sqlite_tamper(db))


# -- the command line ----------------------------------------------------------------------

def test_cli_verify_reports_ok_then_the_broken_row(db, monkeypatch, capsys):
    with open_store(db) as s:
        _some_history(s)
        ids = [e["id"] for e in s.audit_trail()]
    assert main(["audit", "verify", "--db", str(db)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("OK: 5 audit row(s)")
    sqlite_tamper(db)(f"UPDATE audit SET detail = 'x' WHERE id = {ids[3]}")
    code = main(["audit", "verify", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 7 and "error [audit_chain_broken]" in err
    assert f"audit row {ids[3]}" in err and "Traceback" not in err


def test_cli_actor_is_the_os_account_not_logname(db, monkeypatch, capsys):
    import os
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "mallory")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long passphrase\n" * 2))
    assert main(["users", "add", "dr_who", "--db", str(db)]) == 0
    assert main(["audit", "export", "--db", str(db), "--out", str(db.parent / "a.csv")]) == 0
    capsys.readouterr()
    with open_store(db) as s:
        actors = {e["actor"] for e in s.audit_trail()}
    assert actors == {f"cli:{me}"}


def test_cli_audit_export_writes_its_own_new_row(db, monkeypatch, capsys, tmp_path):
    """Issue 29: the test writes rows, exports, and finds one more row it did not write."""
    import os
    import pwd

    with open_store(db) as s:
        p = s.add_patient("EX-1", actor="dr_a")
        s.log("dr_a", "view", patient_id=p.id)
        before = s.audit_trail()
    assert main(["audit", "export", "--db", str(db), "--patient", str(p.id),
                 "--out", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    with open_store(db) as s:
        after = s.audit_trail()
    assert after[:len(before)] == before
    new = after[len(before):]
    assert [(e["actor"], e["action"], e["patient_id"], e["detail"]) for e in new] == [
        (f"cli:{pwd.getpwuid(os.geteuid()).pw_name}", "export", p.id, "audit trail")]
    assert new[0]["id"] > before[-1]["id"]


# -- the CSV export -------------------------------------------------------------------------

#: Cell texts a spreadsheet would run (or, with the apostrophe, unquote) and what every CSV
#: export must write for them: one rule, posture.csvcells.
FORMULA_CELLS = {"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(1)": "'@SUM(1)",
                 "\tx": "'\tx", "\rx": "'\nx", "'=x": "''=x", "plain": "plain"}


def test_audit_csv_neutralises_formula_cells_like_the_clinic_export(db):
    import csv
    import io
    from datetime import UTC, datetime

    from test_store import make_result

    from posture.present.export import export_csv
    from posture.store.audit import audit_csv
    from posture.store.schema import AUDIT

    texts = list(FORMULA_CELLS)
    with open_store(db) as s:
        for n, text in enumerate(texts):
            p = s.add_patient(f"F-{n}")
            s.save_assessment(p.id, make_result(), notes=text)
        # the store cleans control characters from what it writes; rows another writer
        # appended need not be clean, and the export must still be safe
        with s._write() as conn:
            for text in texts:
                top = conn.execute(sa.select(sa.func.max(AUDIT.c.id))).scalar()
                conn.execute(sa.insert(AUDIT).values(id=top + 1, at=datetime.now(UTC),
                                                     actor=text, action="view", detail=text))
        audit = list(csv.DictReader(io.StringIO(audit_csv(s).decode("utf-8"))))
        clinic = list(csv.DictReader(io.StringIO(export_csv(s))))
    expected = [FORMULA_CELLS[t] for t in texts]
    assert [r["notes"] for r in clinic] == expected
    assert [r["actor"] for r in audit[-len(texts):]] == expected
    assert [r["detail"] for r in audit[-len(texts):]] == expected
