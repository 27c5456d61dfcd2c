"""posture.capture.aggregate: a "hold still" capture's frames combined into one Reading."""

from __future__ import annotations

from statistics import NormalDist

import pytest

from posture.capture import MAX_TILT_SPREAD_DEG, aggregate, summarize
from posture.metrics import Measurement
from posture.present.contract import to_dict
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
