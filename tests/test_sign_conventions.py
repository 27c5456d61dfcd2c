"""Fast, model-free checks of the tilt's sign for both facings and of the roll correction.

A synthetic "pelvis" (a bar through the hip point, its front end lower by T degrees: an
anterior tilt of +T in the project's convention) is drawn into a blank picture facing
right, mirrored to face left, and rotated as a rolled camera would. The network's input
(the pelvis patch) must show the same anterior bar in every case, front end to the right and
lower; the clinician-placed tilt and the drawn pelvis line must read +T. No pose model and
no network run, so a flipped sign or a disabled roll correction fails here in milliseconds.
"""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from posture.estimator import pelvis_patch
from posture.horizon import Roll
from posture.sagittal import BodyFrame, frame_axes

SIZE = (900, 600)  # height, width
HIP = np.array([300.0, 420.0])  # pixels
STATURE = 800.0


def _bar_picture(tilt_deg: float, facing: str) -> tuple[np.ndarray, np.ndarray]:
    """RGB and mask of a bar 0.12 stature long through the hip, raised 0.05 stature, front
    end (the facing direction) lower by ``tilt_deg``."""
    h, w = SIZE
    fwd = 1.0 if facing == "right" else -1.0
    centre = HIP + np.array([0.0, -0.05 * STATURE])
    r = np.radians(tilt_deg)
    half = 0.5 * 0.12 * STATURE * np.array([fwd * np.cos(r), np.sin(r)])  # y down: lower
    mask = np.zeros((h, w), np.uint8)
    p0, p1 = (centre - half).round().astype(int), (centre + half).round().astype(int)
    cv2.line(mask, tuple(p0), tuple(p1), 1, 14)
    rgb = np.full((h, w, 3), 40, np.uint8)
    rgb[mask > 0] = 220
    return rgb, mask.astype(np.float32)


def _side(facing: str, roll_deg: float = 0.0, hip=HIP) -> SimpleNamespace:
    """The parts of a SideView the patch reads: the body frame and the hip point."""
    roll = Roll(roll_deg, "declared", 0.0, 0.0)
    fwd, up = frame_axes(facing, roll)
    origin = hip - up * 0.45 * STATURE  # ankles below the hip along the body's up
    frame = BodyFrame(origin, fwd, up, STATURE)
    return SimpleNamespace(frame=frame, points={"hip": frame.to_body(hip)})


def _bar_angle(patch: np.ndarray) -> float:
    """Angle (degrees) of the bar in the patch's mask channel: positive when its right end
    (forward, after facing normalisation) is lower."""
    ys, xs = np.nonzero(patch[1] > 127)
    assert len(xs) > 20, "the bar is not in the patch"
    xs, ys = xs - xs.mean(), ys - ys.mean()
    cov = np.cov(np.vstack([xs, ys]))
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, np.argmax(vals)]
    if vx < 0:
        vx, vy = -vx, -vy
    return float(np.degrees(np.arctan2(vy, vx)))  # image y grows downward: lower = positive


@pytest.mark.parametrize("tilt", [12.0, -8.0])
@pytest.mark.parametrize("facing", ["right", "left"])
def test_patch_shows_the_tilt_with_its_sign_for_either_facing(tilt, facing):
    rgb, mask = _bar_picture(tilt, facing)
    got = _bar_angle(pelvis_patch(rgb, mask, _side(facing)))
    assert got == pytest.approx(tilt, abs=2.0)


def test_mirror_image_gives_the_same_patch():
    rgb, mask = _bar_picture(14.0, "right")
    a = pelvis_patch(rgb, mask, _side("right"))
    mirrored_hip = np.array([SIZE[1] - 1 - HIP[0], HIP[1]])
    b = pelvis_patch(rgb[:, ::-1].copy(), mask[:, ::-1].copy(),
                     _side("left", hip=mirrored_hip))
    assert np.abs(a[1].astype(int) - b[1].astype(int)).mean() < 3.0


@pytest.mark.parametrize("roll", [6.0, -6.0])
def test_roll_is_removed_from_the_patch(roll):
    """A camera rolled by ``roll`` rotates the picture; with that roll declared the patch is
    the level one; with the roll ignored the bar's angle is off by the roll."""
    rgb, mask = _bar_picture(10.0, "right")
    level = _bar_angle(pelvis_patch(rgb, mask, _side("right")))
    # the roll convention: + = verticals appear clockwise; rotate the picture that way
    rot = cv2.getRotationMatrix2D((float(HIP[0]), float(HIP[1])), -roll, 1.0)
    size = (SIZE[1], SIZE[0])
    rrgb = cv2.warpAffine(rgb, rot, size, borderValue=(40, 40, 40))
    rmask = cv2.warpAffine(mask, rot, size)
    corrected = _bar_angle(pelvis_patch(rrgb, rmask, _side("right", roll)))
    ignored = _bar_angle(pelvis_patch(rrgb, rmask, _side("right", 0.0)))
    assert corrected == pytest.approx(level, abs=1.0)
    assert abs(ignored - level) == pytest.approx(abs(roll), abs=1.5)


@pytest.mark.parametrize("facing", ["right", "left"])
@pytest.mark.parametrize("roll", [0.0, 5.0])
def test_placed_asis_lower_in_front_is_positive(facing, roll):
    """The clinician-placed tilt (posture.analysis.reassess) takes the ASIS–PSIS line in the
    body frame: ASIS in front and lower reads positive for both facings and a rolled camera."""
    side = _side(facing, roll)
    f = side.frame
    centre = side.points["hip"] + np.array([0.0, 0.05])
    t = np.radians(9.0)
    half = 0.04 * np.array([np.cos(t), -np.sin(t)])  # forward and down in the body frame
    asis_px, psis_px = f.to_image(centre + half), f.to_image(centre - half)
    # the same arithmetic reassess() uses, from the pixels back to the body frame
    du, dv = f.to_body(asis_px) - f.to_body(psis_px)
    assert du > 0
    assert np.degrees(np.arctan2(-dv, du)) == pytest.approx(9.0, abs=1e-6)
    # and in pixels the ASIS is lower on screen (y down) when the camera is level
    if roll == 0.0:
        assert asis_px[1] > psis_px[1]
        assert (asis_px[0] - psis_px[0]) * (1 if facing == "right" else -1) > 0
