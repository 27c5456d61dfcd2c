"""Drawing for the clinic: corrected key points on a photo (and, later, before/after)."""

from __future__ import annotations

import cv2
import numpy as np

MARK_COLOUR = (255, 0, 180)  # RGB magenta: apart from the overlay's own colours


def mark_points(rgb: np.ndarray, points: dict[str, tuple[float, float]]) -> np.ndarray:
    """A copy of ``rgb`` with each named point (image pixels) circled and labelled."""
    img = np.ascontiguousarray(rgb.copy())
    r = max(4, round(max(img.shape[:2]) / 150))
    for name, (x, y) in points.items():
        c = (int(round(x)), int(round(y)))
        cv2.circle(img, c, r, MARK_COLOUR, 2, cv2.LINE_AA)
        cv2.putText(img, name, (c[0] + r + 2, c[1]), cv2.FONT_HERSHEY_SIMPLEX, r / 10,
                    MARK_COLOUR, max(1, r // 4), cv2.LINE_AA)
    return img
