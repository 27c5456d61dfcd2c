"""The view gate: is this detection a view the tool can measure?

:func:`view_scores` measures the continuous evidence of one detection (:class:`ViewScores`),
:func:`mean_scores` pools it over several detections of one photo (the image and its
mirror), and :func:`decide_view` decides on it: side-on, enough of the body in the
picture, standing, one prominent person (:class:`GateDecision`, with its reasons and the
retake advice from :mod:`posture.reasons`). Thresholds are ``thresholds.yaml``'s ``view``
and ``partial``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import partial_thresholds, view_thresholds
from .pose import LM, Pose, PoseResult
from .reasons import GUIDANCE, Reason, ReasonCode, cut_off_guidance
from .sagittal_geometry import midpoints


def _bbox_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


#: Landmarks that must be in the picture, by body part.
PARTS = {
    "head": (LM.NOSE, LM.LEFT_EAR, LM.RIGHT_EAR),
    "hips": (LM.LEFT_HIP, LM.RIGHT_HIP),
    "knees": (LM.LEFT_KNEE, LM.RIGHT_KNEE),
    "feet": (LM.LEFT_ANKLE, LM.RIGHT_ANKLE, LM.LEFT_HEEL, LM.RIGHT_HEEL),
}


@dataclass(frozen=True)
class ViewScores:
    """The continuous evidence the view gate decides on (one image, or the mean of several).

    Keeping the numbers apart from the decision lets a photo and its mirror be judged once,
    on their mean, so that the two never disagree and borderline copies of one photo do not
    flip between "measured" and "abstained" on landmark noise.

    Attributes
    ----------
    frontal_ratio : float
        Left–right spread of shoulders and hips over torso length: ~0.05–0.25 in profile.
    facing_confidence : float
        0–1, from :func:`~posture.sagittal_geometry.facing_direction`.
    clearance : dict
        Per part of :data:`PARTS`, the signed distance of its outermost landmark inside the
        image, fraction of the image's long side (negative = outside).
    visibility : dict
        Per part, MediaPipe's highest visibility among its landmarks (0–1).
    leg_torso_ratio, thigh_torso_ratio : float
        (hip→knee→ankle) and hip→knee length over the shoulder–hip distance.
    knee_hip_width_ratio : float or None
        Mask width at knee height over width at hip height, when the outline runs into the
        bottom border (None otherwise).
    thigh_room : float
        Image height below the hips over the ear–hip height: room for the pelvis patch.
    bottom_contact : float
        Highest mask probability in the bottom rows: the body runs out of the picture
        there (MediaPipe then often puts "feet" inside the image, on the shins).
    shank_thigh_ratio : float
        knee→ankle over hip→knee length: 0.87–1.08 on 20 whole-body views, 0.73–0.85
        where MediaPipe squeezed "feet" onto the shins of a cut-off photo.
    axis_deg : float
        Ear→hip axis from the image vertical, degrees.
    other_people : int
        Other detections of comparable size that are not the same person found twice.
    has_mask : bool
    """

    frontal_ratio: float
    facing_confidence: float
    clearance: dict[str, float]
    visibility: dict[str, float]
    leg_torso_ratio: float
    thigh_torso_ratio: float
    knee_hip_width_ratio: float | None
    thigh_room: float
    axis_deg: float
    other_people: int
    has_mask: bool
    bottom_contact: float = 0.0
    shank_thigh_ratio: float = 1.0


@dataclass(frozen=True)
class GateDecision:
    """The view gate's decision: can this view be measured? ``ok`` is False with reasons
    when not; ``guidance`` says what to change."""

    ok: bool
    side_on_score: float
    frontal_ratio: float
    whole_body: bool
    other_people: int
    reasons: tuple[Reason, ...] = ()
    guidance: tuple[str, ...] = ()
    #: feet out of the picture, measured from the rest (see :func:`decide_view`)
    partial: bool = False
    knees_seen: bool = True
    #: things to know that do not stop the measurement (e.g. ``partial_view``)
    notes: tuple[Reason, ...] = ()
    scores: ViewScores | None = field(default=None, repr=False)


def other_people(result: PoseResult, pose: Pose) -> int:
    """People besides ``pose`` in the picture that count: comparable in size (a small
    figure far in the background does not) and not the same person found twice."""
    t = view_thresholds()
    return sum(
        1 for p in result.poses[1:]
        if p.height_px >= t["other_person_size_ratio"] * pose.height_px
        and _bbox_iou(p.bbox, pose.bbox) < t["same_person_iou"]
    )


def view_scores(pose: Pose, result: PoseResult, facing_conf: float) -> ViewScores:
    """Measure everything :func:`decide_view` needs from one detection."""
    xy, vis = pose.xy, pose.visibility
    mids = midpoints(pose)
    torso = float(np.linalg.norm(mids["shoulder"] - mids["hip"])) + 1e-6
    spread = (
        abs(xy[LM.LEFT_SHOULDER, 0] - xy[LM.RIGHT_SHOULDER, 0])
        + abs(xy[LM.LEFT_HIP, 0] - xy[LM.RIGHT_HIP, 0])
    ) / 2.0
    w, h = result.width, result.height
    long_side = float(max(w, h))
    clearance, visibility = {}, {}
    for part, idx in PARTS.items():
        p = xy[list(idx)]
        inside = np.minimum.reduce([p[:, 0], w - p[:, 0], p[:, 1], h - p[:, 1]])
        clearance[part] = float(inside.min() / long_side)
        visibility[part] = float(vis[list(idx)].max())
    # MediaPipe can squeeze a whole skeleton into half a body, with high visibility. The
    # proportions give it away: in a side view hip→knee→ankle is about 1.6 × the
    # shoulder–hip distance (thigh 0.245, shank 0.246, trunk ~0.30 of stature).
    chains = ((LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE), (LM.RIGHT_HIP, LM.RIGHT_KNEE,
                                                           LM.RIGHT_ANKLE))
    thigh = float(np.mean([np.linalg.norm(xy[a] - xy[k]) for a, k, _ in chains]))
    legs = thigh + float(np.mean([np.linalg.norm(xy[k] - xy[a]) for _, k, a in chains]))
    # ...but its silhouette does not: when the outline runs into the bottom border, legs in
    # profile are about half as wide as the hips, while "knees" placed on a cropped torso
    # sit in a row as wide as the hips.
    knee_hip = None
    bottom = 0.0 if pose.mask is None else float(pose.mask[-max(1, round(0.004 * h)):].max())
    if bottom > 0.5:
        m = pose.mask
        y_knee = int(np.clip(xy[[LM.LEFT_KNEE, LM.RIGHT_KNEE], 1].mean(), 0, h - 1))
        y_hip = int(np.clip(mids["hip"][1], 0, h - 1))
        knee_w, hip_w = (m[y_knee] > 0.5).sum(), (m[y_hip] > 0.5).sum()
        knee_hip = float(knee_w / hip_w) if hip_w else None
    ear_hip = max(float(mids["hip"][1] - mids["ear"][1]), 1.0)
    # A standing person's ear sits above the hips; lying down (or a sideways photo with
    # no EXIF orientation) puts the body axis far from the image vertical.
    axis = mids["ear"] - mids["hip"]
    others = other_people(result, pose)
    return ViewScores(
        frontal_ratio=float(spread / torso), facing_confidence=float(facing_conf),
        clearance=clearance, visibility=visibility,
        leg_torso_ratio=float(legs / torso), thigh_torso_ratio=float(thigh / torso),
        knee_hip_width_ratio=knee_hip, thigh_room=float((h - mids["hip"][1]) / ear_hip),
        axis_deg=float(np.degrees(np.arctan2(abs(axis[0]), -axis[1]))),
        other_people=int(others), has_mask=pose.mask is not None, bottom_contact=bottom,
        shank_thigh_ratio=float((legs - thigh) / max(thigh, 1e-6)))


def mean_scores(scores: list[ViewScores]) -> ViewScores:
    """The mean evidence of several detections of one photo (e.g. the image and its mirror).

    Numbers are averaged; the knee/hip width ratio over the detections that have one; other
    people and a missing mask count when any detection has them (the cautious side).
    """
    if len(scores) == 1:
        return scores[0]

    def mean(f):
        return float(np.mean([f(s) for s in scores]))

    kh = [s.knee_hip_width_ratio for s in scores if s.knee_hip_width_ratio is not None]
    return ViewScores(
        frontal_ratio=mean(lambda s: s.frontal_ratio),
        facing_confidence=mean(lambda s: s.facing_confidence),
        clearance={k: mean(lambda s, k=k: s.clearance[k]) for k in PARTS},
        visibility={k: mean(lambda s, k=k: s.visibility[k]) for k in PARTS},
        leg_torso_ratio=mean(lambda s: s.leg_torso_ratio),
        thigh_torso_ratio=mean(lambda s: s.thigh_torso_ratio),
        knee_hip_width_ratio=float(np.mean(kh)) if kh else None,
        thigh_room=mean(lambda s: s.thigh_room),
        axis_deg=mean(lambda s: s.axis_deg),
        other_people=max(s.other_people for s in scores),
        has_mask=all(s.has_mask for s in scores),
        bottom_contact=mean(lambda s: s.bottom_contact),
        shank_thigh_ratio=mean(lambda s: s.shank_thigh_ratio))


def decide_view(s: ViewScores) -> GateDecision:
    """Gate: side-on, enough of the body in frame, standing, one prominent person.

    A view without the feet but with the head, hips and thighs in the picture is measured
    as a *partial* view (a note, not an abstention); one cut above the thighs abstains.
    """
    t = view_thresholds()
    side_on = float(np.clip(1.0 - s.frontal_ratio / t["max_frontal_ratio"], 0.0, 1.0))
    reasons, guidance, notes = [], [], []
    if s.frontal_ratio > t["max_frontal_ratio"]:
        reasons.append(Reason(ReasonCode.NOT_SIDE_ON,
                              "the body is turned towards or away from the camera"))
        guidance.append(GUIDANCE[ReasonCode.NOT_SIDE_ON])
    elif s.facing_confidence < t["min_facing_confidence"]:
        reasons.append(Reason(ReasonCode.FACING_UNCLEAR, "cannot tell which way the person faces"))
        guidance.append(GUIDANCE[ReasonCode.FACING_UNCLEAR])

    seen = {part: s.clearance[part] >= -t["edge_margin"]
            and s.visibility[part] >= t["min_visibility"] for part in PARTS}
    # feet "seen" inside the picture while the body runs out of its bottom edge, on shins
    # shorter than the thighs, are MediaPipe's guess squeezed onto the shins, not feet
    if s.bottom_contact > 0.5 and s.shank_thigh_ratio < t["min_shank_thigh_ratio"]:
        seen["feet"] = False
    missing = [part for part in ("head", "hips") if not seen[part]]
    partial = False
    if not seen["feet"]:
        if missing or s.thigh_room < partial_thresholds()["min_thigh_room"]:
            missing.append("feet")
            if not missing[:-1]:
                missing.insert(0, "thighs")
        else:
            partial = True
    if not missing:
        if partial:
            p = partial_thresholds()
            if not p["min_thigh_torso_ratio"] <= s.thigh_torso_ratio <= p["max_thigh_torso_ratio"]:
                missing.append("legs")
        elif not t["min_leg_torso_ratio"] <= s.leg_torso_ratio <= t["max_leg_torso_ratio"]:
            missing.append("legs")
        if s.knee_hip_width_ratio is not None and "legs" not in missing \
                and s.knee_hip_width_ratio > t["max_knee_hip_width_ratio"]:
            missing.append("legs (the outline at knee height is as wide as the hips)")
    whole = not missing and not partial
    if missing:
        partial = False
        reasons.append(Reason(ReasonCode.BODY_CUT_OFF, "not visible: " + ", ".join(missing)))
        guidance.append(cut_off_guidance(missing))
    if partial:
        notes.append(Reason(ReasonCode.PARTIAL_VIEW, "feet not in the picture: body size estimated "
                            "from the head, hips and knees, with a wider interval"))

    if s.axis_deg > t["max_body_axis_deg"]:
        reasons.append(Reason(ReasonCode.NOT_STANDING,
                              f"the body axis is {s.axis_deg:.0f}° from vertical"))
        guidance.append(GUIDANCE[ReasonCode.NOT_STANDING])
    # A second person counts only when comparable in size (a small figure far in the
    # background does not block the analysis) and not the same person found twice.
    if s.other_people:
        reasons.append(Reason(ReasonCode.SEVERAL_PEOPLE,
                              f"{s.other_people + 1} people of similar size in the picture"))
        guidance.append(GUIDANCE[ReasonCode.SEVERAL_PEOPLE])
    if not s.has_mask:
        reasons.append(Reason(ReasonCode.NO_MASK, "the pose model gave no segmentation mask"))
    return GateDecision(not reasons, side_on, s.frontal_ratio, whole, s.other_people,
                     tuple(reasons), tuple(guidance), partial=partial,
                     knees_seen=seen["knees"], notes=tuple(notes), scores=s)
