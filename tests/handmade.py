"""A hand-made person for tests that need landmarks without running the pose model."""

from __future__ import annotations

import numpy as np

from posture.pose import LM, N_LANDMARKS, Pose

# About 1000 px tall, facing right on screen (forward = +x), feet at y ≈ 1100.
PROFILE_RIGHT = {
    LM.NOSE: (520, 170), LM.LEFT_EAR: (480, 180), LM.RIGHT_EAR: (482, 181),
    LM.LEFT_SHOULDER: (470, 330), LM.RIGHT_SHOULDER: (474, 332),
    LM.LEFT_ELBOW: (472, 500), LM.RIGHT_ELBOW: (476, 502),
    LM.LEFT_WRIST: (480, 640), LM.RIGHT_WRIST: (484, 642),
    LM.LEFT_HIP: (480, 620), LM.RIGHT_HIP: (484, 622),
    LM.LEFT_KNEE: (490, 860), LM.RIGHT_KNEE: (492, 862),
    LM.LEFT_ANKLE: (480, 1080), LM.RIGHT_ANKLE: (482, 1082),
    LM.LEFT_HEEL: (460, 1095), LM.RIGHT_HEEL: (462, 1096),
    LM.LEFT_FOOT_INDEX: (540, 1100), LM.RIGHT_FOOT_INDEX: (542, 1100),
}


def make_pose(points: dict = PROFILE_RIGHT, *, width: int = 1000, mirror: bool = False,
              mask: bool = True) -> Pose:
    """A :class:`Pose` from ``points`` (other landmarks at the image centre), with a
    body-shaped mask (trunk 120 px wide, legs 60 px) when ``mask`` is true."""
    xy = np.full((N_LANDMARKS, 2), 500.0)
    for k, v in points.items():
        xy[int(k)] = v
    if mirror:
        xy[:, 0] = width - 1 - xy[:, 0]
    m = None
    if mask:
        m = np.zeros((1200, width), np.float32)
        m[150:700, 440:560] = 1.0  # head and trunk
        m[700:1100, 470:530] = 1.0  # legs in profile: about half as wide
        if mirror:
            m = m[:, ::-1].copy()
    vis = np.ones(N_LANDMARKS)
    return Pose(xy, np.zeros(N_LANDMARKS), vis, vis, None, m)
