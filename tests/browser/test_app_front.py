"""The front view in the app (issue 28.4), mostly without a browser (Streamlit's AppTest):
the Photo check with a side and a front photo, a front photo alone, a side photo alone as
before; the plan page's "see a clinician" note on a flagged pelvic obliquity; the live
check on a front stance; and one real-browser check at phone size.

The front photo is a render of ``tools.synth front`` made in a temporary folder (needs
torch and anny: skipped without them); the side photo is a shipped sample.
"""

from __future__ import annotations

import copy
import importlib.util
import re

import pytest

from .harness import ROOT

SIDE_PHOTO = ROOT / "samples" / "s2024_000023.jpg"
PAGE = str(ROOT / "pages" / "1_Photo_check.py")
SIDE_KEYS = ("lumbar_lordosis_deg", "trunk_lean_deg", "head_neck_angle_deg", "knee_angle_deg")
FRONT_KEYS = ("pelvic_obliquity_deg", "shoulder_level_deg", "head_tilt_deg",
              "trunk_shift_stature", "knee_frontal_left_deg", "knee_frontal_right_deg")


@pytest.fixture(scope="module")
def front_photo(tmp_path_factory):
    """One labelled front render (tools.synth 0.5.0), made here, never shipped."""
    missing = [m for m in ("torch", "anny") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"tools/synth needs {', '.join(missing)} to render a front view")
    from tools.synth.frontal import generate_front

    out = tmp_path_factory.mktemp("front")
    generate_front(1, 9101, out, "front")
    return next(out.glob("f9101_*.jpg"))


def _upload(at, key: str, path) -> None:
    at.file_uploader(key=key).set_value((path.name, path.read_bytes(), "image/jpeg"))


def _card(at) -> str:
    """The verdict card's HTML (the st.html holding the card)."""
    return next(h.proto.body for h in at.get("html") if "pv-card" in h.proto.body)


def _finding_tiles(at) -> set[str]:
    """The contract keys of the finding tiles shown (their containers' keys)."""
    from posture.measures import measures

    text = " ".join(m.value for m in at.markdown)
    return {s.key for s in measures() if s.panel == "finding" and f"**{s.title}**" in text}


def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(PAGE, default_timeout=180).run()


@pytest.mark.slow
def test_side_photo_alone_is_as_before_then_a_front_photo_joins_it(front_photo):
    at = _page()
    assert [u.label.split(" (")[0] for u in at.file_uploader] == [
        "Side-view photo", "Front or back photo"]
    _upload(at, "photo_upload_0", SIDE_PHOTO)
    at.run()
    assert not at.exception
    side_card = _card(at)
    assert "pv-band" in side_card and "Seen from the" not in side_card
    assert _finding_tiles(at) == set(SIDE_KEYS)
    text = " ".join(m.value for m in at.markdown)
    assert "Seen from the front" not in text and "Plumb line" in text

    _upload(at, "photo_front_0", front_photo)
    at.run()
    assert not at.exception
    current = at.session_state["posture_current_result"].result
    assert current.views == ("side", "front")
    assert current.severity is not None and current.pelvic_tilt_deg is not None
    card = _card(at)
    # the side view's grade stays, the front view's pelvis level joins it, in words
    assert 'class="pv-band"' in card and 'data-view="front"' in card
    ob = current.value("pelvic_obliquity")
    side = "left side higher" if ob > 0 else "right side higher"
    assert f"Seen from the front: pelvis level (side to side) {ob:+.1f}° ({side})" in card
    assert _finding_tiles(at) == set(SIDE_KEYS) | set(FRONT_KEYS)
    captions = [c.value for c in at.caption]
    lo, hi = current.interval("pelvic_obliquity")
    assert f"{side} · 90% interval {lo:+.1f}° to {hi:+.1f}°" in captions
    assert any(c.endswith("of height") and "shifted to your" in c for c in captions)
    # the second picture is shown too, with its legend and its alternative text
    assert sum("line through your hip joints" in c for c in captions) == 1
    assert len(at.image) == 2


@pytest.mark.slow
def test_front_photo_alone_shows_frontal_findings_and_no_grade(front_photo):
    at = _page()
    _upload(at, "photo_front_0", front_photo)
    at.run()
    assert not at.exception
    current = at.session_state["posture_current_result"].result
    assert current.views == ("front",) and current.severity is None
    card = _card(at)
    assert 'data-view="front"' in card and "Your result (from the front)" in card
    assert "need a side photo" in card
    assert 'class="pv-band"' not in card  # no severity: none was measured
    assert not at.warning  # not a refusal: nothing to retake
    assert _finding_tiles(at) == set(FRONT_KEYS)
    text = " ".join(m.value for m in at.markdown)
    assert "Other findings" not in text and "Plumb line" not in text
    assert "Seen from the front (side to side)" in text


# --------------------------------------------------------------------------- plan page

NEUTRAL = {"ok": True, "abstained": False, "pelvic_tilt_deg": 6.0,
           "pelvic_tilt_interval_deg": [1.0, 11.0], "severity": "neutral",
           "severity_label": "Neutral", "landmarks_px": [[1, 2, 1]], "abstain_reasons": []}


def with_front(result: dict, obliquity: float, flag: bool) -> dict:
    """``result`` with a front photo's pelvic obliquity (the contract's added keys)."""
    out = copy.deepcopy(result)
    out.update(views=["side", "front"], view_kind="side", pelvic_obliquity_deg=obliquity,
               pelvic_obliquity_interval_deg=[obliquity - 3.4, obliquity + 3.4],
               obliquity_flag=flag)
    out.setdefault("measurements", []).append(
        {"name": "pelvic_obliquity", "value": obliquity, "unit": "deg",
         "convention": "positive = the subject's left side higher",
         "interval": [obliquity - 3.4, obliquity + 3.4], "coverage": 0.9,
         "method": "landmarks"})
    return out


def _plan(result: dict):
    from streamlit.testing.v1 import AppTest

    from posture.contract import from_dict
    from posture_app.state import Current

    at = AppTest.from_file(str(ROOT / "pages" / "3_Exercise_plan.py"), default_timeout=60)
    at.session_state["posture_current_result"] = Current(from_dict(result), None, "photo")
    at.run()
    nones = [b for b in at.button if "None of these apply" in b.label]
    if nones:
        nones[0].click().run()
    return at


def _notes(at) -> list[str]:
    return [w.value for w in at.warning if "See a clinician" in w.value]


def test_plan_page_puts_a_see_a_clinician_note_beside_the_exercises():
    at = _plan(with_front(NEUTRAL, 6.2, True))
    assert not at.exception
    (note,) = _notes(at)
    assert "pelvis is not level (left side higher, 6.2° off level)" in note
    assert "leg length" in note
    assert any(c.proto.label == "Printable plan (HTML)" for c in at.get("download_button"))
    assert any(m.value.startswith("**1. ") for m in at.markdown)  # the exercises stay


def test_plan_page_note_without_a_side_photo_and_none_unflagged():
    front = with_front({"ok": True, "abstained": True, "landmarks_px": [[1, 2, 1]],
                        "abstain_reasons": ["no_side_view: sagittal pelvic tilt needs a "
                                            "side photo"]}, -7.0, True)
    front.update(views=["front"], view_kind="front")
    at = _plan(front)
    assert not at.exception
    (note,) = _notes(at)
    assert "right side higher, 7.0° off level" in note
    assert any("No exercise plan yet" in m.value for m in at.markdown)
    at = _plan(with_front(NEUTRAL, 2.0, False))
    assert not at.exception and _notes(at) == []


# --------------------------------------------------------------------------- live check


@pytest.mark.slow
def test_live_check_measures_a_front_stance(front_photo):
    """A person facing the camera is measured as a front view (issue 28): ready, captured,
    one front reading with the side-to-side measures (before: every frame failed, or the
    gate said "turn 90°")."""
    from posture.images import load_image
    from posture_app.live import LiveSession, capture_result, fit

    rgb = fit(load_image(front_photo).rgb)
    s = LiveSession()
    try:
        s.process(rgb, now=s._t0)
        s.process(rgb, now=s._t0 + 0.2)
        assert s.status.person and s.status.ready, s.status.guidance
        assert not s.status.error
        s.start_capture(1.0)
        for k in range(8):
            s.process(rgb, now=s._t0 + 1 + 0.2 * k)
        taken = s.take_capture()
    finally:
        s.close()
    reading, overlay = capture_result(taken)
    assert reading.view_kind == "front" and reading.views == ("front",)
    assert reading.severity is None and reading.reason_codes == ("no_side_view",)
    assert reading.value("pelvic_obliquity") is not None
    assert reading.value("shoulder_level") is not None
    assert overlay is not None and overlay.shape == rgb.shape


# --------------------------------------------------------------------------- phone (browser)

PHONE = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.slow
def test_phone_side_and_front_photos_in_one_result(launch, app_url, front_photo):
    """At phone size: a side and a front photo give one card (tilt, band and the pelvis
    level from the front), the front findings below, nothing wider than the screen."""
    from .harness import ACTION_TIMEOUT_MS, settle, shot
    from .test_app_phone import TRUNCATED_JS

    browser = launch()
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page.goto(f"{app_url}/Photo_check")
        inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        inputs.nth(1).wait_for(state="attached")
        inputs.nth(0).set_input_files(str(SIDE_PHOTO))
        page.locator(".st-key-verdict-photo .pv-band").wait_for(timeout=120_000)
        inputs.nth(1).set_input_files(str(front_photo))
        card = page.locator(".st-key-verdict-photo")
        card.locator('[data-view="front"]').wait_for(timeout=120_000)
        settle(page)
        text = card.inner_text()
        assert re.search(r"[+-]\d+\.\d°\s*pelvic tilt", text), text
        assert re.search(r"Seen from the front: pelvis level \(side to side\) [+-]\d+\.\d° "
                         r"\((left|right) side higher\)", text), text
        tile = page.locator(".st-key-finding-pelvic_obliquity_deg")
        assert re.search(r"(left|right) side higher · 90% interval", tile.inner_text())
        for el in (card, tile):
            box = el.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        panel = page.locator(".st-key-result-panel-photo")
        assert panel.evaluate(TRUNCATED_JS) == []
        assert panel.get_by_test_id("stImage").count() == 2  # both photos, drawn
        shot(page, "phone_side_and_front")
    finally:
        ctx.close()


# --------------------------------------------------------------------------- flagged cards


def _flagged_card_script():
    import streamlit as st

    from posture.contract import from_dict
    from posture_app.results import verdict_card

    verdict_card(from_dict(st.session_state["reading"]), key="t")


def _card_for(result: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_flagged_card_script, default_timeout=30)
    at.session_state["reading"] = result
    return at.run()


FRONT_ALONE = {"ok": True, "abstained": True, "landmarks_px": [[1, 2, 1]],
               "view": {"ok": True}, "facing": "front",
               "abstain_reasons": ["no_side_view: sagittal pelvic tilt needs a side photo"],
               "retake_guidance": ["For the pelvic tilt, add a photo taken exactly from "
                                   "the side."]}


def test_front_card_of_a_flagged_obliquity_points_to_the_plan_not_a_retake():
    flagged = with_front(FRONT_ALONE, -6.4, True)
    flagged.update(views=["front"], view_kind="front")
    at = _card_for(flagged)
    assert not at.exception
    card = _card(at)
    assert "-6.4°" in card and "right side higher" in card
    assert "Uneven pelvis: a clinician should check it" in card
    assert "pv-band" in card and "need a side photo" in card
    assert not at.warning  # no "Please retake the picture"
    assert [b.label for b in at.button] == ["Next: what to do about it →"]
    level = with_front(FRONT_ALONE, 1.0, False)
    level.update(views=["front"], view_kind="front")
    at = _card_for(level)
    assert "clinician" not in _card(at) and not at.button


def test_combined_card_adds_the_flag_to_the_side_views_grade():
    at = _card_for(with_front(NEUTRAL, 6.2, True))
    assert not at.exception
    card = _card(at)
    assert "+6.0°" in card and "Neutral" in card  # the side view's tilt and grade
    assert ("Seen from the front: pelvis level (side to side) +6.2° (left side higher). "
            "Uneven pelvis: a clinician should check it; your plan says why.") in card


@pytest.mark.slow
def test_two_side_photos_say_why_the_second_was_not_used():
    other = ROOT / "samples" / "s2024_000025.jpg"
    at = _page()
    _upload(at, "photo_upload_0", SIDE_PHOTO)
    _upload(at, "photo_front_0", other)
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "second photo" in w.value]
    assert "Both photos are side views; the second one needs to be a front or back view" \
        in warning
    assert at.session_state["posture_current_result"].result.views == ("side",)
    assert "pv-band" in _card(at)  # the first photo's result, as before
