"""posture: pelvic tilt and lumbar lordosis from a side-view photo.

The data flows one way, one module per step (docs/ARCHITECTURE.md has the layers)::

    images     load, orient, validate             -> Frame
    pose       MediaPipe PoseLandmarker            -> PoseResult (landmarks px, mask)
    view_kind  side, front, back or unclear        -> ViewKind
    horizon    camera roll                         -> Roll
    sagittal   facing, body frame, outline         -> SideView (its view_gate: GateDecision)
    frontal    front/back levels, shifts, knees    -> frontal measures
    estimator  learned tilt/lordosis               -> (used by metrics)
    metrics    every number of the registry        -> Measurements (measures.yaml)
    classify   severity bands (our heuristic)      -> Severity
    analysis   the steps above in one call         -> Assessment (posture.result)
    contract   the JSON codec                      -> Reading <-> dict
    safe       one input, never raises             -> Outcome (assessment or coded error)
    plan       exercises matched to findings       -> Plan
    store/     the clinic database
    present/   overlay, reports, exports

Typical use::

    import posture
    with posture.Analyzer() as a:
        result = a.analyze("side.jpg")
    print(result.measurements.pelvic_tilt)
    print(posture.plan_for(result).headline)
"""

from .analysis import Analyzer, Assessment, analyze

__version__ = "0.1.0"
__all__ = ["Analyzer", "Assessment", "analyze", "plan_for", "__version__"]


def plan_for(assessment: Assessment, thomas_test: str | None = None):
    """The exercise plan matched to an assessment (see :mod:`posture.plan`)."""
    from .plan import PlanInput, make_plan

    return make_plan(PlanInput.from_assessment(assessment), thomas_test=thomas_test)
