"""The Clinic page with accounts: nothing of a patient before login; roles; lock-out with
a warning; an ended session (timed out, or logged out in another tab) takes the records
off the screen by itself; the admin's audit CSV is made on click and audited.

The app runs on a database with a few users; the photo page stays open to everyone.
Every wait is on a condition (``settle``: no script run for 400 ms), never a fixed pause.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from posture.store import accounts, open_store

from .harness import ARTIFACTS, open_page, running_app, shot
from .test_clinic import open_clinic, settle

pytestmark = pytest.mark.browser
PW = "a long passphrase"
SECRET = ("SECRET-7", "Jane Secretperson")


@pytest.fixture(scope="module")
def app(playwright, tmp_path_factory):
    db = tmp_path_factory.mktemp("clinic-login") / "clinic.db"
    with open_store(db) as s:
        accounts.add_user(s, "dr_lee", PW, role="clinician")
        accounts.add_user(s, "boss", PW, role="admin")
        accounts.add_user(s, "locky", PW, role="clinician")
        accounts.add_user(s, "dr_two", PW, role="clinician")
        accounts.add_user(s, "dr_idle", PW, role="clinician")
        s.add_patient(SECRET[0], name=SECRET[1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTURE_DB", str(db))
        with running_app(ARTIFACTS / "streamlit-clinic-login.log") as url:
            yield url, db


@pytest.fixture
def lpage(launch, app):
    ctx = launch().new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def log_in(page, name: str, password: str) -> None:
    settle(page)  # one attempt per run: no typing into a form that is being redrawn
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    settle(page)


def test_nothing_of_a_patient_before_login_then_roles(lpage, app):
    url, db = app
    open_clinic(lpage, url)
    lpage.get_by_role("button", name="Log in").wait_for()
    settle(lpage)
    html = lpage.content()
    assert SECRET[0] not in html and SECRET[1] not in html
    shot(lpage, "clinic_login")
    log_in(lpage, "dr_lee", "wrong password!")
    lpage.get_by_text("login_failed").wait_for()
    assert SECRET[0] not in lpage.content()
    log_in(lpage, "dr_lee", PW)
    lpage.get_by_test_id("stMain").locator("h3").filter(has_text=SECRET[0]).wait_for()
    assert "Audit trail" not in main_text(lpage)  # a clinician does not read the trail
    lpage.get_by_role("button", name="Log out").click()
    lpage.get_by_role("button", name="Log in").wait_for()
    settle(lpage)
    assert SECRET[0] not in lpage.content()
    log_in(lpage, "boss", PW)
    lpage.get_by_text("Audit trail (admin)").wait_for()
    with open_store(db) as s:
        trail = [(e["actor"], e["action"]) for e in s.audit_trail()]
    assert ("dr_lee", "login_failed") in trail and ("dr_lee", "view") in trail
    assert ("dr_lee", "logout") in trail and ("boss", "login") in trail


def test_repeated_failures_warn_then_lock_the_account(lpage, app):
    url, _ = app
    open_clinic(lpage, url)
    r = accounts.rules()
    n = r["max_failed_logins"]
    for i in range(1, n):
        log_in(lpage, "locky", f"wrong password {i}")
        lpage.get_by_text("login_failed").first.wait_for()
        msg = main_text(lpage)
        left = n - i
        if left == 1:  # the warning before the last attempt
            assert "1 attempt left" in msg, msg
    log_in(lpage, "locky", f"wrong password {n}")
    lpage.get_by_text("account_locked").first.wait_for()
    msg = main_text(lpage)
    assert "UTC" not in msg, msg  # the browser's own time zone (Chromium: the machine's)
    assert re.search(r"locked for \d+ more minutes \(until \d\d:\d\d\)", msg), msg
    log_in(lpage, "locky", PW)  # the right password no longer opens it
    lpage.get_by_text("account_locked").first.wait_for()
    assert SECRET[0] not in lpage.content()


def test_photo_page_stays_open_without_login(lpage, app):
    url, _ = app
    open_page(lpage, url, "Photo check")  # waits for the page's own heading
    settle(lpage)
    assert lpage.get_by_role("button", name="Log in").count() == 0
    assert "Log in to see" not in main_text(lpage)


def _expire(db: Path, name: str) -> None:
    from posture.store.schema import TABLES as _T

    users, sessions = _T["users"], _T["sessions"]
    with open_store(db) as s, s.engine.begin() as conn:
        uid = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar_one()
        conn.execute(sa.update(sessions).where(sessions.c.user_id == uid).values(
            expires_at=datetime.now(UTC) - timedelta(minutes=1)))


def test_an_ended_session_takes_the_records_off_the_screen(lpage, app):
    """No click needed: the page notices the session ended (here: timed out) and shows
    the login form instead of the patient."""
    url, db = app
    open_clinic(lpage, url)
    log_in(lpage, "dr_idle", PW)
    lpage.get_by_test_id("stMain").locator("h3").filter(has_text=SECRET[0]).wait_for()
    _expire(db, "dr_idle")
    lpage.get_by_role("button", name="Log in").wait_for(timeout=90_000)
    lpage.get_by_text("Your session has ended").wait_for()
    settle(lpage)
    assert SECRET[0] not in lpage.content() and SECRET[1] not in lpage.content()


def test_logging_out_in_one_tab_logs_out_the_other(launch, app):
    url, db = app
    ctx = launch().new_context(viewport={"width": 1400, "height": 1000})
    try:
        tabs = [ctx.new_page(), ctx.new_page()]
        for t in tabs:
            t.set_default_timeout(60_000)
            open_clinic(t, url)
            log_in(t, "dr_two", PW)
            t.get_by_test_id("stMain").locator("h3").filter(has_text=SECRET[0]).wait_for()
        tabs[0].get_by_role("button", name="Log out").click()
        tabs[0].get_by_role("button", name="Log in").wait_for()
        # the other tab, untouched, drops the records by itself
        tabs[1].get_by_role("button", name="Log in").wait_for(timeout=90_000)
        settle(tabs[1])
        assert SECRET[0] not in tabs[1].content()
    finally:
        ctx.close()
    with open_store(db) as s:
        trail = [(e["actor"], e["action"]) for e in s.audit_trail()]
    assert ("dr_two", "logout") in trail and ("dr_two", "sessions_revoked") in trail


def test_admin_audit_csv_is_made_on_click_and_audited(lpage, app):
    url, db = app
    open_clinic(lpage, url)
    log_in(lpage, "boss", PW)
    lpage.get_by_text("Audit trail (admin)").click()
    button = lpage.get_by_role("button", name="Audit trail (CSV)")
    button.wait_for()
    settle(lpage)
    with open_store(db) as s:
        before = {e["id"] for e in s.audit_trail()}
    with lpage.expect_download() as dl:
        button.click()
    body = Path(dl.value.path()).read_text()
    assert body.startswith("id,at,actor,action")
    with open_store(db) as s:
        new = [e for e in s.audit_trail() if e["id"] not in before]
    assert [(e["actor"], e["action"], e["detail"]) for e in new] == [
        ("boss", "export", "audit trail CSV")], new
    # the file holds the trail up to, not including, its own row
    assert f"\n{max(before)}," in body and f"\n{new[0]['id']}," not in body
