"""The Clinic page with accounts: nothing of a patient before login; roles; lock-out.

The app runs on a database with two users; the photo page stays open to everyone.
"""

from __future__ import annotations

import pytest

from posture.store import accounts, open_store

from .harness import ARTIFACTS, open_page, running_app, shot
from .test_clinic import settle

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
    open_page(lpage, url, "Clinic")
    lpage.get_by_role("button", name="Log in").wait_for()
    lpage.wait_for_timeout(1000)
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
    lpage.wait_for_timeout(1000)
    assert SECRET[0] not in lpage.content()
    log_in(lpage, "boss", PW)
    lpage.get_by_text("Audit trail (admin)").wait_for()
    with open_store(db) as s:
        trail = [(e["actor"], e["action"]) for e in s.audit_trail()]
    assert ("dr_lee", "login_failed") in trail and ("dr_lee", "view") in trail
    assert ("dr_lee", "logout") in trail and ("boss", "login") in trail


def test_repeated_failures_lock_the_account(lpage, app):
    url, _ = app
    open_page(lpage, url, "Clinic")
    n = accounts.rules()["max_failed_logins"]
    for i in range(n):
        log_in(lpage, "locky", f"wrong password {i}")
        lpage.get_by_text("login_failed" if i < n - 1 else "account_locked").first.wait_for()
    log_in(lpage, "locky", PW)  # the right password no longer opens it
    lpage.wait_for_timeout(1500)
    assert "account_locked" in main_text(lpage)
    assert SECRET[0] not in lpage.content()


def test_photo_page_stays_open_without_login(lpage, app):
    url, _ = app
    open_page(lpage, url, "Photo check")  # waits for the page's own heading
    lpage.wait_for_timeout(1500)
    assert lpage.get_by_role("button", name="Log in").count() == 0
    assert "Log in to see" not in main_text(lpage)
