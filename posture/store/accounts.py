"""Clinic accounts: users with argon2id password hashes, roles, sessions, lock-out.

Rules (password length, failures before a lock-out, session lifetimes) are in
``posture/data/accounts.yaml`` with their sources. Every login, failed login, logout and
account change is written to the audit trail.

Names are one account whatever their case or Unicode form (:mod:`posture.store.names`).
This module is the accounts' API: creating, listing and administering accounts here;
logging in, sessions and lock-outs in :mod:`posture.store.logins`; password rules and
hashing in :mod:`posture.store.passwords` (both re-exported here).

Typical use::

    from posture.store import open_store, accounts
    with open_store() as s:
        accounts.add_user(s, "dr_lee", "a long passphrase", role="clinician")
        token = accounts.login(s, "dr_lee", "a long passphrase")   # or LoginError
        user = accounts.session_user(s, token)                     # None once expired
        res = accounts.attempt_login(s, "dr_lee", "typo")          # never raises for a
        res.attempts_left, res.locked_until                        # wrong password
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from . import logins
from .chain import from_db_time
from .db import Store
from .logins import (
    LoginError,
    LoginResult,
    User,
    attempt_login,
    login,
    logout,
    session_alive,
    session_user,
)
from .names import display_name, name_key, valid_name
from .passwords import check_new_password, hash_password, roles, rules
from .records import StoreError
from .schema import SESSIONS, USERS

__all__ = ["Account", "LoginError", "LoginResult", "User", "add_user", "attempt_login",
           "has_users", "list_accounts", "list_users", "login", "logout", "remove_user",
           "reset_password", "revoke_sessions", "roles", "rules", "session_alive",
           "session_user", "set_disabled", "unlock"]


@dataclass(frozen=True)
class Account:
    """An account with its state, for ``posture users list``."""

    user: User
    disabled: bool
    locked_until: datetime | None  # aware (UTC) while locked, else None



def has_users(store: Store) -> bool:
    """Whether any account exists (then the Clinic page asks everyone to log in)."""
    with store._read() as conn:
        return conn.execute(sa.select(USERS.c.id).limit(1)).first() is not None


def list_users(store: Store) -> list[User]:
    with store._read() as conn:
        rows = conn.execute(sa.select(USERS).order_by(USERS.c.name)).all()
    return [User(int(r.id), r.name, r.role) for r in rows]


def list_accounts(store: Store) -> list[Account]:
    """Every account with whether it is disabled and until when it is locked."""
    now = logins.utc_now()
    with store._read() as conn:
        rows = conn.execute(sa.select(USERS).order_by(USERS.c.name)).all()
    out = []
    for r in rows:
        until = from_db_time(r.locked_until) if r.locked_until else None
        out.append(Account(User(int(r.id), r.name, r.role), bool(r.disabled),
                           until if until and until > now else None))
    return out


def add_user(store: Store, name: str, password: str, *, role: str = "clinician",
             actor: str | None = None) -> User:
    """Create an account. Raises ``invalid_user``, ``weak_password``,
    ``password_too_long`` or ``duplicate_user`` (also for a name that differs from an
    existing one only in case or Unicode form)."""
    if not valid_name(name):
        raise StoreError("user names are 2–64 letters, digits or . _ @ -, starting with a "
                         "letter or digit", code="invalid_user")
    if role not in roles():
        raise StoreError(f"role must be one of {', '.join(roles())}", code="invalid_user")
    name = display_name(name)
    check_new_password(name, password)
    row = dict(name=name, name_key=name_key(name), role=role,
               password_hash=hash_password(password), created_at=logins.utc_now(), failed_logins=0,
               locked_until=None, disabled=False)
    try:
        with store._write() as conn:
            uid = conn.execute(sa.insert(USERS).values(**row)).inserted_primary_key[0]
            store._audit(conn, actor, "user_add", detail=f"{name} ({role})")
    except sa.exc.IntegrityError as exc:
        raise StoreError(f"a user named {name!r} already exists (names are compared "
                         "ignoring case)", code="duplicate_user") from exc
    return User(int(uid), name, role)



# -- administration (posture users unlock | disable | enable | reset-password | remove) -----

def _find(conn: sa.Connection, name: str):
    """The account named ``name``: exactly, else by its folded name (``user_not_found``)."""
    if isinstance(name, str):
        for cond in (USERS.c.name == name, USERS.c.name_key == name_key(name)):
            row = conn.execute(sa.select(USERS).where(cond).with_for_update()).first()
            if row is not None:
                return row
    raise StoreError(f"no user named {name!r}", code="user_not_found")


def _end_sessions(store: Store, conn: sa.Connection, row, actor: str | None) -> int:
    n = conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.user_id == row.id)).rowcount
    if n:
        store._audit(conn, actor, "sessions_revoked", detail=f"{row.name}: {n} session(s)")
    return int(n)


def revoke_sessions(store: Store, name: str, *, actor: str | None = None) -> int:
    """End every session of an account (every browser and tab it is logged in on); returns
    how many ended. Audited as ``sessions_revoked`` when there were any."""
    with store._write() as conn:
        return _end_sessions(store, conn, _find(conn, name), actor)


def unlock(store: Store, name: str, *, actor: str | None = None) -> User:
    """Lift a lock-out and forget the failed logins (audited ``user_unlock``)."""
    with store._write() as conn:
        row = _find(conn, name)
        conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(
            failed_logins=0, locked_until=None, last_failed_at=None))
        store._audit(conn, actor, "user_unlock", detail=row.name)
    return User(int(row.id), row.name, row.role)


def set_disabled(store: Store, name: str, disabled: bool, *,
                 actor: str | None = None) -> User:
    """Disable an account (it cannot log in; its sessions end) or enable it again (audited
    ``user_disable`` / ``user_enable``). A disabled account answers a login exactly like
    an unknown name."""
    with store._write() as conn:
        row = _find(conn, name)
        if not disabled and "#" in (row.name_key or ""):
            # disabled by the schema-4 upgrade: its name folds to an older account's
            raise StoreError(f"{row.name!r} is the same name as another account when case "
                             "is ignored; remove one of the two", code="duplicate_user")
        conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(
            disabled=bool(disabled)))
        store._audit(conn, actor, "user_disable" if disabled else "user_enable",
                     detail=row.name)
        if disabled:
            _end_sessions(store, conn, row, actor)
    return User(int(row.id), row.name, row.role)


def reset_password(store: Store, name: str, password: str, *,
                   actor: str | None = None) -> User:
    """Give an account a new password; ends its sessions and lifts any lock-out (audited
    ``user_password``). The same password rules as :func:`add_user`."""
    with store._write() as conn:
        row = _find(conn, name)
        check_new_password(row.name, password)
        conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(
            password_hash=hash_password(password), failed_logins=0, locked_until=None,
            last_failed_at=None))
        store._audit(conn, actor, "user_password", detail=row.name)
        _end_sessions(store, conn, row, actor)
    return User(int(row.id), row.name, row.role)


def remove_user(store: Store, name: str, *, actor: str | None = None) -> None:
    """Delete an account and its sessions (audited ``user_remove``; the audit trail keeps
    the name in the rows it already has)."""
    with store._write() as conn:
        row = _find(conn, name)
        _end_sessions(store, conn, row, actor)
        conn.execute(sa.delete(USERS).where(USERS.c.id == row.id))
        store._audit(conn, actor, "user_remove", detail=f"{row.name} ({row.role})")
