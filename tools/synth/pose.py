"""Posing a body: pelvic tilt with realistic compensation, stance, arms, balance.

Every sagittal segment is given a *world pitch* (degrees, rotation about the subject's
left-right axis, positive = the segment's front goes down, i.e. anterior tilt for the pelvis,
flexion for the trunk). The pelvis rotates by dT about the axis through the hip-joint
centres; the lumbar bones then take pitches between the pelvis and the upright trunk, so
lordosis grows with anterior tilt; the thighs keep their own pitch, so the hips flex or
extend by -dT; the whole body then sways about the ankles to put the centre of mass over
the feet, the feet staying flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import Body

# How the lumbar compensation of a pelvic tilt change dT is shared out: world pitch of each
# lumbar bone as a fraction of dT (pelvis 1, L1 = spine03 gets 1 - compensation).
LUMBAR_SHARE = {"spine05": 0.62, "spine04": 0.28}
SAGITTAL_AXIS = np.array([1.0, 0.0, 0.0])  # the subject's left: pitch axis
FORWARD_AXIS = np.array([0.0, -1.0, 0.0])  # the subject's forward: frontal-plane axis


@dataclass(frozen=True)
class PoseParams:
    """One standing posture (angles in degrees, lengths in metres).

    Attributes
    ----------
    pelvic_tilt_change : float
        dT, rotation of the pelvis about the hip axis; positive = more anterior tilt.
    lumbar_compensation : float
        Fraction of dT the lumbar spine takes back (1 = trunk stays as upright as before).
    thoracic_lean : float
        World pitch of the thorax (spine02), positive = leaning forward.
    thoracic_kyphosis : float
        Extra pitch of the upper thorax (spine01) relative to spine02.
    forward_head : float
        Forward pitch of the neck; the head pitches back by ``head_correction`` of it.
    head_correction : float
        Fraction of the neck pitch the head takes back to keep the gaze level.
    knee_flexion : float
        Positive = flexed, negative = hyperextended (both knees, split between thigh/shank).
    knee_asymmetry : float
        Extra flexion of the left knee (the right gets the opposite).
    step : float
        Thigh pitch that puts the left foot ahead (positive) and the right one behind.
    arms : str
        ``"hanging"`` or ``"crossed"``.
    arm_abduction : float
        Angle of hanging arms away from the body sides.
    arm_swing : float
        Forward (positive) swing of hanging arms.
    elbow_flexion : float
        Elbow flexion of hanging arms.
    balance_offset : float
        Where the centre of mass sits ahead of the ankles, as a fraction of foot length.
    """

    pelvic_tilt_change: float = 0.0
    lumbar_compensation: float = 1.0
    thoracic_lean: float = 0.0
    thoracic_kyphosis: float = 0.0
    forward_head: float = 0.0
    head_correction: float = 0.7
    knee_flexion: float = 0.0
    knee_asymmetry: float = 0.0
    step: float = 0.0
    arms: str = "hanging"
    arm_abduction: float = 8.0
    arm_swing: float = 0.0
    elbow_flexion: float = 10.0
    balance_offset: float = 0.3


@dataclass(frozen=True)
class PosedBody:
    """A posed body in the body frame (feet on z = 0, facing -y, before camera yaw).

    Attributes
    ----------
    vertices : ndarray (V, 3)
        Metres.
    transforms : ndarray (B, 4, 4)
        Rest-to-posed transform of every bone.
    joints : ndarray (B, 3)
        Posed bone heads (joint centres), metres.
    sway : float
        Forward rotation about the ankles that balanced the body, degrees.
    lumbar_rotation : float
        Lordosis measure (a): extension of L1 (spine03) relative to the pelvis, against the
        rest pose, degrees (positive = more lordotic).
    """

    vertices: np.ndarray
    transforms: np.ndarray
    joints: np.ndarray
    sway: float
    lumbar_rotation: float


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation matrix about a unit ``axis`` (right-hand rule), angle in degrees."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    a = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def pitch(degrees: float) -> np.ndarray:
    """Rotation about +x: positive moves the front (-y) of a segment down."""
    return rotation(SAGITTAL_AXIS, degrees)


def aim(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction ``u`` to direction ``v``."""
    u = u / np.linalg.norm(u)
    v = v / np.linalg.norm(v)
    axis = np.cross(u, v)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return np.eye(3)
    return rotation(axis / s, np.degrees(np.arctan2(s, u @ v)))


def forward_kinematics(body: Body, world_rot: dict[str, np.ndarray],
                       aims: dict[str, tuple[str, np.ndarray]], pivot_root: np.ndarray,
                       ) -> np.ndarray:
    """Bone transforms from target world rotations.

    Parameters
    ----------
    body : Body
    world_rot : dict
        Bone label -> its world rotation relative to the rest pose (3, 3). Bones not named
        keep their rest orientation relative to their parent.
    aims : dict
        Bone label -> (child bone label, world direction): rotate the bone (smallest turn
        from where its parent carries it) so that its head->child line points that way.
    pivot_root : ndarray (3,)
        Point the root rotates about (the mid-hip point), metres.

    Returns
    -------
    ndarray (B, 4, 4)
        Rest-to-posed transform per bone.
    """
    heads = body.bone_heads
    n = len(body.bone_labels)
    transforms = np.zeros((n, 4, 4))
    rots = np.zeros((n, 3, 3))
    index = {label: i for i, label in enumerate(body.bone_labels)}
    targets = {index[k]: v for k, v in world_rot.items()}
    aim_targets = {index[k]: (index[c], d) for k, (c, d) in aims.items()}
    for i in range(n):
        p = body.bone_parents[i]
        parent_rot = rots[p] if p >= 0 else np.eye(3)
        if i in targets:
            rots[i] = targets[i]
        elif i in aim_targets:
            child, direction = aim_targets[i]
            rest_dir = heads[child] - heads[i]
            rots[i] = aim(parent_rot @ rest_dir, direction) @ parent_rot
        else:
            rots[i] = parent_rot
        local = parent_rot.T @ rots[i]
        pivot = pivot_root if p < 0 else heads[i]
        step = np.eye(4)
        step[:3, :3] = local
        step[:3, 3] = pivot - local @ pivot
        transforms[i] = step if p < 0 else transforms[p] @ step
    return transforms


def skin(body: Body, transforms: np.ndarray) -> np.ndarray:
    """Linear blend skinning of the rest vertices (with the re-bound pelvis weights)."""
    t = transforms[body.skin_bones]  # (V, K, 4, 4)
    w = body.skin_weights[..., None]
    rot = (t[..., :3, :3] * w[..., None]).sum(1)
    trans = (t[..., :3, 3] * w).sum(1)
    return np.einsum("vij,vj->vi", rot, body.vertices) + trans


def centre_of_mass(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Centre of the enclosed volume (uniform density), from signed tetrahedra."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    vol = np.einsum("ij,ij->i", a, np.cross(b, c))
    centres = (a + b + c) / 4.0
    return (centres * vol[:, None]).sum(0) / vol.sum()


def _arm_aims(body: Body, params: PoseParams, thorax: np.ndarray,
              abduction_sign: float = 1.0) -> dict:
    """Aim directions for the arms (world frame, before the balancing sway).

    With ``abduction_sign`` +1 (side views, kept so that their images do not change) a
    rotation of ``arm_abduction`` about +y turns the left arm toward the midline, not away
    from it: the hands hang in front of the hips (14 degrees put the left wrist 3 cm inside
    the hip joint), which a profile hardly shows. Front and back views pass -1, so that the
    arms hang out to the sides.
    """
    aims = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        if params.arms == "hanging":
            turn = abduction_sign * sign
            upper = rotation([0, 1, 0], turn * params.arm_abduction) @ [0, 0, -1.0]
            upper = pitch(params.arm_swing) @ upper
            # forearm bends forward at the elbow, in the arm's swing plane
            fore = pitch(params.arm_swing - params.elbow_flexion) @ \
                (rotation([0, 1, 0], turn * (params.arm_abduction * 0.5)) @ [0, 0, -1.0])
        else:
            # arms folded across the chest: upper arms down and slightly forward/out,
            # forearms across the body, the left one higher and in front
            upper = thorax @ np.array([0.20 * sign, -0.22, -0.95])
            lift = 0.40 if side == "L" else 0.22
            fore = thorax @ np.array([-0.90 * sign, -0.16 if side == "L" else -0.10, lift])
        aims[f"upperarm01.{side}"] = ("lowerarm01." + side, upper)
        aims[f"lowerarm01.{side}"] = ("wrist." + side, fore)
    return aims


def lateral(degrees: float) -> np.ndarray:
    """Rotation about the forward axis: positive raises the subject's left side."""
    return rotation(FORWARD_AXIS, degrees)


def pose_body(body: Body, params: PoseParams, balance: bool = True,
              frontal=None) -> PosedBody:
    """Pose ``body`` in a standing posture with the pelvis compensations.

    Parameters
    ----------
    body : Body
    params : PoseParams
    balance : bool
        Sway about the ankles so that the centre of mass lies over the feet. The self-test
        turns it off to see the pelvis rotation alone.
    frontal : tools.synth.frontal_pose.FrontalPose, optional
        Frontal-plane posture (pelvic obliquity, trunk lean, shoulder, head, legs). None
        (side views) leaves every computation as it was, so side renders do not change.

    Returns
    -------
    PosedBody
        Feet on z = 0, facing -y.
    """
    heads = body.bone_heads
    hip_l, hip_r = heads[body.bone("upperleg01.L")], heads[body.bone("upperleg01.R")]
    d_t = params.pelvic_tilt_change
    lumbar_l1 = d_t * (1.0 - params.lumbar_compensation)
    neck = params.forward_head
    knee_l = params.knee_flexion + params.knee_asymmetry
    knee_r = params.knee_flexion - params.knee_asymmetry
    pitches = {
        "root": d_t,
        "spine05": d_t * LUMBAR_SHARE["spine05"] + lumbar_l1 * (1 - LUMBAR_SHARE["spine05"]),
        "spine04": d_t * LUMBAR_SHARE["spine04"] + lumbar_l1 * (1 - LUMBAR_SHARE["spine04"]),
        "spine03": lumbar_l1,
        "spine02": params.thoracic_lean,
        "spine01": params.thoracic_lean + params.thoracic_kyphosis,
        "neck01": params.thoracic_lean + params.thoracic_kyphosis + 0.4 * neck,
        "neck02": params.thoracic_lean + params.thoracic_kyphosis + 0.8 * neck,
        "neck03": params.thoracic_lean + params.thoracic_kyphosis + neck,
        "head": (1 - params.head_correction) * neck,
        # thighs: - half the knee flexion (knee forward); shanks: + half; step splits feet
        "upperleg01.L": -knee_l / 2 - params.step,
        "upperleg01.R": -knee_r / 2 + params.step,
        "lowerleg01.L": knee_l / 2 - params.step,
        "lowerleg01.R": knee_r / 2 + params.step,
    }
    thorax = pitch(pitches["spine01"])
    aims = _arm_aims(body, params, thorax, 1.0 if frontal is None else -1.0)

    heel = [0.0]  # frontal only: plantarflexion of the higher foot (+ left, - right)

    def solve(sway: float) -> np.ndarray:
        rots = {k: pitch(v) for k, v in pitches.items()}
        # the feet stay flat whatever the sway: their world pitch cancels it
        rots["foot.L"] = rots["foot.R"] = pitch(-sway)
        if frontal is not None:
            from .frontal_pose import add_frontal

            rots = add_frontal(rots, frontal, sway, heel[0])
        tf = forward_kinematics(body, rots, aims, pivot_root=(hip_l + hip_r) / 2)
        ankle = (_apply(tf[body.bone("foot.L")], heads[body.bone("foot.L")])
                 + _apply(tf[body.bone("foot.R")], heads[body.bone("foot.R")])) / 2
        sway_tf = np.eye(4)
        sway_tf[:3, :3] = pitch(sway)
        sway_tf[:3, 3] = ankle - sway_tf[:3, :3] @ ankle
        return sway_tf @ tf

    sway = 0.0
    tf = solve(sway)
    if balance:
        # two fixed-point steps are plenty: the sway is a few degrees
        for _ in range(2):
            verts = skin(body, tf)
            com = centre_of_mass(verts, body.faces)
            ankle_l = _apply(tf[body.bone("foot.L")], heads[body.bone("foot.L")])
            ankle_r = _apply(tf[body.bone("foot.R")], heads[body.bone("foot.R")])
            ankle = (ankle_l + ankle_r) / 2
            toe = (_apply(tf[body.bone("toe3-1.L")], heads[body.bone("toe3-1.L")])
                   + _apply(tf[body.bone("toe3-1.R")], heads[body.bone("toe3-1.R")])) / 2
            target_y = ankle[1] + params.balance_offset * (toe[1] - ankle[1])
            ahead = target_y - com[1]  # metres the COM must move along +y
            sway += np.degrees(np.arctan2(-ahead, com[2] - ankle[2]))
            tf = solve(sway)
    if frontal is not None:
        from .frontal_pose import feet_on_floor

        tf = feet_on_floor(body, tf, solve, sway, heel)
    verts = skin(body, tf)
    floor = verts[:, 2].min()
    tf[:, 2, 3] -= floor
    verts[:, 2] -= floor
    joints = np.einsum("bij,bj->bi", tf[:, :3, :3], heads) + tf[:, :3, 3]
    # lordosis (a): L1 extension relative to the pelvis, measured on the transforms
    rel = tf[body.bone("root")][:3, :3].T @ tf[body.bone("spine03")][:3, :3]
    lumbar = -np.degrees(np.arctan2(rel[2, 1], rel[1, 1]))
    return PosedBody(vertices=verts, transforms=tf, joints=joints, sway=float(sway),
                     lumbar_rotation=float(lumbar))


def _apply(transform: np.ndarray, point: np.ndarray) -> np.ndarray:
    return transform[:3, :3] @ point + transform[:3, 3]
