"""The benign copies of a photo that must give the same reading (issue 12).

Re-saved (JPEG quality 95), JPEG quality 85 and 70, a 3% crop of the top and left margin,
half size, 1.5× size and mirrored: the files a person would call "the same photo". Used by
``bench/repeatability.py`` and the repeatability gate in ``tests/``.
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("resaved", "jpeg85", "jpeg70", "crop3", "half", "x1.5", "mirrored")


def jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """``rgb`` encoded as a JPEG file of this quality (0–100)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def resize(rgb: np.ndarray, s: float) -> np.ndarray:
    """``rgb`` scaled by ``s`` (area averaging down, bicubic up)."""
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)


def copies(rgb: np.ndarray, kinds: tuple[str, ...] = KINDS) -> dict[str, bytes]:
    """The benign copies of one decoded image, as the files a person would save."""
    h, w = rgb.shape[:2]
    dy, dx = round(0.03 * h), round(0.03 * w)
    make = {
        "resaved": lambda: jpeg(rgb, 95),
        "jpeg85": lambda: jpeg(rgb, 85),
        "jpeg70": lambda: jpeg(rgb, 70),
        "crop3": lambda: jpeg(np.ascontiguousarray(rgb[dy:, dx:]), 95),
        "half": lambda: jpeg(resize(rgb, 0.5), 95),
        "x1.5": lambda: jpeg(resize(rgb, 1.5), 95),
        "mirrored": lambda: jpeg(np.ascontiguousarray(rgb[:, ::-1]), 95),
    }
    return {k: make[k]() for k in kinds}
