"""The clinic store on a real PostgreSQL: a throwaway cluster that the tests start and stop.

The cluster is made with Debian's ``postgresql`` package (``initdb``/``pg_ctl`` under
``/usr/lib/postgresql/N/bin``) in a temporary folder, listens on a Unix socket there only
(no TCP port), trusts its own socket, and is removed at the end. ``initdb`` refuses to run
as root, so as root the cluster belongs to the ``postgres`` system user. Each test gets a
database of its own. Missing PostgreSQL or psycopg skips here and fails under CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import require_or_skip
from legacy_store_schema import migrate
from test_store import make_result
from test_store_accounts import (
    check_admin_actions,
    check_attempts_left_and_lock_time,
    check_equal_work_on_every_path,
    check_names_fold_to_one_account,
    check_parallel_wrong_logins_lock,
    fast_argon,  # noqa: F401  (a fixture, used by name below)
)
from test_store_audit_chain import (
    _some_history,
    check_chain_names_the_broken_row,
    check_chain_names_the_row_after_a_removed_one,
    check_new_rows_chain_on,
    check_v3_upgrade,
)
from test_store_clinic import check_accounts, check_audit_trail, check_numbers_never_reused
from test_store_migrations import (
    check_fresh_database_is_at_head,
    check_old_database_is_stamped_and_upgraded,
    check_revision_builds_what_the_old_code_built,
)

from posture.store import SCHEMA_VERSION, StoreError, open_store
from posture.store.audit import verify


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@pytest.fixture(scope="module")
def pg_cluster():
    """(socket dir, port, superuser) of a running throwaway cluster."""
    bindir = _bin_dir()
    require_or_skip(bindir is not None, "PostgreSQL is not installed (apt-get install "
                    "postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_or_skip(False, "psycopg is not installed (pip install 'psycopg[binary]')")
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="posture-pg-"))
    if owner:
        shutil.chown(root, owner)
    data, port, user = root / "data", 54329, "posture"
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", user,
                              "--auth=trust", "-E", "UTF8", "--no-sync"], owner), **run)
    opts = f"-k {root} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                              str(root / "log"), "-w", "-t", "60", "start"], owner), **run)
    try:
        yield str(root), port, user
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "-w", "stop"], owner), capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _url(cluster, db: str, **query) -> str:
    sock, port, user = cluster
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"postgresql+psycopg://{user}@/{db}?host={sock}&port={port}{extra}"


def _new_database(cluster) -> str:
    """A fresh, empty database of the cluster; its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(_url(cluster, "postgres"), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return _url(cluster, name)


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty database of the cluster; its URL."""
    return _new_database(pg_cluster)


def test_store_round_trip_and_schema(pg_url):
    with open_store(pg_url) as s:
        assert s.engine.dialect.name == "postgresql"
        assert (s.migrated_from, s.schema_version) == (0, SCHEMA_VERSION)
        p = s.add_patient("PG-1", name="Zoë O'Brien'); DROP TABLE patients; --")
        r = s.save_assessment(p.id, make_result(), photo_jpeg=b"\xff\xd8\xff" + bytes(100),
                              photo_consent=True, corrections={"hip": (1.0, 2.0)})
    with open_store(pg_url) as s:  # reopened: nothing to migrate, data intact
        assert s.migrated_from == SCHEMA_VERSION
        assert s.get_patient(p.id).name == "Zoë O'Brien'); DROP TABLE patients; --"
        got = s.get_assessment(r.id)
        assert got.has_photo and got.corrections == {"hip": (1.0, 2.0)}
        assert got.result == r.result


def test_v2_database_migrates(pg_url):
    eng = sa.create_engine(pg_url)
    with eng.begin() as conn:
        migrate(conn, target=2)
        conn.execute(sa.text("INSERT INTO patients (id, pseudonym, created_at) VALUES "
                             "(41, 'OLD', now())"))
    eng.dispose()
    with open_store(pg_url) as s:
        assert (s.migrated_from, s.schema_version) == (2, SCHEMA_VERSION)
        assert s.find_patient("OLD").id == 41
        assert s.add_patient("NEW").id == 42


def test_fresh_database_is_at_the_head_revision(pg_url):
    check_fresh_database_is_at_head(pg_url)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_old_database_is_stamped_and_upgraded(pg_cluster, version):
    check_old_database_is_stamped_and_upgraded(
        _new_database(pg_cluster), _new_database(pg_cluster), version)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_revision_builds_what_the_old_code_built(pg_cluster, version):
    check_revision_builds_what_the_old_code_built(
        _new_database(pg_cluster), _new_database(pg_cluster), version)


def test_numbers_never_reused(pg_url):
    with open_store(pg_url) as s:
        check_numbers_never_reused(s)


def test_accounts(pg_url, monkeypatch):
    with open_store(pg_url) as s:
        check_accounts(s, monkeypatch)


def test_audit_trail(pg_url):
    with open_store(pg_url) as s:
        check_audit_trail(s)


_PROC = """
import sys, time
from posture.store import open_store
url, tag, go, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
with open_store(url) as s:
    p = s.find_patient(tag)
    while time.time() < go:
        time.sleep(0.005)
    for i in range(n):
        s.save_assessment(p.id, {"ok": True, "abstained": True}, notes=f"{tag}-{i}",
                          actor=tag)
"""


def test_concurrent_saves_from_three_processes(pg_url):
    n = 60
    with open_store(pg_url) as s:
        ids = {tag: s.add_patient(tag).id for tag in ("PG-A", "PG-B", "PG-C")}
    go = time.time() + 4.0  # all start writing at the same instant
    procs = [subprocess.Popen([sys.executable, "-c", _PROC, pg_url, tag, str(go), str(n)],
                              stderr=subprocess.PIPE, text=True) for tag in ids]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with open_store(pg_url) as s:
        all_ids = []
        for tag, pid in ids.items():
            recs = s.list_assessments(pid)
            assert sorted(r.notes for r in recs) == sorted(f"{tag}-{i}" for i in range(n))
            all_ids += [r.id for r in recs]
        assert len(set(all_ids)) == 3 * n
        creates = [e for e in s.audit_trail() if e["action"] == "create"
                   and e["assessment_id"] is not None]
        assert len(creates) == 3 * n
        check = verify(s)  # 3 processes appending at once left one unbroken chain
        assert check.ok and check.rows == len(s.audit_trail()), check.text()


def test_read_only_server_gives_a_coded_error(pg_url):
    with open_store(pg_url) as s:
        p = s.add_patient("RO-PG")
    ro = pg_url + "&options=-c%20default_transaction_read_only%3Don"
    with open_store(ro) as s:
        assert s.get_patient(p.id).pseudonym == "RO-PG"
        with pytest.raises(StoreError) as e:
            s.save_assessment(p.id, make_result())
        assert e.value.code == "database_read_only"


# -- accounts under attack (issue 23 items 2, 11; issue 22 item 10) ------------------------

@pytest.mark.parametrize("n_threads", [12, 24])
def test_parallel_wrong_logins_lock_the_account(pg_url, monkeypatch, n_threads):
    """Before: 12 simultaneous wrong logins checked 12 passwords under READ COMMITTED,
    left the counter at 1 and let the right password in."""
    with open_store(pg_url) as s:
        check_parallel_wrong_logins_lock(s, monkeypatch, n_threads)


@pytest.mark.usefixtures("fast_argon")
def test_equal_work_on_every_login_path(pg_url, monkeypatch):
    with open_store(pg_url) as s:
        check_equal_work_on_every_path(s, monkeypatch)


@pytest.mark.usefixtures("fast_argon")
def test_names_differing_in_case_are_one_account(pg_url):
    with open_store(pg_url) as s:
        check_names_fold_to_one_account(s)


@pytest.mark.usefixtures("fast_argon")
@pytest.mark.parametrize("exists", [True, False])
def test_login_counts_down_then_locks(pg_url, monkeypatch, exists):
    with open_store(pg_url) as s:
        check_attempts_left_and_lock_time(s, monkeypatch, "dr_pg", exists=exists)


@pytest.mark.usefixtures("fast_argon")
def test_admin_actions_are_audited(pg_url):
    with open_store(pg_url) as s:
        check_admin_actions(s)


# -- the audit trail's tamper evidence (issue 23 item 8) ----------------------------------

def pg_tamper(url: str):
    """SQL run by the database owner with the trail's triggers switched off."""

    def run(sql: str) -> None:
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER USER")
            conn.exec_driver_sql(sql)
            conn.exec_driver_sql("ALTER TABLE audit ENABLE TRIGGER USER")
        eng.dispose()

    return run


def test_truncate_of_the_audit_trail_is_refused(pg_url):
    with open_store(pg_url) as s:
        _some_history(s)
        n = len(s.audit_trail())
        for stmt in ("TRUNCATE audit", "TRUNCATE TABLE audit RESTART IDENTITY CASCADE"):
            with pytest.raises(StoreError) as e, s._write() as conn:
                conn.exec_driver_sql(stmt)
            assert e.value.code == "audit_append_only"
        assert len(s.audit_trail()) == n and verify(s).ok


def test_chain_names_an_edited_row(pg_url):
    with open_store(pg_url) as s:
        check_chain_names_the_broken_row(s, pg_tamper(pg_url))


def test_chain_names_the_row_after_a_removed_one(pg_url):
    with open_store(pg_url) as s:
        check_chain_names_the_row_after_a_removed_one(s, pg_tamper(pg_url))


def test_each_row_carries_the_previous_rows_hash(pg_url):
    with open_store(pg_url) as s:
        check_new_rows_chain_on(s)


def test_v3_database_upgrades_with_its_old_rows_covered(pg_url):
    check_v3_upgrade(pg_url, pg_tamper(pg_url))



def _readme_role_sql() -> list[str]:
    """The grant statements of the README's two-role set-up, as written there."""
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```sql\n(CREATE ROLE posture_owner.*?)```", text, re.S).group(1)
    lines = [ln.split("--")[0].strip() for ln in block.splitlines()]
    stmts = [ln.rstrip(";") for ln in lines if ln and not ln.startswith("\\")]
    assert any("REVOKE UPDATE, DELETE, TRUNCATE ON audit" in s for s in stmts)
    return stmts


def test_two_role_setup_of_the_readme(pg_cluster, pg_url):
    """The app's role adds audit rows but cannot change, delete or truncate them, nor
    switch the triggers off; the owner's role created and upgraded the tables."""
    stmts = _readme_role_sql()
    tag = uuid.uuid4().hex[:8]
    owner, app = f"posture_owner_{tag}", f"posture_app_{tag}"
    db = "c_" + tag
    admin = sa.create_engine(_url(pg_cluster, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for s in stmts[:3]:  # roles and the database (passwords: the cluster trusts its socket)
            s = s.replace(" PASSWORD '…'", "")
            conn.exec_driver_sql(s.replace("posture_owner", owner)
                                 .replace("posture_app", app).replace("clinic", db))
    admin.dispose()
    sock, port, _ = pg_cluster
    as_owner = f"postgresql+psycopg://{owner}@/{db}?host={sock}&port={port}"
    as_app = f"postgresql+psycopg://{app}@/{db}?host={sock}&port={port}"
    with open_store(as_owner) as s:  # creates the tables, as the owner
        assert s.schema_version == SCHEMA_VERSION
    eng = sa.create_engine(as_owner, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        for s in stmts[3:]:
            conn.exec_driver_sql(s.replace("posture_owner", owner).replace("posture_app", app))
    eng.dispose()
    from posture.store import accounts

    with open_store(as_app) as s:  # everything the app does works ...
        accounts.add_user(s, "dr_role", "a long passphrase", actor="setup")
        token = accounts.login(s, "dr_role", "a long passphrase")
        p = s.add_patient("ROLE-1", actor="dr_role")
        s.save_assessment(p.id, make_result(), actor="dr_role")
        accounts.attempt_login(s, "nobody", "wrong password")
        accounts.logout(s, token)
        n = len(s.audit_trail())
        assert verify(s).ok
        for stmt in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit",
                     "TRUNCATE audit", "ALTER TABLE audit DISABLE TRIGGER USER",
                     "DROP TRIGGER audit_no_change ON audit"):
            with pytest.raises(StoreError) as e, s._write() as conn:
                conn.exec_driver_sql(stmt)
            # refused by the role's rights, not only by the triggers the owner may drop
            assert "permission denied" in e.value.message or "must be owner" in \
                e.value.message, (stmt, e.value.message)
        assert len(s.audit_trail()) == n and verify(s).ok
