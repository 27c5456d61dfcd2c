"""Clinic store safety: numbers never reused, accounts, audit trail, coded database errors.

The same checks run against PostgreSQL in tests/test_store_postgres.py (``store_factory``).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa
from legacy_store_schema import migrate
from sqlalchemy import event
from test_store import JPEG, make_result

from posture.store import SCHEMA_VERSION, StoreError, accounts, logins, open_store

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "clinic.db") as s:
        yield s


# -- numbers ------------------------------------------------------------------------------

def check_numbers_never_reused(s) -> None:
    p = s.add_patient("N-1")
    a = [s.save_assessment(p.id, make_result()) for _ in range(3)]
    s.delete_assessment(a[-1].id)
    s.delete_assessment(a[-2].id)
    new = s.save_assessment(p.id, make_result())
    assert new.id > a[-1].id
    s.delete_patient(p.id)
    q = s.add_patient("N-2")
    assert q.id > p.id


def test_deleted_numbers_are_never_reused(store):
    check_numbers_never_reused(store)


def test_v2_database_migrates_and_keeps_counting_above_its_ids(tmp_path):
    db = tmp_path / "old.db"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as conn:  # a v2 database with a record
        migrate(conn, target=2)
        conn.execute(sa.text("INSERT INTO patients (id, pseudonym, created_at) VALUES "
                             "(7, 'OLD', '2024-01-01 00:00:00')"))
    eng.dispose()
    with open_store(db) as s:
        assert (s.migrated_from, s.schema_version) == (2, SCHEMA_VERSION)
        assert s.add_patient("NEW").id == 8


# -- accounts -----------------------------------------------------------------------------

def check_accounts(s, monkeypatch) -> None:
    assert not accounts.has_users(s)
    u = accounts.add_user(s, "dr_lee", PASSWORD, role="clinician")
    assert accounts.has_users(s) and u.role == "clinician" and not u.is_admin
    with s._read() as conn:
        h = conn.execute(sa.select(accounts.USERS.c.password_hash)).scalar()
    assert h.startswith("$argon2id$") and PASSWORD not in h
    for bad, code in ((("dr_lee", PASSWORD), "duplicate_user"),
                      (("x y", PASSWORD), "invalid_user"),
                      (("nurse", "short"), "weak_password")):
        with pytest.raises(StoreError) as e:
            accounts.add_user(s, *bad)
        assert e.value.code == code
    with pytest.raises(StoreError) as e:
        accounts.add_user(s, "boss", PASSWORD, role="root")
    assert e.value.code == "invalid_user"

    token = accounts.login(s, "dr_lee", PASSWORD)
    assert accounts.session_user(s, token) == u
    accounts.logout(s, token)
    assert accounts.session_user(s, token) is None
    assert accounts.session_user(s, "forged") is None

    # lock-out after repeated failures, even for the right password afterwards
    n = accounts.rules()["max_failed_logins"]
    for i in range(n):
        with pytest.raises(StoreError) as e:
            accounts.login(s, "dr_lee", "wrong password")
        assert e.value.code == ("account_locked" if i == n - 1 else "login_failed")
    with pytest.raises(StoreError) as e:
        accounts.login(s, "dr_lee", PASSWORD)
    assert e.value.code == "account_locked"
    # ... until the lock-out time has passed
    real_now = logins.utc_now
    later = real_now() + timedelta(minutes=accounts.rules()["lockout_minutes"] + 1)
    monkeypatch.setattr(logins, "utc_now", lambda: later)
    token = accounts.login(s, "dr_lee", PASSWORD)
    assert accounts.session_user(s, token) == u
    # sessions expire when idle
    idle = later + timedelta(minutes=accounts.rules()["session_idle_minutes"] + 1)
    monkeypatch.setattr(logins, "utc_now", lambda: idle)
    assert accounts.session_user(s, token) is None
    with pytest.raises(StoreError) as e:
        accounts.login(s, "nobody", PASSWORD)
    assert e.value.code == "login_failed"


def test_accounts_hash_lock_out_and_expire(store, monkeypatch):
    check_accounts(store, monkeypatch)


def test_session_has_an_absolute_limit(store, monkeypatch):
    accounts.add_user(store, "admin1", PASSWORD, role="admin")
    token = accounts.login(store, "admin1", PASSWORD)
    start = logins.utc_now()
    step = timedelta(minutes=accounts.rules()["session_idle_minutes"] - 1)
    t = start
    limit = start + timedelta(hours=accounts.rules()["session_max_hours"])
    while t + step < limit:  # active all day: kept alive by page views
        t += step
        monkeypatch.setattr(logins, "utc_now", lambda t=t: t)
        assert accounts.session_user(store, token) is not None
    monkeypatch.setattr(logins, "utc_now", lambda: limit + timedelta(minutes=1))
    assert accounts.session_user(store, token) is None


# -- audit trail --------------------------------------------------------------------------

def check_audit_trail(s) -> None:
    """A scripted session; the trail lists its actions, in order, and cannot be edited."""
    accounts.add_user(s, "admin1", PASSWORD, role="admin", actor="setup")
    token = accounts.login(s, "admin1", PASSWORD)
    who = accounts.session_user(s, token).name
    p = s.add_patient("AU-1", actor=who)
    s.log(who, "view", patient_id=p.id)
    r = s.save_assessment(p.id, make_result(), actor=who, corrections={"hip": (10.0, 20.0)},
                          photo_jpeg=JPEG, photo_consent=True)
    s.log(who, "export", patient_id=p.id, detail="csv")
    s.delete_assessment(r.id, actor=who)
    s.delete_patient(p.id, actor=who)
    accounts.logout(s, token)
    trail = s.audit_trail()
    got = [(e["actor"], e["action"], e["patient_id"], e["assessment_id"]) for e in trail]
    assert got == [
        ("setup", "user_add", None, None), ("admin1", "login", None, None),
        ("admin1", "create", p.id, None), ("admin1", "view", p.id, None),
        ("admin1", "create", p.id, r.id), ("admin1", "correct", p.id, r.id),
        ("admin1", "export", p.id, None), ("admin1", "delete", p.id, r.id),
        ("admin1", "delete", p.id, None), ("admin1", "logout", None, None),
    ]
    assert all(e["at"].tzinfo is not None for e in trail)
    assert "AU-1" not in repr(trail)  # ids only: no personal data in the trail
    for stmt in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(StoreError) as e, s._write() as conn:
            conn.execute(sa.text(stmt))
        assert e.value.code == "audit_append_only"
    assert len(s.audit_trail()) == len(trail)


def test_audit_trail_lists_a_scripted_session(store):
    check_audit_trail(store)


# -- database errors ----------------------------------------------------------------------

def test_read_only_database_gives_a_coded_error_and_reads_still_work(tmp_path):
    db = tmp_path / "clinic.db"
    with open_store(db) as s:
        p = s.add_patient("RO-1")
        s.save_assessment(p.id, make_result())
    with open_store(f"sqlite:///file:{db}?mode=ro&uri=true") as s:
        assert len(s.list_assessments(p.id)) == 1
        with pytest.raises(StoreError) as e:
            s.save_assessment(p.id, make_result())
        assert e.value.code == "database_read_only"
        assert "read-only" in e.value.message and "nothing was saved" in e.value.message


def test_full_disk_gives_a_coded_error_and_saves_nothing(store):
    p = store.add_patient("FULL-1")
    store.save_assessment(p.id, make_result())
    before = len(store.audit_trail())
    with store._read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(store.engine, "connect")
    def _tiny(dbapi_conn, _rec):  # SQLite's own "database or disk is full" (SQLITE_FULL)
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    store.engine.dispose()
    photo = JPEG + bytes(200_000)  # needs ~50 more pages than there are
    with pytest.raises(StoreError) as e:
        store.save_assessment(p.id, make_result(), photo_jpeg=photo, photo_consent=True)
    assert e.value.code == "storage_full" and "full" in e.value.message
    assert len(store.list_assessments(p.id)) == 1  # nothing half-saved ...
    assert len(store.audit_trail()) == before  # ... not even its audit entry


def test_locked_database_gives_a_coded_error(tmp_path, monkeypatch):
    db = tmp_path / "clinic.db"
    with open_store(db) as s:
        p = s.add_patient("LK-1")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        s = open_store(db)

        @event.listens_for(s.engine, "connect")
        def _short(dbapi_conn, _rec):
            dbapi_conn.execute("PRAGMA busy_timeout = 200")

        s.engine.dispose()
        with pytest.raises(StoreError) as e:
            s.save_assessment(p.id, make_result())
        assert e.value.code == "database_locked"
        s.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_typed_reading_is_stored_as_its_contract(store):
    from posture.contract import from_dict, to_dict

    p = store.add_patient("TY-1")
    reading = from_dict(make_result(tilt=14.0))
    rec = store.save_assessment(p.id, reading)
    assert rec.result == to_dict(reading)
    assert rec.reading.pelvic_tilt_deg == 14.0
    with pytest.raises(StoreError) as e:
        store.save_assessment(p.id, ["not", "a", "result"])
    assert e.value.code == "invalid_record"
