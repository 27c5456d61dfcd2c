"""The front or back view in an assessment (issue 28): its gate, geometry and measurements.

:mod:`posture.frontal` holds the pure measures; :mod:`posture.view_kind` tells side, front
and back apart. This module turns one photo's detections (as given and mirrored, with the
camera roll shared with the side view, :mod:`posture.horizon`) into a :class:`FrontView`
and the registry's ``view: front`` measurements (``posture/data/measures.yaml``), each
with the 90% interval measured on labelled renders (``frontal_intervals.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from .config import load_data_file, thresholds
from .errors import DataFileError
from .frontal import FrontalMeasures, measure_frontal, with_mirror
from .horizon import Roll
from .measures import measures, spec
from .metrics import Measurement, Measurements
from .pose import LM, Pose, PoseResult
from .reasons import GUIDANCE, Reason, ReasonCode
from .result import SIDE, Assessment
from .view_gate import other_people
from .view_kind import ViewCues, ViewKind

#: The registry's view name of the frontal measures (a front or a back photo).
FRONT = "front"
FRONTAL_KINDS = ("front", "back")
INTERVALS_FILE = "frontal_intervals.yaml"

#: Which :class:`FrontalMeasures` field gives each registry measure.
FRONTAL_FIELDS = {
    "pelvic_obliquity": "pelvic_obliquity_deg",
    "shoulder_level": "shoulder_level_deg",
    "head_tilt": "head_tilt_deg",
    "trunk_shift": "trunk_shift_frac",
    "knee_frontal_left": "knee_left_deg",
    "knee_frontal_right": "knee_right_deg",
}
#: Measures that need the legs down to the ankles in the picture.
NEEDS_ANKLES = frozenset({"trunk_shift", "knee_frontal_left", "knee_frontal_right"})


@dataclass(frozen=True)
class FrontGate:
    """The front view's gate, with the fields the contract's ``view`` object reads.

    ``ok``: the photo is a front or back view whose shoulders and hips are seen (the view
    classifier decided so); ``whole_body``: the knees and ankles are seen too (otherwise
    the trunk shift and knee angles are withheld). ``frontal_ratio`` is the classifier's
    width cue; ``other_people`` counts the others of comparable size (then not ok).
    The side view's ``side_on_score`` is None.
    """

    ok: bool
    reasons: tuple[Reason, ...] = ()
    guidance: tuple[str, ...] = ()
    notes: tuple[Reason, ...] = ()
    whole_body: bool | None = None
    frontal_ratio: float | None = None
    side_on_score: float | None = None
    other_people: int | None = None
    partial: bool | None = None
    knees_seen: bool = True


@dataclass(frozen=True)
class FrontView:
    """One front or back view: what the overlay and the contract read.

    Attributes
    ----------
    kind : str
        "front" or "back" (also ``facing``).
    roll : Roll
        The camera roll taken out (the side view's estimate and sign).
    gate : FrontGate
    measures : FrontalMeasures
        The photo's measures, averaged with its mirror image's when there is one.
    pose : Pose
        The detection in the photo's own pixels (for drawing).
    frame_size : (int, int)
        The photo's (width, height), px.
    cues : ViewCues or None
        The view classifier's evidence.
    """

    kind: str
    roll: Roll
    gate: FrontGate
    measures: FrontalMeasures
    pose: Pose
    frame_size: tuple[int, int]
    cues: ViewCues | None = None

    @property
    def facing(self) -> str:
        """"front" (toward the camera) or "back"."""
        return self.kind

    #: the side view's figures, absent here
    facing_confidence = None
    near_side = None


@cache
def interval_halfwidths() -> tuple[float, dict[str, float]]:
    """``(coverage, {measure name: 90% half-width})`` of ``frontal_intervals.yaml``."""
    raw = load_data_file(INTERVALS_FILE)
    try:
        cov = float(raw["coverage"])
        hw = {str(k): float(v) for k, v in raw["halfwidth"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataFileError(f"{INTERVALS_FILE}: needs 'coverage' and 'halfwidth' numbers "
                            f"({exc})") from None
    missing = set(FRONTAL_FIELDS) - set(hw)
    if missing or not 0 < cov < 1 or any(not v > 0 for v in hw.values()):
        raise DataFileError(f"{INTERVALS_FILE}: 'halfwidth' must give a positive number for "
                            f"each of {sorted(FRONTAL_FIELDS)}; coverage in (0, 1)")
    return cov, hw


def _seen(pose: Pose, idx: tuple[int, ...]) -> bool:
    vis = thresholds()["view"]["min_visibility"]
    return bool(np.all(pose.visibility[list(idx)] >= vis))


def front_gate(pose: Pose, cues: ViewCues | None, others: int = 0) -> FrontGate:
    """The gate of a photo classified front or back. The classifier saw the shoulders and
    hips; ``whole_body`` when the knees and ankles are seen too. Refused (not ok) when
    ``others`` people of comparable size share the picture: which one was measured cannot
    be told, as in the side view's gate."""
    knees = _seen(pose, (LM.LEFT_KNEE, LM.RIGHT_KNEE))
    ankles = _seen(pose, (LM.LEFT_ANKLE, LM.RIGHT_ANKLE))
    reasons = [Reason(ReasonCode.NO_SIDE_VIEW, "sagittal pelvic tilt needs a side photo")]
    guidance = [GUIDANCE[ReasonCode.NO_SIDE_VIEW]]
    if others:
        reasons.insert(0, Reason(ReasonCode.SEVERAL_PEOPLE,
                                 f"{others + 1} people of similar size in the picture"))
        guidance.insert(0, GUIDANCE[ReasonCode.SEVERAL_PEOPLE])
    return FrontGate(
        ok=not others, reasons=tuple(reasons), guidance=tuple(guidance),
        whole_body=knees and ankles, partial=not (knees and ankles), knees_seen=knees,
        frontal_ratio=None if cues is None else cues.width, other_people=others)


def frontal_measurements(m: FrontalMeasures, gate: FrontGate, method: str
                         ) -> tuple[Measurement, ...]:
    """The registry's ``view: front`` measurements of ``m``, in the registry's order, with
    their 90% intervals; those needing the ankles are None without a whole body."""
    coverage, hw = interval_halfwidths()
    out = []
    for s in measures():
        if s.view != FRONT:
            continue
        value = float(getattr(m, FRONTAL_FIELDS[s.name]))
        if (s.name in NEEDS_ANKLES and not gate.whole_body) or not np.isfinite(value):
            out.append(Measurement(s.name, None, s.unit, s.convention, None, None, method))
            continue
        nd = 4 if s.unit == "stature" else 2
        e = hw[s.name]
        out.append(Measurement(s.name, round(value, nd), s.unit, s.convention,
                               (round(value - e, nd), round(value + e, nd)), coverage,
                               method))
    return tuple(out)


def measure_front(kind: str, detections: list[tuple[Pose, Roll]], report: Pose,
                  report_roll: Roll, frame_size: tuple[int, int],
                  cues: ViewCues | None, others: int = 0
                  ) -> tuple[FrontView, tuple[Measurement, ...]]:
    """A front or back view and its measurements from one photo's detections.

    ``detections[0]`` is the photo as given, ``detections[1]`` (optional) its mirror image
    with the mirrored roll: the two are combined by :func:`posture.frontal.with_mirror`,
    so the photo and its mirror give the same sizes with the other sign. ``report`` is the
    detection in the photo's own pixels (drawn), ``report_roll`` its roll.
    """
    if kind not in FRONTAL_KINDS:
        raise ValueError(f"kind must be one of {FRONTAL_KINDS}, not {kind!r}")
    first = measure_frontal(detections[0][0], detections[0][1], kind)
    method = "landmarks: hip-joint, shoulder, ear and leg points in the body plane"
    if len(detections) > 1:
        first = with_mirror(first, measure_frontal(detections[1][0], detections[1][1], kind))
        method += ", mean of the image and its mirror"
    gate = front_gate(report, cues, others)
    view = FrontView(kind, report_roll, gate, first, report, frame_size, cues)
    return view, frontal_measurements(first, gate, method)


def assess_front(kind: ViewKind, detections: list[tuple[Pose, Roll]], report: PoseResult,
                 report_roll: Roll, *, model_variant: str = "",
                 estimator_meta: dict | None = None) -> Assessment:
    """The assessment of a photo the classifier called front or back: the frontal
    measures filled, the sagittal ones absent, abstained with reason ``no_side_view``
    (no severity: it comes from a side view only)."""
    size = (report.width, report.height)
    view, meas = measure_front(kind.kind, detections, report.primary, report_roll, size,
                               kind.cues, other_people(report, report.primary))
    return Assessment(size, report.primary, {kind.kind: view}, Measurements(meas, {}),
                      None, True, view.gate.reasons, view.gate.guidance, model_variant,
                      estimator_meta or {}, None)


def combine(side: Assessment, frontal: Assessment) -> Assessment:
    """One assessment of two photos of one person: a side view and a front or back view.

    ``views`` holds both (side first); ``measurements`` the side view's, then the frontal
    ones; the severity, the abstention and its reasons are the side view's alone (a front
    photo says nothing about sagittal tilt). The pose, frame size and patch are the side
    photo's (the frontal view keeps its own pose for drawing).

    Raises
    ------
    ValueError
        When ``side`` is not a side view or ``frontal`` not a front or back view.
    """
    if side.view_kind != SIDE:
        raise ValueError(f"the first assessment must be a side view, not {side.view_kind!r}")
    if frontal.view_kind not in FRONTAL_KINDS:
        raise ValueError("the second assessment must be a front or back view, not "
                         f"{frontal.view_kind!r}")
    front = [m for m in frontal.measurements.all() if spec(m.name).view == FRONT]
    meas = Measurements((*side.measurements.all(), *front), side.measurements.plumb)
    return replace(side, views={SIDE: side.view, frontal.view_kind: frontal.view},
                   measurements=meas)
