"""Step 2 of the flow: image → pose.

A thin, typed wrapper over MediaPipe's ``PoseLandmarker`` (Tasks API). It returns plain
NumPy arrays in pixels so that everything downstream is MediaPipe-free and testable on
hand-made landmarks.

Landmarkers hold native resources and are not thread-safe: use one per thread or stream,
and close it (``with PoseEstimator() as est: ...``). Leaving one to the garbage collector
makes mediapipe print "Exception ignored in PoseLandmarker.__del__" at exit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np

from .images import Frame


#: MediaPipe BlazePose landmark indices used by this project.
class LM(IntEnum):
    NOSE = 0
    LEFT_EAR = 7
    RIGHT_EAR = 8
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


N_LANDMARKS = 33

_stderr_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence what MediaPipe's C++ core prints to file descriptor 2 (dozens of INFO and
    WARNING lines per model load that mean nothing to a user).

    Set ``POSTURE_NATIVE_LOGS=1`` to see them when debugging.
    """
    if os.environ.get("POSTURE_NATIVE_LOGS") == "1":
        yield
        return
    with _stderr_lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real fd 2 (some embedded interpreters)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)



@dataclass(frozen=True)
class Pose:
    """One detected person.

    Attributes
    ----------
    xy : (33, 2) float array
        Landmark positions in pixels of the analysed image (x right, y down).
    z : (33,) float array
        MediaPipe's relative depth in pixels (same scale as x); smaller = nearer the camera.
    visibility, presence : (33,) float arrays
        MediaPipe's per-landmark probabilities in [0, 1].
    world : (33, 3) float array or None
        Metric landmarks (metres, hip-centred, y down) as MediaPipe estimates them.
    mask : (H, W) float32 array or None
        Segmentation probability of this person, same size as the image.
    """

    xy: np.ndarray
    z: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray | None
    mask: np.ndarray | None

    def point(self, index: int) -> np.ndarray:
        return self.xy[int(index)]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks, pixels."""
        x0, y0 = self.xy.min(axis=0)
        x1, y1 = self.xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def height_px(self) -> float:
        """Vertical extent of the landmarks in pixels (a proxy for body size)."""
        return float(self.xy[:, 1].max() - self.xy[:, 1].min())

    def with_points(self, updates: dict[int, tuple[float, float]]) -> Pose:
        """A copy with some landmarks moved (used by landmark correction)."""
        xy = self.xy.copy()
        for idx, (x, y) in updates.items():
            xy[int(idx)] = (x, y)
        return Pose(xy, self.z, self.visibility, self.presence, self.world, self.mask)


@dataclass(frozen=True)
class PoseResult:
    """All people found in one image, largest first."""

    poses: tuple[Pose, ...]
    width: int
    height: int

    @property
    def primary(self) -> Pose | None:
        return self.poses[0] if self.poses else None

    def mirrored(self) -> PoseResult:
        """The same detections described in the mirror image (flipped left–right).

        x becomes ``width − x`` and each left landmark trades places with its right twin,
        as the pose model would label a mirror image of the person.
        """
        poses = []
        for p in self.poses:
            xy = p.xy[MIRROR_ORDER].copy()
            xy[:, 0] = self.width - xy[:, 0]
            world = None if p.world is None else p.world[MIRROR_ORDER] * (-1.0, 1.0, 1.0)
            mask = None if p.mask is None else np.ascontiguousarray(p.mask[:, ::-1])
            poses.append(Pose(xy, p.z[MIRROR_ORDER], p.visibility[MIRROR_ORDER],
                              p.presence[MIRROR_ORDER], world, mask))
        return PoseResult(tuple(poses), self.width, self.height)

    def rescaled(self, width: int, height: int) -> PoseResult:
        """The same detections in an image resized to ``width`` × ``height`` pixels."""
        import cv2

        sx, sy = width / self.width, height / self.height
        poses = []
        for p in self.poses:
            mask = None if p.mask is None else cv2.resize(
                p.mask, (width, height), interpolation=cv2.INTER_LINEAR)
            poses.append(Pose(p.xy * (sx, sy), p.z * sx, p.visibility, p.presence, p.world,
                              mask))
        return PoseResult(tuple(poses), width, height)


#: Landmark order of a mirror image: each left landmark swaps with its right twin.
MIRROR_ORDER = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9]
                        + [i + (1 if i % 2 else -1) for i in range(11, 33)])


def _to_pose(landmarks, world, mask, width: int, height: int) -> Pose:
    arr = np.array(
        [(lm.x, lm.y, lm.z, lm.visibility or 0.0, lm.presence or 0.0) for lm in landmarks],
        dtype=np.float64,
    )
    xy = arr[:, :2] * (width, height)
    z = arr[:, 2] * width  # MediaPipe scales z like x
    world_arr = None
    if world is not None:
        world_arr = np.array([(w.x, w.y, w.z) for w in world], dtype=np.float64)
    mask_arr = None
    if mask is not None:
        # copy: numpy_view() points into memory MediaPipe frees with the result
        mask_arr = np.array(mask.numpy_view(), dtype=np.float32, copy=True).reshape(height, width)
    return Pose(xy, z, arr[:, 3], arr[:, 4], world_arr, mask_arr)


def poses_from_result(result, width: int, height: int) -> PoseResult:
    """Convert a MediaPipe ``PoseLandmarkerResult`` into a :class:`PoseResult`."""
    masks = result.segmentation_masks or []
    poses = []
    for i, lms in enumerate(result.pose_landmarks or []):
        world = result.pose_world_landmarks[i] if result.pose_world_landmarks else None
        mask = masks[i] if i < len(masks) else None
        poses.append(_to_pose(lms, world, mask, width, height))
    poses.sort(key=lambda p: p.height_px, reverse=True)
    return PoseResult(tuple(poses), width, height)


class PoseEstimator:
    """Holds one MediaPipe ``PoseLandmarker``.

    Parameters
    ----------
    model : str, path or None
        A ``.task`` path or a variant name ("lite", "full", "heavy"); resolved by
        :func:`posture.models.resolve_model`.
    mode : "image" or "video"
        IMAGE for independent photos, VIDEO for frames of one stream (uses tracking).
    num_poses : int
        Two by default so that a second prominent person is reported, not mixed in.
    segmentation : bool
        Whether to compute the person mask (needed for the silhouette features).
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        mode: Literal["image", "video"] = "image",
        num_poses: int = 2,
        segmentation: bool = True,
        min_detection_confidence: float = 0.5,
    ):
        from mediapipe.tasks.python import BaseOptions, vision

        from .models import resolve_model

        self.bundle = resolve_model(model)
        self.mode = mode
        running_mode = (
            vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
        )
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.bundle.path)),
            running_mode=running_mode,
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=0.5,
            min_tracking_confidence=0.5,
            output_segmentation_masks=segmentation,
        )
        with quiet_native_stderr():
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ts = -1

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_landmarker", None) is not None:
            with quiet_native_stderr():
                self._landmarker.close()
            self._landmarker = None

    def __del__(self):  # a safety net; closing explicitly is the rule
        try:
            self.close()
        except Exception:
            pass

    @staticmethod
    def _mp_image(rgb: np.ndarray):
        import mediapipe as mp

        return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    def detect(self, frame: Frame | np.ndarray) -> PoseResult:
        """Detect people in one photo (IMAGE mode)."""
        rgb = frame.rgb if isinstance(frame, Frame) else frame
        if self.mode != "image":
            raise RuntimeError("this estimator was opened in video mode; use detect_video")
        with quiet_native_stderr():
            result = self._landmarker.detect(self._mp_image(rgb))
        return poses_from_result(result, rgb.shape[1], rgb.shape[0])

    def detect_video(self, frame: Frame | np.ndarray, timestamp_ms: int) -> PoseResult:
        """Detect people in one frame of a stream; timestamps must increase."""
        rgb = frame.rgb if isinstance(frame, Frame) else frame
        if self.mode != "video":
            raise RuntimeError("this estimator was opened in image mode; use detect")
        ts = max(int(timestamp_ms), self._last_ts + 1)  # MediaPipe rejects repeats
        self._last_ts = ts
        with quiet_native_stderr():
            result = self._landmarker.detect_for_video(self._mp_image(rgb), ts)
        return poses_from_result(result, rgb.shape[1], rgb.shape[0])
