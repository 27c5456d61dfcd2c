"""Sampling every parameter of one render from a seed (body, pose, looks, camera, light, room).

All draws come from ``numpy.random.Generator(PCG64(SeedSequence([seed, index])))``, so an
image depends only on (seed, index): a resumed or parallel run makes the same files.
Ranges are kept wide on purpose: an estimator must not learn one narrow look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import LOCAL_CHANGES, BodyShape
from .pose import PoseParams

# Linear-RGB albedos: skin (light to dark, warm to cool), hair, clothes, walls, floors.
SKIN_TONES = np.array([
    [0.80, 0.60, 0.50], [0.74, 0.53, 0.42], [0.68, 0.47, 0.36], [0.60, 0.40, 0.29],
    [0.52, 0.33, 0.22], [0.42, 0.26, 0.17], [0.32, 0.19, 0.12], [0.22, 0.13, 0.08],
    [0.15, 0.09, 0.06], [0.70, 0.52, 0.40], [0.58, 0.42, 0.30], [0.45, 0.30, 0.20],
]) ** 1.6  # authored in sRGB-ish terms, stored linear
HAIR_COLOURS = np.array([
    [0.04, 0.03, 0.02], [0.10, 0.06, 0.03], [0.22, 0.13, 0.06], [0.45, 0.30, 0.14],
    [0.70, 0.55, 0.30], [0.55, 0.25, 0.10], [0.55, 0.55, 0.55], [0.80, 0.80, 0.78],
]) ** 1.6
WALL_COLOURS = np.array([
    [0.93, 0.92, 0.88], [0.85, 0.82, 0.75], [0.75, 0.78, 0.80], [0.80, 0.74, 0.66],
    [0.62, 0.66, 0.60], [0.55, 0.60, 0.68], [0.90, 0.86, 0.80], [0.45, 0.47, 0.50],
    [0.78, 0.70, 0.62], [0.96, 0.96, 0.96], [0.35, 0.38, 0.42], [0.70, 0.62, 0.52],
]) ** 2.0
FLOOR_COLOURS = np.array([
    [0.55, 0.40, 0.25], [0.70, 0.55, 0.38], [0.40, 0.28, 0.18], [0.60, 0.60, 0.58],
    [0.35, 0.35, 0.37], [0.80, 0.78, 0.72], [0.50, 0.45, 0.40], [0.25, 0.25, 0.28],
    [0.65, 0.50, 0.42], [0.45, 0.50, 0.55],
]) ** 2.0

TOP_STYLES = ("tank", "tshirt", "longsleeve", "sports_bra", "none")
BOTTOM_STYLES = ("briefs", "shorts", "bike_shorts", "capri", "leggings")
FEET_STYLES = ("barefoot", "socks", "shoes")
HAIR_STYLES = ("bald", "short", "medium", "long")
WALL_PATTERNS = ("plain", "stucco", "panels", "tiles", "stripes", "bricks")
FLOOR_PATTERNS = ("planks", "tiles", "carpet", "concrete")


@dataclass(frozen=True)
class Appearance:
    """Skin, hair and painted clothing (colours linear RGB in [0, 1])."""

    skin: tuple[float, float, float]
    hair_style: str
    hair: tuple[float, float, float]
    top_style: str
    top: tuple[float, float, float]
    top_hem: float  # metres above the ASIS (negative = below)
    bottom_style: str
    bottom: tuple[float, float, float]
    waistband: float  # metres above the ASIS
    feet_style: str
    feet: tuple[float, float, float]
    fabric_gloss: float


@dataclass(frozen=True)
class CameraParams:
    """Camera choices; the pose of the camera is solved from the posed body when rendering.

    Attributes
    ----------
    focal_35mm : float
        Focal length as a 35 mm-equivalent (long side = 36 mm), millimetres.
    height_frac : float
        Camera height as a fraction of the subject's stature.
    fill : float
        Fraction of the image height the person's bounding box fills.
    roll : float
        Camera roll, degrees (positive = image content rotates clockwise).
    offset_x, offset_y : float
        Where the person's centre sits in the frame, fractions of width/height from centre.
    """

    focal_35mm: float
    height_frac: float
    fill: float
    roll: float
    offset_x: float
    offset_y: float


@dataclass(frozen=True)
class Lighting:
    """A key light with shadows plus ambient light (linear RGB)."""

    key_azimuth: float  # degrees about z from the camera direction
    key_elevation: float  # degrees above the horizon
    key_colour: tuple[float, float, float]
    key_strength: float
    ambient_colour: tuple[float, float, float]
    ambient_strength: float
    shadow_softness: float  # blur of cast shadows, pixels at 960 px height


@dataclass(frozen=True)
class Room:
    """Wall behind the subject and floor."""

    wall_distance: float  # metres behind the subject
    wall_colour: tuple[float, float, float]
    wall_pattern: str
    floor_colour: tuple[float, float, float]
    floor_pattern: str
    baseboard_colour: tuple[float, float, float]
    baseboard_height: float
    texture_seed: int


@dataclass(frozen=True)
class Sensor:
    """Photo artefacts."""

    exposure: float
    white_balance: tuple[float, float, float]
    noise: float  # std of additive noise, 8-bit units
    blur: float  # gaussian sigma, pixels
    jpeg_quality: int
    vignette: float


@dataclass(frozen=True)
class SceneParams:
    """Everything sampled for one image."""

    shape: BodyShape
    stature: float  # wanted standing height, metres (the height slider is solved for it)
    target_tilt: float  # wanted absolute pelvic tilt, degrees (dT = target - rest tilt)
    pose: PoseParams
    facing: str  # "left" or "right": where the person faces in the image
    yaw: float  # degrees off pure profile (positive turns the chest toward the camera)
    appearance: Appearance
    camera: CameraParams
    lighting: Lighting
    room: Room
    sensor: Sensor


def make_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of image ``index`` of the data set made with ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))


def _colour(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.08) -> tuple:
    base = palette[rng.integers(len(palette))]
    c = np.clip(base * np.exp(rng.normal(0, jitter, 3)), 0.0, 1.0)
    return tuple(float(v) for v in c)


def _cloth_colour(rng: np.random.Generator) -> tuple:
    """Any hue, from near-black to near-white, often saturated."""
    hue = rng.uniform(0, 1)
    sat = rng.choice([rng.uniform(0, 0.15), rng.uniform(0.3, 0.95)])
    val = rng.uniform(0.06, 0.95)
    rgb = _hsv_to_rgb(hue, sat, val)
    return tuple(float(v) for v in np.asarray(rgb) ** 2.2)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def sample_target_tilt(rng: np.random.Generator) -> float:
    """Absolute pelvic tilt wanted, degrees: wide, with both extremes well represented.

    70 % uniform over [-12, 37], 30 % around the typical 5-15 degrees.
    """
    if rng.uniform() < 0.7:
        return float(rng.uniform(-12.0, 37.0))
    return float(np.clip(rng.normal(10.0, 6.0), -12.0, 37.0))


def sample_shape(rng: np.random.Generator) -> BodyShape:
    """Adult body shape: sex, age 18-80, stature, weight, muscle, proportions, local shape."""
    # mostly clearly male or female bodies, some in between
    if rng.uniform() < 0.85:
        gender = float(rng.uniform(0, 0.15) if rng.uniform() < 0.5 else rng.uniform(0.85, 1))
    else:
        gender = float(rng.uniform(0.2, 0.8))
    race = rng.dirichlet([0.6, 0.6, 0.6])
    local = tuple((name, float(np.clip(rng.normal(0, 0.35), -1, 1))) for name in LOCAL_CHANGES)
    return BodyShape(
        gender=gender,
        age_years=float(rng.uniform(18, 80)),
        height=0.5,  # replaced by the slider that gives the sampled stature
        weight=float(np.clip(rng.beta(2.2, 2.6) * 1.05, 0, 1)),
        muscle=float(rng.beta(2.5, 2.5)),
        proportions=float(rng.uniform(0.2, 0.9)),
        cupsize=float(rng.uniform(0.2, 0.8)),
        firmness=float(rng.uniform(0.2, 0.8)),
        african=float(race[0]), asian=float(race[1]), caucasian=float(race[2]),
        local_changes=local,
    )


def sample_pose(rng: np.random.Generator) -> PoseParams:
    """Stance (the tilt change is set later from the body's own rest tilt)."""
    arms = "crossed" if rng.uniform() < 0.35 else "hanging"
    return PoseParams(
        lumbar_compensation=float(rng.uniform(0.8, 1.05)),
        thoracic_lean=float(rng.normal(0.0, 4.0)),
        thoracic_kyphosis=float(rng.uniform(-2.0, 8.0)),
        forward_head=float(abs(rng.normal(0.0, 5.0))),
        head_correction=float(rng.uniform(0.5, 0.95)),
        knee_flexion=float(rng.choice([rng.uniform(-7, 0), rng.uniform(0, 12)])),
        knee_asymmetry=float(rng.normal(0, 2.0)),
        step=float(rng.uniform(-5.0, 5.0)),
        arms=arms,
        arm_abduction=float(rng.uniform(4.0, 14.0)),
        arm_swing=float(rng.normal(0.0, 5.0)),
        elbow_flexion=float(rng.uniform(0.0, 15.0)),
        balance_offset=float(rng.uniform(0.15, 0.45)),
    )


def sample_appearance(rng: np.random.Generator, shape: BodyShape) -> Appearance:
    female = shape.gender > 0.5
    top_p = [0.25, 0.3, 0.15, 0.2, 0.1] if female else [0.25, 0.35, 0.15, 0.0, 0.25]
    hair_p = [0.02, 0.25, 0.38, 0.35] if female else [0.15, 0.6, 0.2, 0.05]
    grey = shape.age_years > 55 and rng.uniform() < 0.6
    hair = _colour(rng, HAIR_COLOURS[6:] if grey else HAIR_COLOURS[:6], 0.15)
    return Appearance(
        skin=_colour(rng, SKIN_TONES, 0.06),
        hair_style=str(rng.choice(HAIR_STYLES, p=hair_p)),
        hair=hair,
        top_style=str(rng.choice(TOP_STYLES, p=top_p)),
        top=_cloth_colour(rng),
        top_hem=float(rng.uniform(-0.06, 0.10)),
        bottom_style=str(rng.choice(BOTTOM_STYLES, p=[0.1, 0.3, 0.2, 0.15, 0.25])),
        bottom=_cloth_colour(rng),
        waistband=float(rng.uniform(-0.05, 0.05)),
        feet_style=str(rng.choice(FEET_STYLES, p=[0.45, 0.2, 0.35])),
        feet=_cloth_colour(rng),
        fabric_gloss=float(rng.uniform(0.0, 0.35)),
    )


def sample_camera(rng: np.random.Generator) -> CameraParams:
    """A phone camera's placement and lens (same draws, in the same order, wherever a
    camera is sampled, so a seed keeps giving the same picture)."""
    return CameraParams(
        focal_35mm=float(rng.uniform(24, 70)),
        height_frac=float(rng.uniform(0.3, 0.85)),
        fill=float(rng.uniform(0.6, 0.9)),
        roll=float(rng.uniform(-3, 3)),
        offset_x=float(rng.uniform(-0.12, 0.12)),
        offset_y=float(rng.uniform(-0.04, 0.04)),
    )


def sample_scene(rng: np.random.Generator) -> SceneParams:
    """Draw every parameter of one image (see the module docstring)."""
    shape = sample_shape(rng)
    # adult statures by sex (roughly 1.76 +- 0.075 m for men, 1.63 +- 0.07 m for women)
    stature = float(np.clip(rng.normal(1.76 - 0.13 * shape.gender, 0.075), 1.45, 2.02))
    target = sample_target_tilt(rng)
    pose = sample_pose(rng)
    facing = "left" if rng.uniform() < 0.5 else "right"
    camera = sample_camera(rng)
    warm = rng.uniform(-1, 1)
    key_colour = np.array([1.0 + 0.12 * warm, 1.0, 1.0 - 0.15 * warm])
    lighting = Lighting(
        key_azimuth=float(rng.uniform(-80, 80)),
        key_elevation=float(rng.uniform(20, 70)),
        key_colour=tuple(float(v) for v in key_colour),
        key_strength=float(rng.uniform(1.2, 2.6)),
        ambient_colour=tuple(float(v) for v in (1.0 - 0.08 * warm, 1.0, 1.0 + 0.1 * warm)),
        ambient_strength=float(rng.uniform(0.25, 0.6)),
        shadow_softness=float(rng.uniform(2.0, 14.0)),
    )
    room = Room(
        wall_distance=float(rng.uniform(0.4, 2.5)),
        wall_colour=_colour(rng, WALL_COLOURS, 0.06),
        wall_pattern=str(rng.choice(WALL_PATTERNS, p=[0.35, 0.2, 0.15, 0.1, 0.1, 0.1])),
        floor_colour=_colour(rng, FLOOR_COLOURS, 0.1),
        floor_pattern=str(rng.choice(FLOOR_PATTERNS)),
        baseboard_colour=_colour(rng, WALL_COLOURS, 0.1),
        baseboard_height=float(rng.uniform(0.0, 0.14)),
        texture_seed=int(rng.integers(2**31)),
    )
    sensor = Sensor(
        exposure=float(np.exp(rng.normal(0, 0.2))),
        white_balance=tuple(float(v) for v in np.exp(rng.normal(0, 0.04, 3))),
        noise=float(rng.uniform(0.5, 6.0)),
        blur=float(rng.uniform(0.3, 1.4)),
        jpeg_quality=int(rng.integers(55, 96)),
        vignette=float(rng.uniform(0.0, 0.35)),
    )
    return SceneParams(
        shape=shape, stature=stature, target_tilt=target, pose=pose, facing=facing,
        yaw=float(rng.uniform(-15, 15)),
        appearance=sample_appearance(rng, shape), camera=camera, lighting=lighting,
        room=room, sensor=sensor,
    )
