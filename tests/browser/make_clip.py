"""Build a fake-camera clip (.y4m) from still pictures, for Chromium's
``--use-file-for-fake-video-capture``.

Y4M is raw I420 frames behind a one-line text header, so OpenCV's colour conversion is all
that is needed. Run as a script to write one by hand::

    python tests/browser/make_clip.py samples/some_render.jpg /tmp/clip.y4m
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def letterbox(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``rgb`` into ``width`` x ``height`` keeping its aspect, padding with grey."""
    h, w = rgb.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(2, round(w * s)), max(2, round(h * s))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((height, width, 3), 128, np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def fill_height(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``rgb`` to ``height`` and centre it in ``width`` (cropping or padding the
    sides with grey): the picture's bottom edge is the frame's, as when someone stands too
    close to the camera and the frame cuts them off."""
    h, w = rgb.shape[:2]
    nw = max(2, round(w * height / h))
    small = cv2.resize(rgb, (nw, height), interpolation=cv2.INTER_AREA)
    out = np.full((height, width, 3), 128, np.uint8)
    if nw >= width:
        x0 = (nw - width) // 2
        out[:] = small[:, x0:x0 + width]
    else:
        x0 = (width - nw) // 2
        out[:, x0:x0 + nw] = small
    return out


def empty_scene(width: int, height: int) -> np.ndarray:
    """A room with nobody in it: a floor, a wall, a door and a picture frame."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = np.linspace(150, 205, height, dtype=np.uint8)[:, None, None]  # lit from above
    img[int(height * 0.78):] = (120, 96, 70)  # the floor
    cv2.rectangle(img, (int(width * 0.1), int(height * 0.25)),
                  (int(width * 0.3), int(height * 0.78)), (95, 75, 60), -1)  # a door
    cv2.rectangle(img, (int(width * 0.55), int(height * 0.3)),
                  (int(width * 0.85), int(height * 0.5)), (60, 90, 120), 4)  # a frame
    return img


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """Write RGB frames (all the same even size) as a 4:2:0 Y4M file."""
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("Y4M 4:2:0 needs an even width and height")
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for rgb in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def clip_from_frame(base: np.ndarray, out: Path, *, fps: int = 10,
                    seconds: float = 2.0) -> Path:
    """A clip of one camera picture: with a one-pixel sway, looped by Chromium (a little
    motion, as a real camera has, without changing the posture)."""
    n = max(2, round(fps * seconds))
    frames = [np.roll(base, (i % 2), axis=1) for i in range(n)]
    return write_y4m(out, frames, fps)


def read_rgb(image: Path) -> np.ndarray:
    bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read {image}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def clip_from_image(image: Path, out: Path, *, width: int = 480, height: int = 640,
                    fps: int = 10, seconds: float = 2.0, keep: float = 1.0) -> Path:
    """A clip of a person standing still, from a picture of them.

    ``keep`` < 1 keeps the top fraction of the picture and fills the frame's height with
    it (:func:`fill_height`): the frame cuts the person off there, as a camera does that
    is too close (0.78 of a standing person's picture cuts at the shins). Otherwise the
    whole picture is letterboxed into the frame.
    """
    rgb = read_rgb(image)
    if keep < 1.0:
        base = fill_height(rgb[: max(2, round(rgb.shape[0] * keep))], width, height)
    else:
        base = letterbox(rgb, width, height)
    return clip_from_frame(base, out, fps=fps, seconds=seconds)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_clip.py PICTURE OUT.y4m")
    print(clip_from_image(Path(sys.argv[1]), Path(sys.argv[2])))
