"""Safe by default: the Clinic page on a non-loopback address without accounts refuses to
open; the shipped Streamlit config binds localhost (Streamlit's AppTest, no browser)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from posture.store import accounts, open_store
from posture_app.clinic_auth import loopback_only

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "4_Clinic.py")


def test_shipped_config_binds_localhost():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert loopback_only(cfg["server"]["address"])


@pytest.mark.parametrize(("address", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("::1", True), ("127.8.9.1", True),
    (None, False), ("", False), ("0.0.0.0", False), ("192.168.1.20", False), ("::", False),
    ("clinic.example.org", False)])
def test_loopback_addresses(address, loopback):
    assert loopback_only(address) is loopback


def _run(tmp_path, monkeypatch, address):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("POSTURE_DB", str(tmp_path / "clinic.db"))
    with open_store(tmp_path / "clinic.db") as s:
        s.add_patient("HIDDEN-1", name="Hidden Person")
    at = AppTest.from_file(PAGE, default_timeout=60)
    from streamlit import config

    old = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        at.run()
    finally:
        config.set_option("server.address", old)
    return at


def _text(at) -> str:
    parts = [e.value for e in (*at.markdown, *at.error, *at.caption, *at.info)]
    return "\n".join(str(p) for p in parts)


def test_open_network_without_accounts_refuses_and_says_how(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch, "0.0.0.0")
    text = _text(at)
    assert "posture users add" in text and "HIDDEN-1" not in text
    assert not at.selectbox and not at.tabs


def test_loopback_without_accounts_opens(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch, "127.0.0.1")
    assert "HIDDEN-1" in _text(at) + str([s.options for s in at.selectbox])


def test_with_an_account_nothing_shows_before_login(tmp_path, monkeypatch):
    with open_store(tmp_path / "clinic.db") as s:
        accounts.add_user(s, "dr_lee", "a long passphrase")
    at = _run(tmp_path, monkeypatch, "127.0.0.1")
    assert "HIDDEN" not in _text(at) and not at.selectbox
    assert [b.label for b in at.button] == ["Log in"]


def test_read_only_database_shows_a_coded_message_not_a_traceback(tmp_path, monkeypatch):
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "clinic.db"
    with open_store(db) as s:
        s.add_patient("RO-APP")
    monkeypatch.setenv("POSTURE_DB", f"sqlite:///file:{db}?mode=ro&uri=true")
    at = AppTest.from_file(PAGE, default_timeout=60)
    old = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    try:
        at.run()
    finally:
        config.set_option("server.address", old)
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    # the view cannot be audited, so it is not shown
    assert "database_read_only" in errors and "nothing was saved" in errors
    assert not at.tabs
