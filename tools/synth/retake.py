"""Retake sessions: one person photographed several times, as a clinic re-photographs them.

A *session* is one body with its clothes, room, light, bony offsets and pelvic tilt. Its
*takes* differ as a person photographed again does: camera height, distance (fill) and
field of view, framing (phone aspect ratios, sometimes the feet cut at the shins),
roll, standing direction (+-5 degrees about the session's), arm details, sway, exposure,
white balance, noise, blur and JPEG quality. The pelvic tilt label is held to the
session's value in every take (the pelvis rotation is re-solved after the sway), so the
spread of readings between takes is the estimator's, not the person's.

A posed body (a *stance*) can be photographed by several cameras: take ``t`` uses stance
``t // cameras_per_stance``; the body is built and each stance posed once.

Everything is drawn from ``SeedSequence([RETAKE_STREAM, seed, person, ...])``: a session
depends only on (seed, person) and take ``t`` only on (seed, person, t) (and its stance), so
any take can be regenerated alone, and the retake bodies never coincide with the images of
``generate`` made with the same seed number.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .body import BodyModel
from .camera import body_to_world
from .generate import Sample, to_sample
from .labels import BoneOffsets, draw_bone_offsets, make_label
from .pose import PosedBody, PoseParams, pose_body
from .scene import CameraParams, SceneParams, Sensor, sample_camera, sample_scene
from .scene_build import BuiltBody, ankle_midpoint, build_body
from .scene_build import photograph as render_view

RETAKE_STREAM = 0x7E7A4E  # keeps retake sessions apart from generate's (seed, index) draws
STANCE, TAKE, BONE = 1, 2, 3  # sub-streams of a session

# Phone photos: width / height of portrait frames (3:4 camera default, 9:16 and 2:3).
ASPECTS = ((3 / 4, 0.45), (9 / 16, 0.35), (2 / 3, 0.20))
SHINS_CUT_P = 0.2  # share of takes whose frame ends at the shins
SHINS_CUT_FRAC = (0.10, 0.22)  # cut height, fraction of stature (ankle ~0.04, knee ~0.28)
YAW_STEP_DEG = 5.0  # standing direction: +- this about the session's direction
SESSION_YAW_SCALE = 10.0 / 15.0
BALANCE_SD = 0.08  # sway: SD of the centre-of-mass position, fraction of foot length
TILT_SOLVE_STEPS = 2  # re-posing steps that bring the label back to the session tilt
INDEX_COLUMNS = ("id", "seed", "person", "take", "stance", "pelvic_tilt_deg",
                 "pelvic_tilt_palpation_deg", "facing", "framing", "width", "height",
                 "sex_gender", "yaw_deg", "roll_deg", "focal_35mm", "sway_deg")


def session_rng(seed: int, person: int, *sub: int) -> np.random.Generator:
    """The random generator of session ``person`` of set ``seed`` (and its sub-streams)."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([RETAKE_STREAM, seed, person, *sub])))


def take_id(seed: int, person: int, take: int) -> str:
    """File stem of take ``take`` of person ``person`` of retake set ``seed``."""
    return f"r{seed}_p{person:05d}_t{take:02d}"


@dataclass(frozen=True)
class Stance:
    """How the person stands in one stance: direction, arms and sway."""

    yaw: float  # degrees off profile (positive = chest toward the camera)
    pose: PoseParams  # the session's posture with this stance's arms and balance


@dataclass(frozen=True)
class Shot:
    """One camera on a stance: framing, camera and sensor."""

    width: int
    height: int
    framing: str  # "full" or "shins"
    cut_frac: float  # frame bottom as a fraction of stature ("shins"), else 0
    camera: CameraParams
    sensor: Sensor
    noise_seed: int


def sample_session(seed: int, person: int) -> tuple[SceneParams, BoneOffsets]:
    """The session's body, looks, room, light, base posture and bony offsets."""
    return (sample_scene(session_rng(seed, person)),
            draw_bone_offsets(session_rng(seed, person, BONE)))


def sample_stance(base: SceneParams, seed: int, person: int, stance: int) -> Stance:
    """Standing direction +-5 degrees, fresh arm details and a new sway (balance point)."""
    rng = session_rng(seed, person, STANCE, stance)
    pose = base.pose
    # the session's direction is scaled into +-10 so that its takes stay within the +-15
    # degrees the single-image generator draws
    yaw = float(base.yaw * SESSION_YAW_SCALE + rng.uniform(-YAW_STEP_DEG, YAW_STEP_DEG))
    pose = dataclasses.replace(
        pose,
        arm_abduction=float(rng.uniform(4.0, 14.0)),
        arm_swing=float(rng.normal(0.0, 5.0)),
        elbow_flexion=float(rng.uniform(0.0, 15.0)),
        balance_offset=float(np.clip(pose.balance_offset + rng.normal(0.0, BALANCE_SD),
                                     0.1, 0.5)),
    )
    return Stance(yaw=yaw, pose=pose)


def sample_shot(seed: int, person: int, take: int, height_px: int = 960) -> Shot:
    """A new phone photo: aspect, framing, camera placement and field of view, sensor."""
    rng = session_rng(seed, person, TAKE, take)
    aspects, p = zip(*ASPECTS, strict=True)
    aspect = aspects[int(rng.choice(len(aspects), p=p))]
    shins = bool(rng.uniform() < SHINS_CUT_P)
    camera = sample_camera(rng)
    sensor = Sensor(
        exposure=float(np.exp(rng.normal(0, 0.2))),
        white_balance=tuple(float(v) for v in np.exp(rng.normal(0, 0.04, 3))),
        noise=float(rng.uniform(0.5, 6.0)),
        blur=float(rng.uniform(0.3, 1.4)),
        jpeg_quality=int(rng.integers(55, 96)),
        vignette=float(rng.uniform(0.0, 0.35)),
    )
    cut = float(rng.uniform(*SHINS_CUT_FRAC)) if shins else 0.0
    width = int(round(height_px * aspect / 2) * 2)
    return Shot(width=width, height=height_px, framing="shins" if shins else "full",
                cut_frac=cut, camera=camera, sensor=sensor,
                noise_seed=int(rng.integers(2**31)))


@dataclass(frozen=True)
class SessionBody:
    """A session's body, built once and reused by every stance, and its bony offsets."""

    built: BuiltBody
    bone: BoneOffsets


def build_session(model: BodyModel, seed: int, person: int) -> SessionBody:
    """Build the session's body (rest pose, colours, hair) once."""
    params, bone = sample_session(seed, person)
    return SessionBody(built=build_body(model, params), bone=bone)


def pose_stance(sb: SessionBody, stance: Stance) -> tuple[PosedBody, float]:
    """Pose the body so that its (swayed) pelvic tilt equals the session's target tilt.

    The label tilt is rest + dT + sway (the self-test checks this to 0.01 degrees), and the
    sway depends a little on dT, so dT is re-solved from the last sway a few times.

    Returns
    -------
    posed : PosedBody
    d_t : float
        The pelvis rotation applied, degrees.
    """
    built = sb.built
    target = built.params.target_tilt
    d_t = target - built.rest_tilt
    posed = None
    for _ in range(TILT_SOLVE_STEPS):
        posed = pose_body(built.body, dataclasses.replace(stance.pose, pelvic_tilt_change=d_t))
        d_t = target - built.rest_tilt - posed.sway
    posed = pose_body(built.body, dataclasses.replace(stance.pose, pelvic_tilt_change=d_t))
    return posed, d_t


def photograph(sb: SessionBody, stance: Stance, posed: PosedBody, d_t: float, shot: Shot,
               seed: int, person: int, take: int, stance_index: int) -> Sample:
    """Render one take of a posed stance with its own camera and sensor."""
    built = sb.built
    body, params = built.body, built.params
    world = body_to_world(ankle_midpoint(body, posed), params.facing, stance.yaw)
    cut_z = shot.cut_frac * body.stature if shot.framing == "shins" else None
    # the take's own camera, sensor and noise, not the session scene's
    photo = render_view(built, posed, world, shot.camera, shot.sensor,
                        (shot.width, shot.height), cut_z=cut_z, noise_seed=shot.noise_seed)
    take_params = dataclasses.replace(
        params, yaw=stance.yaw, camera=shot.camera, sensor=shot.sensor,
        pose=dataclasses.replace(stance.pose, pelvic_tilt_change=d_t))
    label = make_label(seed=seed, index=person, params=take_params, dT=d_t,
                       rest_tilt=built.rest_tilt, body=body, posed=posed, world=world,
                       camera=photo.camera, facing=params.facing, bone_offsets=sb.bone)
    sample = to_sample(take_id(seed, person, take), label, photo)
    # added after the id, image and mask names: the written label keeps its key order
    label["session"] = {
        "seed": seed, "person": person, "take": take, "stance": stance_index,
        "target_tilt_deg": round(params.target_tilt, 4), "framing": shot.framing,
        "cut_frac": round(shot.cut_frac, 4), "noise_seed": shot.noise_seed,
    }
    return sample


@dataclass
class SessionTiming:
    """CPU seconds (``time.process_time``) spent on each step of a session."""

    body: float = 0.0
    pose: float = 0.0
    render: float = 0.0
    renders: int = 0

    @property
    def total(self) -> float:
        return self.body + self.pose + self.render

    def add(self, other: SessionTiming) -> None:
        self.body += other.body
        self.pose += other.pose
        self.render += other.render
        self.renders += other.renders


def make_session(model: BodyModel, seed: int, person: int, takes: int,
                 cameras_per_stance: int = 1, height_px: int = 960,
                 only: set[int] | None = None,
                 timing: SessionTiming | None = None) -> list[Sample]:
    """All takes of one session (or only the take numbers in ``only``).

    Parameters
    ----------
    model : BodyModel
    seed, person : int
        The set and the session in it.
    takes : int
        Number of takes.
    cameras_per_stance : int
        Takes photographed from one posed body (pose once, photograph many times).
    height_px : int
        Image height, pixels (the width follows the take's aspect ratio).
    only : set of int, optional
        Take numbers to make (the others are skipped; each take depends on nothing else).
    timing : SessionTiming, optional
        CPU time per step is added here.
    """
    timing = timing if timing is not None else SessionTiming()
    wanted = [t for t in range(takes) if only is None or t in only]
    if not wanted:
        return []
    t0 = time.process_time()
    sb = build_session(model, seed, person)
    timing.body += time.process_time() - t0
    out = []
    posed_cache: dict[int, tuple[Stance, PosedBody, float]] = {}
    for take in wanted:
        s = take // max(1, cameras_per_stance)
        if s not in posed_cache:
            t0 = time.process_time()
            stance = sample_stance(sb.built.params, seed, person, s)
            posed_cache[s] = (stance, *pose_stance(sb, stance))
            timing.pose += time.process_time() - t0
        stance, posed, d_t = posed_cache[s]
        t0 = time.process_time()
        out.append(photograph(sb, stance, posed, d_t, sample_shot(seed, person, take, height_px),
                              seed, person, take, s))
        timing.render += time.process_time() - t0
        timing.renders += 1
    return out


def write_take(sample: Sample, out_dir: Path, mask: bool = False) -> None:
    """Write ``<id>.jpg`` (and its mask), then ``<id>.json`` last (marks it complete)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{sample.id}.jpg").write_bytes(sample.jpeg)
    label = dict(sample.label)
    if mask:
        cv2.imwrite(str(out_dir / f"{sample.id}_mask.png"), sample.mask,
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])
    else:
        label["mask"] = None
    tmp = out_dir / f"{sample.id}.json.tmp"
    tmp.write_text(json.dumps(label, indent=1))
    os.replace(tmp, out_dir / f"{sample.id}.json")  # atomic: a crash leaves no half label


def index_row(label: dict) -> dict:
    """The CSV index row of one take."""
    s, p = label["session"], label["params"]
    return {
        "id": label["id"], "seed": s["seed"], "person": s["person"], "take": s["take"],
        "stance": s["stance"], "pelvic_tilt_deg": label["pelvic_tilt_deg"],
        "pelvic_tilt_palpation_deg": label.get("pelvic_tilt_palpation_deg"),
        "facing": label["facing"], "framing": s["framing"],
        "width": label["camera"]["width"], "height": label["camera"]["height"],
        "sex_gender": p["shape"]["gender"], "yaw_deg": p["yaw"],
        "roll_deg": label["camera"]["roll_deg"], "focal_35mm": p["camera"]["focal_35mm"],
        "sway_deg": label["sway_deg"],
    }


def write_index(out_dir: Path) -> int:
    """(Re)write ``index.csv`` from the take labels present; returns the number of rows."""
    rows = [index_row(json.loads(p.read_text())) for p in sorted(out_dir.glob("r*_p*_t*.json"))]
    tmp = out_dir / "index.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_dir / "index.csv")
    return len(rows)


def generate_sessions(people: int, takes: int, seed: int, out_dir: Path,
                      cameras_per_stance: int = 1, height_px: int = 960, start: int = 0,
                      mask: bool = False, progress: bool = True) -> SessionTiming:
    """Make every missing take of sessions ``start .. people-1`` in ``out_dir`` (resumable).

    Returns
    -------
    SessionTiming
        CPU time of what this call made (nothing for takes already on disk).
    """
    from tqdm import tqdm

    cv2.setNumThreads(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    timing = SessionTiming()
    model = None
    for person in tqdm(range(start, people), unit="person", desc="retake",
                       disable=not progress):
        missing = {t for t in range(takes)
                   if not (out_dir / f"{take_id(seed, person, t)}.json").exists()}
        if not missing:
            continue
        model = model or BodyModel()
        for sample in make_session(model, seed, person, takes, cameras_per_stance, height_px,
                                   only=missing, timing=timing):
            write_take(sample, out_dir, mask=mask)
    write_index(out_dir)
    return timing
