"""What each image is labelled with: tilts, lordosis, landmarks, joints, camera, parameters.

Angles are degrees; 3D points are metres in the world frame (floor z = 0, camera on +x);
2D points are pixels (x right, y down, origin at the top-left corner of the image).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import GENERATOR_VERSION
from .body import Body, landmark_points, sagittal_tilt_deg
from .camera import Camera

JOINT_BONES = {"shoulder": "upperarm01", "hip": "upperleg01", "knee": "lowerleg01",
               "ankle": "foot"}
LORDOSIS_L1_ABOVE_S2 = 0.11  # fraction of stature (ground-truth.md)


def image_tilt_deg(asis_px: np.ndarray, psis_px: np.ndarray, facing: str) -> float:
    """Tilt of the PSIS->ASIS line in the image, positive = ASIS lower, degrees.

    ``facing`` says which way the person faces in the image, i.e. where "forward" is.
    """
    forward = -1.0 if facing == "left" else 1.0
    d = asis_px - psis_px
    return float(np.degrees(np.arctan2(d[1], forward * d[0])))


def surface_lordosis_deg(vertices: np.ndarray, stature: float, s2_z: float,
                         midline: np.ndarray | None = None) -> float:
    """Lordosis (b): angle between the posterior midline tangents at S2 and L1, degrees.

    ``vertices`` are in the body frame (facing -y, z up); anny's midline vertices lie on
    x = 0. At each level the posterior midline points within +-6 cm are fitted with a
    quadratic y(z) and its slope gives the tangent. Positive = lordotic (concave
    backwards: the back surface slopes backwards going down at S2, going up at L1).
    ``midline`` (vertex indices) names the midline of a body posed out of x = 0 (a
    frontal-plane posture); by default the vertices on x = 0 are taken.
    """
    midline = vertices[np.abs(vertices[:, 0]) < 1e-6] if midline is None \
        else vertices[midline]
    l1_z = s2_z + LORDOSIS_L1_ABOVE_S2 * stature

    def slope(z0: float) -> float:
        band = midline[np.abs(midline[:, 2] - z0) <= 0.06]
        half_way = (band[:, 1].max() + band[:, 1].min()) / 2
        back = band[band[:, 1] > half_way]  # drop the front of the body
        coef = np.polyfit(back[:, 2] - z0, back[:, 1], 2)
        return float(coef[1])  # dy/dz at z0, +y = backwards

    return float(np.degrees(np.arctan(slope(l1_z)) - np.arctan(slope(s2_z))))


@dataclasses.dataclass(frozen=True)
class BoneOffsets:
    """Where this person's ASIS and PSIS sit on the bone, beyond the skin landmarks.

    Attributes
    ----------
    delta : float
        Offset of the bony ASIS-PSIS angle, degrees (Normal(0, 5) clipped to +-11).
    delta_lr : float
        Left minus right difference, degrees (Normal(0, 2.5) clipped to +-5.5).
    """

    delta: float
    delta_lr: float


# ground-truth.md, "Bone-shape variation" (Preece et al. 2008): SD and clip, degrees
BONE_DELTA_SD, BONE_DELTA_CLIP = 5.0, 11.0
BONE_DELTA_LR_SD, BONE_DELTA_LR_CLIP = 2.5, 5.5
# the stream the offsets come from: separate from the scene draws so that adding them
# changed no image of an existing (seed, index)
BONE_STREAM = 0xB0E5


def bone_rng(*key: int) -> np.random.Generator:
    """The random generator of the bony offsets of the body keyed by ``key``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([BONE_STREAM, *key])))


def draw_bone_offsets(rng: np.random.Generator) -> BoneOffsets:
    """Draw one body's bony offsets (ground-truth.md, "Bone-shape variation")."""
    delta = float(np.clip(rng.normal(0.0, BONE_DELTA_SD), -BONE_DELTA_CLIP, BONE_DELTA_CLIP))
    lr = float(np.clip(rng.normal(0.0, BONE_DELTA_LR_SD), -BONE_DELTA_LR_CLIP,
                       BONE_DELTA_LR_CLIP))
    return BoneOffsets(delta=delta, delta_lr=lr)


def palpation_tilts(postural: dict, bone: BoneOffsets) -> dict:
    """Palpation-equivalent tilt (what a palpation meter would read), degrees.

    Left = postural left + delta + delta_lr / 2, right = postural right + delta -
    delta_lr / 2, and the label ``mid`` is the mean of the two sides.
    """
    left = postural["left"] + bone.delta + bone.delta_lr / 2
    right = postural["right"] + bone.delta - bone.delta_lr / 2
    return {"mid": (left + right) / 2, "left": left, "right": right}


def _point(p3: np.ndarray, camera: Camera) -> dict:
    uv, _ = camera.project(p3[None])
    return {"xyz_m": [round(float(v), 5) for v in p3], "px": [round(float(v), 2) for v in uv[0]]}


def make_label(*, seed: int, index: int, params, dT: float, rest_tilt: float, body: Body,
               posed, world: np.ndarray, camera: Camera, facing: str,
               bone_offsets: BoneOffsets | None = None,
               midline: np.ndarray | None = None) -> dict:
    """The label of one image (a JSON-ready dict; see ``samples/README.md`` for the keys).

    Parameters
    ----------
    seed, index : int
    params : SceneParams
    dT, rest_tilt : float
        Applied pelvis rotation and the body's unposed tilt, degrees.
    body : Body
    posed : PosedBody
        In the body frame.
    world : ndarray (4, 4)
        Body frame -> world frame.
    camera : Camera
    facing : str
    bone_offsets : BoneOffsets, optional
        The body's bony offsets; with them the label also carries the palpation-equivalent
        tilt (``pelvic_tilt_palpation_deg``). ``pelvic_tilt_deg`` stays the postural tilt.
    midline : ndarray, optional
        Midline vertex indices for the surface lordosis (see :func:`surface_lordosis_deg`).
    """
    rot, shift = world[:3, :3], world[:3, 3]
    verts_w = posed.vertices @ rot.T + shift
    forward_w = rot @ np.array([0.0, -1.0, 0.0])
    lm_body = landmark_points(posed.vertices, body.faces)
    lm = {k: rot @ v + shift for k, v in lm_body.items()}
    mid_a = (lm["ASIS_L"] + lm["ASIS_R"]) / 2
    mid_p = (lm["PSIS_L"] + lm["PSIS_R"]) / 2
    tilt3d = {
        "mid": sagittal_tilt_deg(mid_a, mid_p, forward_w),
        "left": sagittal_tilt_deg(lm["ASIS_L"], lm["PSIS_L"], forward_w),
        "right": sagittal_tilt_deg(lm["ASIS_R"], lm["PSIS_R"], forward_w),
    }
    image_tilt = {}
    for roll, key in ((True, "with_roll"), (False, "without_roll")):
        px = {k: camera.project(v[None], roll=roll)[0][0] for k, v in lm.items()}
        mid_a_px = (px["ASIS_L"] + px["ASIS_R"]) / 2
        mid_p_px = (px["PSIS_L"] + px["PSIS_R"]) / 2
        image_tilt[key] = {
            "mid": image_tilt_deg(mid_a_px, mid_p_px, facing),
            "left": image_tilt_deg(px["ASIS_L"], px["PSIS_L"], facing),
            "right": image_tilt_deg(px["ASIS_R"], px["PSIS_R"], facing),
        }
    s2_z = float(mid_p_body_z(lm_body))
    lordosis = {
        "l1_rotation_deg": posed.lumbar_rotation,
        "surface_deg": surface_lordosis_deg(posed.vertices, body.stature, s2_z, midline),
    }
    joints_w = posed.joints @ rot.T + shift
    points = {name: _point(p, camera) for name, p in lm.items()}
    points["mid_ASIS"] = _point(mid_a, camera)
    points["mid_PSIS"] = _point(mid_p, camera)
    ear_l, ear_r = body.ear_vertices
    points["ear_L"] = _point(verts_w[ear_l].mean(0), camera)
    points["ear_R"] = _point(verts_w[ear_r].mean(0), camera)
    for name, bone in JOINT_BONES.items():
        for side in ("L", "R"):
            points[f"{name}_{side}"] = _point(joints_w[body.bone(f"{bone}.{side}")], camera)
    uv, _ = camera.project(verts_w)
    bony = {}
    if bone_offsets is not None:
        palp = palpation_tilts(tilt3d, bone_offsets)
        bony = {"pelvic_tilt_palpation_deg": round(palp["mid"], 4),
                "pelvic_tilt_palpation_3d_deg": {k: round(v, 4) for k, v in palp.items()},
                "bone_offsets_deg": {"delta": round(bone_offsets.delta, 4),
                                     "delta_lr": round(bone_offsets.delta_lr, 4)}}
    return {
        "generator": "tools.synth", "generator_version": GENERATOR_VERSION,
        "seed": seed, "index": index,
        "pelvic_tilt_deg": round(tilt3d["mid"], 4),
        "pelvic_tilt_3d_deg": {k: round(v, 4) for k, v in tilt3d.items()},
        "pelvic_tilt_image_deg": {k: {s: round(x, 4) for s, x in v.items()}
                                  for k, v in image_tilt.items()},
        **bony,
        "pelvic_tilt_rest_deg": round(rest_tilt, 4),
        "pelvic_tilt_change_deg": round(dT, 4),
        "sway_deg": round(posed.sway, 4),
        "lumbar_lordosis_deg": {k: round(v, 4) for k, v in lordosis.items()},
        "facing": facing,
        "stature_m": round(body.stature, 4),
        "points": points,
        "person_bbox_px": [round(float(v), 1) for v in
                           (*uv.min(0), *uv.max(0))],
        "camera": camera.as_label(),
        "params": _params_dict(params),
    }


def _params_dict(params) -> dict:
    out = _jsonable(dataclasses.asdict(params))
    out["shape"]["local_changes"] = dict(out["shape"]["local_changes"])
    return out


def mid_p_body_z(lm_body: dict) -> float:
    """Height of the mid-PSIS point (the S2 level), metres."""
    return (lm_body["PSIS_L"][2] + lm_body["PSIS_R"][2]) / 2


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value
