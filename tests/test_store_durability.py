"""The clinic store survives a writer killed mid-save (SIGKILL: no cleanup, no atexit).

A child process saves assessments with photos as fast as it can and prints each id once
``save_assessment`` has returned (committed). We kill it at a random moment and check that
every acknowledged assessment is there, byte for byte, that nothing half-written is, and that
the database passes SQLite's own integrity check and takes new saves. (Two writers saving at
once is tests/test_store.py::test_concurrent_saves_from_two_processes.)
"""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from posture.store import open_store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

# Saves assessment i of patient TAG forever; the result, notes and photo are functions of
# (TAG, i), so the parent can check every byte. ~200-600 KB of photo each keeps a save in
# flight (WAL append, commit) for a good part of the time, where a kill hurts most.
WRITER = r"""
import hashlib, sys
from datetime import UTC, datetime, timedelta
from posture.store import open_store

def content(tag, i):
    seed = hashlib.sha256(f"{tag}-{i}".encode()).digest()
    photo = b"\xff\xd8\xff\xe0" + seed * (6000 + 1000 * (i % 13)) + b"\xff\xd9"
    result = {"ok": True, "abstained": False, "pelvic_tilt_deg": round(i * 0.37 - 5, 2),
              "pelvic_tilt_interval_deg": [i * 0.37 - 9, i * 0.37 - 1],
              "severity": "mild", "source": f"{tag}-{i}.jpg", "abstain_reasons": [],
              "landmarks_px": [[i + k, 2.0 * k, 0.9] for k in range(33)],
              "note": "Zoë <b>" + seed.hex()}
    return result, f"{tag} visit {i} \u00e9", photo

tag, path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock_after = int(sys.argv[4]) if len(sys.argv) > 4 else -1
t0 = datetime(2024, 1, 1, tzinfo=UTC)
with open_store(path) as s:
    pid = s.find_patient(tag).id
    for i in range(limit):
        if i == lock_after:
            # take SQLite's write lock, change every saved row without committing, say so,
            # and wait to be killed: the kill then lands while the lock is held, always
            import sqlite3, time
            con = sqlite3.connect(path, isolation_level=None)
            con.execute("BEGIN IMMEDIATE")
            con.execute("UPDATE assessments SET notes = 'uncommitted'")
            print("locked", flush=True)
            time.sleep(3600)
        result, notes, photo = content(tag, i)
        rec = s.save_assessment(pid, result, notes=notes, photo_jpeg=photo,
                                photo_consent=True, taken_at=t0 + timedelta(hours=i))
        print(rec.id, i, flush=True)
"""


def _content(tag: str, i: int):
    ns: dict = {}
    exec(WRITER.split("tag, path, limit")[0], ns)  # the same content() the writer uses
    return ns["content"](tag, i)


def _start(tag: str, db: Path, limit: int = 100_000, lock_after: int = -1
           ) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, tag, str(db), str(limit),
                             str(lock_after)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after(p: subprocess.Popen, n_acks: int, extra_s: float) -> list[tuple[int, int]]:
    """Read acknowledgements until ``n_acks``, wait ``extra_s`` more, SIGKILL; return all the
    (id, i) pairs the writer acknowledged before it died."""
    acks = []
    while len(acks) < n_acks:  # however slow a loaded machine is: no clock here
        line = p.stdout.readline()
        assert line, f"writer ended early: {p.stderr.read()[-2000:]}"
        acks.append(tuple(map(int, line.split())))
    time.sleep(extra_s)
    p.send_signal(signal.SIGKILL)
    out, _ = p.communicate(timeout=30)
    acks += [tuple(map(int, x.split())) for x in out.splitlines() if x.strip()]
    assert p.returncode == -signal.SIGKILL
    return acks


def check_database(db: Path) -> None:
    con = sqlite3.connect(db)  # replays the WAL as any reader would
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()


def check_saved(db: Path, tag: str, acks: list[tuple[int, int]]) -> int:
    """Every acknowledged save is intact; every row present is one the writer made whole
    (at most one more than acknowledged: committed, killed before it printed)."""
    with open_store(db) as s:
        recs = s.list_assessments(s.find_patient(tag).id)
        by_id = {r.id: r for r in recs}
        acked = dict(acks)
        assert set(acked) <= set(by_id), "an acknowledged assessment is missing"
        assert len(recs) - len(acked) in (0, 1)
        for r in recs:
            i = acked.get(r.id, len(acks))  # the unacknowledged one can only be the next i
            result, notes, photo = _content(tag, i)
            assert r.result == json.loads(json.dumps(result)) and r.notes == notes
            assert hashlib.sha256(s.photo(r.id)).digest() == hashlib.sha256(photo).digest()
    return len(recs)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "clinic.db"
    with open_store(path) as s:
        for tag in ("K-1", "K-2", "K-3", "K-B"):
            s.add_patient(tag)
    return path


def test_writer_killed_mid_save_loses_nothing_committed(db):
    # three kills at different moments into the same database, each leaving its WAL behind
    # for the next writer to recover
    for tag, n_acks, extra_s in (("K-1", 5, 0.013), ("K-2", 12, 0.031), ("K-3", 20, 0.0)):
        acks = _kill_after(_start(tag, db), n_acks, extra_s)
        assert [i for _, i in acks] == list(range(len(acks)))
        check_database(db)
        assert check_saved(db, tag, acks) >= n_acks
    # and the store takes new saves afterwards
    with open_store(db) as s:
        rec = s.save_assessment(s.find_patient("K-1").id, {"ok": True}, notes="after")
        assert s.get_assessment(rec.id).notes == "after"
    check_database(db)


def _write_lock_is_held(db: Path) -> bool:
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return True
    finally:
        con.close()
    return False


def test_killed_writer_does_not_block_the_other(db):
    # A saves 8 assessments, then takes the write lock with an uncommitted change to every
    # saved row and says "locked". The test checks that the lock is held (a second writer
    # is refused at once), starts B, and kills A while it holds the lock: the OS drops the
    # lock, the change is rolled back, and B must finish all its saves (busy_timeout, not
    # "database is locked").
    a = _start("K-1", db, lock_after=8)
    acks_a = []
    for line in a.stdout:
        if line.strip() == "locked":
            break
        acks_a.append(tuple(map(int, line.split())))
    else:
        pytest.fail(f"writer A ended before locking: {a.stderr.read()[-2000:]}")
    assert [i for _, i in acks_a] == list(range(8))
    assert _write_lock_is_held(db)
    b = _start("K-B", db, limit=40)
    a.send_signal(signal.SIGKILL)
    a.communicate(timeout=30)
    assert a.returncode == -signal.SIGKILL
    out, err = b.communicate(timeout=300)
    assert b.returncode == 0, err[-2000:]
    acks_b = [tuple(map(int, x.split())) for x in out.splitlines()]
    assert [i for _, i in acks_b] == list(range(40))
    assert not _write_lock_is_held(db)
    check_database(db)
    assert check_saved(db, "K-B", acks_b) == 40
    assert check_saved(db, "K-1", acks_a) == 8  # intact: the uncommitted change is gone
