"""The Clinic page in headless Chromium: no record can land in the wrong patient.

Each test here reproduces one finding of issue 14 (numbers in the test names) on a fresh
database that the test fills through the store API where the browser part is not the
point. The app runs without accounts on 127.0.0.1 (the local, single-user mode).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from posture.store import open_store

from .harness import ARTIFACTS, SAMPLES, open_page, running_app, settle, shot

pytestmark = pytest.mark.browser

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
SAVE = re.compile(r"^Save")


def make_result(tilt: float = 12.0) -> dict:
    """A minimal analysis contract dict (the keys the store and the page read)."""
    iv = [tilt - 4.0, tilt + 4.0]
    return {
        "schema_version": 1, "ok": True, "facing": "left", "pelvic_tilt_deg": tilt,
        "pelvic_tilt_interval_deg": iv, "interval_coverage": 0.9, "severity": "mild",
        "severity_label": "Mild anterior tilt", "abstained": False, "abstain_reasons": [],
        "measurements": [{"name": "pelvic_tilt", "value": tilt, "unit": "deg",
                          "interval": iv, "coverage": 0.9}],
        "model": {"pose_variant": "full", "estimator_version": "test"},
        "landmarks_px": [[100.0 + i, 200.0 + i, 0.9] for i in range(33)],
    }


@pytest.fixture(scope="module")
def clinic(playwright, tmp_path_factory):
    """(app URL, database path): the app on a database of its own."""
    db = tmp_path_factory.mktemp("clinic") / "clinic.db"
    open_store(db).close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTURE_DB", str(db))
        with running_app(ARTIFACTS / "streamlit-clinic.log") as url:
            yield url, db


@pytest.fixture
def cpage(launch, clinic):
    ctx = launch().new_context(viewport={"width": 1400, "height": 1100})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    found = sorted(SAMPLES.glob("*.jpg"))
    if len(found) < 2:
        pytest.skip("two samples/*.jpg are needed")
    return found[:2]


def seed(db: Path, pseudonym: str, n: int = 0, name: str | None = None):
    with open_store(db) as s:
        p = s.add_patient(pseudonym, name=name)
        recs = [s.save_assessment(p.id, make_result(10.0 + i)) for i in range(n)]
    return p, recs


def n_records(db: Path, pid: int) -> int:
    with open_store(db) as s:
        return len(s.list_assessments(pid))


def patient_box(page):
    return page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text("Patient", exact=True))


def choose_patient(page, text: str) -> None:
    for attempt in range(3):
        settle(page)  # a rerun that ends meanwhile would close the list again
        patient_box(page).click()
        option = page.get_by_role("option").filter(has_text=text).first
        try:
            option.wait_for(timeout=15_000)
        except Exception:  # the list closed under a late redraw: open it again
            page.keyboard.press("Escape")
            if attempt == 2:
                raise
            continue
        option.click()
        break
    header_shows(page, text)


def header_shows(page, text: str, timeout: float = 30_000) -> None:
    page.get_by_test_id("stMain").locator("h3").filter(has_text=text).first.wait_for(
        timeout=timeout)


def main_shows(page, text: str, timeout: float = 30_000) -> None:
    page.get_by_test_id("stMain").get_by_text(text).first.wait_for(timeout=timeout)


def open_clinic(page, url: str | None, pseudonym: str | None = None) -> None:
    """Open the Clinic page from the sidebar, as a user does; the home page's first run
    is over before the click (a click during it could be lost under load)."""
    if url is not None:
        page.goto(url)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Clinic").wait_for()
        settle(page)
    open_page(page, None, "Clinic")
    if pseudonym:
        choose_patient(page, pseudonym)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=re.compile(name)).click()


def upload(page, photo: Path) -> None:
    """Upload ``photo`` and wait until its analysis and its own save form are shown."""
    tab(page, "New assessment")
    page.locator(UPLOAD).first.set_input_files(str(photo))
    page.get_by_test_id("stFileChipName").filter(has_text=photo.name).wait_for()
    # this photo's own form (a saved one's button reads "Saved as #N" and is disabled)
    page.get_by_role("button", name="Save assessment", exact=True).first.wait_for(
        timeout=120_000)
    settle(page, timeout=120_000)


def notes_box(page):
    return page.get_by_test_id("stTextArea").filter(has_text="Notes").locator("textarea")


def consent_box(page):
    return page.get_by_test_id("stCheckbox").filter(has_text="consented")


def saved_id(page) -> int:
    msg = page.get_by_text(re.compile(r"Saved as .*#\d+")).first
    msg.wait_for(timeout=60_000)
    return int(re.search(r"#(\d+)", msg.inner_text()).group(1))


def test_1_switching_patient_drops_the_new_assessment(cpage, clinic, photos):
    url, db = clinic
    a, _ = seed(db, "SW-001")
    b, _ = seed(db, "SW-002")
    open_clinic(cpage, url, "SW-001")
    upload(cpage, photos[0])
    notes_box(cpage).fill("knee surgery 2019")
    consent_box(cpage).click()
    choose_patient(cpage, "SW-002")
    tab(cpage, "New assessment")
    settle(cpage)
    main = cpage.get_by_test_id("stMain").inner_text()
    assert "knee surgery 2019" not in [t.input_value() for t in notes_box(cpage).all()]
    assert cpage.get_by_test_id("stFileChip").count() == 0, "PT-001's photo kept"
    assert "Save to SW-001" not in main
    # nothing was saved anywhere on the way
    assert n_records(db, a.id) == 0 and n_records(db, b.id) == 0


def test_2_created_patient_becomes_current_and_the_dialog_closes(cpage, clinic):
    url, db = clinic
    seed(db, "CR-1")
    open_clinic(cpage, url, "CR-1")
    cpage.get_by_role("button", name=re.compile("New patient")).click()
    cpage.get_by_label("Pseudonym (leave empty for a random one)").fill("CR-0")
    cpage.get_by_role("button", name="Create patient").click()
    header_shows(cpage, "CR-0", timeout=20_000)
    settle(cpage)
    assert not cpage.get_by_role("button", name="Create patient").is_visible()
    shot(cpage, "clinic_2_created")


def test_3_after_a_save_the_next_assessment_starts_empty(cpage, clinic, photos):
    url, db = clinic
    p, _ = seed(db, "NX-001")
    open_clinic(cpage, url, "NX-001")
    upload(cpage, photos[0])
    notes_box(cpage).fill("first visit")
    consent_box(cpage).click()
    cpage.get_by_text(re.compile(r"^yes \(")).first.click()  # "yes (… tight)"
    cpage.get_by_role("button", name=SAVE).first.click()
    first = saved_id(cpage)
    with open_store(db) as s:
        rec = s.get_assessment(first)
    assert rec.has_photo and rec.notes == "first visit" and rec.thomas_test == "yes"
    # the next photo: every field of the form is back at its default
    upload(cpage, photos[1])
    settle(cpage)
    assert notes_box(cpage).first.input_value() == ""
    assert not consent_box(cpage).locator("input").first.is_checked()
    thomas = cpage.get_by_test_id("stRadio").filter(has_text="Thomas")
    assert thomas.locator("input[type=radio]").first.is_checked()  # "not done"
    assert n_records(db, p.id) == 1


def test_4_save_cannot_be_pressed_twice(cpage, clinic, photos):
    url, db = clinic
    p, _ = seed(db, "DB-001")
    open_clinic(cpage, url, "DB-001")
    upload(cpage, photos[0])
    save = cpage.get_by_role("button", name=SAVE).first
    save.click()
    n = saved_id(cpage)
    settle(cpage)
    save = cpage.get_by_role("button", name=SAVE).first
    if save.count():
        save.click(force=True, timeout=5_000)
    settle(cpage)
    assert n_records(db, p.id) == 1
    assert cpage.get_by_text(f"Saved as #{n}").count() >= 1


def _delete_latest(page) -> None:
    settle(page)
    tab(page, "History")
    page.get_by_text("One assessment: photo, report, delete", exact=True).click()
    box = page.get_by_test_id("stCheckbox").filter(has_text="Delete this assessment")
    for _ in range(3):  # a click that lands while the expander opens can be lost
        box.click()
        settle(page)
        if box.locator("input").first.is_checked():
            break
    page.get_by_role("button", name="Delete permanently").click()


def test_5_delete_confirmation_is_disarmed_after_use(cpage, clinic):
    url, db = clinic
    p, recs = seed(db, "DL-001", n=3)
    open_clinic(cpage, url, "DL-001")
    _delete_latest(cpage)
    main_shows(cpage, "2 assessments")  # the header counts the rest
    settle(cpage)
    assert n_records(db, p.id) == 2
    shot(cpage, "clinic_5_after_delete")
    assert not cpage.get_by_role("button", name="Delete permanently").is_visible()
    box = cpage.get_by_test_id("stCheckbox").filter(has_text="Delete this assessment")
    assert not box.locator("input").first.is_checked()


def test_6_deleted_assessment_numbers_are_not_reused(cpage, clinic, photos):
    url, db = clinic
    p, recs = seed(db, "RU-001", n=2)
    open_clinic(cpage, url, "RU-001")
    _delete_latest(cpage)
    main_shows(cpage, "1 assessment")
    upload(cpage, photos[0])
    cpage.get_by_role("button", name=SAVE).first.click()
    assert saved_id(cpage) > recs[-1].id


def test_7_every_patient_has_a_label_of_its_own(cpage, clinic):
    url, db = clinic
    a, _ = seed(db, "LB", name="Q")
    b, _ = seed(db, "LB (Q)")
    open_clinic(cpage, url)
    patient_box(cpage).click()
    options = [o.inner_text().strip() for o in cpage.get_by_role("option").all()]
    mine = [o for o in options if "LB" in o]
    assert len(mine) == 2 and len(set(mine)) == 2, mine
    cpage.keyboard.press("Escape")
    # each one can be reached and shows its own pseudonym, the name apart
    for p in (a, b):
        patient_box(cpage).click()
        cpage.get_by_role("option").filter(has_text=f"#{p.id}").first.click()
        settle(cpage)
        heading = cpage.get_by_test_id("stMain").locator("h3").first
        assert heading.inner_text().strip() == p.pseudonym


def test_before_after_view_aligns_blends_and_offers_the_progress_pdf(cpage, clinic, photos):
    from datetime import UTC, datetime, timedelta

    from posture.analysis import Analyzer
    from posture.contract import assessment_to_dict
    from posture.images import load_image
    from posture.store import encode_jpeg

    url, db = clinic
    with open_store(db) as s, Analyzer() as an:
        p = s.add_patient("BA-001")
        for i, f in enumerate(photos):
            fr = load_image(f)
            s.save_assessment(p.id, assessment_to_dict(an.analyze(fr)),
                              taken_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=60 * i),
                              photo_jpeg=encode_jpeg(fr.rgb), photo_consent=True)
    open_clinic(cpage, url, "BA-001")
    tab(cpage, "Before")
    panel = cpage.get_by_role("tabpanel").filter(has_text="Blend")
    panel.get_by_test_id("stImage").nth(2).wait_for()
    panel.get_by_test_id("stDataFrame").wait_for()  # the comparison table has streamed in
    settle(cpage)
    assert panel.get_by_test_id("stImage").count() == 3  # before, after, blend
    # the blend starts half-way: it is neither picture (at 0 it repeated "before")
    assert "blend 0.50" in panel.inner_text()
    shots = [panel.get_by_test_id("stImage").nth(i).locator("img").screenshot()
             for i in range(3)]
    assert shots[2] not in shots[:2]
    assert re.search(r"\d+ days apart", panel.inner_text())
    slider = panel.get_by_test_id("stSlider").get_by_role("slider")
    slider.focus()
    for _ in range(10):
        cpage.keyboard.press("ArrowRight")
    panel.get_by_text("blend 1.00").first.wait_for()
    settle(cpage)
    assert panel.get_by_test_id("stImage").nth(2).locator("img").screenshot() != shots[2]
    with open_store(db) as s:
        before = {e["id"] for e in s.audit_trail()}
    with cpage.expect_download() as dl:
        panel.get_by_role("button", name="Progress report (PDF)").click()
    assert dl.value.suggested_filename.startswith("posture-progress-BA-001")
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF-")
    shot(cpage, "clinic_before_after")
    with open_store(db) as s:
        recs = s.list_assessments(p.id)
        new = [e for e in s.audit_trail() if e["id"] not in before]
    # exactly one new row, this click's, with the ids of the comparison
    assert [(e["action"], e["patient_id"], e["assessment_id"]) for e in new] == [
        ("export", p.id, recs[-1].id)], new
    assert new[0]["detail"] == f"progress PDF #{recs[0].id} to #{recs[-1].id}"


def test_whole_clinic_export_is_made_on_click_and_audited(cpage, clinic):
    url, db = clinic
    p, _ = seed(db, "EXP-001", n=1, name="Export Person")
    open_clinic(cpage, url, "EXP-001")
    tab(cpage, "Export")
    panel = cpage.get_by_role("tabpanel").filter(has_text="Whole clinic")
    buttons = panel.get_by_test_id("stDownloadButton")
    buttons.nth(3).wait_for()
    settle(cpage)
    with open_store(db) as s:
        before = {e["id"] for e in s.audit_trail()}
    with cpage.expect_download() as dl:
        buttons.nth(2).get_by_role("button").click()  # whole clinic, CSV
    body = Path(dl.value.path()).read_text()
    assert "EXP-001" in body and "Export Person" not in body  # names not ticked
    with open_store(db) as s:
        new = [e for e in s.audit_trail() if e["id"] not in before]
    assert [(e["actor"], e["action"], e["patient_id"], e["detail"]) for e in new] == [
        ("local", "export", None, "CSV (whole clinic)")], new


def test_without_accounts_a_proxied_request_sees_nothing(launch, clinic):
    """The app on 127.0.0.1 without accounts, reached through a reverse proxy (which adds
    X-Forwarded-For): the clinic records stay closed."""
    url, db = clinic
    seed(db, "PX-001", name="Proxied Person")
    ctx = launch().new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    try:
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        open_clinic(page, url)
        main_shows(page, "records stay closed")
        settle(page)
        html = page.content()
        assert "posture users add" in html and "PX-001" not in html
        assert "Proxied Person" not in html
        assert page.get_by_test_id("stSelectbox").count() == 0
    finally:
        ctx.close()


def test_click_places_a_landmark_on_the_photo_and_the_pelvis_inset(cpage, clinic, photos):
    from PIL import Image

    url, db = clinic
    p, _ = seed(db, "CL-001")
    open_clinic(cpage, url, "CL-001")
    upload(cpage, photos[0])
    w, h = Image.open(photos[0]).size
    frames = cpage.locator('iframe[title*="streamlit_image_coordinates"]')
    frames.nth(1).wait_for(timeout=120_000)  # the component loads its script first
    photo = frames.nth(0).content_frame.locator("img")
    box = photo.bounding_box()
    cpage.get_by_test_id("stRadio").filter(has_text="Point to place").get_by_text(
        "knee", exact=True).click()
    settle(cpage)
    photo.click(position={"x": 0.40 * box["width"], "y": 0.70 * box["height"]})
    main_shows(cpage, "corrected: knee")
    settle(cpage)
    # ASIS by hand, placed in the magnified inset
    cpage.get_by_test_id("stCheckbox").filter(has_text="Place ASIS and PSIS").click()
    settle(cpage)
    cpage.get_by_test_id("stRadio").filter(has_text="Point to place").get_by_text(
        "asis", exact=True).click()
    settle(cpage)
    inset = frames.nth(1).content_frame.locator("img")
    ib = inset.bounding_box()
    inset.click(position={"x": 0.3 * ib["width"], "y": 0.6 * ib["height"]})
    main_shows(cpage, "asis")
    settle(cpage)
    cpage.get_by_role("button", name=SAVE).first.click()
    rec_id = saved_id(cpage)
    with open_store(db) as s:
        rec = s.get_assessment(rec_id)
    kx, ky = rec.corrections["knee"]
    assert abs(kx - 0.40 * w) < 0.02 * w and abs(ky - 0.70 * h) < 0.02 * h
    assert {"knee", "asis", "psis"} <= set(rec.corrections)
    shot(cpage, "clinic_click_to_place")


def test_history_fits_a_phone_screen(launch, clinic):
    """At 390 px every history chart and the table stay inside the screen (a facet of
    fixed-width charts ran off the right edge)."""
    url, db = clinic
    with open_store(db) as s:
        p = s.add_patient("PH-001")
        for i in range(4):
            r = {**make_result(20.0 - 3 * i), "lumbar_lordosis_deg": 30.0 + i,
                 "head_neck_angle_deg": 50.0 + i, "trunk_lean_deg": 2.0 - i,
                 "knee_angle_deg": -3.0 + i}
            s.save_assessment(p.id, r, notes="x" * 40)
    ctx = launch().new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True)
    try:
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/Clinic")
        page.get_by_role("heading", name=re.compile("Clinic")).first.wait_for()
        choose_patient(page, "PH-001")
        charts = page.get_by_test_id("stMain").get_by_test_id("stVegaLiteChart")
        charts.nth(4).wait_for()  # the tilt chart and four secondary metrics
        page.get_by_test_id("stDataFrame").first.wait_for()
        settle(page)
        main = page.get_by_test_id("stMain")
        assert main.evaluate("m => m.scrollWidth <= m.clientWidth")
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (i, box)
        shot(page, "clinic_history_phone")
    finally:
        ctx.close()
