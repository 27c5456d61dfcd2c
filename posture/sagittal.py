"""Step 3 of the flow: pose → sagittal geometry.

From one :class:`~posture.pose.PoseResult` this module decides which way the person faces,
whether the view is usable (side-on, whole body, one prominent person), and describes the
body in a *body frame*: origin at the ankles, ``u`` pointing the way the person faces,
``v`` pointing up along the true vertical (camera roll removed), both in units of body
height. Every metric is then written once, for a person facing "+u".

The silhouette comes from the segmentation mask: for a set of heights between the knees
and the shoulders we keep the front-most (anterior) and back-most (posterior) edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .config import partial_thresholds, view_thresholds
from .horizon import LEVEL, Roll, up_vector
from .pose import LM, Pose, PoseResult
from .reasons import Reason, ReasonCode

Facing = Literal["left", "right"]

# Paired landmarks whose midpoint we use; MediaPipe's far-side guesses are noisy, and the
# midpoint halves the left/right disagreement.
_PAIRS = {
    "ear": (LM.LEFT_EAR, LM.RIGHT_EAR),
    "shoulder": (LM.LEFT_SHOULDER, LM.RIGHT_SHOULDER),
    "elbow": (LM.LEFT_ELBOW, LM.RIGHT_ELBOW),
    "wrist": (LM.LEFT_WRIST, LM.RIGHT_WRIST),
    "hip": (LM.LEFT_HIP, LM.RIGHT_HIP),
    "knee": (LM.LEFT_KNEE, LM.RIGHT_KNEE),
    "ankle": (LM.LEFT_ANKLE, LM.RIGHT_ANKLE),
    "heel": (LM.LEFT_HEEL, LM.RIGHT_HEEL),
    "toe": (LM.LEFT_FOOT_INDEX, LM.RIGHT_FOOT_INDEX),
}
#: Ear above the ankles by this fraction of stature (anthropometric average, ~0.87·H from
#: ankle height ~0.04·H to tragus ~0.91·H); used to turn ear–ankle distance into stature.
EAR_ANKLE_FRACTION = 0.87
#: The outline is read from 0.20 stature below the hip landmark (mid-thigh) to 0.30 above
#: it (lower chest), every 1/160 of stature (about 1 cm).
OUTLINE_RANGE = (-0.20, 0.30)
OUTLINE_LEVELS = 81


@dataclass(frozen=True)
class BodyFrame:
    """Image pixels ↔ body frame (u forward, v up, units of stature).

    Attributes
    ----------
    origin : (2,) array
        Ankle midpoint in pixels.
    forward, up : (2,) arrays
        Unit vectors, in pixels, of the body's forward and up directions.
    stature_px : float
        Estimated standing height in pixels.
    """

    origin: np.ndarray
    forward: np.ndarray
    up: np.ndarray
    stature_px: float

    def to_body(self, xy: np.ndarray) -> np.ndarray:
        d = np.asarray(xy, dtype=np.float64) - self.origin
        return np.stack([d @ self.forward, d @ self.up], axis=-1) / self.stature_px

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64) * self.stature_px
        return self.origin + uv[..., :1] * self.forward + uv[..., 1:2] * self.up


@dataclass(frozen=True)
class ViewCheck:
    """Is this view good enough to measure? ``ok`` is False with reasons when not."""

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


@dataclass(frozen=True)
class Silhouette:
    """Anterior and posterior edges of the person's mask, in the body frame.

    Attributes
    ----------
    v : (K,) array
        Heights (stature units above the ankles) at which the edges were read.
    anterior, posterior : (K,) arrays
        ``u`` of the front-most and back-most mask pixel at each height; NaN where the row
        has no mask.
    """

    v: np.ndarray
    anterior: np.ndarray
    posterior: np.ndarray


@dataclass(frozen=True)
class SideView:
    """The sagittal description of one person in one image."""

    facing: Facing
    facing_confidence: float
    near_side: Facing
    view: ViewCheck
    roll: Roll
    frame: BodyFrame
    points: dict[str, np.ndarray] = field(repr=False)  # body-frame (u, v) per key point
    points_px: dict[str, np.ndarray] = field(repr=False)  # image pixels per key point
    silhouette: Silhouette | None = None


def facing_direction(pose: Pose) -> tuple[Facing, float]:
    """Which way the person faces in the image, and how sure we are (0–1).

    Three cues vote with their visibility as weight: nose ahead of the ears, toes ahead of
    the heels, and knees ahead of the ankles is *not* used (knees can hyperextend).
    """
    xy, vis = pose.xy, pose.visibility
    votes = []
    ear_x = np.average(xy[[LM.LEFT_EAR, LM.RIGHT_EAR], 0], weights=vis[[7, 8]] + 1e-3)
    size = max(pose.height_px, 1.0)
    votes.append(((xy[LM.NOSE, 0] - ear_x) / (0.02 * size), vis[LM.NOSE]))
    for heel, toe in ((LM.LEFT_HEEL, LM.LEFT_FOOT_INDEX), (LM.RIGHT_HEEL, LM.RIGHT_FOOT_INDEX)):
        w = min(vis[heel], vis[toe])
        votes.append(((xy[toe, 0] - xy[heel, 0]) / (0.03 * size), w))
    score = sum(np.tanh(v) * w for v, w in votes) / (sum(w for _, w in votes) + 1e-6)
    return ("right" if score > 0 else "left"), float(min(1.0, abs(score)))


def _midpoints(pose: Pose) -> dict[str, np.ndarray]:
    return {k: pose.xy[[a, b]].mean(axis=0) for k, (a, b) in _PAIRS.items()}


def frame_axes(facing: Facing, roll: Roll = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (pixels) of the body's forward and up directions on screen."""
    up = up_vector(roll.deg)
    # forward is perpendicular to up; the person faces +x (right) or -x (left) on screen.
    fwd = np.array([-up[1], up[0]]) if facing == "right" else np.array([up[1], -up[0]])
    return fwd, up


def _stature_from_trunk(pose: Pose, up: np.ndarray, knees_seen: bool) -> float:
    """Stature (px) from ear–knee or ear–hip height, for a view that shows no feet."""
    p = partial_thresholds()
    mids = _midpoints(pose)
    if knees_seen:
        return max(float((mids["ear"] - mids["knee"]) @ up), 1.0) / p["ear_knee_fraction"]
    return max(float((mids["ear"] - mids["hip"]) @ up), 1.0) / p["ear_hip_fraction"]


def body_frame(pose: Pose, facing: Facing, roll: Roll = LEVEL, *, partial: bool = False,
               knees_seen: bool = True) -> BodyFrame:
    """The body frame of ``pose`` (see :class:`BodyFrame`).

    With ``partial`` (feet out of the picture) the stature comes from the ear–knee (or
    ear–hip) height and the origin is placed where the ankles would be, at the average
    hip height below the hips (``thresholds.yaml``, ``partial``).
    """
    mids = _midpoints(pose)
    fwd, up = frame_axes(facing, roll)
    if not partial:
        ear_ankle = float((mids["ear"] - mids["ankle"]) @ up)
        stature = max(ear_ankle, 1.0) / EAR_ANKLE_FRACTION
        return BodyFrame(mids["ankle"], fwd, up, stature)
    stature = _stature_from_trunk(pose, up, knees_seen)
    origin = mids["hip"] - up * stature * partial_thresholds()["hip_height_fraction"]
    return BodyFrame(origin, fwd, up, stature)


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
        0–1, from :func:`facing_direction`.
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


def view_scores(pose: Pose, result: PoseResult, facing_conf: float) -> ViewScores:
    """Measure everything :func:`decide_view` needs from one detection."""
    t = view_thresholds()
    xy, vis = pose.xy, pose.visibility
    mids = _midpoints(pose)
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
    others = sum(
        1 for p in result.poses[1:]
        if p.height_px >= t["other_person_size_ratio"] * pose.height_px
        and _bbox_iou(p.bbox, pose.bbox) < t["same_person_iou"]
    )
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


def cut_off_guidance(missing: list[str]) -> str:
    """What to change when body parts are out of the picture (``missing`` from the gate).

    The advice names the part that is missing: a photo cut at the waist needs the person
    to step back until the knees are in, one cut at the head needs the camera lower or
    further away.
    """
    parts = {m.split(" ")[0] for m in missing}
    if "head" in parts:
        return ("Your head is out of the picture: step back, or hold the camera further "
                "away, so your whole body, head to feet, is in the picture.")
    if parts & {"hips", "thighs", "legs"}:
        return ("Only your upper body is in the picture: step back until at least your "
                "knees are in it (head to feet is best).")
    return "Step back so your whole body, head to feet, is in the picture."


def decide_view(s: ViewScores) -> ViewCheck:
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
        guidance.append("Turn 90° so the camera sees you exactly from the side.")
    elif s.facing_confidence < t["min_facing_confidence"]:
        reasons.append(Reason(ReasonCode.FACING_UNCLEAR, "cannot tell which way the person faces"))
        guidance.append("Stand side-on with your face and feet in profile.")

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
        guidance.append("Stand upright, and keep the phone upright (portrait) when you take "
                        "the photo.")
    # A second person counts only when comparable in size (a small figure far in the
    # background does not block the analysis) and not the same person found twice.
    if s.other_people:
        reasons.append(Reason(ReasonCode.SEVERAL_PEOPLE,
                              f"{s.other_people + 1} people of similar size in the picture"))
        guidance.append("Make sure you are the only person in the picture.")
    if not s.has_mask:
        reasons.append(Reason(ReasonCode.NO_MASK, "the pose model gave no segmentation mask"))
    return ViewCheck(not reasons, side_on, s.frontal_ratio, whole, s.other_people,
                     tuple(reasons), tuple(guidance), partial=partial,
                     knees_seen=seen["knees"], notes=tuple(notes), scores=s)


def check_view(pose: Pose, result: PoseResult, facing_conf: float) -> ViewCheck:
    """Gate one detection: :func:`decide_view` on its :func:`view_scores`."""
    return decide_view(view_scores(pose, result, facing_conf))


def silhouette(mask: np.ndarray, frame: BodyFrame, v_lo: float, v_hi: float,
               n: int = 48) -> Silhouette | None:
    """Front and back edges of the person's mask between heights ``v_lo`` and ``v_hi``.

    Rows are sampled along the body's true vertical (roll removed): at each height we walk
    along the forward axis and keep the extreme mask pixels of the connected region that
    contains the body axis.
    """
    import cv2

    binary = (mask > 0.5).view(np.uint8)  # 0/1, without a second pass over the pixels
    if not binary.any():
        return None
    # keep the component under the hips: other blobs (a chair, a second person) are not us
    hip_px = frame.to_image(np.array([0.0, 0.5]))
    hx = int(np.clip(hip_px[0], 0, mask.shape[1] - 1))
    hy = int(np.clip(hip_px[1], 0, mask.shape[0] - 1))
    if binary[hy, hx]:
        # flood-fill that 8-connected region: visits its pixels only, where labelling every
        # component touched all of a 12 MP mask
        cv2.floodFill(binary, None, (hx, hy), 2, 0, 0, 8)
        labels, lab = binary, 2
    else:  # the axis point missed the mask: fall back to the largest component
        _, labels = cv2.connectedComponents(binary, connectivity=8)
        counts = np.bincount(labels.ravel())
        counts[0] = 0
        lab = int(counts.argmax())

    v = np.linspace(v_lo, v_hi, n)
    u = np.linspace(-0.45, 0.45, 721)  # ±0.45 stature around the ankle axis, 1/800 steps
    # frame.to_image on the (n, 721) grid, as an outer sum of a row and a column term (the
    # same arithmetic per point, without building the grid first)
    su = (u * frame.stature_px)[None, :]
    sv = (v * frame.stature_px)[:, None]
    xi = np.round(frame.origin[0] + su * frame.forward[0] + sv * frame.up[0]).astype(int)
    yi = np.round(frame.origin[1] + su * frame.forward[1] + sv * frame.up[1]).astype(int)
    inside = (xi >= 0) & (xi < mask.shape[1]) & (yi >= 0) & (yi < mask.shape[0])
    hit = np.zeros_like(inside)
    hit[inside] = labels[yi[inside], xi[inside]] == lab  # only the sampled pixels
    any_hit = hit.any(axis=1)
    first = hit.argmax(axis=1)
    last = hit.shape[1] - 1 - hit[:, ::-1].argmax(axis=1)
    post = np.where(any_hit, u[first], np.nan)
    ant = np.where(any_hit, u[last], np.nan)
    return Silhouette(v, ant, post)


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
    view = decide_view(scores if scores is not None else view_scores(pose, result, conf))
    frame = body_frame(pose, facing, roll, partial=view.partial, knees_seen=view.knees_seen)
    mids = _midpoints(pose)
    near = facing  # facing left on screen shows the left side to the camera (and v.v.)
    points_px = dict(mids)
    for side, idx in (("near", 0), ("far", 1)):
        chosen = idx if near == "left" else 1 - idx
        for k, pair in _PAIRS.items():
            points_px[f"{k}_{side}"] = pose.xy[pair[chosen]]
    if view.partial:
        hidden = FOOT_POINTS + (() if view.knees_seen else ("knee",))
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
    return SideView(facing, conf, near, view, roll, frame, points, points_px, sil)
