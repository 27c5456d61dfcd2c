"""Placing the posed body in the room and the pinhole camera that frames it.

World frame: floor z = 0, z up. The camera stands on the +x side looking along -x, so the
image's right is world +y. A body facing world -y therefore faces image left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pose import rotation
from .scene import CameraParams


@dataclass(frozen=True)
class Camera:
    """A pinhole camera (OpenCV convention: x right, y down, z forward).

    Attributes
    ----------
    width, height : int
        Image size, pixels.
    K : ndarray (3, 3)
        Intrinsics, pixels.
    R : ndarray (3, 3)
        World-to-camera rotation, with the roll.
    R_no_roll : ndarray (3, 3)
        The same camera without its roll about the optical axis.
    centre : ndarray (3,)
        Camera position in the world, metres.
    roll : float
        Roll about the optical axis, degrees (positive = content turns clockwise).
    """

    width: int
    height: int
    K: np.ndarray
    R: np.ndarray
    R_no_roll: np.ndarray
    centre: np.ndarray
    roll: float

    def to_camera(self, points: np.ndarray, roll: bool = True) -> np.ndarray:
        """World points (N, 3) -> camera coordinates (N, 3), metres."""
        rot = self.R if roll else self.R_no_roll
        return (np.asarray(points) - self.centre) @ rot.T

    def project(self, points: np.ndarray, roll: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) and depth (N,)."""
        pc = self.to_camera(points, roll)
        z = pc[:, 2]
        uv = pc[:, :2] / z[:, None] * [self.K[0, 0], self.K[1, 1]] + self.K[:2, 2]
        return uv, z

    def ray_directions(self) -> np.ndarray:
        """World direction of the ray through every pixel centre, (H, W, 3)."""
        u, v = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        d = np.stack([(u - self.K[0, 2]) / self.K[0, 0], (v - self.K[1, 2]) / self.K[1, 1],
                      np.ones_like(u)], -1)
        return d @ self.R  # camera -> world is R^T, applied to row vectors

    def as_label(self) -> dict:
        """Intrinsics and extrinsics for the label (x_cam = R (X_world - centre))."""
        return {
            "width": self.width, "height": self.height,
            "fx": float(self.K[0, 0]), "fy": float(self.K[1, 1]),
            "cx": float(self.K[0, 2]), "cy": float(self.K[1, 2]),
            "R_world_to_camera": self.R.round(9).tolist(),
            "t_world_to_camera": (-self.R @ self.centre).round(9).tolist(),
            "centre_world_m": self.centre.round(6).tolist(),
            "roll_deg": self.roll,
        }


def body_to_world(vertices_shape_origin: np.ndarray, facing: str, yaw: float
                  ) -> np.ndarray:
    """The rigid transform (4, 4) that turns the body frame into the world frame.

    The body (facing -y, mid-ankle point ``vertices_shape_origin``) is turned about the
    vertical so that it faces image ``facing`` with ``yaw`` degrees off profile (positive =
    chest toward the camera), and the mid-ankle point goes to the world origin.
    """
    angle = yaw if facing == "left" else 180.0 - yaw
    rot = rotation([0, 0, 1], angle)
    out = np.eye(4)
    out[:3, :3] = rot
    origin = np.array([vertices_shape_origin[0], vertices_shape_origin[1], 0.0])
    out[:3, 3] = -rot @ origin
    return out


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation looking from ``eye`` to ``target`` with z up."""
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def frame_camera(vertices: np.ndarray, stature: float, params: CameraParams, width: int,
                 height: int, cut_z: float | None = None) -> Camera:
    """Place the camera so that the whole person fills ``params.fill`` of the frame height.

    With ``cut_z`` (metres above the floor) the frame ends there instead: the part of the
    person above ``cut_z`` fills ``params.fill`` of the height and sits on the bottom edge,
    so the legs below it are cut off (a phone photo "cut at the shins"); ``params.offset_y``
    is then ignored.

    Parameters
    ----------
    vertices : ndarray (V, 3)
        The posed body in the world frame, metres.
    stature : float
        The person's standing height, metres.
    params : CameraParams
    width, height : int
        Image size, pixels.
    """
    f = params.focal_35mm / 36.0 * max(width, height)
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    cam_z = params.height_frac * stature
    offset_y = params.offset_y
    if cut_z is not None:
        vertices = vertices[vertices[:, 2] >= cut_z]
        # the kept part's bottom lands 1 % of the height below the bottom edge
        offset_y = 0.51 - params.fill / 2
    top, bottom = vertices[:, 2].max(), (0.0 if cut_z is None else float(cut_z))
    distance = f * (top - bottom) / (params.fill * height)
    roll = rotation([0, 0, 1], params.roll)
    for _ in range(4):  # refine: perspective makes the first guess a little off
        eye = np.array([distance, 0.0, cam_z])
        # aim so that the person's centre lands at the wanted offset from the image centre
        shift_y = -params.offset_x * width / f * distance
        shift_z = offset_y * height / f * distance
        target = np.array([0.0, shift_y, (top + bottom) / 2 + shift_z])
        r0 = _look_at(eye, target)
        cam = Camera(width, height, K, roll @ r0, r0, eye, params.roll)
        uv, _ = cam.project(vertices)
        span = uv[:, 1].max() - uv[:, 1].min()
        distance *= span / (params.fill * height)
        uv, _ = Camera(width, height, K, roll @ r0, r0, np.array([distance, 0, cam_z]),
                       params.roll).project(vertices)
        # keep the whole body in frame with a margin of 2 % of the height (a cut frame:
        # all but its bottom edge)
        margin = 0.02 * height
        low = uv[:, 1].max() - (height - margin) if cut_z is None else 0.0
        over = max(margin - uv[:, 0].min(), uv[:, 0].max() - (width - margin),
                   margin - uv[:, 1].min(), low, 0.0)
        distance *= 1.0 + 2.5 * over / height
    eye = np.array([distance, 0.0, cam_z])
    return Camera(width, height, K, roll @ _look_at(eye, target), _look_at(eye, target), eye,
                  params.roll)
