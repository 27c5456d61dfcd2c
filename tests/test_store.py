"""The clinic store: round trip, migration from schema v1, concurrency, errors, history."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from legacy_store_schema import migrate as legacy_migrate

from posture.store import (
    SCHEMA_VERSION,
    AssessmentRecord,
    StoreError,
    compare,
    default_location,
    open_store,
    trend,
)
from posture.store.schema import TABLES

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + "photo bytes \u00e9".encode() + b"\xff\xd9"


def make_result(tilt=12.3, half=4.0, *, lordosis=38.0, head=48.5, abstained=False) -> dict:
    """A contract dict as ``posture analyze --json`` writes it (only the keys we read).

    Hand-made where a test needs a value the samples do not give (an abstention, a chosen
    change against the MDC, no interval) or must run without the pose model (fast group);
    real readings: ``test_real_*`` below."""
    iv = None if tilt is None or half is None else [tilt - half, tilt + half]
    return {
        "schema_version": 1, "ok": True, "source": "x.jpg", "facing": "left",
        "pelvic_tilt_deg": tilt, "pelvic_tilt_interval_deg": iv, "interval_coverage": 0.9,
        "lumbar_lordosis_deg": lordosis, "severity": None if abstained else "mild",
        "severity_label": None if abstained else "Mild anterior tilt",
        "abstained": abstained, "abstain_reasons": [], "head_neck_angle_deg": head,
        "forward_head": head < 50, "trunk_lean_deg": 2.0, "knee_angle_deg": -3.0,
        "measurements": [
            {"name": "pelvic_tilt", "value": tilt, "unit": "deg", "interval": iv,
             "coverage": 0.9 if iv else None},
            {"name": "lumbar_lordosis", "value": lordosis, "unit": "deg", "interval": None},
            {"name": "head_neck_angle", "value": head, "unit": "deg", "interval": None},
            {"name": "trunk_lean", "value": 2.0, "unit": "deg", "interval": None},
            {"name": "knee_angle", "value": -3.0, "unit": "deg", "interval": None},
        ],
        "model": {"pose_variant": "full", "estimator_version": "2025.1"},
        "landmarks_px": [[100.0 + i, 200.0 + i, 0.9] for i in range(33)],
    }


@pytest.fixture
def db(tmp_path):
    return tmp_path / "clinic.db"


def test_round_trip_survives_reopening(db):
    taken = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    with open_store(db) as s:
        p = s.add_patient("P-0001", name="Zoë O'Brien <b>*x*</b>", birth_year=1984,
                          sex="female")
        saved = s.save_assessment(
            p.id, make_result(), taken_at=taken, photo_jpeg=JPEG, photo_consent=True,
            corrections={"hip": (101.5, 230.0), "asis": (140, 250), "psis": (90, 240)},
            thomas_test="yes", notes="Left knee pain; ünïcode ✓ =SUM(A1)")
    with open_store(db) as s:
        [p2] = s.list_patients()
        assert (p2.pseudonym, p2.name, p2.birth_year, p2.sex) == (
            "P-0001", "Zoë O'Brien <b>*x*</b>", 1984, "female")
        [rec] = s.list_assessments(p2.id)
        assert rec == saved
        assert rec.taken_at == taken
        assert rec.result == make_result()
        assert rec.pelvic_tilt_deg == 12.3 and rec.pelvic_tilt_interval_deg == (8.3, 16.3)
        assert rec.corrections == {"hip": (101.5, 230.0), "asis": (140.0, 250.0),
                                   "psis": (90.0, 240.0)}
        assert rec.thomas_test == "yes" and rec.notes.endswith("=SUM(A1)")
        assert (rec.pose_model, rec.estimator_version) == ("full", "2025.1")
        assert rec.has_photo and rec.photo_consent
        assert s.photo(rec.id) == JPEG
        assert rec.landmarks_px[0] == [100.0, 200.0, 0.9]


def test_photo_is_stored_only_with_consent(db):
    with open_store(db) as s:
        p = s.add_patient()
        with pytest.raises(StoreError) as e:
            s.save_assessment(p.id, make_result(), photo_jpeg=JPEG)
        assert e.value.code == "photo_without_consent"
        with pytest.raises(StoreError) as e:
            s.save_assessment(p.id, make_result(), photo_jpeg=b"GIF89a...", photo_consent=True)
        assert e.value.code == "photo_not_jpeg"
        rec = s.save_assessment(p.id, make_result(), photo_consent=True)
        assert not rec.has_photo and s.photo(rec.id) is None
        assert len(s.list_assessments(p.id)) == 1  # the refused saves left nothing behind
    # the database itself refuses a photo without consent, whatever code writes it
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE assessments SET photo_jpeg = x'ffd8ff', photo_consent = 0")
    con.close()


def test_errors_have_codes(db):
    with open_store(db) as s:
        p = s.add_patient("P-1")
        cases = [
            (lambda: s.add_patient("P-1"), "duplicate_patient"),
            (lambda: s.add_patient("P-2", birth_year=1850), "invalid_record"),
            (lambda: s.add_patient("P-3", sex="x"), "invalid_record"),
            (lambda: s.add_patient(" " * 3), "invalid_record"),
            (lambda: s.get_patient(999), "patient_not_found"),
            (lambda: s.find_patient("nobody"), "patient_not_found"),
            (lambda: s.save_assessment(999, make_result()), "patient_not_found"),
            (lambda: s.save_assessment(p.id, {"no": "contract"}), "invalid_record"),
            (lambda: s.save_assessment(p.id, make_result(), thomas_test="maybe"),
             "invalid_record"),
            (lambda: s.save_assessment(p.id, make_result(), corrections={"nose": (1, 2)}),
             "invalid_record"),
            (lambda: s.save_assessment(p.id, make_result(),
                                       corrections={"hip": (1, float("nan"))}),
             "invalid_record"),
            (lambda: s.save_assessment(p.id, {**make_result(), "x": float("inf")}),
             "invalid_record"),
            (lambda: s.get_assessment(999), "assessment_not_found"),
            (lambda: s.delete_assessment(999), "assessment_not_found"),
        ]
        for call, code in cases:
            with pytest.raises(StoreError) as e:
                call()
            assert e.value.code == code
        assert s.list_assessments(p.id) == []


def test_delete_patient_erases_assessments(db):
    with open_store(db) as s:
        p = s.add_patient()
        rec = s.save_assessment(p.id, make_result(), photo_jpeg=JPEG, photo_consent=True)
        s.delete_patient(p.id)
        with pytest.raises(StoreError):
            s.get_assessment(rec.id)
        assert s.list_patients() == []


# ------------------------------------------------------------------------- migrations

# Verbatim what schema version 1 created on SQLite (SQLAlchemy's DDL at that version).
V1_SQL = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at DATETIME NOT NULL,
    PRIMARY KEY (version));
CREATE TABLE patients (id INTEGER NOT NULL, pseudonym VARCHAR(64) NOT NULL, name VARCHAR(200),
    birth_year INTEGER, sex VARCHAR(16), created_at DATETIME NOT NULL, PRIMARY KEY (id),
    UNIQUE (pseudonym));
CREATE TABLE assessments (id INTEGER NOT NULL, patient_id INTEGER NOT NULL,
    taken_at DATETIME NOT NULL, created_at DATETIME NOT NULL, photo_consent BOOLEAN NOT NULL,
    photo_jpeg BLOB, result_json TEXT NOT NULL, landmarks_json TEXT, pelvic_tilt_deg FLOAT,
    pelvic_tilt_lo_deg FLOAT, pelvic_tilt_hi_deg FLOAT, lumbar_lordosis_deg FLOAT,
    head_neck_angle_deg FLOAT, trunk_lean_deg FLOAT, knee_angle_deg FLOAT,
    severity VARCHAR(16), abstained BOOLEAN NOT NULL, pose_model VARCHAR(64),
    estimator_version VARCHAR(64), notes TEXT NOT NULL, PRIMARY KEY (id),
    CONSTRAINT photo_needs_consent CHECK (photo_jpeg IS NULL OR photo_consent),
    FOREIGN KEY(patient_id) REFERENCES patients (id) ON DELETE CASCADE);
CREATE INDEX ix_assessments_patient_id ON assessments (patient_id);
INSERT INTO schema_version VALUES (1, '2024-01-01 00:00:00.000000');
INSERT INTO patients VALUES (1, 'OLD-1', NULL, 1970, 'male', '2024-01-01 00:00:00.000000');
"""


def _make_v1(path, result_json: str) -> None:
    con = sqlite3.connect(path)
    con.executescript(V1_SQL)
    con.execute(
        "INSERT INTO assessments (id, patient_id, taken_at, created_at, photo_consent, "
        "result_json, landmarks_json, pelvic_tilt_deg, abstained, notes) VALUES "
        "(1, 1, '2024-01-02 08:00:00.000000', '2024-01-02 08:00:00.000000', 0, ?, NULL, "
        "12.3, 0, 'v1 note')", (result_json,))
    con.commit()
    con.close()


def test_v1_database_is_migrated_and_keeps_its_data(db):
    import json

    _make_v1(db, json.dumps(make_result()))
    with open_store(db) as s:
        assert (s.migrated_from, s.schema_version) == (1, SCHEMA_VERSION)
        [rec] = s.list_assessments(1)
        assert rec.notes == "v1 note" and rec.pelvic_tilt_deg == 12.3
        assert rec.thomas_test is None and rec.corrections == {}
        assert rec.taken_at == datetime(2024, 1, 2, 8, tzinfo=UTC)
        new = s.save_assessment(1, make_result(), thomas_test="no",
                                corrections={"knee": (5, 6)})
        assert (new.thomas_test, new.corrections) == ("no", {"knee": (5.0, 6.0)})
    with open_store(db) as s:  # a second open finds nothing to do
        assert (s.migrated_from, s.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
    con = sqlite3.connect(db)
    versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY 1")]
    con.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_migrated_database_has_the_same_columns_as_a_fresh_one(tmp_path):
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    eng = sa.create_engine(f"sqlite:///{old}")
    with eng.begin() as conn:
        legacy_migrate(conn, target=1)
    eng.dispose()
    open_store(old).close()
    open_store(fresh).close()

    def columns(p):
        insp = sa.inspect(e := sa.create_engine(f"sqlite:///{p}"))
        out = {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}
        e.dispose()
        return out

    assert columns(old) == columns(fresh)
    assert columns(fresh)["assessments"] == sorted(TABLES["assessments"].c.keys())


def test_newer_schema_is_refused(db):
    open_store(db).close()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_version VALUES (99, '2030-01-01 00:00:00')")
    con.commit()
    con.close()
    with pytest.raises(StoreError) as e:
        open_store(db)
    assert e.value.code == "schema_too_new"


def test_ddl_compiles_for_postgresql():
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    for t in TABLES.values():
        ddl = str(CreateTable(t).compile(dialect=postgresql.dialect()))
        assert "BLOB" not in ddl
    a = TABLES["assessments"].c
    assert [c.type.compile(dialect=postgresql.dialect())
            for c in (a.thomas_test, a.corrections_json)] == ["VARCHAR(8)", "TEXT"]


# ------------------------------------------------------------------------- location, WAL

def test_location_from_env_path_and_url(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "env.db"
    monkeypatch.setenv("POSTURE_DB", str(target))
    assert default_location() == str(target)
    with open_store() as s:
        s.add_patient("E-1")
    assert target.exists()
    with open_store(f"sqlite:///{target}") as s:
        assert [p.pseudonym for p in s.list_patients()] == ["E-1"]
    monkeypatch.delenv("POSTURE_DB")
    assert default_location().endswith(os.path.join("posture", "posture.db"))


def test_sqlite_runs_in_wal_mode(db):
    open_store(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


# ------------------------------------------------------------------------- concurrency

def test_concurrent_saves_from_two_threads(db):
    open_store(db).close()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(tag: str) -> None:
        try:
            with open_store(db) as s:
                p = s.add_patient(tag)
                start.wait()
                for i in range(25):
                    s.save_assessment(p.id, make_result(tilt=float(i)), notes=f"{tag}-{i}")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("T-A", "T-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with open_store(db) as s:
        for tag in ("T-A", "T-B"):
            recs = s.list_assessments(s.find_patient(tag).id)
            assert sorted(r.notes for r in recs) == sorted(f"{tag}-{i}" for i in range(25))


_PROC_SCRIPT = """
import os, sys, time
from posture.store import open_store
tag, other, folder = sys.argv[1], sys.argv[2], sys.argv[3]

def wait_for(name):
    while not os.path.exists(os.path.join(folder, name)):
        time.sleep(0.002)

with open_store() as s:
    p = s.find_patient(tag)
    open(os.path.join(folder, "ready-" + tag), "w").close()
    wait_for("go")
    s.save_assessment(p.id, {"ok": True, "abstained": True}, notes=f"{tag}-0")
    # both have saved once before either saves again: the two writing spans overlap
    open(os.path.join(folder, "saved-" + tag), "w").close()
    wait_for("saved-" + other)
    for i in range(1, 25):
        s.save_assessment(p.id, {"ok": True, "abstained": True}, notes=f"{tag}-{i}")
"""


def test_concurrent_saves_from_two_processes(db, tmp_path):
    # Files, not a clock, line the writers up: each opens the store and says "ready"; the
    # test says "go" once both are; each saves once and waits for the other's first save
    # before the rest. So the two writing spans overlap whatever the machine's load.
    import time

    with open_store(db) as s:
        ids = {tag: s.add_patient(tag).id for tag in ("PR-A", "PR-B")}
    env = {**os.environ, "POSTURE_DB": str(db)}
    sync = tmp_path / "sync"
    sync.mkdir()
    (a, b) = ids
    procs = [subprocess.Popen([sys.executable, "-c", _PROC_SCRIPT, tag, other, str(sync)],
                              env=env, stderr=subprocess.PIPE, text=True)
             for tag, other in ((a, b), (b, a))]
    deadline = time.monotonic() + 300  # only stops a hung writer
    while not all((sync / f"ready-{t}").exists() for t in ids):
        assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs]
        assert time.monotonic() < deadline, "writers never got ready"
        time.sleep(0.01)
    (sync / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with open_store(db) as s:
        for tag, pid in ids.items():
            assert sorted(r.notes for r in s.list_assessments(pid)) == sorted(
                f"{tag}-{i}" for i in range(25))
        # the overlap, from the data: each patient's first save came before the other's
        # second, so ids of the two writers interleave
        first = {t: min(r.id for r in s.list_assessments(pid)) for t, pid in ids.items()}
        rest = {t: sorted(r.id for r in s.list_assessments(pid))[1] for t, pid in ids.items()}
        assert first[a] < rest[b] and first[b] < rest[a]


# ------------------------------------------------------------------------- history

def _rec(i: int, result: dict, day: int) -> AssessmentRecord:
    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    return AssessmentRecord(i, 1, t, t, result, {}, None, "", "full", None, False, False)


def test_trend_is_in_time_order_with_intervals_and_gaps():
    recs = [_rec(2, make_result(tilt=8.0), 30), _rec(1, make_result(tilt=14.0), 0),
            _rec(3, make_result(tilt=None, abstained=True), 60)]
    tilt = trend(recs)["pelvic_tilt"]
    assert [p.assessment_id for p in tilt] == [1, 2, 3]
    assert [(p.value, p.lo, p.hi) for p in tilt] == [
        (14.0, 10.0, 18.0), (8.0, 4.0, 12.0), (None, None, None)]
    assert [p.value for p in trend(recs)["head_neck_angle"]] == [48.5, 48.5, 48.5]


def _with_method(result: dict, metric: str, method: str) -> dict:
    for m in result["measurements"]:
        if m["name"] == metric:
            m["method"] = method
    return result


def test_compare_calls_a_change_real_only_beyond_the_retake_mdc():
    # issue 25.5: the retake bench's MDC95 (5.72° for the tilt), not the intervals'
    # sqrt(h1² + h2²) (here sqrt(16 + 9) = 5.0, which called a 5.5° change real)
    from posture.change import retake_figures

    mdc = retake_figures()["pelvic_tilt"].mdc95_deg
    assert mdc == 5.72
    a = _rec(1, make_result(tilt=14.0, half=4.0), 0)
    inside = compare(a, _rec(2, make_result(tilt=8.5, half=3.0), 42)).change("pelvic_tilt")
    assert (inside.change, inside.threshold, inside.rule) == (-5.5, mdc, "mdc")
    assert inside.exceeds_uncertainty is False
    assert inside.words == "within what a retaken photo varies: may be measurement noise"
    beyond = compare(a, _rec(2, make_result(tilt=8.2, half=9.0), 42))
    assert beyond.change("pelvic_tilt").exceeds_uncertainty is True  # wide intervals too
    assert beyond.change("pelvic_tilt").words == (
        "more than a retaken photo varies: likely a real change")
    assert beyond.days_between == 42.0


def test_compare_says_the_mdc_does_not_apply_between_methods_and_abstains_on_gaps():
    placed = _with_method(make_result(tilt=14.0, half=None, head=50.0), "pelvic_tilt",
                          "clinician-placed ASIS and PSIS (uncertainty not estimated)")
    a = _rec(1, placed, 0)
    b = _rec(2, _with_method(make_result(tilt=4.0, half=4.0, head=44.0), "pelvic_tilt",
                             "learned: pelvis-patch network"), 10)
    c = compare(a, b)
    tilt, head = c.change("pelvic_tilt"), c.change("head_neck_angle")
    assert (tilt.change, tilt.rule, tilt.threshold, tilt.exceeds_uncertainty) == (
        -10.0, "not applicable", None, None)
    assert tilt.methods == ("clinician-placed", "estimated")
    assert "measured two different ways (clinician-placed before, estimated after)" in \
        tilt.words and "does not apply" in tilt.words
    assert (head.change, head.rule, head.threshold, head.exceeds_uncertainty) == (
        -6.0, "mdc", 5.0, True)
    gone = compare(a, _rec(3, make_result(tilt=None, abstained=True), 20)).change("pelvic_tilt")
    assert gone.change is None and gone.exceeds_uncertainty is None and gone.rule is None


# ------------------------------------------------------------- fed real analyzer output

@pytest.mark.slow
def test_real_readings_survive_reopening_whole(sample_readings, db):
    taken = datetime(2024, 5, 1, tzinfo=UTC)
    with open_store(db) as s:
        p = s.add_patient("REAL-1")
        ids = {name: s.save_assessment(p.id, sr.contract,
                                       taken_at=taken + timedelta(days=i)).id
               for i, (name, sr) in enumerate(sample_readings.items())}
    with open_store(db) as s:  # reopened: read back from the file, not a cache
        for name, sr in sample_readings.items():
            r, rec = sr.reading, s.get_assessment(ids[name])
            assert rec.result == sr.contract, name
            assert rec.reading == r, name
            assert rec.pelvic_tilt_deg == r.pelvic_tilt_deg, name
            assert rec.pelvic_tilt_interval_deg == r.pelvic_tilt_interval_deg, name
            assert (rec.severity, rec.abstained) == (r.severity, r.abstained), name
            assert (rec.pose_model, rec.estimator_version) == (
                r.pose_variant, r.estimator_version), name


@pytest.mark.slow
def test_real_history_is_in_time_order_and_compares_real_changes(sample_readings, db):
    names = sorted(sample_readings)[:4]
    days = [90, 0, 60, 30]  # saved out of time order: the history must sort by taken_at
    with open_store(db) as s:
        p = s.add_patient("REAL-2")
        for name, day in zip(names, days, strict=True):
            s.save_assessment(p.id, sample_readings[name].contract,
                              taken_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day))
    with open_store(db) as s:
        recs = s.list_assessments(p.id)
    in_time = [sample_readings[n].reading for _, n in sorted(zip(days, names, strict=True))]
    tilt = trend(recs)["pelvic_tilt"]
    assert [(t.value, t.lo, t.hi) for t in tilt] == [
        (r.pelvic_tilt_deg, *r.pelvic_tilt_interval_deg) for r in in_time]
    assert [t.value for t in trend(recs)["lumbar_lordosis"]] == [
        r.lumbar_lordosis_deg for r in in_time]
    by_time = sorted(recs, key=lambda rec: rec.taken_at)
    c = compare(by_time[0], by_time[-1])
    change = c.change("pelvic_tilt")
    assert change.change == pytest.approx(in_time[-1].pelvic_tilt_deg
                                          - in_time[0].pelvic_tilt_deg, abs=0.005)
    assert change.rule == "mdc" and change.methods == ("estimated", "estimated")
    assert change.exceeds_uncertainty == (abs(change.change) > change.threshold)
