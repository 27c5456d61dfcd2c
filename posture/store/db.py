"""The clinic store: patients and their saved assessments, in SQLite or PostgreSQL.

Where the data lives
--------------------
``POSTURE_DB`` (a file path or an SQLAlchemy URL such as
``postgresql+psycopg://user@host/clinic``) or, by default, ``posture.db`` in the user data
directory (``platformdirs.user_data_dir("posture")``).

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: two processes saving at once queue for the lock instead of failing
with "database is locked" when a read snapshot would have to be upgraded.

Nothing is written unless a caller invokes a ``save``/``add``/``delete`` method.

The audit trail is a hash chain: each row stores the SHA-256 of its own canonical content
(:func:`row_hash`) and the hash of the row before it, so a changed, removed or inserted
row shows (``posture audit verify``, :func:`posture.store.audit.verify`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from ..errors import InputError
from ..result import Reading
from .records import SEXES, THOMAS_ANSWERS, AssessmentRecord, Patient, StoreError
from .schema import SCHEMA_VERSION, build_tables, current_version, migrate

ENV_VAR = "POSTURE_DB"
#: Largest photo stored (bytes): a phone JPEG is 2–8 MB; more is a mistake, not a photo.
MAX_PHOTO_BYTES = 25 * 1024 * 1024
_T = build_tables(sa.MetaData())
PATIENTS, ASSESSMENTS, AUDIT = _T["patients"], _T["assessments"], _T["audit"]
COUNTERS = _T["id_counters"]
#: Actions recorded in the audit trail.
AUDIT_ACTIONS = ("view", "create", "correct", "export", "delete", "login", "logout",
                 "login_failed", "user_add", "user_unlock", "user_disable", "user_enable",
                 "user_password", "user_remove", "sessions_revoked", "chain_start",
                 "reference")
#: Who did it when a caller names nobody (a script or the CLI without accounts).
DEFAULT_ACTOR = "local"
#: ``prev_hash`` of the first row of a trail.
GENESIS_HASH = hashlib.sha256(b"posture audit trail").hexdigest()
#: What a row's hash covers (everything but the hash itself).
CHAIN_FIELDS = ("id", "at", "actor", "action", "patient_id", "assessment_id", "detail",
                "prev_hash")
# PostgreSQL advisory lock held by the transaction that appends to the chain
_AUDIT_LOCK = 724872

_MESSAGES = {
    "storage_full": "the disk (or quota) that holds the clinic database is full; nothing "
                    "was saved. Free some space and try again",
    "database_read_only": "the clinic database is read-only (file permissions, a read-only "
                          "disk or a read-only server); nothing was saved",
    "database_locked": "the clinic database stayed locked by another program for too long; "
                       "nothing was saved. Try again",
    "audit_append_only": "the audit trail is append-only: entries cannot be changed or "
                         "deleted",
    "database_unavailable": "the clinic database cannot be used",
}
_FSIZE_FULL = ("the clinic database reached this process's file-size limit (`ulimit -f`); "
               "nothing was saved. Raise the limit and try again")


def _file_size_limited() -> bool:
    """Whether this process has a finite file-size limit (``ulimit -f``, RLIMIT_FSIZE)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return False
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return soft != resource.RLIM_INFINITY


def db_error(exc: Exception) -> StoreError:
    """A coded :class:`StoreError` for a driver error (SQLite message or PostgreSQL
    SQLSTATE: 53100 disk full, 25006 read-only transaction, 55P03/40P01 lock)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    low = text.lower()
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or ""
    if "audit_append_only" in low:
        code = "audit_append_only"
    elif (getattr(orig, "sqlite_errorname", "") == "SQLITE_IOERR_WRITE"
          and _file_size_limited()):
        # SQLite reports only ENOSPC as "full"; a write past RLIMIT_FSIZE fails with EFBIG
        # (Python ignores SIGXFSZ), which SQLite calls a write I/O error
        return StoreError(f"{_FSIZE_FULL} ({text})", code="storage_full")
    elif state.startswith("53") or "disk is full" in low or "no space" in low:
        code = "storage_full"
    elif state == "25006" or "readonly" in low or "read-only" in low:
        code = "database_read_only"
    elif state in ("55P03", "40P01") or "locked" in low or "lock timeout" in low:
        code = "database_locked"
    else:
        code = "database_unavailable"
    return StoreError(f"{_MESSAGES[code]} ({text})", code=code)


_MEMORY = ":memory:"


def refuse_memory(location: str | os.PathLike | None, where: str) -> None:
    """Refuse an in-memory database where records must outlast the program (the app and
    the CLI): SQLite's ``:memory:`` would take the records with it when it ends."""
    if location is not None and os.fspath(location).strip() == _MEMORY:
        raise StoreError(f"{where} is ':memory:': a database in memory is lost when the "
                         "program ends; give a file path or a database URL",
                         code="database_unavailable")


def default_location() -> str:
    """``$POSTURE_DB`` if set, else the SQLite file in the user data directory.

    ``POSTURE_DB=":memory:"`` is refused (``database_unavailable``): the clinic's records
    would vanish with the process (and, before, a file named ``:memory:`` was created)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        refuse_memory(env, ENV_VAR)
        return env
    import platformdirs

    return str(Path(platformdirs.user_data_dir("posture")) / "posture.db")


def to_url(location: str | os.PathLike) -> sa.URL:
    """An SQLAlchemy URL for a path (SQLite file; parent folders created) or a URL.

    ``":memory:"`` is SQLite's in-memory database (for tests and scripts), not a file of that
    name. A folder that cannot be made is ``database_unavailable``."""
    s = os.fspath(location)
    if "://" in s:
        try:
            return sa.make_url(s)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"not a database URL: {s!r}",
                             code="database_unavailable") from exc
    if s.strip() == _MEMORY:
        return sa.URL.create("sqlite", database=_MEMORY)
    try:
        p = Path(s).expanduser().resolve()
        p.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, ~ unknown
        raise StoreError(f"{_MESSAGES['database_unavailable']}: cannot make the folder "
                         f"for {s!r} ({exc.strerror if isinstance(exc, OSError) else exc})",
                         code="database_unavailable") from exc
    return sa.URL.create("sqlite", database=str(p))


def _install_sqlite_pragmas(engine: sa.Engine, *, file_backed: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        # the driver must not open transactions itself: _begin below chooses the kind
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")  # ms; waits for a writer instead of failing
        if file_backed:
            cur.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        write = conn.get_execution_options().get("posture_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(location: str | os.PathLike | None = None) -> sa.Engine:
    """An engine for ``location`` (default :func:`default_location`), SQLite tuned."""
    url = to_url(location if location is not None else default_location())
    if url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except (ImportError, sa.exc.ArgumentError) as exc:  # no such dialect or driver
            hint = (" (install the driver: pip install 'posture[postgres]')"
                    if url.get_backend_name() == "postgresql" else "")
            raise StoreError(f"{_MESSAGES['database_unavailable']}: no driver for "
                             f"{url.drivername!r}{hint}", code="database_unavailable") from exc
    memory = url.database in (None, "", ":memory:")
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        **({"poolclass": StaticPool} if memory else {}),
    )
    _install_sqlite_pragmas(engine, file_backed=not memory)
    return engine


def _utc(dt: datetime | None) -> datetime:
    if dt is None:
        return datetime.now(UTC)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _from_db_time(dt: datetime) -> datetime:
    # SQLite keeps no offset: we only ever store UTC, so a naive value is UTC
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an audit row's canonical content.

    The canonical form is the JSON object of :data:`CHAIN_FIELDS` with sorted keys, ASCII
    escapes, no spaces, ``at`` as UTC ISO 8601 with microseconds, ids as integers: the same
    text on SQLite and PostgreSQL and after a round trip through either.
    """
    d = {k: row[k] for k in CHAIN_FIELDS}
    d["at"] = _from_db_time(d["at"]).isoformat(timespec="microseconds")
    for k in ("id", "patient_id", "assessment_id"):
        d[k] = None if d[k] is None else int(d[k])
    text = json.dumps(d, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _clean(text: str, limit: int) -> str:
    # control characters (a NUL is refused by PostgreSQL, a newline forges a log line)
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])


def _plain_json(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _dump(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_plain_json)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not valid JSON: {exc}", code="invalid_record") from exc


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond 1e308
        return None
    return f if math.isfinite(f) else None


def _check_corrections(corr: Mapping[str, Any] | None) -> dict[str, list[float]]:
    from ..analysis import CORRECTABLE

    out: dict[str, list[float]] = {}
    for name, p in (corr or {}).items():
        if name not in CORRECTABLE:
            raise StoreError(f"cannot record a correction of {name!r}; correctable: "
                             f"{', '.join(CORRECTABLE)}", code="invalid_record")
        xy = [_num(v) for v in p] if isinstance(p, list | tuple) else []
        if len(xy) != 2 or None in xy:
            raise StoreError(f"correction of {name} must be two finite pixel coordinates",
                             code="invalid_record")
        out[name] = xy
    return out


def _check_reference(instrument: Any, value: Any) -> tuple[str, float]:
    """A valid (instrument id, degrees) pair, or ``invalid_record``."""
    from ..errors import InputError
    from ..palpation import check_reference_deg, instruments

    if not isinstance(instrument, str) or instrument not in instruments():
        raise StoreError(f"reference instrument must be one of {sorted(instruments())}",
                         code="invalid_record")
    try:
        return instrument, round(check_reference_deg(value), 2)
    except InputError as err:
        raise StoreError(err.message, code="invalid_record") from None


def _reference_detail(instrument: str, value: float) -> str:
    return f"reference reading: {instrument} {value:+.1f}°"


def _check_result_fields(result: dict[str, Any]) -> Reading:
    """The typed reading of a result (:func:`posture.contract.from_dict`): a
    field without its contract type is ``invalid_record`` (not an IndexError or a driver
    error mid-insert)."""
    from ..contract import from_dict

    try:
        return from_dict(result)
    except InputError as exc:
        raise StoreError(exc.message.replace("analysis result:", "result:", 1),
                         code="invalid_record") from exc


def _check_patient_fields(name, birth_year, sex) -> None:
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise StoreError("name must be text of at most 200 characters", code="invalid_record")
    if birth_year is not None:
        this_year = datetime.now(UTC).year
        if isinstance(birth_year, bool) or not isinstance(birth_year, int) or not (
                1900 <= birth_year <= this_year):
            raise StoreError(f"birth year must be a year between 1900 and {this_year}",
                             code="invalid_record")
    if sex is not None and sex not in SEXES:
        raise StoreError(f"sex must be one of {', '.join(SEXES)} or empty",
                         code="invalid_record")


def new_pseudonym() -> str:
    """A fresh random pseudonym such as ``P-7KQ2MX`` (no personal information in it)."""
    import secrets

    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(6))


def encode_jpeg(rgb, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 array (for saving a consented photo)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise StoreError("could not encode the photo as JPEG", code="invalid_record")
    return buf.tobytes()


class Store:
    """Patients and assessments in one database.

    Parameters
    ----------
    location
        File path or SQLAlchemy URL; default :func:`default_location`.

    Opening migrates an older schema to :data:`SCHEMA_VERSION` and refuses a newer one
    (``schema_too_new``). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, location: str | os.PathLike | None = None):
        self.engine = make_engine(location)
        try:
            # a read first: an up-to-date database opens even when it is read-only
            with self._read() as conn:
                found = current_version(conn)
            if found != SCHEMA_VERSION:
                with self._write() as conn:
                    if conn.dialect.name == "postgresql":
                        # first open by two processes at once: one migrates, the other waits
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(724871)"))
                    found = current_version(conn)
                    if found > SCHEMA_VERSION:
                        raise StoreError(
                            f"the database has schema version {found}; this version of "
                            f"posture reads up to {SCHEMA_VERSION}. Upgrade posture.",
                            code="schema_too_new")
                    self.migrated_from, self.schema_version = migrate(conn)
            else:
                self.migrated_from = self.schema_version = found
        except StoreError as err:
            self.engine.dispose()
            if err.code in ("schema_too_new", "database_read_only", "storage_full",
                            "database_locked"):
                raise
            raise StoreError(f"cannot open the database: {err.message}",
                             code="database_unavailable") from err
        except BaseException:
            self.engine.dispose()
            raise

    # -- plumbing ---------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def url(self) -> str:
        """Where the data lives (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction: all of it is stored, or (on any error) none of it."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(posture_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError as exc:
            if "audit_append_only" in str(exc.orig):
                raise db_error(exc) from exc
            raise  # the callers name the constraint (duplicate pseudonym, user)
        except sa.exc.DBAPIError as exc:
            raise db_error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise db_error(exc) from exc

    def next_id(self, conn: sa.Connection, table: sa.Table) -> int:
        """The next id of ``table``: above every id it ever handed out, deleted or not.

        Inside the caller's write transaction (SQLite: ``BEGIN IMMEDIATE`` serialises
        writers; PostgreSQL: the counter row is locked until commit).
        """
        q = sa.select(COUNTERS.c.last_id).where(COUNTERS.c.name == table.name)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        last = conn.execute(q).scalar()
        top = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        nid = max(int(last or 0), int(top)) + 1
        if last is None:
            conn.execute(sa.insert(COUNTERS).values(name=table.name, last_id=nid))
        else:
            conn.execute(sa.update(COUNTERS).where(COUNTERS.c.name == table.name)
                         .values(last_id=nid))
        return nid

    # -- audit trail --------------------------------------------------------------------

    def _audit(self, conn: sa.Connection, actor: str | None, action: str, *,
               patient_id: int | None = None, assessment_id: int | None = None,
               detail: str = "") -> None:
        if action not in AUDIT_ACTIONS:
            raise StoreError(f"unknown audit action {action!r}", code="invalid_record")
        if conn.dialect.name == "postgresql":
            # one appender at a time until commit, so ids and the chain agree (SQLite:
            # BEGIN IMMEDIATE already serialises writers)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
        last = conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(1)).first()
        prev = GENESIS_HASH
        if last is not None:
            prev = last.row_hash or row_hash(last._mapping)  # an unhashed row: verify flags it
        row = dict(id=(int(last.id) + 1 if last is not None else 1), at=datetime.now(UTC),
                   actor=_clean(actor or DEFAULT_ACTOR, 64), action=action,
                   patient_id=patient_id, assessment_id=assessment_id,
                   detail=_clean(detail, 2000), prev_hash=prev)
        row["row_hash"] = row_hash(row)
        conn.execute(sa.insert(AUDIT).values(**row))

    def log(self, actor: str | None, action: str, *, patient_id: int | None = None,
            assessment_id: int | None = None, detail: str = "") -> None:
        """Append one entry to the audit trail (e.g. a view or an export)."""
        with self._write() as conn:
            self._audit(conn, actor, action, patient_id=patient_id,
                        assessment_id=assessment_id, detail=detail)

    def audit_trail(self, *, patient_id: int | None = None, limit: int | None = None,
                    hashes: bool = False) -> list[dict[str, Any]]:
        """Audit entries, oldest first (optionally of one patient, or the last ``limit``);
        with ``hashes`` also each row's ``prev_hash`` and ``row_hash``."""
        q = sa.select(*(c for c in AUDIT.c if hashes or c.name not in ("prev_hash",
                                                                       "row_hash")))
        if patient_id is not None:
            q = q.where(AUDIT.c.patient_id == patient_id)
        q = q.order_by(AUDIT.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            rows = conn.execute(q).all()
        out = [dict(r._mapping) for r in reversed(rows)]
        for r in out:
            r["at"] = _from_db_time(r["at"])
        return out

    # -- patients ---------------------------------------------------------------------

    def add_patient(self, pseudonym: str | None = None, *, name: str | None = None,
                    birth_year: int | None = None, sex: str | None = None,
                    actor: str | None = None) -> Patient:
        """Create a patient; a random pseudonym is made when none is given.

        Raises ``duplicate_patient`` when the pseudonym is taken, ``invalid_record`` for
        bad fields.
        """
        pseudonym = (pseudonym or new_pseudonym()).strip()
        if not 1 <= len(pseudonym) <= 64:
            raise StoreError("pseudonym must be 1–64 characters", code="invalid_record")
        name = (name or "").strip() or None
        _check_patient_fields(name, birth_year, sex)
        row = dict(pseudonym=pseudonym, name=name, birth_year=birth_year, sex=sex,
                   created_at=datetime.now(UTC))
        try:
            with self._write() as conn:
                pid = self.next_id(conn, PATIENTS)
                conn.execute(sa.insert(PATIENTS).values(id=pid, **row))
                self._audit(conn, actor, "create", patient_id=pid, detail="patient")
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"a patient with pseudonym {pseudonym!r} already exists",
                             code="duplicate_patient") from exc
        return Patient(id=int(pid), **row)

    def get_patient(self, patient_id: int) -> Patient:
        with self._read() as conn:
            row = conn.execute(sa.select(PATIENTS).where(PATIENTS.c.id == patient_id)).first()
        if row is None:
            raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
        return _patient(row)

    def find_patient(self, pseudonym: str) -> Patient:
        """The patient with this pseudonym (``patient_not_found`` otherwise)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(PATIENTS).where(PATIENTS.c.pseudonym == pseudonym.strip())).first()
        if row is None:
            raise StoreError(f"no patient with pseudonym {pseudonym!r}",
                             code="patient_not_found")
        return _patient(row)

    def list_patients(self) -> list[Patient]:
        """All patients, by pseudonym."""
        with self._read() as conn:
            rows = conn.execute(sa.select(PATIENTS).order_by(PATIENTS.c.pseudonym)).all()
        return [_patient(r) for r in rows]

    def delete_patient(self, patient_id: int, *, actor: str | None = None) -> None:
        """Erase a patient and all their assessments and photos (the audit trail keeps
        the ids, no personal data)."""
        with self._write() as conn:
            k = conn.execute(sa.delete(ASSESSMENTS).where(
                ASSESSMENTS.c.patient_id == patient_id)).rowcount
            n = conn.execute(sa.delete(PATIENTS).where(PATIENTS.c.id == patient_id)).rowcount
            if not n:
                raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
            self._audit(conn, actor, "delete", patient_id=patient_id,
                        detail=f"patient and {k} assessment(s)")

    # -- assessments --------------------------------------------------------------------

    def save_assessment(
        self,
        patient_id: int,
        result: Mapping[str, Any],
        *,
        taken_at: datetime | None = None,
        photo_jpeg: bytes | None = None,
        photo_consent: bool = False,
        corrections: Mapping[str, tuple[float, float]] | None = None,
        thomas_test: str | None = None,
        notes: str = "",
        actor: str | None = None,
        reference: tuple[str, float] | None = None,
    ) -> AssessmentRecord:
        """Save one assessment of a patient.

        Parameters
        ----------
        result
            The typed :class:`posture.result.Assessment` (after any landmark corrections)
            or its :class:`~posture.result.Reading`, or the JSON contract dict
            (:func:`posture.contract.to_dict`); stored as the contract dict.
        taken_at
            When the photo was taken (default now); stored in UTC.
        photo_jpeg, photo_consent
            The photo is stored only when ``photo_consent`` is True; passing a photo
            without consent raises ``photo_without_consent`` rather than dropping it
            silently.
        corrections
            Points the clinician moved, name → (x, y) pixels (names from
            ``posture.analysis.CORRECTABLE``).
        thomas_test
            ``"yes"``, ``"no"``, ``"unsure"`` or None.
        reference
            ``(instrument, degrees)``: a reference reading of the pelvic tilt beside this
            assessment (:meth:`set_reference`), or None.
        """
        from ..contract import to_dict
        from ..result import Assessment, Reading

        if isinstance(result, Assessment | Reading):  # typed: stored as its contract dict
            result = to_dict(result)
        if not isinstance(result, Mapping) or "ok" not in result:
            raise StoreError("result must be an Assessment, a Reading or an analysis "
                             "contract dict", code="invalid_record")
        if photo_jpeg is not None:
            if not photo_consent:
                raise StoreError("a photo is stored only with the patient's consent",
                                 code="photo_without_consent")
            if not isinstance(photo_jpeg, bytes | bytearray) or not photo_jpeg.startswith(
                    b"\xff\xd8\xff"):
                raise StoreError("the photo must be JPEG bytes", code="photo_not_jpeg")
            if len(photo_jpeg) > MAX_PHOTO_BYTES:
                raise StoreError("the photo is larger than 25 MB", code="invalid_record")
        if thomas_test not in (*THOMAS_ANSWERS, None):
            raise StoreError(f"thomas_test must be one of {THOMAS_ANSWERS} or None",
                             code="invalid_record")
        if not isinstance(notes, str):
            raise StoreError("notes must be text", code="invalid_record")
        corr = _check_corrections(corrections)
        ref = _check_reference(*reference) if reference is not None else (None, None)
        text = _dump(dict(result), "result")
        result = json.loads(text)  # what we return is exactly what a reader will get
        r = _check_result_fields(result)
        iv = r.pelvic_tilt_interval_deg or (None, None)
        row = dict(
            patient_id=patient_id, taken_at=_utc(taken_at), created_at=datetime.now(UTC),
            photo_consent=bool(photo_consent),
            photo_jpeg=bytes(photo_jpeg) if photo_jpeg is not None else None,
            result_json=text,
            landmarks_json=_dump(None if r.landmarks_px is None
                                 else [list(p) for p in r.landmarks_px], "landmarks"),
            pelvic_tilt_deg=_num(r.pelvic_tilt_deg),
            pelvic_tilt_lo_deg=_num(iv[0]), pelvic_tilt_hi_deg=_num(iv[1]),
            lumbar_lordosis_deg=_num(r.lumbar_lordosis_deg),
            head_neck_angle_deg=_num(r.head_neck_angle_deg),
            trunk_lean_deg=_num(r.trunk_lean_deg),
            knee_angle_deg=_num(r.knee_angle_deg),
            # a stored result without the key is taken as an abstention (never graded)
            severity=r.severity, abstained=r.abstained if "abstained" in result else True,
            pose_model=r.pose_variant or None,
            estimator_version=r.estimator_version,
            notes=notes, thomas_test=thomas_test,
            corrections_json=_dump(corr, "corrections") if corr else None,
            reference_instrument=ref[0], reference_deg=ref[1],
        )
        with self._write() as conn:
            if conn.execute(sa.select(PATIENTS.c.id).where(
                    PATIENTS.c.id == patient_id)).first() is None:
                raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
            aid = self.next_id(conn, ASSESSMENTS)
            conn.execute(sa.insert(ASSESSMENTS).values(id=aid, **row))
            self._audit(conn, actor, "create", patient_id=patient_id, assessment_id=aid,
                        detail="assessment" + (" with photo" if photo_jpeg else ""))
            if corr:
                self._audit(conn, actor, "correct", patient_id=patient_id, assessment_id=aid,
                            detail="moved: " + ", ".join(sorted(corr)))
            if ref[0] is not None:
                self._audit(conn, actor, "reference", patient_id=patient_id,
                            assessment_id=aid, detail=_reference_detail(*ref))
        return self.get_assessment(int(aid))

    def set_reference(self, assessment_id: int, instrument: str | None,
                      reference_deg: float | None = None, *,
                      actor: str | None = None) -> AssessmentRecord:
        """Enter (or, with ``instrument=None``, remove) the reference reading of an
        assessment: the pelvic tilt a clinician measured with a palpation meter or an
        inclinometer at that visit, degrees, + = anterior. Audited as ``reference``.

        Raises ``invalid_record`` for an unknown instrument or a reading that is not a
        number within ±90°, ``assessment_not_found`` for no such assessment.
        """
        ref = (None, None) if instrument is None else _check_reference(instrument,
                                                                       reference_deg)
        with self._write() as conn:
            pid = conn.execute(sa.select(ASSESSMENTS.c.patient_id).where(
                ASSESSMENTS.c.id == assessment_id)).scalar()
            if pid is None:
                raise _no_assessment(assessment_id)
            conn.execute(sa.update(ASSESSMENTS).where(ASSESSMENTS.c.id == assessment_id)
                         .values(reference_instrument=ref[0], reference_deg=ref[1]))
            self._audit(conn, actor, "reference", patient_id=pid, assessment_id=assessment_id,
                        detail=_reference_detail(*ref) if ref[0] else "removed")
        return self.get_assessment(assessment_id)

    def get_assessment(self, assessment_id: int) -> AssessmentRecord:
        with self._read() as conn:
            row = conn.execute(_select_records().where(
                ASSESSMENTS.c.id == assessment_id)).first()
        if row is None:
            raise _no_assessment(assessment_id)
        return _record(row)

    def list_assessments(self, patient_id: int) -> list[AssessmentRecord]:
        """A patient's assessments, oldest first (``patient_not_found`` if no such patient)."""
        self.get_patient(patient_id)
        with self._read() as conn:
            rows = conn.execute(_select_records().where(
                ASSESSMENTS.c.patient_id == patient_id).order_by(
                ASSESSMENTS.c.taken_at, ASSESSMENTS.c.id)).all()
        return [_record(r) for r in rows]

    def photo(self, assessment_id: int) -> bytes | None:
        """The consented JPEG of an assessment, or None when none was stored."""
        with self._read() as conn:
            row = conn.execute(sa.select(ASSESSMENTS.c.photo_jpeg).where(
                ASSESSMENTS.c.id == assessment_id)).first()
        if row is None:
            raise _no_assessment(assessment_id)
        return None if row[0] is None else bytes(row[0])

    def delete_assessment(self, assessment_id: int, *, actor: str | None = None) -> None:
        """Delete one assessment (its number is never given to another one)."""
        with self._write() as conn:
            pid = conn.execute(sa.select(ASSESSMENTS.c.patient_id).where(
                ASSESSMENTS.c.id == assessment_id)).scalar()
            if pid is None:
                raise _no_assessment(assessment_id)
            conn.execute(sa.delete(ASSESSMENTS).where(ASSESSMENTS.c.id == assessment_id))
            self._audit(conn, actor, "delete", patient_id=pid, assessment_id=assessment_id,
                        detail="assessment")


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _patient(row) -> Patient:
    m = row._mapping
    return Patient(id=int(m["id"]), pseudonym=m["pseudonym"], name=m["name"],
                   birth_year=m["birth_year"], sex=m["sex"],
                   created_at=_from_db_time(m["created_at"]))


def _select_records() -> sa.Select:
    # every column but the photo: listing a history must not pull megabytes of JPEG
    c = ASSESSMENTS.c
    cols = [col for col in ASSESSMENTS.c if col.name != "photo_jpeg"]
    return sa.select(*cols, c.photo_jpeg.is_not(None).label("has_photo"))


def _no_assessment(assessment_id: int) -> StoreError:
    return StoreError(f"no assessment with id {assessment_id}", code="assessment_not_found")


def _record(row) -> AssessmentRecord:
    m = row._mapping
    corr = json.loads(m["corrections_json"]) if m["corrections_json"] else {}
    return AssessmentRecord(
        id=int(m["id"]), patient_id=int(m["patient_id"]),
        taken_at=_from_db_time(m["taken_at"]), created_at=_from_db_time(m["created_at"]),
        result=json.loads(m["result_json"]),
        corrections={k: (float(v[0]), float(v[1])) for k, v in corr.items()},
        thomas_test=m["thomas_test"], notes=m["notes"] or "",
        pose_model=m["pose_model"], estimator_version=m["estimator_version"],
        photo_consent=bool(m["photo_consent"]), has_photo=bool(m["has_photo"]),
        reference_instrument=m["reference_instrument"],
        reference_deg=None if m["reference_deg"] is None else float(m["reference_deg"]),
    )


def open_store(location: str | os.PathLike | None = None) -> Store:
    """Open (creating or migrating) the store at ``location`` or the default place."""
    return Store(location)
