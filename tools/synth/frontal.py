"""Labelled front and back views: known pelvic obliquity, shoulder level, head tilt, trunk
shift and knee alignment (issue 28).

An image depends only on (seed, index, view): its scene (body, looks, room, light, camera,
sagittal posture) is drawn by :func:`tools.synth.scene.sample_scene` from its own stream
``SeedSequence([FRONT_STREAM, seed, index])`` (so it never coincides with a side image of
the same seed) and its frontal posture from a sub-stream of it. The landmarks are those of
``../shared/ground-truth.md`` (ASIS/PSIS left and right), plus the ears, the acromions and
the joint centres.

Sign convention of every frontal label: a line's angle is positive when the **subject's
left** end is higher; a shift is positive toward the subject's left; a knee angle is
positive for valgus (knee toward the midline). In a front view the subject's left is on
the image's right, in a back view on its left. Degrees and fractions of stature.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from .body import BodyModel, BodyShape
from .camera import Camera
from .frontal_pose import FrontalPose
from .generate import Sample, to_sample, write_sample
from .labels import bone_rng, draw_bone_offsets, make_label
from .pose import rotation
from .scene import sample_scene
from .scene_build import ankle_midpoint, build_body, photograph, pose_at_target

FRONT_STREAM = 0xF2047  # keeps front/back scenes apart from generate's and retake's draws
FRONTAL_SUBSTREAM = 1
VIEWS = ("front", "back")
FRONT_YAW_SCALE = 10.0 / 15.0  # the scene's +-15 degrees yaw becomes +-10 off square-on
ACROMION_VERTEX_COUNT = 6
INDEX_COLUMNS = ("id", "seed", "index", "view", "pelvic_obliquity_deg",
                 "obliquity_asis_deg", "obliquity_psis_deg", "obliquity_hip_joints_deg",
                 "obliquity_image_deg", "shoulder_level_deg", "shoulder_joints_deg",
                 "head_tilt_deg", "trunk_shift_frac", "knee_valgus_l_deg",
                 "knee_valgus_r_deg", "roll_deg", "yaw_deg", "stature_m", "sex_gender")


def front_rng(seed: int, index: int, *sub: int) -> np.random.Generator:
    """The random generator of front/back image ``index`` of set ``seed``."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([FRONT_STREAM, seed, index, *sub])))


def front_id(seed: int, index: int, view: str) -> str:
    """File stem: ``f<seed>_<index>`` for a front view, ``b<seed>_<index>`` for a back view."""
    return f"{view[0]}{seed}_{index:06d}"


def sample_frontal(rng: np.random.Generator) -> FrontalPose:
    """A frontal posture: obliquity mostly within +-5 degrees, some near level.

    Ranges are wide on purpose (typical standing obliquity is 0-3 degrees, leg-length
    differences give more), so that an estimator's error is seen across them.
    """
    if rng.uniform() < 0.7:
        obliquity = float(rng.uniform(-5.0, 5.0))
    else:
        obliquity = float(np.clip(rng.normal(0.0, 1.5), -5.0, 5.0))
    return FrontalPose(
        pelvic_obliquity=obliquity,
        trunk_lean=float(np.clip(rng.normal(0.0, 2.0), -6.0, 6.0)),
        shoulder_elevation=float(np.clip(rng.normal(0.0, 5.0), -12.0, 12.0)),
        head_tilt=float(np.clip(rng.normal(0.0, 3.0), -10.0, 10.0)),
        leg_lean=float(np.clip(rng.normal(0.0, 1.5), -4.0, 4.0)),
        knee_valgus_l=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
        knee_valgus_r=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
    )


def view_to_world(ankles: np.ndarray, view: str, yaw: float) -> np.ndarray:
    """Body frame -> world (4, 4) for a front or back view, ``yaw`` degrees off square-on.

    The camera looks along world -x with world +y on the image's right (camera.py); turning
    the body by +90 degrees makes it face the camera, with its left on the image's right.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    rot = rotation([0, 0, 1], (90.0 if view == "front" else -90.0) + yaw)
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = -rot @ np.array([ankles[0], ankles[1], 0.0])
    return out


_ACROMION_IDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def acromion_vertex_ids(model: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the left and right acromion (top of the shoulder), fixed on the neutral
    body: the highest skin points within 2 cm (left-right and front-back) of the point 2 cm
    lateral to the shoulder joint, where a clinician palpates the acromion's edge."""
    key = id(model)
    if key not in _ACROMION_IDS:
        body = model.build(BodyShape(), rebind=False)
        v = body.vertices
        ids = []
        for side, sign in (("L", 1.0), ("R", -1.0)):
            joint = body.bone_heads[body.bone(f"upperarm01.{side}")]
            near = (np.abs(v[:, 0] - (joint[0] - sign * 0.02)) < 0.02) & \
                (np.abs(v[:, 1] - joint[1]) < 0.02) & (v[:, 2] > joint[2])
            cand = np.nonzero(near)[0]
            ids.append(np.sort(cand[np.argsort(-v[cand, 2])[:ACROMION_VERTEX_COUNT]]))
        _ACROMION_IDS[key] = (ids[0], ids[1])
    return _ACROMION_IDS[key]


def frontal_angle_3d(left: np.ndarray, right: np.ndarray, lat: np.ndarray) -> float:
    """Angle of the right->left line against the horizontal in the body's frontal plane,
    degrees; positive = the left point higher. ``lat`` is the body's left (unit, world)."""
    d = left - right
    return float(np.degrees(np.arctan2(d[2], d @ lat)))


def image_line_deg(left_px: np.ndarray, right_px: np.ndarray) -> float:
    """Angle of a left/right pair in the image, degrees; positive = the left one higher."""
    return float(np.degrees(np.arctan2(right_px[1] - left_px[1],
                                       abs(left_px[0] - right_px[0]))))


def knee_valgus_2d(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                   medial: float) -> float:
    """Frontal knee angle in a plane with coordinates (lateral, up), degrees.

    The angle between thigh (hip->knee) and shank (knee->ankle), positive when the knee
    lies toward the midline of the hip-ankle line (valgus). ``medial`` is +1 when the
    midline is toward +lateral (the right leg, lateral = the subject's left), -1 otherwise.
    """
    a, b = knee - hip, ankle - knee
    ang = np.degrees(np.arctan2(abs(a[0] * b[1] - a[1] * b[0]), a @ b))
    t = (knee[1] - hip[1]) / (ankle[1] - hip[1])
    offset = knee[0] - (hip[0] + t * (ankle[0] - hip[0]))
    return float(ang if offset * medial >= 0 else -ang)


def frontal_label(points3d: dict[str, np.ndarray], lat: np.ndarray, stature: float,
                  camera: Camera) -> dict:
    """The frontal labels of one image from its 3D points (world, metres).

    ``points3d`` holds ASIS/PSIS/hip/shoulder/acromion/ear/knee/ankle ``_L``/``_R``.
    """
    pairs = {"asis": "ASIS", "psis": "PSIS", "hip_joints": "hip", "acromion": "acromion",
             "shoulder_joints": "shoulder", "ears": "ear"}
    angles = {k: frontal_angle_3d(points3d[f"{n}_L"], points3d[f"{n}_R"], lat)
              for k, n in pairs.items()}
    image = {}
    for roll, key in ((True, "with_roll"), (False, "without_roll")):
        px = {k: camera.project(v[None], roll=roll)[0][0] for k, v in points3d.items()}
        image[key] = {k: round(image_line_deg(px[f"{n}_L"], px[f"{n}_R"]), 4)
                      for k, n in pairs.items()}

    def plane(p: np.ndarray) -> np.ndarray:
        return np.array([p @ lat, p[2]])

    mid = {n: (points3d[f"{n}_L"] + points3d[f"{n}_R"]) / 2
           for n in ("shoulder", "hip", "ankle")}
    valgus = {side: knee_valgus_2d(plane(points3d[f"hip_{side}"]),
                                   plane(points3d[f"knee_{side}"]),
                                   plane(points3d[f"ankle_{side}"]), medial)
              for side, medial in (("L", -1.0), ("R", 1.0))}
    return {
        "sign_convention": "angles: + = the subject's left side higher; shifts: + = toward "
                           "the subject's left; knees: + = valgus",
        "pelvic_obliquity_3d_deg": {k: round(angles[k], 4)
                                    for k in ("asis", "psis", "hip_joints")},
        "shoulder_level_3d_deg": {k: round(angles[k], 4)
                                  for k in ("acromion", "shoulder_joints")},
        "head_tilt_3d_deg": round(angles["ears"], 4),
        "image_deg": image,
        "trunk_shift_frac": round(float((mid["shoulder"] - mid["ankle"]) @ lat / stature), 5),
        "pelvis_shift_frac": round(float((mid["hip"] - mid["ankle"]) @ lat / stature), 5),
        "knee_valgus_3d_deg": {k: round(v, 4) for k, v in valgus.items()},
    }


def make_front_sample(model: BodyModel, seed: int, index: int, view: str = "front",
                      size: tuple[int, int] = (540, 960)) -> Sample:
    """Generate front/back image ``index`` of set ``seed`` (depends on nothing else)."""
    params = sample_scene(front_rng(seed, index))
    frontal = sample_frontal(front_rng(seed, index, FRONTAL_SUBSTREAM))
    params = dataclasses.replace(params, facing=view, yaw=params.yaw * FRONT_YAW_SCALE)
    scene = pose_at_target(build_body(model, params), frontal=frontal)
    params, body, posed = scene.params, scene.built.body, scene.posed
    world = view_to_world(ankle_midpoint(body, posed), view, params.yaw)
    # front and back views keep the near surface (render's cull_sign)
    photo = photograph(scene.built, posed, world, params.camera, params.sensor, size,
                       cull_sign=-1.0)
    verts, camera = photo.verts, photo.camera
    label = make_label(seed=seed, index=index, params=params, dT=scene.tilt_change,
                       rest_tilt=scene.built.rest_tilt, body=body, posed=posed, world=world,
                       camera=camera, facing=view,
                       bone_offsets=draw_bone_offsets(bone_rng(FRONT_STREAM, seed, index)),
                       midline=np.nonzero(np.abs(body.vertices[:, 0]) < 1e-6)[0])
    # the image-plane sagittal tilt means nothing seen from the front or back
    label.pop("pelvic_tilt_image_deg")
    acr_l, acr_r = acromion_vertex_ids(model)
    for name, ids in (("acromion_L", acr_l), ("acromion_R", acr_r)):
        p = verts[ids].mean(0)
        uv, _ = camera.project(p[None])
        label["points"][name] = {"xyz_m": [round(float(v), 5) for v in p],
                                 "px": [round(float(v), 2) for v in uv[0]]}
    pts = {k: np.asarray(v["xyz_m"], dtype=float) for k, v in label["points"].items()}
    # the labelled points are rounded to 10 um: well below what any angle here resolves
    lat = world[:3, :3] @ np.array([1.0, 0.0, 0.0])
    label["view"] = view
    label["frontal"] = frontal_label(pts, lat, body.stature, camera)
    label["frontal"]["pose"] = {k: round(v, 4) for k, v in
                                dataclasses.asdict(frontal).items()}
    return to_sample(front_id(seed, index, view), label, photo)


def index_row(label: dict) -> dict:
    """The CSV index row of one front/back label."""
    f = label["frontal"]
    primary = "asis" if label["view"] == "front" else "psis"
    return {
        "id": label["id"], "seed": label["seed"], "index": label["index"],
        "view": label["view"],
        "pelvic_obliquity_deg": f["pelvic_obliquity_3d_deg"][primary],
        "obliquity_asis_deg": f["pelvic_obliquity_3d_deg"]["asis"],
        "obliquity_psis_deg": f["pelvic_obliquity_3d_deg"]["psis"],
        "obliquity_hip_joints_deg": f["pelvic_obliquity_3d_deg"]["hip_joints"],
        "obliquity_image_deg": f["image_deg"]["with_roll"][primary],
        "shoulder_level_deg": f["shoulder_level_3d_deg"]["acromion"],
        "shoulder_joints_deg": f["shoulder_level_3d_deg"]["shoulder_joints"],
        "head_tilt_deg": f["head_tilt_3d_deg"], "trunk_shift_frac": f["trunk_shift_frac"],
        "knee_valgus_l_deg": f["knee_valgus_3d_deg"]["L"],
        "knee_valgus_r_deg": f["knee_valgus_3d_deg"]["R"],
        "roll_deg": label["camera"]["roll_deg"], "yaw_deg": label["params"]["yaw"],
        "stature_m": label["stature_m"], "sex_gender": label["params"]["shape"]["gender"],
    }


def generate_front(n: int, seed: int, out_dir: Path, view: str = "front",
                   size: tuple[int, int] = (540, 960), start: int = 0) -> int:
    """Make front/back images ``start .. n-1`` of set ``seed``, skipping finished ones.

    Returns
    -------
    int
        Number of images made by this call; ``index.csv`` lists every finished one.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    model = None
    made = 0
    for i in range(start, n):
        if (out_dir / f"{front_id(seed, i, view)}.json").exists():
            continue
        model = model or BodyModel()
        write_sample(make_front_sample(model, seed, i, view, size), out_dir)
        made += 1
    rows = [index_row(json.loads(p.read_text()))
            for p in sorted(out_dir.glob(f"{view[0]}{seed}_*.json"))]
    with open(out_dir / "index.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return made
