"""posture: pelvic tilt and lumbar lordosis from a side-view photo.

The data flows one way, one module per step::

    images    load, orient, validate           -> Frame
    pose      MediaPipe PoseLandmarker          -> PoseResult (landmarks px, mask)
    horizon   camera roll                       -> Roll
    sagittal  facing, view gate, outline        -> SideView
    estimator learned tilt/lordosis             -> (used by metrics)
    metrics   every number with unit/interval   -> Measurements
    classify  severity bands (our heuristic)    -> Severity
    analysis  the steps above in one call       -> Assessment
    plan      exercises matched to findings     -> Plan
    present/  overlay, JSON contract, reports

Typical use::

    import posture
    with posture.Analyzer() as a:
        result = a.analyze("side.jpg")
    print(result.measurements.pelvic_tilt)
"""

from .analysis import Analyzer, Assessment, analyze

__version__ = "0.1.0"
__all__ = ["Analyzer", "Assessment", "analyze", "__version__"]
