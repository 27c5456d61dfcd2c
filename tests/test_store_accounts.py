"""Accounts under attack: simultaneous wrong logins, names that differ only in case, equal
work on every login path, the count-down to a lock-out (issue 23 items 2 and 11, issue 22
item 10). The same checks run on PostgreSQL in tests/test_store_postgres.py.

Password checks are counted by wrapping argon2's ``PasswordHasher`` (``verify`` and
``hash``: each is one argon2 computation), so the counts hold whatever the store calls.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from posture.store import StoreError, accounts, logins, open_store, passwords

PASSWORD = "correct horse battery"
WRONG = "wrong password!"


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "clinic.db") as s:
        yield s


@pytest.fixture
def fast_argon(monkeypatch):
    """argon2id at its cheapest (the default costs 0.1-1 s a hash on a loaded machine): for
    the tests that count, not race. The parallel-login tests keep the real cost, which is
    the window the race needs."""
    from argon2 import PasswordHasher

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = getattr(passwords, "dummy_hash", None)
    if dummy is not None:
        dummy.cache_clear()
    monkeypatch.setattr(passwords, "hasher", lambda: fast)
    yield
    if dummy is not None:
        dummy.cache_clear()


class ArgonCounter:
    """Counts argon2 computations; ``real`` are verifications against ``real_hash``.

    ``passwords.hasher`` is replaced by a proxy (argon2's ``PasswordHasher`` has slots)."""

    def __init__(self, monkeypatch, real_hash: str):
        self.real_hash, self.calls, self.real = real_hash, 0, 0
        self._lock = threading.Lock()
        inner = passwords.hasher()
        if hasattr(passwords, "dummy_hash"):
            passwords.dummy_hash()  # made once, before counting
        counter = self

        class Proxy:
            def verify(self, stored, password):
                with counter._lock:
                    counter.calls += 1
                    counter.real += stored == counter.real_hash
                return inner.verify(stored, password)

            def hash(self, password, *a, **k):
                with counter._lock:
                    counter.calls += 1
                return inner.hash(password, *a, **k)

            def __getattr__(self, name):
                return getattr(inner, name)

        proxy = Proxy()
        monkeypatch.setattr(passwords, "hasher", lambda: proxy)


def _password_hash(s, name: str) -> str:
    import sqlalchemy as sa

    with s._read() as conn:
        return conn.execute(sa.select(accounts.USERS.c.password_hash)
                            .where(accounts.USERS.c.name == name)).scalar()


def check_parallel_wrong_logins_lock(s, monkeypatch, n_threads: int = 12) -> None:
    """``n_threads`` wrong logins released at once: at most ``max_failed_logins`` passwords
    are checked, the account ends locked, and the right password is then refused."""
    accounts.add_user(s, "dr_race", PASSWORD)
    count = ArgonCounter(monkeypatch, _password_hash(s, "dr_race"))
    start = threading.Barrier(n_threads)
    codes: list[str] = []
    errors: list[BaseException] = []

    def attempt():
        start.wait()
        try:
            accounts.login(s, "dr_race", WRONG)
        except StoreError as err:
            codes.append(err.code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    top = accounts.rules()["max_failed_logins"]
    assert len(codes) == n_threads
    assert count.real <= top, f"{count.real} passwords checked for {n_threads} attempts"
    assert codes.count("login_failed") == top - 1
    assert codes.count("account_locked") == n_threads - (top - 1)
    assert count.calls == n_threads  # equal work: a refused attempt still costs one argon2
    with pytest.raises(StoreError) as e:
        accounts.login(s, "dr_race", PASSWORD)
    assert e.value.code == "account_locked"
    assert count.real <= top  # the right password was not even checked


def test_parallel_wrong_logins_lock_the_account_sqlite(store, monkeypatch):
    check_parallel_wrong_logins_lock(store, monkeypatch, 16)


def check_equal_work_on_every_path(s, monkeypatch) -> None:
    """Unknown name, disabled account, locked account, wrong and right password: each
    attempt is exactly one argon2 computation (no user-name oracle in the answer time)."""
    accounts.add_user(s, "dr_work", PASSWORD)
    accounts.add_user(s, "dr_off", PASSWORD)
    accounts.set_disabled(s, "dr_off", True)
    count = ArgonCounter(monkeypatch, _password_hash(s, "dr_work"))

    def one(name, password, code):
        before = count.calls
        res = accounts.attempt_login(s, name, password)
        assert res.code == code, (name, res)
        assert count.calls - before == 1, f"{name}: {count.calls - before} argon2 runs"
        return res

    one("nobody_here", PASSWORD, "login_failed")
    one("dr_off", PASSWORD, "login_failed")  # disabled: answers like an unknown name
    one("dr_work", WRONG, "login_failed")
    one("dr_work", PASSWORD, None)
    top = accounts.rules()["max_failed_logins"]
    for i in range(top):
        one("dr_work", WRONG, "account_locked" if i == top - 1 else "login_failed")
    one("dr_work", PASSWORD, "account_locked")
    one("dr_work", WRONG, "account_locked")


def test_equal_work_on_every_login_path(fast_argon, store, monkeypatch):
    check_equal_work_on_every_path(store, monkeypatch)


def check_names_fold_to_one_account(s) -> None:
    accounts.add_user(s, "Lee", PASSWORD)
    for twin in ("LEE", "lee", "Ｌｅｅ", "lEe"):
        with pytest.raises(StoreError) as e:
            accounts.add_user(s, twin, PASSWORD)
        assert e.value.code == "duplicate_user", twin
    assert [u.name for u in accounts.list_users(s)] == ["Lee"]
    for typed in ("lee", "LEE", "Ｌｅｅ"):
        token = accounts.login(s, typed, PASSWORD)
        assert accounts.session_user(s, token).name == "Lee"


def test_names_differing_in_case_are_one_account(fast_argon, store):
    check_names_fold_to_one_account(store)


@pytest.mark.parametrize("bad", ["lee\n", "lee\r\n", "\nlee", "le e", "l", "x" * 65, "-lee",
                                 "lee\u200b", None, 42])
def test_bad_user_names_are_refused(fast_argon, store, bad):
    with pytest.raises(StoreError) as e:
        accounts.add_user(store, bad, PASSWORD)
    assert e.value.code == "invalid_user"
    assert not accounts.has_users(store)


def check_attempts_left_and_lock_time(s, monkeypatch, name: str, exists: bool) -> None:
    """Each failure says how many remain; the lock's end is an aware datetime. An unknown
    name counts down and locks exactly like a real one."""
    if exists:
        accounts.add_user(s, name, PASSWORD)
    top = accounts.rules()["max_failed_logins"]
    minutes = accounts.rules()["lockout_minutes"]
    lefts = []
    for _ in range(top - 1):
        res = accounts.attempt_login(s, name, WRONG)
        assert not res.ok and res.code == "login_failed" and res.locked_until is None
        lefts.append(res.attempts_left)
    assert lefts == list(range(top - 1, 0, -1))
    with pytest.raises(accounts.LoginError) as e:  # the app's path: login() raises
        accounts.login(s, name, WRONG)
    before = datetime.now(UTC)
    assert e.value.code == "account_locked" and e.value.attempts_left == 0
    until = e.value.locked_until
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    assert timedelta(minutes=minutes - 1) < until - before <= timedelta(minutes=minutes)
    assert until.astimezone().hour is not None  # the app shows it in local time
    res = accounts.attempt_login(s, name, PASSWORD)
    assert res.code == "account_locked" and res.locked_until == until


def test_login_counts_down_then_locks_with_an_aware_time(fast_argon, store, monkeypatch):
    check_attempts_left_and_lock_time(store, monkeypatch, "dr_count", exists=True)


def test_unknown_name_counts_down_like_a_real_one(fast_argon, store, monkeypatch):
    check_attempts_left_and_lock_time(store, monkeypatch, "no_such_person", exists=False)


def test_login_message_warns_before_the_last_attempt(fast_argon, store):
    accounts.add_user(store, "dr_warn", PASSWORD)
    msgs = []
    for _ in range(accounts.rules()["max_failed_logins"] - 1):
        with pytest.raises(StoreError) as e:
            accounts.login(store, "dr_warn", WRONG)
        msgs.append(e.value.message)
    assert "lock" not in msgs[0]
    assert "1 more failed attempt will lock the account for 15 minutes" in msgs[-1]


def test_success_resets_the_count(fast_argon, store):
    accounts.add_user(store, "dr_reset", PASSWORD)
    for _ in range(3):
        accounts.attempt_login(store, "dr_reset", WRONG)
    res = accounts.attempt_login(store, "dr_reset", PASSWORD)
    assert res.ok and res.attempts_left == accounts.rules()["max_failed_logins"]
    assert accounts.attempt_login(store, "dr_reset", WRONG).attempts_left == 4


def test_old_failures_are_forgotten(fast_argon, store, monkeypatch):
    accounts.add_user(store, "dr_old", PASSWORD)
    for _ in range(4):
        accounts.attempt_login(store, "dr_old", WRONG)
    later = logins.utc_now() + timedelta(hours=accounts.rules()["failure_memory_hours"] + 1)
    monkeypatch.setattr(logins, "utc_now", lambda: later)
    assert accounts.attempt_login(store, "dr_old", WRONG).attempts_left == 4


def test_store_refuses_a_password_the_login_form_cannot_take(fast_argon, store):
    top = accounts.rules()["max_password_length"]
    assert top == 256  # posture_app/clinic_auth.py: max_chars=256 on the password box
    with pytest.raises(StoreError) as e:
        accounts.add_user(store, "dr_long", "x" * (top + 1))
    assert e.value.code == "password_too_long"
    accounts.add_user(store, "dr_long", "y" * top)
    assert accounts.login(store, "dr_long", "y" * top)


def check_admin_actions(s) -> None:
    """unlock, disable/enable, reset-password, revoke-sessions, remove: each audited."""
    accounts.add_user(s, "dr_adm", PASSWORD)
    t1, t2 = accounts.login(s, "dr_adm", PASSWORD), accounts.login(s, "DR_ADM", PASSWORD)
    assert accounts.revoke_sessions(s, "dr_adm", actor="boss") == 2  # every tab logged out
    assert accounts.session_user(s, t1) is None and accounts.session_user(s, t2) is None
    for _ in range(accounts.rules()["max_failed_logins"]):
        accounts.attempt_login(s, "dr_adm", WRONG)
    assert accounts.attempt_login(s, "dr_adm", PASSWORD).code == "account_locked"
    accounts.unlock(s, "dr_adm", actor="boss")
    token = accounts.login(s, "dr_adm", PASSWORD)
    accounts.set_disabled(s, "dr_adm", True, actor="boss")
    assert accounts.session_user(s, token) is None
    assert accounts.attempt_login(s, "dr_adm", PASSWORD).code == "login_failed"
    accounts.set_disabled(s, "dr_adm", False, actor="boss")
    token = accounts.login(s, "dr_adm", PASSWORD)
    accounts.reset_password(s, "dr_adm", "a brand new passphrase", actor="boss")
    assert accounts.session_user(s, token) is None
    assert accounts.attempt_login(s, "dr_adm", PASSWORD).code == "login_failed"
    accounts.login(s, "dr_adm", "a brand new passphrase")
    accounts.remove_user(s, "dr_adm", actor="boss")
    assert accounts.list_users(s) == []
    with pytest.raises(StoreError) as e:
        accounts.unlock(s, "dr_adm")
    assert e.value.code == "user_not_found"
    mine = [(e["action"], e["detail"]) for e in s.audit_trail() if e["actor"] == "boss"]
    assert mine == [
        ("sessions_revoked", "dr_adm: 2 session(s)"), ("user_unlock", "dr_adm"),
        ("user_disable", "dr_adm"), ("sessions_revoked", "dr_adm: 1 session(s)"),
        ("user_enable", "dr_adm"), ("user_password", "dr_adm"),
        ("sessions_revoked", "dr_adm: 1 session(s)"),
        ("sessions_revoked", "dr_adm: 1 session(s)"), ("user_remove", "dr_adm (clinician)"),
    ]


def test_admin_actions_are_audited(fast_argon, store):
    check_admin_actions(store)
