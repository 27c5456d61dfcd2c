"""End-to-end tests of the app in headless Chromium (see conftest for the set-up).

(a) a side-view photo gives a pelvic tilt value and a severity band;
(b) a text file named .jpg gives a clear message with its code, and the app goes on working;
(c) the live check with Chromium's fake camera shows the overlay, and the hands-free capture
    gives results without a click;
plus: the plan page follows the photo (d), and the snapshot fallback of the live page works (e).
"""

from __future__ import annotations

import re
import time

import pytest

from .harness import (
    ARTIFACTS,
    ESTIMATOR,
    answer_red_flags,
    open_page,
    plumb_line_fraction,
    running_app,
    shot,
)

pytestmark = pytest.mark.browser

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
PHOTO_PANEL = ".st-key-result-panel-photo"
LIVE_PANEL = ".st-key-result-panel-live"
FINDING_HEAD = ".st-key-finding-head_neck_angle_deg"  # the panel's head-position card
BAND_LABELS = ("Posterior tilt", "Neutral", "Mild anterior tilt", "Moderate anterior tilt",
               "Severe anterior tilt")
#: Two close bands are named together (classify.band_phrase), e.g. "Mild to moderate ...".
BAND_PHRASE = re.compile(r"(Posterior tilt|Neutral|Mild|Moderate|Severe)"
                         r"( anterior tilt| to (neutral|mild|moderate|severe)( anterior tilt)?"
                         r"| or (neutral|mild anterior tilt|moderate anterior tilt))?")



def no_traceback(page) -> None:
    text = page.get_by_test_id("stMain").inner_text()
    assert "Traceback" not in text and "Exception" not in text, text[:2000]


def test_photo_upload_shows_tilt_and_severity(page, app_url, photo):
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, str(photo))
    panel = page.locator(PHOTO_PANEL)
    panel.wait_for(timeout=90_000)
    # the annotated picture and the other findings are there in every state
    panel.get_by_test_id("stImage").wait_for()
    panel.locator(FINDING_HEAD).wait_for()
    assert "Head position" in panel.inner_text()
    # the overlay has half the panel on a desktop (it was ~350 px of a 1,000 px panel), and
    # alternative text with the numbers (issue 22 items 13 and 15)
    img = panel.get_by_test_id("stImage").locator("img").first
    width = img.evaluate("el => el.getBoundingClientRect().width")
    whole = panel.evaluate("el => el.getBoundingClientRect().width")
    assert width >= 0.45 * whole, (width, whole)
    assert "plumb line" in img.get_attribute("alt")
    shot(page, "a_photo_results")
    no_traceback(page)
    if not ESTIMATOR.is_file():
        # the state the app must show without a fitted estimator: a notice, not an error
        assert "Pelvic tilt: not measured" in panel.inner_text()
        pytest.skip("posture/data/estimator.json is absent (estimator not trained yet), so "
                    "no pelvic tilt or severity can be shown")
    card = panel.locator(".st-key-verdict-photo")  # the answer first
    value = card.locator(".pv-value").inner_text()
    assert re.fullmatch(r"[+-]\d+\.\d°", value.strip()), value
    band = card.locator(".pv-band").inner_text().strip()
    assert band in BAND_LABELS or BAND_PHRASE.fullmatch(band), band
    chart = panel.locator("svg[aria-label^='Pelvic tilt severity bands']")
    assert chart.count() == 1
    assert value.strip() in chart.get_attribute("aria-label")  # the label has the value


def test_text_file_named_jpg_gives_clear_message_then_app_works(page, app_url, photo,
                                                                tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo, just some text\n" * 20)
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, str(fake))
    alert = page.get_by_test_id("stAlertContentError")
    alert.wait_for(timeout=60_000)
    message = alert.inner_text()
    assert "could not analyse this picture" in message
    assert "not_an_image" in message
    assert page.locator(PHOTO_PANEL).count() == 0
    no_traceback(page)
    shot(page, "b_bad_file")
    # the app keeps working: replace the file with a real photo
    page.set_input_files(UPLOAD, str(photo))
    page.locator(PHOTO_PANEL).wait_for(timeout=90_000)
    page.locator(PHOTO_PANEL).locator(FINDING_HEAD).wait_for()  # the panel streams in
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert "Head position" in page.locator(PHOTO_PANEL).inner_text()


def test_plan_page_follows_the_photo(page, app_url, photo):
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, str(photo))
    page.locator(PHOTO_PANEL).wait_for(timeout=90_000)
    open_page(page, None, "Exercise plan")  # same session: the plan of this photo
    main = page.get_by_test_id("stMain")
    if ESTIMATOR.is_file():
        # red flags first: no plan until the safety questions are answered
        page.get_by_text(re.compile("Answer the safety questions")).wait_for()
        assert page.locator(".st-key-plan-item-1").count() == 0
        answer_red_flags(page, "No")
    page.get_by_text("See a clinician before starting").wait_for()  # red flags, always
    if not ESTIMATOR.is_file():
        text = main.inner_text()
        assert "No exercise plan yet" in text and "no fitted tilt estimator" in text
        assert "How to retake" not in text  # not the photo's fault
        no_traceback(page)
        shot(page, "d_plan_without_estimator")
        return
    page.locator(".st-key-plan-item-1").wait_for()
    assert page.locator(".st-key-plan-item-1").get_by_test_id("stImage").count() == 1
    page.get_by_text(re.compile("^Yes: a thigh")).click()
    page.get_by_text(re.compile("Thomas self-check suggests tight hip flexors")).wait_for()
    assert page.get_by_role("button", name=re.compile("Printable plan")).count() == 1
    no_traceback(page)
    shot(page, "d_plan")


def test_live_check_with_fake_camera(camera_page, app_url, photo):
    import cv2

    # the picture itself has no plumb-line yellow, so a line found comes from the server
    ok, first = cv2.imencode(".png", cv2.imread(str(photo)))
    assert ok and plumb_line_fraction(first.tobytes()) < 0.05

    page = camera_page
    open_page(page, app_url, "Live check")
    frame = page.frame_locator("iframe[title*='webrtc']").first
    frame.get_by_role("button", name=re.compile("start", re.I)).click()
    video = frame.locator("video")
    video.wait_for()
    # the status box is fed by the server's processor: it sees the person side-on
    # (the words are view-neutral since the live check measures front views too, issue 28)
    page.get_by_text("Whole body in view").first.wait_for(timeout=90_000)
    seen = 0.0
    for _ in range(30):  # the returned video carries the overlay
        seen = plumb_line_fraction(video.screenshot())
        if seen > 0.12:
            break
        time.sleep(1)
    shot(page, "c_live_overlay")
    assert seen > 0.12, f"no plumb line in the returned video (longest run {seen:.0%})"

    # hands-free: no click on "Hold still"; the capture starts by itself after a count-down
    # (test_app_phone watches the count-down itself)
    panel = page.locator(LIVE_PANEL)
    panel.wait_for(timeout=90_000)
    text = panel.inner_text()
    m = re.search(r"Combined from (\d+) usable of (\d+) frames", text)
    assert m and int(m.group(1)) >= 1, text[:1500]
    card = panel.locator(".st-key-finding-head_neck_angle_deg")
    # the panel streams in after the capture's rerun: wait for the value, then read it
    card.get_by_text(re.compile(r"[+-]\d+\.\d°")).first.wait_for(timeout=30_000)
    head = card.inner_text()
    assert re.search(r"[+-]\d+\.\d°", head), head
    panel.get_by_test_id("stImage").wait_for()
    no_traceback(page)
    if ESTIMATOR.is_file():
        # Streamlit streams the panel in: wait for the metric rather than racing it
        # the answer is beside the video (the panel below holds the details)
        tilt = page.locator(".st-key-verdict-live-side .pv-value")
        tilt.wait_for(timeout=30_000)
        value = tilt.inner_text()
        assert re.fullmatch(r"[+-]\d+\.\d°", value.strip()), value
    shot(page, "c_live_results")


def test_live_check_falls_back_to_snapshots(camera_page, app_url):
    page = camera_page
    open_page(page, app_url, "Live check")
    page.get_by_test_id("stRadio").get_by_text("Snapshots").click()
    camera = page.frame_locator("iframe[title*='posture_camera']").first
    camera.locator("video").wait_for()
    shutter = camera.get_by_role("button", name=re.compile("take photo", re.I))
    camera.locator("#shoot:not([disabled])").wait_for()  # the camera is running
    page.wait_for_timeout(2000)  # let the camera deliver frames before the shutter
    shutter.click()
    panel = page.locator(".st-key-result-panel-snapshot")
    panel.wait_for(timeout=90_000)
    panel.locator(FINDING_HEAD).wait_for()
    assert "Head position" in panel.inner_text()
    no_traceback(page)
    shot(page, "e_snapshot_results")


def test_deep_link_into_a_fresh_server_gets_the_page_list(launch):
    """Issue 22 item 9: after a restart, the first visitor entering by a deep link ran that
    page in Streamlit's old ``pages/`` mode: the sidebar said "app", with no icons, for
    everyone until someone opened Home. Each visitor here is the first of a fresh server."""
    browser = launch()
    for path, heading in (("Clinic", "Clinic"), ("Photo_check", "Photo check")):
        with running_app(ARTIFACTS / f"streamlit-deeplink-{path}.log") as url:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                page = ctx.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{url}/{path}")
                page.get_by_role("heading", name=re.compile(heading)).first.wait_for()
                nav = page.get_by_test_id("stSidebarNav")
                nav.get_by_role("link", name=re.compile("Home")).wait_for(timeout=30_000)
                names = [n.strip() for n in nav.get_by_role("link").all_inner_texts()]
                assert not any(n.endswith("app") for n in names), names
                assert any("🏠" in n and "Home" in n for n in names), names  # icons too
                assert any("📷" in n and "Photo check" in n for n in names), names
                assert page.url.rstrip("/").endswith(path)  # still the page asked for
                page.get_by_role("heading", name=re.compile(heading)).first.wait_for()
            finally:
                ctx.close()


def test_printable_plan_pictures_keep_their_shape(launch):
    """Issue 22 item 13: in the printable plan a flex row stretched each exercise picture
    to the height of its text, squashing it. Each picture is drawn at its own aspect ratio,
    at a desktop and at a phone width."""
    from posture.plan import PlanInput, make_plan
    from posture_app.plan_view import plan_html

    result = {"ok": True, "abstained": False, "pelvic_tilt_deg": 22.0,
              "pelvic_tilt_interval_deg": [17.0, 27.0], "severity": "moderate",
              "severity_label": "Moderate anterior tilt"}
    doc = plan_html(make_plan(PlanInput.from_result(result), thomas_test="yes"), result)
    browser = launch()
    for width in (1000, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.set_content(doc)
            shapes = page.evaluate("""() => Array.from(document.images).map(i => [
                i.naturalWidth / i.naturalHeight, i.clientWidth / i.clientHeight])""")
        finally:
            page.close()
        assert shapes
        for natural, drawn in shapes:
            assert abs(drawn / natural - 1) < 0.02, (width, shapes)


#: WCAG contrast of each caption's text against what is behind it (alpha blended).
CAPTION_CONTRAST_JS = """() => {
  const rgba = s => { const m = s.match(/[\\d.]+/g).map(Number);
                      return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = c => { const f = v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const back = el => { for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; }
    return [255, 255, 255, 1]; };
  const out = [];
  for (const cap of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
    for (const el of [cap, ...cap.querySelectorAll('*')]) {
      if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
        continue;
      const fg = rgba(getComputedStyle(el).color); const bg = back(el);
      let a = fg[3];  // opacity applies to the whole subtree: multiply up the tree
      for (let e = el; e; e = e.parentElement) a *= parseFloat(getComputedStyle(e).opacity);
      const mix = [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a));
      const [l1, l2] = [lum(mix), lum(bg)].sort((x, y) => y - x);
      out.push([(l1 + 0.05) / (l2 + 0.05), el.textContent.trim().slice(0, 40)]);
    }
  }
  return out;
}"""


def test_captions_contrast_and_keyboard_focus_on_links(page, app_url):
    """Issue 22 item 15: captions were 3.89:1 against the page (WCAG AA asks 4.5:1 for
    text), and a link reached with the keyboard showed no focus ring."""
    page.goto(app_url)
    page.get_by_role("heading", name=re.compile("Pelvic tilt from a side-view")).wait_for()
    page.get_by_text(re.compile("Pictures are processed in memory")).wait_for()
    page.wait_for_timeout(500)
    contrast = page.evaluate(CAPTION_CONTRAST_JS)
    assert contrast and min(c for c, _ in contrast) >= 4.5, sorted(contrast)[:3]
    link = page.get_by_test_id("stMain").get_by_role("link", name=re.compile("Check a photo"))
    link.wait_for()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(40):  # keyboard only: Tab until the link has focus
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement || el.contains("
                         "document.activeElement)"):
            break
    else:
        raise AssertionError("the link cannot be reached with Tab")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }""")
    assert ring[0] not in ("none", "") and ring[1] >= 2, ring
