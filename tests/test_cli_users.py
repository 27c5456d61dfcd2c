"""``posture users`` and ``posture audit``: accounts from the command line, the trail out."""

from __future__ import annotations

import csv
import io

import pytest

from posture.cli import main
from posture.cli_users import read_password
from posture.store import accounts, open_store

PW = "a long passphrase"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "clinic.db"
    monkeypatch.setenv("POSTURE_DB", str(path))
    return path


def run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_add_reads_two_lines_and_the_user_can_log_in(db, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, ["users", "add", "dr_lee", "--role", "admin"],
                       f"{PW}\n{PW}\n")
    assert code == 0 and "dr_lee (admin)" in out
    with open_store(db) as s:
        assert [(u.name, u.role) for u in accounts.list_users(s)] == [("dr_lee", "admin")]
        assert accounts.session_user(s, accounts.login(s, "dr_lee", PW)).name == "dr_lee"
    code, out, _ = run(monkeypatch, capsys, ["users", "list"])
    assert out.split() == ["dr_lee", "admin", "active"]


@pytest.mark.parametrize(("stdin", "code_name"), [
    (f"{PW}\nsomething else\n", "password_mismatch"),
    ("short\nshort\n", "weak_password"),
    ("", "weak_password"),
])
def test_users_add_refuses_bad_passwords_and_stores_nothing(db, monkeypatch, capsys, stdin,
                                                           code_name):
    code, _, err = run(monkeypatch, capsys, ["users", "add", "nurse"], stdin)
    assert code == 7 and f"error [{code_name}]" in err and "Traceback" not in err
    with open_store(db) as s:
        assert not accounts.has_users(s)


def test_password_at_a_terminal_is_asked_twice_without_echo(monkeypatch):
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or PW)
    assert read_password(io.StringIO("ignored\n"), tty=True) == PW
    assert len(asked) == 2


def test_audit_export_lists_the_actions(db, monkeypatch, capsys, tmp_path):
    run(monkeypatch, capsys, ["users", "add", "boss", "--role", "admin"], f"{PW}\n{PW}\n")
    with open_store(db) as s:
        p = s.add_patient("AX-1", actor="boss")
        s.log("boss", "view", patient_id=p.id)
    out_file = tmp_path / "trail.csv"
    code, _, _ = run(monkeypatch, capsys, ["audit", "export", "--out", str(out_file)])
    assert code == 0
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("cli:" + rows[0]["actor"].split(":", 1)[1], "user_add"), ("boss", "create"),
        ("boss", "view")]
    # never replaced
    code, _, err = run(monkeypatch, capsys, ["audit", "export", "--out", str(out_file)])
    assert code != 0 and "output_exists" in err


def _me() -> str:
    import os
    import pwd

    return "cli:" + pwd.getpwuid(os.geteuid()).pw_name


def test_users_admin_commands_each_write_an_audit_row(db, monkeypatch, capsys):
    """Issue 22 item 10: unlock, disable, enable, reset-password, remove (and
    revoke-sessions), each audited with the CLI's actor."""
    assert run(monkeypatch, capsys, ["users", "add", "nurse"], f"{PW}\n{PW}\n")[0] == 0
    with open_store(db) as s:
        for _ in range(accounts.rules()["max_failed_logins"]):
            accounts.attempt_login(s, "nurse", "wrong password")
        token = None
    code, out, _ = run(monkeypatch, capsys, ["users", "list"])
    assert "locked until" in out
    steps = [(["users", "unlock", "NURSE"], "", "user_unlock"),
             # the login after the unlock opened a session: disabling ends it
             (["users", "disable", "nurse"], "", "user_disable sessions_revoked"),
             (["users", "enable", "nurse"], "", "user_enable"),
             (["users", "reset-password", "nurse"], "another passphrase\n" * 2,
              "user_password"),
             (["users", "revoke-sessions", "nurse"], "", "sessions_revoked"),
             (["users", "remove", "nurse"], "", "user_remove")]
    for argv, stdin, action in steps:
        if action == "sessions_revoked":
            with open_store(db) as s:
                token = accounts.login(s, "nurse", "another passphrase")
        with open_store(db) as s:
            before = len(s.audit_trail())
        code, out, err = run(monkeypatch, capsys, argv, stdin)
        assert code == 0, err
        with open_store(db) as s:
            new = s.audit_trail()[before:]
            assert [(e["actor"], e["action"]) for e in new] == [
                (_me(), a) for a in action.split()], argv
            if action == "user_unlock":
                assert accounts.attempt_login(s, "nurse", PW).ok
            if action.startswith("user_disable"):
                assert accounts.attempt_login(s, "nurse", PW).code == "login_failed"
            if action == "user_password":
                assert accounts.attempt_login(s, "nurse", "another passphrase").ok
            if action == "sessions_revoked":
                assert accounts.session_user(s, token) is None
    with open_store(db) as s:
        assert not accounts.has_users(s)
    code, _, err = run(monkeypatch, capsys, ["users", "unlock", "nurse"])
    assert code == 7 and "error [user_not_found]" in err


def test_users_refuses_a_password_longer_than_the_login_form(db, monkeypatch, capsys):
    """Issue 23 item 11: the form takes 256 characters; a longer password could never log
    in, so neither add nor reset-password accepts one."""
    long_pw = "p" * 257
    code, _, err = run(monkeypatch, capsys, ["users", "add", "nurse"], f"{long_pw}\n" * 2)
    assert code == 7 and "error [password_too_long]" in err and "256" in err
    with open_store(db) as s:
        assert not accounts.has_users(s)
    ok_pw = "q" * 256
    assert run(monkeypatch, capsys, ["users", "add", "nurse"], f"{ok_pw}\n" * 2)[0] == 0
    code, _, err = run(monkeypatch, capsys, ["users", "reset-password", "nurse"],
                       f"{long_pw}\n" * 2)
    assert code == 7 and "password_too_long" in err
    with open_store(db) as s:
        assert accounts.attempt_login(s, "nurse", ok_pw).ok


def test_users_add_refuses_a_case_twin(db, monkeypatch, capsys):
    assert run(monkeypatch, capsys, ["users", "add", "Lee"], f"{PW}\n{PW}\n")[0] == 0
    code, _, err = run(monkeypatch, capsys, ["users", "add", "LEE"], f"{PW}\n{PW}\n")
    assert code == 7 and "error [duplicate_user]" in err
