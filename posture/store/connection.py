"""Where the clinic database lives and how to connect to it; driver errors as coded errors.

``POSTURE_DB`` (a file path or an SQLAlchemy URL such as
``postgresql+psycopg://user@host/clinic``) or, by default, ``posture.db`` in the user data
directory (``platformdirs.user_data_dir("posture")``).

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: two processes saving at once queue for the lock instead of failing
with "database is locked" when a read snapshot would have to be upgraded.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from .records import StoreError

ENV_VAR = "POSTURE_DB"

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

