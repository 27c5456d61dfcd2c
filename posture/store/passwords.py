"""Clinic account passwords: the rules of ``posture/data/accounts.yaml``, argon2id hashing
and the one place a password is checked."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from ..config import read_data_file
from ..schemas import AccountsFile
from .names import name_key
from .records import StoreError


@cache
def rules() -> dict[str, Any]:
    """The account rules of ``posture/data/accounts.yaml``, validated
    (:class:`posture.schemas.AccountsFile`)."""
    return read_data_file("accounts.yaml", AccountsFile).model_dump()


def roles() -> tuple[str, ...]:
    return tuple(rules()["roles"])


@cache
def hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" profile


@cache
def dummy_hash() -> str:
    # what an attempt that must fail is checked against: the same parameters as a real hash,
    # so it takes as long, and no password can match it
    return hasher().hash(secrets.token_urlsafe(32))


def verify(stored_hash: str, password: str) -> bool:
    """One argon2 verification (the only place a password is checked)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(hasher().verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(name: str, password: object) -> str:
    """``password`` when it may be a new password of account ``name``, else
    ``weak_password`` or ``password_too_long``."""
    r = rules()
    n, top = r["min_password_length"], r["max_password_length"]
    if not isinstance(password, str) or len(password) < n:
        raise StoreError(f"the password must have at least {n} characters",
                         code="weak_password")
    if len(password) > top:
        # the login form takes at most this many: a longer password could never log in
        raise StoreError(f"the password must have at most {top} characters (the login "
                         "form's limit)", code="password_too_long")
    if password.strip() != password or name_key(password) == name_key(name):
        raise StoreError("the password must not be the user name or start or end with "
                         "spaces", code="weak_password")
    return password



def hash_password(password: str) -> str:
    """The argon2id hash stored for ``password``."""
    return hasher().hash(password)
