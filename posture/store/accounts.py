"""Clinic accounts: users with argon2id password hashes, roles, sessions, lock-out.

Rules (password length, failures before a lock-out, session lifetimes) are in
``posture/data/accounts.yaml`` with their sources. Every login, failed login and logout is
written to the audit trail.

Typical use::

    from posture.store import open_store, accounts
    with open_store() as s:
        accounts.add_user(s, "dr_lee", "a long passphrase", role="clinician")
        token = accounts.login(s, "dr_lee", "a long passphrase")   # or StoreError
        user = accounts.session_user(s, token)                     # None once expired
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import sqlalchemy as sa

from .db import _T, Store, _from_db_time
from .records import StoreError

USERS, SESSIONS = _T["users"], _T["sessions"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


@cache
def rules() -> dict[str, Any]:
    """The account rules of ``posture/data/accounts.yaml``."""
    import yaml

    text = resources.files("posture").joinpath("data/accounts.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def roles() -> tuple[str, ...]:
    return tuple(rules()["roles"])


@cache
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" profile


@dataclass(frozen=True)
class User:
    """A clinic account (no password material)."""

    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _now() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def has_users(store: Store) -> bool:
    """Whether any account exists (then the Clinic page asks everyone to log in)."""
    with store._read() as conn:
        return conn.execute(sa.select(USERS.c.id).limit(1)).first() is not None


def list_users(store: Store) -> list[User]:
    with store._read() as conn:
        rows = conn.execute(sa.select(USERS).order_by(USERS.c.name)).all()
    return [User(int(r.id), r.name, r.role) for r in rows]


def add_user(store: Store, name: str, password: str, *, role: str = "clinician",
             actor: str | None = None) -> User:
    """Create an account. Raises ``invalid_user``, ``weak_password`` or ``duplicate_user``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError("user names are 2–64 letters, digits or . _ @ -, starting with a "
                         "letter or digit", code="invalid_user")
    if role not in roles():
        raise StoreError(f"role must be one of {', '.join(roles())}", code="invalid_user")
    n = rules()["min_password_length"]
    if not isinstance(password, str) or len(password) < n:
        raise StoreError(f"the password must have at least {n} characters",
                         code="weak_password")
    if password.strip() != password or password.lower() == name.lower():
        raise StoreError("the password must not be the user name or start or end with "
                         "spaces", code="weak_password")
    row = dict(name=name, role=role, password_hash=_hasher().hash(password),
               created_at=_now(), failed_logins=0, locked_until=None, disabled=False)
    try:
        with store._write() as conn:
            uid = conn.execute(sa.insert(USERS).values(**row)).inserted_primary_key[0]
            store._audit(conn, actor, "user_add", detail=f"{name} ({role})")
    except sa.exc.IntegrityError as exc:
        raise StoreError(f"a user named {name!r} already exists",
                         code="duplicate_user") from exc
    return User(int(uid), name, role)


def login(store: Store, name: str, password: str) -> str:
    """Check a password and open a session; returns the session token (keep it secret).

    Raises ``login_failed`` (unknown name or wrong password: the same message for both)
    or ``account_locked`` (too many failures; until the lock-out time has passed).
    """
    r = rules()
    now = _now()
    with store._write() as conn:
        row = conn.execute(sa.select(USERS).where(USERS.c.name == name)).first()
        if row is None or row.disabled:
            _hasher().hash(password or "x")  # same work as a real check: no timing oracle
            store._audit(conn, name if isinstance(name, str) else "?", "login_failed",
                         detail="unknown user")
            fail = StoreError("wrong user name or password", code="login_failed")
        else:
            fail = _check(store, conn, row, password, now, r)
            if fail is None:
                token = secrets.token_urlsafe(32)
                conn.execute(sa.insert(SESSIONS).values(
                    token_hash=_token_hash(token), user_id=row.id, created_at=now,
                    expires_at=now + timedelta(minutes=r["session_idle_minutes"])))
                store._audit(conn, row.name, "login")
                return token
    # committed: the failure count and its audit entry stay even though login fails
    raise fail


def _check(store, conn, row, password, now, r) -> StoreError | None:
    locked = row.locked_until and _from_db_time(row.locked_until) > now
    if locked:
        store._audit(conn, row.name, "login_failed", detail="account locked")
        return StoreError(f"too many failed logins: the account is locked until "
                          f"{_from_db_time(row.locked_until):%H:%M} UTC",
                          code="account_locked")
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        _hasher().verify(row.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        fails = int(row.failed_logins or 0) + 1
        lock = fails >= r["max_failed_logins"]
        conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(
            failed_logins=0 if lock else fails,
            locked_until=now + timedelta(minutes=r["lockout_minutes"]) if lock else None))
        store._audit(conn, row.name, "login_failed",
                     detail="wrong password" + ("; account locked" if lock else ""))
        if lock:
            return StoreError(f"too many failed logins: the account is locked for "
                              f"{r['lockout_minutes']} minutes", code="account_locked")
        return StoreError("wrong user name or password", code="login_failed")
    conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(
        failed_logins=0, locked_until=None))
    return None


def session_user(store: Store, token: str | None) -> User | None:
    """The user of a live session, extending its idle timeout; None when the token is
    unknown or the session expired (idle too long, or older than the working-day limit)."""
    if not token:
        return None
    r = rules()
    now = _now()
    th = _token_hash(token)
    with store._write() as conn:
        row = conn.execute(sa.select(SESSIONS, USERS.c.name, USERS.c.role, USERS.c.disabled)
                           .join(USERS, USERS.c.id == SESSIONS.c.user_id)
                           .where(SESSIONS.c.token_hash == th)).first()
        if row is None:
            return None
        hard = _from_db_time(row.created_at) + timedelta(hours=r["session_max_hours"])
        if row.disabled or _from_db_time(row.expires_at) <= now or hard <= now:
            conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.token_hash == th))
            return None
        conn.execute(sa.update(SESSIONS).where(SESSIONS.c.token_hash == th).values(
            expires_at=min(hard, now + timedelta(minutes=r["session_idle_minutes"]))))
    return User(int(row.user_id), row.name, row.role)


def logout(store: Store, token: str | None) -> None:
    """End a session (no error when it already ended)."""
    if not token:
        return
    th = _token_hash(token)
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
    now = _now()
    with store._read() as conn:
        row = conn.execute(sa.select(SESSIONS.c.created_at, SESSIONS.c.expires_at,
                                     USERS.c.disabled)
                           .join(USERS, USERS.c.id == SESSIONS.c.user_id)
                           .where(SESSIONS.c.token_hash == _token_hash(token))).first()
    if row is None or row.disabled:
        return False
    hard = _from_db_time(row.created_at) + timedelta(hours=r["session_max_hours"])
    return _from_db_time(row.expires_at) > now and hard > now
