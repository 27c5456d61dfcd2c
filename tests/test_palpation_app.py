"""The photo and live pages and the two numbers (issue 25 items 2, 5): the verdict card
says which number it shows and why, with the palpation-equivalent and its wider interval;
the live check calls a change since the previous check real only beyond the retake MDC95.
No browser: Streamlit's AppTest and plain functions."""

from __future__ import annotations

from posture.palpation import palpation_halfwidth


def _card_script():
    from posture_app.results import verdict_card

    verdict_card({"ok": True, "pelvic_tilt_deg": 17.3, "pelvic_tilt_interval_deg": [11.3, 23.3],
                  "interval_coverage": 0.9, "severity": "mild",
                  "severity_label": "Mild anterior tilt",
                  "severity_probabilities": {"mild": 0.9, "moderate": 0.1},
                  "landmarks_px": [[1, 2, 1]], "abstain_reasons": []}, key="t")


def test_verdict_card_names_the_number_and_gives_the_palpation_equivalent():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_card_script).run(timeout=30)
    assert not at.exception
    [card] = [h.proto.body for h in at.get("html") if "pv-card" in h.proto.body]
    h = palpation_halfwidth(6.0)
    assert "This is your postural tilt: what the photo shows, and what exercise changes." \
        in card
    assert (f"A palpation meter on the bone would read about +17.3° ({17.3 - h:+.1f}° to "
            f"{17.3 + h:+.1f}°): a wider range, because the shape of the pelvis itself "
            "differs between people.") in card
    assert "90% interval +11.3° to +23.3°" in card  # the postural interval stays


def test_live_check_change_words_follow_the_retake_mdc():
    from posture_app.results import change_since_note

    before = {"ok": True, "pelvic_tilt_deg": 18.0}
    assert change_since_note(before, {"ok": True, "pelvic_tilt_deg": 12.0}) == (
        "Since your previous check: -6.0° (+18.0° → +12.0°), more than a retaken photo "
        "varies: likely a real change.")
    assert change_since_note(before, {"ok": True, "pelvic_tilt_deg": 14.0}).endswith(
        "within what a retaken photo varies: may be measurement noise.")
    assert change_since_note({}, before) is None
    assert change_since_note(before, {"ok": False, "pelvic_tilt_deg": None}) is None


def test_surface_lordosis_range_only_from_a_skin_surface_source():
    """Issue 25.6 (a guard: the X-ray-derived 20-45° was removed in fc1fed4): a typical
    range beside the surface lordosis must come from literature on a skin-surface measure;
    shared/clinical-notes.md gives none, so none is shown."""
    from posture.typical import typical_ranges

    r = typical_ranges().get("lumbar_lordosis_deg")
    assert r is None or any("surface" in s.lower() or "flexicurve" in s.lower()
                            for s in r.sources)
    assert r is None  # no skin-surface range is in clinical-notes.md today
