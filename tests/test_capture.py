"""posture.capture.aggregate: a "hold still" capture's frames combined into one Reading."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from posture.capture import MAX_TILT_SPREAD_DEG, aggregate, summarize
from posture.contract import to_dict
from posture.metrics import Measurement
from posture.result import Reading, Reason, ViewSummary


def frame(tilt=None, half=4.0, head=60.0, ok=True, reasons=(), coverage=0.9):
    return Reading(
        ok=ok, abstained=bool(reasons), facing="left", pelvic_tilt_deg=tilt,
        pelvic_tilt_interval_deg=None if tilt is None else (tilt - half, tilt + half),
        interval_coverage=None if tilt is None else coverage,
        lumbar_lordosis_deg=None if tilt is None else 30.0, head_neck_angle_deg=head,
        trunk_lean_deg=1.0, knee_angle_deg=2.0, forward_head=head < 50,
        knee_hyperextension=False, plumb_offsets_stature={"ear": 0.03, "hip": 0.01},
        reasons=tuple(reasons), retake_guidance=("Turn side-on.",) if reasons else (),
        view=ViewSummary(ok), landmarks_px=((1.0, 2.0, 1.0),),
        measurements=(Measurement("pelvic_tilt", tilt, "deg", "+ anterior",
                                  None if tilt is None else (tilt - half, tilt + half)),),
        image_size=(640, 480),
    )


class Sev:
    def __init__(self, band):
        self.band, self.label, self.probabilities = band, band.title(), {band: 1.0}


def test_summarize_median_and_iqr_ignore_nulls():
    assert summarize([1.0, None, 3.0, 2.0, 10.0]) == (2.5, pytest.approx(3.0), 4)
    assert summarize([None, None]) == (None, None, 0)


@pytest.mark.parametrize("coverage", [0.9, 0.8, 0.95])
def test_median_interval_and_grade_use_the_frames_coverage(coverage):
    calls = []
    frames = [frame(t, coverage=coverage) for t in (10.0, 11.0, 12.0, 13.0, 14.0, 40.0)]
    out, rep = aggregate(frames, classify=lambda t, s: calls.append((t, s)) or Sev("mild"))
    assert out.pelvic_tilt_deg == 12.5 and out.pelvic_tilt_interval_deg == (8.5, 16.5)
    # z follows the coverage (thresholds.yaml may change it), not a fixed 1.6449
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    assert calls == [(12.5, pytest.approx(4.0 / z, rel=1e-9))]
    assert out.severity == "mild" and out.usable and out.interval_coverage == coverage
    assert out.extra["frames"] == {"captured": 6, "usable": 6, "with_tilt": 6}
    assert out.extra["spread_deg"]["pelvic_tilt_deg"] == pytest.approx(2.5)
    assert rep in (2, 3) and out.measurement("pelvic_tilt").value == 12.5
    assert out.measurement("pelvic_tilt").interval == (8.5, 16.5)
    d = to_dict(out)
    assert d["frames"]["usable"] == 6 and d["pelvic_tilt_deg"] == 12.5


def test_bad_views_are_left_out_of_the_median():
    bad = frame(None, ok=False, head=10.0, reasons=[Reason("not_side_on", "turned")])
    out, _ = aggregate([frame(20.0)] * 5 + [bad] * 3, classify=lambda t, s: Sev("moderate"))
    assert out.pelvic_tilt_deg == 20.0 and out.head_neck_angle_deg == 60.0
    assert out.extra["frames"]["usable"] == 5


def test_too_few_frames_abstains_with_typed_reasons():
    bad = frame(None, ok=False, reasons=[Reason("not_side_on", "x")])
    out, rep = aggregate([frame(15.0)] * 3 + [bad] * 4, classify=lambda t, s: Sev("mild"))
    assert out.abstained and out.pelvic_tilt_deg is None and out.severity is None
    assert out.reason_codes == ("not_side_on", "too_few_frames")
    assert out.retake_guidance and rep is not None


def test_unsteady_capture_abstains():
    out, _ = aggregate([frame(t) for t in (5.0, 8.0, 12.0, 16.0, 20.0, 24.0)],
                       classify=lambda t, s: Sev("mild"))
    assert out.extra["spread_deg"]["pelvic_tilt_deg"] > MAX_TILT_SPREAD_DEG
    assert out.reason_codes == ("unsteady_capture",)
    assert out.retake_guidance[0].startswith("Hold still")


def test_without_estimator_other_findings_stay():
    r = Reason("estimator_unavailable", "estimator not available in this build")
    frames = [frame(None, head=40.0 + i, reasons=[r]) for i in range(6)]
    out, _ = aggregate(frames, classify=lambda t, s: pytest.fail("must not grade"))
    assert out.reasons == (r,) and out.pelvic_tilt_deg is None
    assert out.head_neck_angle_deg == 42.5 and out.forward_head is True


def test_nothing_captured():
    out, rep = aggregate([])
    assert rep is None and out.abstained and out.reason_codes == ("no_person",)
    assert to_dict(out)["abstain_reasons"] == ["no_person: nobody was seen during the capture"]


def test_notes_and_band_phrase_carry_over():
    from dataclasses import replace

    note = Reason("partial_view", "feet out of the picture")
    frames = [replace(frame(12.0 + 0.1 * i), notes=(note,)) for i in range(6)]
    out, _ = aggregate(frames, classify=lambda t, s: Sev("mild"))
    assert out.notes == (note,) and out.severity_phrase == "Mild"
    assert to_dict(out)["notes"] == ["partial_view: feet out of the picture"]


# --- like with like: plain and mirrored frames, and motion measured on the landmarks ---------

def body(dx=0.0, dy=0.0, height=400.0):
    """33 MediaPipe landmarks (x, y, visibility) of a standing body, shifted by (dx, dy) px."""
    pts = [(200.0 + dx, 100.0 + dy, 1.0)] * 33
    ys = {7: 0.0, 8: 0.0, 11: 0.15, 12: 0.15, 23: 0.45, 24: 0.45, 25: 0.72, 26: 0.72,
          27: 1.0, 28: 1.0}
    for i, f in ys.items():
        pts[i] = (200.0 + dx + 5 * (i % 2), 100.0 + dy + f * height, 0.9)
    return tuple(pts)


def capture_frame(tilt, *, mirrored=None, landmarks=None, lordosis=30.0):
    from dataclasses import replace

    f = replace(frame(tilt), lumbar_lordosis_deg=lordosis,
                landmarks_px=landmarks if landmarks is not None else body())
    return f if mirrored is None else replace(f, extra={"mirrored": mirrored})


def test_still_person_with_mirrored_frames_is_not_told_they_moved():
    """A still picture as the camera: the estimator reads the frame and its mirror image
    5.6° apart (real_01.jpg: -2.23° plain, +3.41° mirrored, every frame the same). The old
    aggregate took the IQR over both kinds (5.64° > 5°: "you moved") and, with 7 plain and
    6 mirrored frames, a median that was the plain value alone."""
    frames = [capture_frame(-2.23 if i % 2 == 0 else 3.41, mirrored=i % 2 == 1,
                            lordosis=14.31 if i % 2 == 0 else 10.7) for i in range(13)]
    out, rep = aggregate(frames, classify=lambda t, s: Sev("neutral"))
    assert not out.abstained and out.reason_codes == ()
    # mirror-balanced, as a photo's two views are: the mean of the two kinds' medians
    assert out.pelvic_tilt_deg == pytest.approx((-2.23 + 3.41) / 2, abs=0.01)
    assert out.lumbar_lordosis_deg == pytest.approx((14.31 + 10.7) / 2, abs=0.01)
    assert out.extra["spread_deg"]["pelvic_tilt_deg"] == 0.0
    assert out.extra["motion_stature"] == 0.0
    assert rep is not None and out.severity == "neutral"


def test_a_person_who_steps_is_told_they_moved_even_with_a_steady_reading():
    # the reading alone does not show it: the tilt is the same in every frame
    frames = [capture_frame(12.0, mirrored=i % 2 == 1, landmarks=body(dx=8.0 * i))
              for i in range(10)]
    out, _ = aggregate(frames, classify=lambda t, s: Sev("mild"))
    assert out.reason_codes == ("unsteady_capture",)
    assert "moved" in out.reasons[0].detail and out.pelvic_tilt_deg is None
    assert out.extra["motion_stature"] > 0.03
    assert out.retake_guidance[0].startswith("Hold still")


def test_landmark_jitter_of_a_still_person_is_not_motion():
    rng = np.random.default_rng(0)
    frames = [capture_frame(12.0 + rng.normal(0, 0.5),
                            landmarks=body(*rng.normal(0, 2.0, 2)))  # ±2 px of 400
              for _ in range(12)]
    out, _ = aggregate(frames, classify=lambda t, s: Sev("mild"))
    assert not out.abstained and out.extra["motion_stature"] < 0.01


def test_motion_ignores_landmarks_out_of_view_and_frames_without_landmarks():
    from posture.capture import motion

    hidden = [list(p) for p in body()]
    for i in (25, 26, 27, 28):  # knees and ankles out of the picture
        hidden[i] = [None, None, None]
    frames = [capture_frame(10.0, landmarks=tuple(map(tuple, hidden))) for _ in range(4)]
    assert motion(frames) == 0.0
    assert motion([frame(10.0), frame(10.0)]) is None  # one landmark only: nothing to say
    assert motion(frames[:1]) is None


def test_unsteady_within_one_kind_still_abstains():
    tilts = (5.0, 8.0, 12.0, 16.0, 20.0, 24.0)
    frames = [capture_frame(t + (4.0 if i % 2 else 0.0), mirrored=i % 2 == 1)
              for i, t in enumerate(tilts * 2)]
    out, _ = aggregate(frames, classify=lambda t, s: Sev("mild"))
    assert out.reason_codes == ("unsteady_capture",)
    assert "pelvic tilt varied" in out.reasons[0].detail
