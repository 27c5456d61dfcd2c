"""Step 3 of the flow: pose → sagittal description of the person (:class:`SideView`).

From one :class:`~posture.pose.PoseResult` this decides which way the person faces, whether
the view is usable (:mod:`posture.view_gate`), and describes the body in the body frame
(:mod:`posture.sagittal_geometry`): key points and the outline, for a person facing "+u".
The names of those two modules are imported here too, for existing callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .horizon import LEVEL, Roll
from .pose import PoseResult
from .sagittal_geometry import (  # noqa: F401  (re-exported)
    EAR_ANKLE_FRACTION,
    LANDMARK_PAIRS,
    OUTLINE_LEVELS,
    OUTLINE_RANGE,
    BodyFrame,
    Facing,
    Silhouette,
    body_frame,
    facing_direction,
    frame_axes,
    midpoints,
    silhouette,
)
from .view_gate import (  # noqa: F401  (re-exported)
    PARTS,
    GateDecision,
    ViewScores,
    decide_view,
    mean_scores,
    view_scores,
)


@dataclass(frozen=True)
class SideView:
    """The sagittal description of one person in one image; ``gate`` is the view gate's
    decision on it (:class:`~posture.view_gate.GateDecision`)."""

    facing: Facing
    facing_confidence: float
    near_side: Facing
    gate: GateDecision
    roll: Roll
    frame: BodyFrame
    points: dict[str, np.ndarray] = field(repr=False)  # body-frame (u, v) per key point
    points_px: dict[str, np.ndarray] = field(repr=False)  # image pixels per key point
    silhouette: Silhouette | None = None


#: Key points a photo without feet does not show: left out (NaN) rather than guessed.
FOOT_POINTS = ("ankle", "heel", "toe")


def analyze_side(result: PoseResult, roll: Roll = LEVEL, *,
                 scores: ViewScores | None = None) -> SideView | None:
    """Describe the primary person of ``result`` in the sagittal plane.

    ``scores`` replaces this detection's own view evidence with evidence pooled over
    several detections of the same photo (:func:`mean_scores`), so they are judged once.
    Returns None when no person was detected.
    """
    pose = result.primary
    if pose is None:
        return None
    facing, conf = facing_direction(pose)
    gate = decide_view(scores if scores is not None else view_scores(pose, result, conf))
    frame = body_frame(pose, facing, roll, partial=gate.partial, knees_seen=gate.knees_seen)
    mids = midpoints(pose)
    near = facing  # facing left on screen shows the left side to the camera (and v.v.)
    points_px = dict(mids)
    for side, idx in (("near", 0), ("far", 1)):
        chosen = idx if near == "left" else 1 - idx
        for k, pair in LANDMARK_PAIRS.items():
            points_px[f"{k}_{side}"] = pose.xy[pair[chosen]]
    if gate.partial:
        hidden = FOOT_POINTS + (() if gate.knees_seen else ("knee",))
        for k in list(points_px):
            if k.split("_")[0] in hidden:
                points_px[k] = np.full(2, np.nan)
    points = {k: frame.to_body(p) for k, p in points_px.items()}
    sil = None
    if pose.mask is not None:
        # sample relative to the hips so that the same rows of anatomy line up across people
        hip_v = points["hip"][1]
        sil = silhouette(pose.mask, frame, hip_v + OUTLINE_RANGE[0], hip_v + OUTLINE_RANGE[1],
                         OUTLINE_LEVELS)
    return SideView(facing, conf, near, gate, roll, frame, points, points_px, sil)
