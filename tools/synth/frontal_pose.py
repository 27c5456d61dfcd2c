"""Frontal-plane posture for front and back views: pelvic obliquity, trunk lean, shoulder
and head tilt, weight shift and knee alignment.

Every angle is a rotation about the subject's forward axis in the world (body) frame,
added on top of the sagittal posture of :func:`tools.synth.pose.pose_body`; the sign of
each is given with its attribute (mostly: positive raises the subject's left side). The
feet stay on the floor: the pelvis rotation leaves one hip higher, and the foot under it
is plantarflexed (heel raised) until both feet touch the floor: a functional leg-length
difference. A true anatomical one (both feet flat) is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pose import lateral, pitch, skin

# How the lumbar bones share a pelvic obliquity (fraction of it, world frame), as the
# sagittal LUMBAR_SHARE: the thorax above them stays upright unless leant.
LUMBAR_SHARE_FRONTAL = {"spine05": 0.62, "spine04": 0.28}
FOOT_BAND_M = 0.05  # rest-pose vertices below this height are the feet (soles, toes)
HEEL_STEPS = 3  # re-posing steps that bring both feet onto the floor


@dataclass(frozen=True)
class FrontalPose:
    """One frontal-plane posture (degrees).

    Attributes
    ----------
    pelvic_obliquity : float
        Rotation of the pelvis about the forward axis through the hip centres; positive =
        the subject's left side higher.
    trunk_lean : float
        World lateral rotation of the thorax (spine02/01); positive = the left side up,
        i.e. the top of the trunk moves to the subject's right.
    shoulder_elevation : float
        Extra rotation of both clavicles about their sternal ends; positive = left
        shoulder up and right shoulder down.
    head_tilt : float
        World lateral rotation of the head; positive = left ear higher.
    leg_lean : float
        Both legs lean in the frontal plane; positive = the pelvis moves to the subject's
        left over the feet (weight shift onto the left leg).
    knee_valgus_l, knee_valgus_r : float
        Knee moved toward the midline (valgus, positive) or away (varus), split between
        the thigh and the shank of that leg.
    """

    pelvic_obliquity: float = 0.0
    trunk_lean: float = 0.0
    shoulder_elevation: float = 0.0
    head_tilt: float = 0.0
    leg_lean: float = 0.0
    knee_valgus_l: float = 0.0
    knee_valgus_r: float = 0.0


def add_frontal(rots: dict[str, np.ndarray], fp: FrontalPose, sway: float,
                heel: float) -> dict[str, np.ndarray]:
    """World rotations of :func:`pose_body` with the frontal posture added.

    Parameters
    ----------
    rots : dict
        Bone label -> world rotation (sagittal only), as ``pose_body`` builds it.
    fp : FrontalPose
    sway : float
        The balancing sway, degrees (the feet cancel it).
    heel : float
        Plantarflexion of the higher foot: positive = left, negative = right, degrees.
    """
    out = dict(rots)
    o, lean = fp.pelvic_obliquity, fp.trunk_lean
    frontal = {
        "root": o,
        "spine05": LUMBAR_SHARE_FRONTAL["spine05"] * o,
        "spine04": LUMBAR_SHARE_FRONTAL["spine04"] * o,
        "spine03": 0.5 * lean,
        "spine02": lean,
        "spine01": lean,
        # the neck takes the trunk lean back toward upright; the head carries its own tilt
        "neck01": 0.6 * lean + 0.3 * fp.head_tilt,
        "neck02": 0.3 * lean + 0.6 * fp.head_tilt,
        "neck03": 0.8 * fp.head_tilt,
        "head": fp.head_tilt,
        # legs: a lean moves the pelvis over the feet (rotating a leg's downward line by
        # +a moves its foot to the left); valgus brings each knee toward the midline
        "upperleg01.L": -fp.leg_lean - fp.knee_valgus_l,
        "lowerleg01.L": -fp.leg_lean + fp.knee_valgus_l,
        "upperleg01.R": -fp.leg_lean + fp.knee_valgus_r,
        "lowerleg01.R": -fp.leg_lean - fp.knee_valgus_r,
    }
    for bone, angle in frontal.items():
        out[bone] = lateral(angle) @ out[bone]
    for side in ("L", "R"):
        # both clavicles turn the same way: the left end goes up, the right end down
        out[f"clavicle.{side}"] = lateral(fp.shoulder_elevation) @ out["spine01"]
    out["foot.L"] = pitch(-sway + max(heel, 0.0))
    out["foot.R"] = pitch(-sway + max(-heel, 0.0))
    return out


def foot_vertices(body) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the left and right foot vertices (rest pose, lowest ``FOOT_BAND_M``)."""
    v = body.vertices
    low = v[:, 2] < v[:, 2].min() + FOOT_BAND_M
    return np.nonzero(low & (v[:, 0] > 0))[0], np.nonzero(low & (v[:, 0] < 0))[0]


def feet_on_floor(body, tf: np.ndarray, solve, sway: float, heel: list[float]) -> np.ndarray:
    """Plantarflex the higher foot until both feet touch the floor.

    The toes' drop is about ``toe_reach * sin(heel)``, with ``toe_reach`` the horizontal
    distance from the ankle to the tip of the toes; a few steps settle it to < 0.1 mm.

    Returns
    -------
    ndarray (B, 4, 4)
        The re-solved transforms; ``heel[0]`` holds the plantarflexion used.
    """
    left, right = foot_vertices(body)
    ankle = body.bone_heads[body.bone("foot.L")]
    reach = float(np.max(-(body.vertices[left, 1] - ankle[1])))
    for _ in range(HEEL_STEPS):
        verts = skin(body, tf)
        gap = verts[left, 2].min() - verts[right, 2].min()  # > 0: left foot higher
        if abs(gap) < 1e-4:
            break
        # signed: a gap on the left wants more left plantarflexion or less right
        heel[0] += float(np.degrees(np.arcsin(np.clip(gap / reach, -0.5, 0.5))))
        tf = solve(sway)
    return tf
