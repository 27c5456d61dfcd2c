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

from .config import view_thresholds
from .horizon import LEVEL, Roll, up_vector
from .pose import LM, Pose, PoseResult
from .result import Reason

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


def body_frame(pose: Pose, facing: Facing, roll: Roll = LEVEL) -> BodyFrame:
    """The body frame of ``pose`` (see :class:`BodyFrame`)."""
    mids = _midpoints(pose)
    fwd, up = frame_axes(facing, roll)
    ear_ankle = float((mids["ear"] - mids["ankle"]) @ up)
    stature = max(ear_ankle, 1.0) / EAR_ANKLE_FRACTION
    return BodyFrame(mids["ankle"], fwd, up, stature)


def _bbox_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def check_view(pose: Pose, result: PoseResult, facing_conf: float) -> ViewCheck:
    """Gate: side-on, whole body in frame, one prominent person.

    The side-on score compares the left–right spread of shoulders and hips on screen
    with the torso length: near 0 in profile, near 1 facing the camera.
    """
    t = view_thresholds()
    xy, vis = pose.xy, pose.visibility
    mids = _midpoints(pose)
    torso = float(np.linalg.norm(mids["shoulder"] - mids["hip"])) + 1e-6
    spread = (
        abs(xy[LM.LEFT_SHOULDER, 0] - xy[LM.RIGHT_SHOULDER, 0])
        + abs(xy[LM.LEFT_HIP, 0] - xy[LM.RIGHT_HIP, 0])
    ) / 2.0
    frontal = float(spread / torso)
    side_on = float(np.clip(1.0 - frontal / t["max_frontal_ratio"], 0.0, 1.0))

    reasons, guidance = [], []
    if frontal > t["max_frontal_ratio"]:
        reasons.append(Reason("not_side_on",
                              "the body is turned towards or away from the camera"))
        guidance.append("Turn 90° so the camera sees you exactly from the side.")
    elif facing_conf < t["min_facing_confidence"]:
        reasons.append(Reason("facing_unclear", "cannot tell which way the person faces"))
        guidance.append("Stand side-on with your face and feet in profile.")

    w, h = result.width, result.height
    margin = t["edge_margin"] * max(w, h)
    needed = {
        "head": [LM.NOSE, LM.LEFT_EAR, LM.RIGHT_EAR],
        "hips": [LM.LEFT_HIP, LM.RIGHT_HIP],
        "feet": [LM.LEFT_ANKLE, LM.RIGHT_ANKLE, LM.LEFT_HEEL, LM.RIGHT_HEEL],
    }
    missing = []
    for part, idx in needed.items():
        p = xy[idx]
        inside = (
            (p[:, 0] >= -margin) & (p[:, 0] <= w + margin)
            & (p[:, 1] >= -margin) & (p[:, 1] <= h + margin)
        )
        seen = vis[idx].max() >= t["min_visibility"]
        if not (inside.all() and seen):
            missing.append(part)
    # MediaPipe can squeeze a whole skeleton into half a body, with high visibility. The
    # proportions give it away: in a side view hip→knee→ankle is about 1.6 × the
    # shoulder–hip distance (thigh 0.245, shank 0.246, trunk ~0.30 of stature).
    legs = np.mean([
        np.linalg.norm(xy[h] - xy[k]) + np.linalg.norm(xy[k] - xy[a])
        for h, k, a in ((LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE),
                        (LM.RIGHT_HIP, LM.RIGHT_KNEE, LM.RIGHT_ANKLE))
    ])
    leg_ratio = float(legs / torso)
    if not t["min_leg_torso_ratio"] <= leg_ratio <= t["max_leg_torso_ratio"]:
        missing.append("legs")
    # ...but its silhouette does not: when the outline runs into the bottom border, legs in
    # profile are about half as wide as the hips, while "knees" placed on a cropped torso
    # sit in a row as wide as the hips.
    if pose.mask is not None and (pose.mask[-max(1, round(0.004 * h)):] > 0.5).any():
        m = pose.mask
        y_knee = int(np.clip(xy[[LM.LEFT_KNEE, LM.RIGHT_KNEE], 1].mean(), 0, h - 1))
        y_hip = int(np.clip(xy[[LM.LEFT_HIP, LM.RIGHT_HIP], 1].mean(), 0, h - 1))
        knee_w, hip_w = (m[y_knee] > 0.5).sum(), (m[y_hip] > 0.5).sum()
        if hip_w and knee_w / hip_w > t["max_knee_hip_width_ratio"] and "legs" not in missing:
            missing.append("legs (the outline at knee height is as wide as the hips)")
    whole = not missing
    if not whole:
        reasons.append(Reason("body_cut_off", "not visible: " + ", ".join(missing)))
        guidance.append("Step back so your whole body, head to feet, is in the picture.")

    # A standing person's ear sits above the ankles; lying down (or a sideways photo with
    # no EXIF orientation) puts the body axis far from the image vertical.
    axis = mids["ear"] - mids["ankle"]
    tilt_from_vertical = float(np.degrees(np.arctan2(abs(axis[0]), -axis[1])))
    if tilt_from_vertical > t["max_body_axis_deg"]:
        reasons.append(Reason("not_standing",
                              f"the body axis is {tilt_from_vertical:.0f}° from vertical"))
        guidance.append("Stand upright, and keep the phone upright (portrait) when you take "
                        "the photo.")

    # A second person counts only when comparable in size (a small figure far in the
    # background does not block the analysis) and not the same person found twice.
    others = sum(
        1 for p in result.poses[1:]
        if p.height_px >= t["other_person_size_ratio"] * pose.height_px
        and _bbox_iou(p.bbox, pose.bbox) < t["same_person_iou"]
    )
    if others:
        reasons.append(Reason("several_people",
                              f"{others + 1} people of similar size in the picture"))
        guidance.append("Make sure you are the only person in the picture.")
    if pose.mask is None:
        reasons.append(Reason("no_mask", "the pose model gave no segmentation mask"))
    return ViewCheck(not reasons, side_on, frontal, whole, others, tuple(reasons), tuple(guidance))


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


def analyse_side(result: PoseResult, roll: Roll = LEVEL) -> SideView | None:
    """Describe the primary person of ``result`` in the sagittal plane.

    Returns None when no person was detected.
    """
    pose = result.primary
    if pose is None:
        return None
    facing, conf = facing_direction(pose)
    frame = body_frame(pose, facing, roll)
    view = check_view(pose, result, conf)
    mids = _midpoints(pose)
    near = facing  # facing left on screen shows the left side to the camera (and v.v.)
    points_px = dict(mids)
    for side, idx in (("near", 0), ("far", 1)):
        chosen = idx if near == "left" else 1 - idx
        for k, pair in _PAIRS.items():
            points_px[f"{k}_{side}"] = pose.xy[pair[chosen]]
    points = {k: frame.to_body(p) for k, p in points_px.items()}
    sil = None
    if pose.mask is not None:
        # sample relative to the hips so that the same rows of anatomy line up across people
        hip_v = points["hip"][1]
        sil = silhouette(pose.mask, frame, hip_v + OUTLINE_RANGE[0], hip_v + OUTLINE_RANGE[1],
                         OUTLINE_LEVELS)
    return SideView(facing, conf, near, view, roll, frame, points, points_px, sil)
