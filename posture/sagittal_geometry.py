"""Sagittal geometry of one detection: which way the person faces, the body frame, the outline.

The *body frame* has its origin at the ankles, ``u`` pointing the way the person faces and
``v`` pointing up along the true vertical (camera roll removed), both in units of body
height, so every metric is written once, for a person facing "+u".

The silhouette comes from the segmentation mask: for a set of heights between the knees
and the shoulders we keep the front-most (anterior) and back-most (posterior) edge. The
pelvis line (:func:`pelvis_line_px`) is where the drawn and the clinician's ASIS–PSIS line
starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .config import partial_thresholds
from .horizon import LEVEL, Roll, up_vector
from .pose import LM, Pose

Facing = Literal["left", "right"]

# Paired landmarks whose midpoint we use; MediaPipe's far-side guesses are noisy, and the
# midpoint halves the left/right disagreement.
LANDMARK_PAIRS = {
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


def midpoints(pose: Pose) -> dict[str, np.ndarray]:
    """Midpoint (pixels) of each left/right landmark pair of :data:`LANDMARK_PAIRS`."""
    return {k: pose.xy[[a, b]].mean(axis=0) for k, (a, b) in LANDMARK_PAIRS.items()}


def frame_axes(facing: Facing, roll: Roll = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (pixels) of the body's forward and up directions on screen."""
    up = up_vector(roll.deg)
    # forward is perpendicular to up; the person faces +x (right) or -x (left) on screen.
    fwd = np.array([-up[1], up[0]]) if facing == "right" else np.array([up[1], -up[0]])
    return fwd, up


def _stature_from_trunk(pose: Pose, up: np.ndarray, knees_seen: bool) -> float:
    """Stature (px) from ear–knee or ear–hip height, for a view that shows no feet."""
    p = partial_thresholds()
    mids = midpoints(pose)
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
    mids = midpoints(pose)
    fwd, up = frame_axes(facing, roll)
    if not partial:
        ear_ankle = float((mids["ear"] - mids["ankle"]) @ up)
        stature = max(ear_ankle, 1.0) / EAR_ANKLE_FRACTION
        return BodyFrame(mids["ankle"], fwd, up, stature)
    stature = _stature_from_trunk(pose, up, knees_seen)
    origin = mids["hip"] - up * stature * partial_thresholds()["hip_height_fraction"]
    return BodyFrame(origin, fwd, up, stature)


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


#: Mean ASIS–PSIS distance as a fraction of stature (15.5 cm depth at 1.83 m stature, the
#: ground-truth note's placement); only sets the drawn line's length.
PELVIS_LENGTH = 0.155 / 1.83
#: Height of the pelvis line's centre above the hip point, fraction of stature (about the
#: height of the ASIS–PSIS midpoint above the hip joints, ground-truth note).
PELVIS_RAISE = 0.04


def pelvis_line_px(frame: BodyFrame, hip: np.ndarray, tilt_deg: float | None
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """PSIS and ASIS ends (image pixels) of the pelvis line, or None without a tilt.

    Parameters
    ----------
    frame : BodyFrame
        The body frame the line is drawn in.
    hip : (2,) array
        The hip point in the body frame (``u``, ``v``; stature units); the line's centre
        is :data:`PELVIS_RAISE` above it.
    tilt_deg : float or None
        Pelvic tilt, degrees, positive = anterior (ASIS forward and lower).
    """
    if tilt_deg is None:
        return None
    centre = np.asarray(hip, dtype=np.float64) + np.array([0.0, PELVIS_RAISE])
    r = np.radians(tilt_deg)
    half = 0.5 * PELVIS_LENGTH * np.array([np.cos(r), -np.sin(r)])  # ASIS forward and lower
    return frame.to_image(centre - half), frame.to_image(centre + half)
