"""The steps every synthetic photo shares (side, front/back and retake images).

Build the body at its stature with its colours and hair, pose it at the scene's target
pelvic tilt, place it in the world from its ankles, frame the camera, render and code the
JPEG. What differs between the kinds of image (the world transform of the view, the
frontal posture, the culling side, a retake's own camera and sensor) stays with the
caller and is passed in explicitly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from .appearance import add_hair_volume, vertex_colours
from .body import Body, BodyModel, pelvic_tilts
from .camera import Camera, frame_camera
from .frontal_pose import FrontalPose
from .pose import PosedBody, pose_body
from .render import Rendered, encode_jpeg, render
from .scene import CameraParams, SceneParams, Sensor


@dataclass(frozen=True)
class BuiltBody:
    """A scene's body before posing.

    Attributes
    ----------
    params : SceneParams
        The scene with the shape's height slider set to give its stature.
    body : Body
        The built body, hair volume added.
    albedo : ndarray (V, 3)
        Linear RGB per vertex.
    material : ndarray (V,)
        Material ids from ``appearance``.
    rest_tilt : float
        Mid pelvic tilt of the rest pose (before the hair volume), degrees.
    """

    params: SceneParams
    body: Body
    albedo: np.ndarray
    material: np.ndarray
    rest_tilt: float


@dataclass(frozen=True)
class PosedScene:
    """A built body posed so that its pelvic tilt change reaches the target tilt.

    Attributes
    ----------
    built : BuiltBody
    params : SceneParams
        ``built.params`` with ``pose.pelvic_tilt_change`` set to ``tilt_change``.
    posed : PosedBody
    tilt_change : float
        Pelvis rotation applied, target minus rest tilt, degrees.
    """

    built: BuiltBody
    params: SceneParams
    posed: PosedBody
    tilt_change: float


@dataclass(frozen=True)
class Photo:
    """One rendered and JPEG-coded view of a posed body.

    Attributes
    ----------
    verts : ndarray (V, 3)
        Posed vertices in the world frame, metres.
    camera : Camera
    rendered : Rendered
        The image before JPEG coding and the person mask.
    jpeg : bytes
    decoded : ndarray (H, W, 3) uint8
        The JPEG decoded again, RGB (what an estimator reads).
    """

    verts: np.ndarray
    camera: Camera
    rendered: Rendered
    jpeg: bytes
    decoded: np.ndarray


def build_body(model: BodyModel, params: SceneParams) -> BuiltBody:
    """Build the body of ``params`` at its stature, with colours and hair volume."""
    slider = model.height_for_stature(params.shape, params.stature)
    params = dataclasses.replace(params, shape=dataclasses.replace(params.shape, height=slider))
    body = model.build(params.shape)
    rest_tilt = pelvic_tilts(body.vertices, body.faces)["mid"]
    albedo, material = vertex_colours(body, params.appearance)
    body = add_hair_volume(body, material, params.appearance)
    return BuiltBody(params=params, body=body, albedo=albedo, material=material,
                     rest_tilt=rest_tilt)


def pose_at_target(built: BuiltBody, frontal: FrontalPose | None = None) -> PosedScene:
    """Pose the body with the pelvis turned by target minus rest tilt (no sway re-solve)."""
    d_t = built.params.target_tilt - built.rest_tilt
    params = dataclasses.replace(
        built.params, pose=dataclasses.replace(built.params.pose, pelvic_tilt_change=d_t))
    posed = pose_body(built.body, params.pose, frontal=frontal)
    return PosedScene(built=built, params=params, posed=posed, tilt_change=d_t)


def ankle_midpoint(body: Body, posed: PosedBody) -> np.ndarray:
    """Midpoint of the two posed ankle joints (body frame, metres): the world origin."""
    return (posed.joints[body.bone("foot.L")] + posed.joints[body.bone("foot.R")]) / 2


def encode_and_decode(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """JPEG bytes of an RGB image and the RGB image decoded back from them."""
    jpeg = encode_jpeg(image, quality)
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
    return jpeg, decoded


def photograph(built: BuiltBody, posed: PosedBody, world: np.ndarray,
               camera_params: CameraParams, sensor: Sensor, size: tuple[int, int], *,
               cut_z: float | None = None, noise_seed: int | None = None,
               cull_sign: float = 1.0) -> Photo:
    """Place the posed body with ``world`` (4, 4), frame the camera, render, code the JPEG.

    Parameters
    ----------
    built : BuiltBody
        Supplies the mesh faces, colours, room, lighting and fabric gloss.
    posed : PosedBody
    world : ndarray (4, 4)
        Body frame -> world transform of this view.
    camera_params, sensor
        The shot's camera placement and sensor (a retake draws its own per take).
    size : (int, int)
        Width and height, pixels.
    cut_z, noise_seed, cull_sign
        Passed to :func:`frame_camera` and :func:`render` (defaults as there).
    """
    params = built.params
    verts = posed.vertices @ world[:3, :3].T + world[:3, 3]
    width, height = size
    camera = frame_camera(verts, built.body.stature, camera_params, width, height, cut_z)
    out = render(camera, verts, built.body.faces, built.albedo, built.material,
                 params.lighting, params.room, sensor, params.appearance.fabric_gloss,
                 noise_seed=noise_seed, cull_sign=cull_sign)
    jpeg, decoded = encode_and_decode(out.image, sensor.jpeg_quality)
    return Photo(verts=verts, camera=camera, rendered=out, jpeg=jpeg, decoded=decoded)
