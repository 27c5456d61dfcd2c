"""Logging in to a clinic account, its sessions and lock-outs.

Every login attempt costs the same: exactly one argon2 verification, whether the name is
unknown, the account disabled or locked, or the password wrong or right, so the time of an
answer does not tell whether a name exists. The failure count is changed under a row lock
(PostgreSQL ``SELECT … FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``) held until the attempt is
decided, so simultaneous attempts cannot all read the same count: at most
``max_failed_logins`` passwords are checked before the lock-out, however many arrive at once.
The functions are used through :mod:`posture.store.accounts`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .chain import from_db_time
from .db import Store
from .names import name_key
from .passwords import dummy_hash, rules, verify
from .records import StoreError
from .schema import LOGIN_MISSES as MISSES
from .schema import SESSIONS, USERS


@dataclass(frozen=True)
class User:
    """A clinic account (no password material)."""

    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"



@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login attempt (:func:`attempt_login`).

    Attributes
    ----------
    token
        The session token when the login succeeded (keep it secret), else None.
    user
        The account logged in, else None.
    code
        None on success, ``login_failed`` or ``account_locked``.
    message
        What to tell the person (the same for an unknown name and a wrong password).
    attempts_left
        Failed logins still allowed before the account locks: ``max_failed_logins`` after
        a success, 0 while locked. An unknown name counts down the same way.
    locked_until
        While locked: when the lock ends, an aware datetime in UTC (``.astimezone()`` gives
        the viewer's local time); else None.
    """

    token: str | None
    user: User | None
    code: str | None
    message: str
    attempts_left: int
    locked_until: datetime | None

    @property
    def ok(self) -> bool:
        return self.token is not None


class LoginError(StoreError):
    """A refused login (``login_failed`` or ``account_locked``) with its
    :class:`LoginResult` (``attempts_left``, ``locked_until``)."""

    def __init__(self, result: LoginResult):
        super().__init__(result.message, code=result.code)
        self.result = result

    @property
    def attempts_left(self) -> int:
        return self.result.attempts_left

    @property
    def locked_until(self) -> datetime | None:
        return self.result.locked_until


def utc_now() -> datetime:
    """The time now, UTC (one clock for every login rule; tests move it)."""
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()



@dataclass(frozen=True)
class _Counter:
    """The row whose failure count an attempt changes: the account's, or for a name that is
    no (enabled) account, its ``login_misses`` row."""

    table: sa.Table
    where: Any
    row: Any


def _locked_counter(conn: sa.Connection, key: str, now: datetime) -> tuple[Any, _Counter]:
    """(the enabled account or None, its counter), the counter row locked until commit."""
    user = conn.execute(sa.select(USERS).where(USERS.c.name_key == key)
                        .with_for_update()).first()  # SQLite: BEGIN IMMEDIATE instead
    if user is not None and not user.disabled:
        return user, _Counter(USERS, USERS.c.id == user.id, user)
    miss_key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(MISSES)
    conn.execute(ins.values(name_key=miss_key, failed_logins=0, last_failed_at=now)
                 .on_conflict_do_nothing(index_elements=["name_key"]))
    where = MISSES.c.name_key == miss_key
    row = conn.execute(sa.select(MISSES).where(where).with_for_update()).one()
    return user, _Counter(MISSES, where, row)


def _standing(row, now: datetime, r: dict) -> tuple[int, datetime | None]:
    """(failures so far, lock end or None) of a counter row at ``now``."""
    if row.locked_until is not None and from_db_time(row.locked_until) > now:
        return 0, from_db_time(row.locked_until)
    last = row.last_failed_at
    if last is not None and from_db_time(last) < now - timedelta(
            hours=r["failure_memory_hours"]):
        return 0, None
    return int(row.failed_logins or 0), None


def _purge_misses(conn: sa.Connection, now: datetime, r: dict) -> None:
    old = sa.select(MISSES.c.name_key).where(
        MISSES.c.last_failed_at < now - timedelta(hours=r["failure_memory_hours"]),
        sa.or_(MISSES.c.locked_until.is_(None), MISSES.c.locked_until < now))
    if conn.dialect.name == "postgresql":
        old = old.with_for_update(skip_locked=True)  # never wait on (or deadlock with) a login
    conn.execute(sa.delete(MISSES).where(MISSES.c.name_key.in_(old.scalar_subquery())))


def _refused(code: str, left: int, until: datetime | None, r: dict) -> LoginResult:
    if code == "account_locked":
        msg = (f"too many failed logins: the account is locked for {r['lockout_minutes']} "
               f"minutes, until {until:%H:%M} UTC")
    else:
        msg = "wrong user name or password"
        if left <= r["warn_attempts_left"]:
            msg += (f"; {left} more failed attempt{'s' if left != 1 else ''} will lock the "
                    f"account for {r['lockout_minutes']} minutes")
    return LoginResult(None, None, code, msg, left, until)


def attempt_login(store: Store, name: str, password: str) -> LoginResult:
    """Check a password and, when it is right, open a session.

    Never raises for a wrong password, an unknown name or a locked account (see
    :class:`LoginResult`); raises a coded :class:`StoreError` for a database failure. The
    attempt, its count and its audit entry are one transaction, committed whatever the
    outcome.
    """
    r = rules()
    top = r["max_failed_logins"]
    key = name_key(name) if isinstance(name, str) else ""
    password = password if isinstance(password, str) else ""
    shown = name if isinstance(name, str) else "?"
    with store._write() as conn:
        user, counter = _locked_counter(conn, key, utc_now())
        now = utc_now()  # after the lock: a wait behind other attempts does not age the check
        fails, until = _standing(counter.row, now, r)
        real = counter.table is USERS
        if until is not None:
            verify(dummy_hash(), password)  # as slow as a wrong password: no name oracle
            store._audit(conn, counter.row.name if real else shown, "login_failed",
                         detail="account locked")
            return _refused("account_locked", 0, until, r)
        if verify(counter.row.password_hash if real else dummy_hash(), password) and real:
            conn.execute(sa.update(USERS).where(counter.where).values(
                failed_logins=0, locked_until=None, last_failed_at=None))
            token = secrets.token_urlsafe(32)
            conn.execute(sa.insert(SESSIONS).values(
                token_hash=token_hash(token), user_id=user.id, created_at=now,
                expires_at=now + timedelta(minutes=r["session_idle_minutes"])))
            store._audit(conn, user.name, "login")
            u = User(int(user.id), user.name, user.role)
            return LoginResult(token, u, None, "logged in", top, None)
        fails += 1
        lock = fails >= top
        until = now + timedelta(minutes=r["lockout_minutes"]) if lock else None
        conn.execute(sa.update(counter.table).where(counter.where).values(
            failed_logins=0 if lock else fails, locked_until=until, last_failed_at=now))
        why = ("wrong password" if real else
               "account disabled" if user is not None else "unknown user")
        store._audit(conn, counter.row.name if real else shown, "login_failed",
                     detail=why + ("; account locked" if lock else ""))
        if not real:
            _purge_misses(conn, now, r)
        return _refused("account_locked" if lock else "login_failed", top - fails
                        if not lock else 0, until, r)


def login(store: Store, name: str, password: str) -> str:
    """Check a password and open a session; returns the session token (keep it secret).

    Raises :class:`LoginError` (a :class:`StoreError`) with code ``login_failed`` (unknown
    name or wrong password: the same message for both) or ``account_locked``; its
    ``attempts_left`` and ``locked_until`` say how close the account is to a lock-out.
    """
    res = attempt_login(store, name, password)
    if not res.ok:
        raise LoginError(res)
    return res.token


def session_user(store: Store, token: str | None) -> User | None:
    """The user of a live session, extending its idle timeout; None when the token is
    unknown or the session expired (idle too long, or older than the working-day limit)."""
    if not token:
        return None
    r = rules()
    now = utc_now()
    th = token_hash(token)
    with store._write() as conn:
        row = conn.execute(sa.select(SESSIONS, USERS.c.name, USERS.c.role, USERS.c.disabled)
                           .join(USERS, USERS.c.id == SESSIONS.c.user_id)
                           .where(SESSIONS.c.token_hash == th)).first()
        if row is None:
            return None
        hard = from_db_time(row.created_at) + timedelta(hours=r["session_max_hours"])
        if row.disabled or from_db_time(row.expires_at) <= now or hard <= now:
            conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.token_hash == th))
            return None
        conn.execute(sa.update(SESSIONS).where(SESSIONS.c.token_hash == th).values(
            expires_at=min(hard, now + timedelta(minutes=r["session_idle_minutes"]))))
    return User(int(row.user_id), row.name, row.role)


def logout(store: Store, token: str | None) -> None:
    """End a session (no error when it already ended)."""
    if not token:
        return
    th = token_hash(token)
    with store._write() as conn:
        row = conn.execute(sa.select(USERS.c.name).join(SESSIONS, USERS.c.id ==
                                                        SESSIONS.c.user_id)
                           .where(SESSIONS.c.token_hash == th)).first()
        conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.token_hash == th))
        if row is not None:
            store._audit(conn, row.name, "logout")



def session_alive(store: Store, token: str | None) -> bool:
    """Whether ``token``'s session is live, without extending it (:func:`session_user`
    extends it): a page's periodic check must not keep an idle session open."""
    if not token:
        return False
    r = rules()
    now = utc_now()
    with store._read() as conn:
        row = conn.execute(sa.select(SESSIONS.c.created_at, SESSIONS.c.expires_at,
                                     USERS.c.disabled)
                           .join(USERS, USERS.c.id == SESSIONS.c.user_id)
                           .where(SESSIONS.c.token_hash == token_hash(token))).first()
    if row is None or row.disabled:
        return False
    hard = from_db_time(row.created_at) + timedelta(hours=r["session_max_hours"])
    return from_db_time(row.expires_at) > now and hard > now
