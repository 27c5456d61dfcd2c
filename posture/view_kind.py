"""Which way the camera sees the person: side, front or back, or none of them (issue 28).

Read from one MediaPipe detection, three cues:

- **width**: the left-right spread of the shoulders and hips over the torso length (as the
  side gate's ``frontal_ratio``): small in profile, large seen square-on;
- **label order**: seen from the front, the subject's left shoulder and hip lie on the
  image's right (MediaPipe's LEFT points have the larger x); from behind, on its left;
- **face depth**: MediaPipe's relative depth of the nose against the shoulders, over the
  torso length: the nose is nearer than the shoulders (negative) when the face points at
  the camera, farther (positive) seen from behind.

A square-on view is called front or back only when the order and the face depth agree; a
width between the side and square-on ranges (turned about 45 degrees), disagreeing cues,
a body axis far from vertical or too little of the body seen are refused ("unclear") with a
reason. The thresholds live in ``posture/data/view_kind.yaml`` with how they were set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .config import read_data_file
from .pose import LM, Pose
from .schemas import ViewKindFile

KINDS = ("side", "front", "back", "unclear")


@cache
def view_kind_thresholds() -> dict[str, float]:
    """The thresholds of ``view_kind.yaml``, validated (:class:`ViewKindFile`)."""
    return read_data_file("view_kind.yaml", ViewKindFile).view_kind.model_dump()


@dataclass(frozen=True)
class ViewCues:
    """The continuous evidence (one detection).

    Attributes
    ----------
    width : float
        Mean |x| spread of shoulders and hips over the shoulder-hip distance.
    order : float
        In [-1, 1]: +1 when MediaPipe's left shoulder and hip both lie on the image's
        right of their right twins (a front view), -1 on its left (a back view).
    face_depth : float
        (nose z - mean shoulder z) / torso length; < 0 = the face toward the camera.
    axis_deg : float
        Shoulder-midpoint -> hip-midpoint line from the image vertical, degrees.
    visibility : float
        Lowest MediaPipe visibility of the shoulders and hips.
    """

    width: float
    order: float
    face_depth: float
    axis_deg: float
    visibility: float


@dataclass(frozen=True)
class ViewKind:
    """The decision: ``kind`` in :data:`KINDS`, and why when it is "unclear"."""

    kind: str
    reason: str
    cues: ViewCues | None


def view_cues(pose: Pose) -> ViewCues:
    """Measure the cues of one detection (pixels in, ratios and degrees out)."""
    xy, z = pose.xy, pose.z
    ls, rs, lh, rh = (xy[i] for i in (LM.LEFT_SHOULDER, LM.RIGHT_SHOULDER, LM.LEFT_HIP,
                                      LM.RIGHT_HIP))
    mid_s, mid_h = (ls + rs) / 2, (lh + rh) / 2
    torso = float(np.linalg.norm(mid_s - mid_h)) + 1e-6
    dx = np.array([ls[0] - rs[0], lh[0] - rh[0]])
    width = float(np.abs(dx).mean() / torso)
    order = float(dx.sum() / (np.abs(dx).sum() + 1e-6))
    face = float((z[LM.NOSE] - (z[LM.LEFT_SHOULDER] + z[LM.RIGHT_SHOULDER]) / 2) / torso)
    axis = mid_h - mid_s
    vis = float(pose.visibility[[LM.LEFT_SHOULDER, LM.RIGHT_SHOULDER, LM.LEFT_HIP,
                                 LM.RIGHT_HIP]].min())
    return ViewCues(width=width, order=order, face_depth=face,
                    axis_deg=float(np.degrees(np.arctan2(abs(axis[0]), axis[1]))),
                    visibility=vis)


def decide_kind(c: ViewCues) -> ViewKind:
    """Side, front, back or unclear from the cues (thresholds from ``view_kind.yaml``)."""
    t = view_kind_thresholds()
    if c.visibility < t["min_visibility"]:
        return ViewKind("unclear", "the shoulders and hips are not all seen", c)
    if c.axis_deg > t["max_axis_deg"]:
        return ViewKind("unclear", f"the trunk is {c.axis_deg:.0f}° from vertical", c)
    if c.width <= t["max_side_width"]:
        return ViewKind("side", "", c)
    if c.width < t["min_square_width"]:
        return ViewKind("unclear", "turned part-way: neither side-on nor square-on", c)
    by_order = "front" if c.order >= t["min_order"] else \
        "back" if c.order <= -t["min_order"] else None
    by_face = "front" if c.face_depth <= -t["min_face_depth"] else \
        "back" if c.face_depth >= t["min_face_depth"] else None
    if by_order is None or by_order != by_face:
        return ViewKind("unclear", "cannot tell whether the face or the back is toward "
                        "the camera", c)
    return ViewKind(by_order, "", c)


def classify_view(pose: Pose | None) -> ViewKind:
    """Classify one detection (None: nobody found)."""
    if pose is None:
        return ViewKind("unclear", "no person found", None)
    return decide_kind(view_cues(pose))
