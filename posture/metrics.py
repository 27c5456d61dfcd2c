"""Step 4: sagittal geometry → measurements.

Each measurement carries its value, unit, sign convention and (where it is an estimate) an
interval. Pelvic tilt and lumbar lordosis come from the learned estimator
(:mod:`posture.estimator`); the others are plain geometry on the key points in the body
frame (``u`` forward, ``v`` up, units of stature; see :mod:`posture.sagittal`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import partial_thresholds
from .estimator import EstimatorModel
from .measures import MeasureSpec, measures, spec
from .sagittal import SideView


@dataclass(frozen=True)
class Measurement:
    """One number the tool shows.

    Attributes
    ----------
    value : float or None
        None when the tool abstains.
    interval : (low, high) or None
        An interval around ``value`` at ``coverage`` (0.9 = 90%), same unit.
    unit : str
        "deg" or "stature" (a fraction of the person's height).
    convention : str
        What positive means.
    """

    name: str
    value: float | None
    unit: str
    convention: str
    interval: tuple[float, float] | None = None
    coverage: float | None = None
    method: str = ""


# -- pure geometry on body-frame points (u forward, v up) -------------------------------

def line_angle_from_horizontal(p_from: np.ndarray, p_to: np.ndarray) -> float:
    """Angle (degrees) of the line ``p_from → p_to`` above the forward horizontal.

    90° is straight up; < 90° leans forward, > 90° leans back.
    """
    d = np.asarray(p_to, float) - np.asarray(p_from, float)
    return float(np.degrees(np.arctan2(d[1], d[0])))


def head_neck_angle(ear: np.ndarray, shoulder: np.ndarray) -> float:
    """Ear–shoulder line vs the horizontal, degrees (a craniovertebral-angle proxy).

    Smaller = head further forward. The true CVA uses C7, which MediaPipe does not locate;
    its shoulder point is the joint, in front of C7, so this proxy reads higher than a CVA.
    """
    return line_angle_from_horizontal(shoulder, ear)


def trunk_lean(hip: np.ndarray, shoulder: np.ndarray) -> float:
    """Hip→shoulder line vs the vertical, degrees; positive = leaning forward."""
    d = np.asarray(shoulder, float) - np.asarray(hip, float)
    return float(np.degrees(np.arctan2(d[0], d[1])))


def knee_angle(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray) -> float:
    """Deviation of the knee from a straight leg, degrees; positive = hyperextension.

    Positive when the knee lies behind the hip–ankle line (recurvatum), negative when it
    is bent forward (flexion).
    """
    thigh = np.asarray(knee, float) - np.asarray(hip, float)
    shank = np.asarray(ankle, float) - np.asarray(knee, float)
    a_thigh = np.arctan2(thigh[0], -thigh[1])  # angle from straight down, + = forward
    a_shank = np.arctan2(shank[0], -shank[1])
    # knee behind the line: the thigh runs backwards and the shank forwards
    return float(np.degrees(a_shank - a_thigh))


def plumb_offsets(points: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Forward offset of ear, shoulder, hip and knee from the ankle, fraction of stature.

    None where a point (or the ankle, in a view without feet) is not in the picture.
    """
    ank = points["ankle"][0]
    out = {}
    for k in ("ear", "shoulder", "hip", "knee"):
        d = float(points[k][0] - ank)
        out[k] = d if np.isfinite(d) else None
    return out


# -- assembling ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Measurements:
    """The measurements of one assessment, in the registry's order
    (:mod:`posture.measures`), and the side view's plumb-line offsets (fraction of stature).

    ``m.get("pelvic_tilt")`` (or, for existing code, ``m.pelvic_tilt``) is one
    :class:`Measurement`; :meth:`replaced` swaps some for others.
    """

    items: tuple[Measurement, ...]
    plumb: dict[str, float | None] = field(default_factory=dict)

    def all(self) -> tuple[Measurement, ...]:
        return self.items

    def get(self, name: str) -> Measurement | None:
        """The measurement called ``name``, or None when it was not measured here."""
        return next((m for m in self.items if m.name == name), None)

    def __getattr__(self, name: str) -> Measurement:
        # ``m.pelvic_tilt`` for the registry's names (only called for unknown attributes)
        if not name.startswith("_"):
            m = self.get(name)
            if m is not None:
                return m
        raise AttributeError(name)

    def replaced(self, *new: Measurement) -> Measurements:
        """A copy with ``new`` in place of the measurements of the same names."""
        by_name = {m.name: m for m in new}
        return Measurements(tuple(by_name.get(m.name, m) for m in self.items), self.plumb)


#: The contract's sign conventions of the learned measures (``measures.yaml``).
TILT_CONVENTION = spec("pelvic_tilt").convention
LORDOSIS_CONVENTION = spec("lumbar_lordosis").convention

#: How each landmark measure of the side view is computed from the body-frame points.
SIDE_GEOMETRY: dict[str, Callable[[dict[str, np.ndarray]], float]] = {
    "head_neck_angle": lambda p: head_neck_angle(p["ear_near"], p["shoulder_near"]),
    "trunk_lean": lambda p: trunk_lean(p["hip"], p["shoulder"]),
    "knee_angle": lambda p: knee_angle(p["hip_near"], p["knee_near"], p["ankle_near"]),
}


def _with_error(s: MeasureSpec, value, err, coverage, method) -> Measurement:
    if value is None or not np.isfinite(value):  # a point it needs is not in the picture
        return Measurement(s.name, None, s.unit, s.convention, None, None, method)
    iv = None if err is None else (round(value - err, 2), round(value + err, 2))
    return Measurement(s.name, round(value, 2), s.unit, s.convention, iv,
                       coverage if err else None, method)


def measure(side: SideView, model: EstimatorModel | None, coverage: float = 0.9,
            patch: np.ndarray | None = None) -> Measurements:
    """All measurements of one side view.

    Without a fitted ``model`` the learned metrics are None (never a made-up number).
    ``patch`` is the pelvis patch (:func:`posture.estimator.pelvis_patch`) when the image
    is at hand.
    """
    return measure_views([side], model, coverage, [patch])


def measure_views(sides: list[SideView], model: EstimatorModel | None, coverage: float,
                  patches: list[np.ndarray | None]) -> Measurements:
    """All measurements of one photo seen several times (e.g. the image and its mirror).

    Each view is measured on its own (facing-normalised, so a mirror image reads the same
    way) and the values are averaged; intervals are taken at the mean. ``sides[0]`` must
    be the photo as given. A view without feet (``side.gate.partial``) gets its learned
    intervals widened by ``thresholds.yaml``'s ``partial.interval_scale``. The measures
    and their order are the registry's side-view ones (:mod:`posture.measures`).
    """
    side = sides[0]
    typical = model.typical_error if model else {}

    def mean_point(name: str) -> np.ndarray:
        return np.mean([sd.points[name] for sd in sides], axis=0)

    pts = {k: mean_point(k) for k in side.points}
    widen = partial_thresholds()["interval_scale"] if side.gate.partial else 1.0
    pred: dict[str, float] = {}
    method = ""
    if model is not None:
        preds = [model.predict(sd, p) for sd, p in zip(sides, patches, strict=True)]
        pred = {k: float(np.mean([p[k] for p in preds])) for k in preds[0]}
        method = ("learned: pelvis-patch network + outline regression"
                  if patches[0] is not None and model.patchnet is not None
                  else "learned: outline regression")
        if len(sides) > 1:
            method += f", mean of the image and its mirror ({len(sides)} views)"
    # the estimator names its outputs and halfwidths by the contract keys
    tilt = pred.get(spec("pelvic_tilt").key)
    out = []
    for s in measures():
        if s.view != "side":
            continue
        if s.interval == "learned":
            if model is None:
                out.append(Measurement(s.name, None, s.unit, s.convention))
                continue
            out.append(_with_error(s, pred[s.key], widen * model.halfwidth(s.key, tilt),
                                   coverage, method))
        else:
            out.append(_with_error(s, SIDE_GEOMETRY[s.name](pts), typical.get(s.key),
                                   coverage, "landmarks"))
    return Measurements(tuple(out), plumb_offsets(pts))
