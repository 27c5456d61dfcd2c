"""Words the app shows for readings the library gives (no Streamlit server needed)."""

from __future__ import annotations

import pytest

from posture.result import Reading, Reason

pytest.importorskip("streamlit")

from posture_app.results import lordosis_missing_why  # noqa: E402
from posture_app.text import reason_text  # noqa: E402


def _reading(*reasons: str) -> Reading:
    return Reading(ok=True, abstained=True, reasons=tuple(Reason.parse(r) for r in reasons))


def test_lordosis_withheld_with_the_tilt_names_the_right_cause():
    # the live check said "needs the pelvic tilt estimator" for a refused view (issue 22.4)
    cut = _reading("body_cut_off: not visible: hips, feet")
    assert "withheld with the pelvic tilt" in lordosis_missing_why(cut)
    none = _reading("estimator_unavailable: estimator not available in this build")
    assert "needs the pelvic tilt estimator" in lordosis_missing_why(none)


def test_person_too_small_has_words_and_keeps_the_size():
    text = reason_text("person_too_small: the person is about 52 px tall in the picture "
                       "(at least 120 px are needed)")
    assert text.startswith("You are too small in the picture") and "52 px" in text
