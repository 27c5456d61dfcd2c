"""Front- and back-view measures from image points: pelvic obliquity, shoulder level, head
tilt, trunk lateral shift and frontal knee alignment (issue 28).

Every function here is pure: image points in pixels (x right, y down) in, a number out.
The camera's roll is the side view's :class:`posture.horizon.Roll` (same estimate, same sign:
``roll.deg`` > 0 means true verticals appear turned clockwise); points are first turned into
the **body plane**: ``u`` toward the subject's left, ``v`` up, both in pixels, with the roll
taken out. A roll error is an obliquity error one for one, so the correction is shared.

Sign conventions (all measures):

- a level (pelvis, shoulders, head): degrees, **positive = the subject's left side higher**;
- a shift: fraction of stature, **positive = toward the subject's left**;
- a knee: degrees, **positive = valgus** (knee toward the midline), negative = varus.

In a front view the subject's left is on the image's right; in a back view on its left.
Which of two points is the left one is decided from where they lie (``u``), not from the
pose model's left/right labels: seen from behind MediaPipe often swaps them. A mirror image
therefore gives the same size with the other sign (a level or shift) or the other leg (a
knee).

What stands for the clinical landmarks: MediaPipe has no ASIS or PSIS. The pelvis line is
the line through its two **hip-joint centres**, rigidly parallel to the ASIS line (front)
and the PSIS line (back) in the frontal plane; on labelled renders the two differ by the
figures in ``bench/results/frontal.md``. The shoulder line is MediaPipe's shoulder points
(near the glenohumeral joint centres, a little below and inside the acromions); the head
line is the ears (the eyes when an ear is not seen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .horizon import Roll
from .pose import LM, Pose

VIEWS = ("front", "back")
#: Ear-to-heel height over stature, used only when there is no person mask: the ears sit
#: 0.920 (SD 0.006) of stature above the floor on 84 front and back renders (tools/synth
#: 0.5.0, seeds 101 and 102); MediaPipe's heel point, at the back of the heel, is taken to
#: be about 0.01 of stature above the floor (an assumption, not measured).
EAR_HEIGHT_FRACTION = 0.91
#: Below this MediaPipe visibility an ear is not used for the head line (eyes instead).
MIN_EAR_VISIBILITY = 0.5


def left_sign(view: str) -> float:
    """+1 where the subject's left is toward image +x (front view), -1 (back view)."""
    if view not in VIEWS:
        raise ValueError(f"view must be 'front' or 'back', not {view!r}")
    return 1.0 if view == "front" else -1.0


def to_body_plane(points: np.ndarray, roll_deg: float, view: str) -> np.ndarray:
    """Image points (N, 2) in pixels -> body-plane points (N, 2) ``(u, v)``, pixels.

    ``u`` points to the subject's left, ``v`` up, after the camera roll is taken out.
    """
    r = np.radians(roll_deg)
    up = np.array([np.sin(r), -np.cos(r)])  # posture.horizon.up_vector
    right = np.array([np.cos(r), np.sin(r)])  # true horizontal, toward image +x
    p = np.atleast_2d(np.asarray(points, dtype=float))
    return np.stack([left_sign(view) * (p @ right), p @ up], axis=1)


def level_deg(a: np.ndarray, b: np.ndarray, roll_deg: float, view: str) -> float:
    """Angle of the line through two symmetric points against the true horizontal.

    Parameters
    ----------
    a, b : array (2,)
        The two points (pixels), in either order.
    roll_deg : float
        Camera roll (:class:`posture.horizon.Roll` convention).
    view : {"front", "back"}

    Returns
    -------
    float
        Degrees; positive = the point on the subject's left is higher.
    """
    (ua, va), (ub, vb) = to_body_plane(np.stack([a, b]), roll_deg, view)
    if ua < ub:
        ua, va, ub, vb = ub, vb, ua, va
    return float(np.degrees(np.arctan2(va - vb, ua - ub)))


def lateral_shift_frac(top: np.ndarray, base: np.ndarray, stature_px: float,
                       roll_deg: float, view: str) -> float:
    """Horizontal offset of ``top`` from the plumb line through ``base``.

    Returns
    -------
    float
        Fraction of stature; positive = ``top`` lies toward the subject's left.
    """
    if not stature_px > 0:
        raise ValueError("stature_px must be positive")
    (ut, _), (ub, _) = to_body_plane(np.stack([top, base]), roll_deg, view)
    return float((ut - ub) / stature_px)


def knee_frontal_deg(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                     other_hip: np.ndarray) -> float:
    """Frontal knee angle of one leg (a valgus/varus, Q-angle proxy), degrees.

    The angle between the thigh (hip->knee) and the shank (knee->ankle) in the image,
    positive when the knee lies on the midline side of the hip-ankle line (valgus, "knock
    knee"), negative on the outer side (varus). The midline side is the side of
    ``other_hip``, so no view or roll is needed.
    """
    hip, knee, ankle, other = (np.asarray(p, dtype=float) for p in (hip, knee, ankle,
                                                                     other_hip))
    a, b = knee - hip, ankle - knee
    angle = np.degrees(np.arctan2(abs(a[0] * b[1] - a[1] * b[0]), a @ b))
    axis = ankle - hip
    side_knee = axis[0] * (knee - hip)[1] - axis[1] * (knee - hip)[0]
    side_mid = axis[0] * (other - hip)[1] - axis[1] * (other - hip)[0]
    return float(angle if side_knee * side_mid >= 0 else -angle)


@dataclass(frozen=True)
class FrontalMeasures:
    """The frontal-plane measures of one front or back photo.

    Attributes
    ----------
    view : str
        "front" or "back".
    pelvic_obliquity_deg : float
        Hip-joint-centre line vs the true horizontal; + = the subject's left side higher.
    shoulder_level_deg : float
        Shoulder line; + = left shoulder higher.
    head_tilt_deg : float
        Ear line (or eye line, see ``head_points``); + = left ear higher.
    head_points : str
        "ears" or "eyes".
    trunk_shift_frac : float
        Shoulder midpoint from the plumb line through the ankle midpoint, fraction of
        stature; + = toward the subject's left.
    knee_left_deg, knee_right_deg : float
        Frontal knee angles; + = valgus.
    roll : Roll
        The roll taken out.
    """

    view: str
    pelvic_obliquity_deg: float
    shoulder_level_deg: float
    head_tilt_deg: float
    head_points: str
    trunk_shift_frac: float
    knee_left_deg: float
    knee_right_deg: float
    roll: Roll


def stature_px(pose: Pose, roll_deg: float = 0.0) -> float:
    """The person's standing height in pixels, along the true vertical.

    From the top of the person mask to the lowest heel where MediaPipe gave a mask, else
    from the ears to the heels over :data:`EAR_HEIGHT_FRACTION`.
    """
    r = np.radians(roll_deg)
    up = np.array([np.sin(r), -np.cos(r)])
    heel = min(float(pose.xy[i] @ up) for i in (LM.LEFT_HEEL, LM.RIGHT_HEEL))
    if pose.mask is not None and (pose.mask > 0.5).any():
        ys, xs = np.nonzero(pose.mask > 0.5)
        top = float(np.max(np.stack([xs + 0.5, ys + 0.5], 1) @ up))
        return top - heel
    ear = float(np.mean([pose.xy[i] @ up for i in (LM.LEFT_EAR, LM.RIGHT_EAR)]))
    return (ear - heel) / EAR_HEIGHT_FRACTION


def measure_frontal(pose: Pose, roll: Roll, view: str) -> FrontalMeasures:
    """Every frontal measure of one detected person seen from the front or the back."""
    xy = pose.xy
    r = roll.deg
    ears = min(pose.visibility[LM.LEFT_EAR], pose.visibility[LM.RIGHT_EAR])
    head = (LM.LEFT_EAR, LM.RIGHT_EAR) if ears >= MIN_EAR_VISIBILITY else (2, 5)  # eyes
    shoulders = (xy[LM.LEFT_SHOULDER] + xy[LM.RIGHT_SHOULDER]) / 2
    ankles = (xy[LM.LEFT_ANKLE] + xy[LM.RIGHT_ANKLE]) / 2
    # the subject's left leg is the one whose hip lies toward +u, whatever the labels say
    legs = ((LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE),
            (LM.RIGHT_HIP, LM.RIGHT_KNEE, LM.RIGHT_ANKLE))
    hips_u = to_body_plane(xy[[LM.LEFT_HIP, LM.RIGHT_HIP]], r, view)[:, 0]
    if hips_u[0] < hips_u[1]:
        legs = legs[::-1]
    (lh, lk, la), (rh, rk, ra) = legs
    return FrontalMeasures(
        view=view,
        pelvic_obliquity_deg=level_deg(xy[LM.LEFT_HIP], xy[LM.RIGHT_HIP], r, view),
        shoulder_level_deg=level_deg(xy[LM.LEFT_SHOULDER], xy[LM.RIGHT_SHOULDER], r, view),
        head_tilt_deg=level_deg(xy[head[0]], xy[head[1]], r, view),
        head_points="ears" if head[0] == LM.LEFT_EAR else "eyes",
        trunk_shift_frac=lateral_shift_frac(shoulders, ankles, stature_px(pose, r), r, view),
        knee_left_deg=knee_frontal_deg(xy[lh], xy[lk], xy[la], xy[rh]),
        knee_right_deg=knee_frontal_deg(xy[rh], xy[rk], xy[ra], xy[lh]),
        roll=roll,
    )


def with_mirror(a: FrontalMeasures, mirror: FrontalMeasures) -> FrontalMeasures:
    """Combine a photo's measures with those of its mirror image (analysed from scratch).

    A mirror shows the same person with left and right swapped, so its levels and shifts
    have the other sign and its knees trade places; the combination ``(a - mirror) / 2``
    (knees: the mean of a leg and its mirror twin) is antisymmetric by construction, and
    the pose model's left/right habits cancel (on 60 front renders a single reading and its
    mirror's differed by 1.6° of obliquity on average; bench/results/frontal.md).
    """
    if a.view != mirror.view:
        raise ValueError("a photo and its mirror are the same view")
    return FrontalMeasures(
        view=a.view,
        pelvic_obliquity_deg=(a.pelvic_obliquity_deg - mirror.pelvic_obliquity_deg) / 2,
        shoulder_level_deg=(a.shoulder_level_deg - mirror.shoulder_level_deg) / 2,
        head_tilt_deg=(a.head_tilt_deg - mirror.head_tilt_deg) / 2,
        head_points=a.head_points if a.head_points == mirror.head_points else "eyes",
        trunk_shift_frac=(a.trunk_shift_frac - mirror.trunk_shift_frac) / 2,
        knee_left_deg=(a.knee_left_deg + mirror.knee_right_deg) / 2,
        knee_right_deg=(a.knee_right_deg + mirror.knee_left_deg) / 2,
        roll=Roll((a.roll.deg - mirror.roll.deg) / 2, a.roll.source, a.roll.evidence,
                  a.roll.spread_deg),
    )
