"""Drawing for the clinic: corrected key points, and before/after pictures a clinician can
read side by side or blended.

Two photos of one patient are taken at different distances and framings. Each is scaled so
the body has the same height on the canvas (stature estimated from the ear–ankle height)
and shifted so the ankle lands on the same point: then the plumb line through the ankle,
the grid (every 10% of stature above the ankle) and the pelvis line (drawn at the recorded
tilt) sit on the same body places in both, and a change of tilt shows as a change of angle.

Works from saved records (``result`` = the contract dict with ``landmarks_px``,
``pelvic_tilt_deg``, ``facing``); a record without a photo is drawn as its landmark
skeleton on a plain background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from ..result import Reading

MARK_COLOUR = (255, 0, 180)  # RGB magenta: apart from the overlay's own colours
PLUMB_COLOUR = (255, 210, 0)  # as the analysis overlay
PELVIS_COLOUR = (255, 70, 70)
GRID_COLOUR = (150, 190, 220)
CANVAS = (600, 900)  # (width, height) px of an aligned picture
#: Ear and ankle heights as fractions of stature (Drillis & Contini 1966, as drawn in
#: Winter, Biomechanics and Motor Control of Human Movement, Fig. 4.1: eye/ear 0.936,
#: ankle 0.039): the ear–ankle height is 0.897 of stature.
EAR_ANKLE_FRACTION = 0.936 - 0.039
#: The ASIS–PSIS midpoint lies about 4% of stature above the hip joints, and the ASIS–PSIS
#: depth is about 8.5% of stature (ground-truth note; as posture.present.overlay).
PELVIS_RAISE, PELVIS_LENGTH = 0.04, 0.155 / 1.83
_EARS, _HIPS, _ANKLES = (7, 8), (23, 24), (27, 28)


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


@dataclass(frozen=True)
class Body:
    """Reference points of a record's landmarks (image pixels, y down)."""

    ankle: tuple[float, float]
    hip: tuple[float, float]
    stature_px: float
    forward: float  # +1 facing right, -1 facing left
    tilt_deg: float | None


def _reading(result):
    from .contract import from_dict

    return from_dict(result, strict=False) if isinstance(result, Mapping) else result


def body(result: Mapping[str, Any] | Reading) -> Body | None:
    """The ankle, hip, stature and facing of a saved result (contract dict or Reading);
    None without landmarks."""
    r = _reading(result)
    lm = r.landmarks_px
    if not lm or len(lm) < 29:
        return None
    pts = np.asarray([p[:2] for p in lm], float)
    ankle, hip, ear = (pts[list(ix)].mean(axis=0) for ix in (_ANKLES, _HIPS, _EARS))
    height = (ankle[1] - ear[1]) / EAR_ANKLE_FRACTION
    if not np.isfinite(height) or height <= 0:
        return None
    tilt = r.pelvic_tilt_deg
    return Body((float(ankle[0]), float(ankle[1])), (float(hip[0]), float(hip[1])),
                float(height), 1.0 if r.facing == "right" else -1.0,
                None if tilt is None else float(tilt))


def pelvis_ends(b: Body) -> tuple[np.ndarray, np.ndarray] | None:
    """(PSIS, ASIS) ends of the pelvis line at the recorded tilt (image pixels); anterior
    tilt puts the ASIS lower than the PSIS, in front."""
    if b.tilt_deg is None:
        return None
    t = np.radians(b.tilt_deg)
    centre = np.array(b.hip) - [0.0, PELVIS_RAISE * b.stature_px]
    half = 0.5 * PELVIS_LENGTH * b.stature_px * np.array([b.forward * np.cos(t), np.sin(t)])
    return centre - half, centre + half


def align(rgb: np.ndarray | None, result: dict[str, Any], size: tuple[int, int] = CANVAS
          ) -> tuple[np.ndarray, Body | None]:
    """``rgb`` scaled to stature and moved so the ankle is at the canvas' foot point, and
    the record's reference points in canvas pixels. Without ``rgb`` the landmark skeleton
    is drawn on a plain canvas; without landmarks the photo is only fitted in."""
    w, h = size
    b = body(result)
    if rgb is None:
        if b is None:
            return np.full((h, w, 3), 245, np.uint8), None
        s, tx, ty = _fit(b, size)
        return _skeleton(result, s, tx, ty, size), _moved(b, s, tx, ty)
    if b is None:  # fit the whole photo
        s = min(w / rgb.shape[1], h / rgb.shape[0])
        m = np.float32([[s, 0, (w - s * rgb.shape[1]) / 2], [0, s, (h - s * rgb.shape[0]) / 2]])
        return cv2.warpAffine(rgb, m, (w, h), borderValue=(245, 245, 245)), None
    s, tx, ty = _fit(b, size)
    m = np.float32([[s, 0, tx], [0, s, ty]])
    img = cv2.warpAffine(np.ascontiguousarray(rgb), m, (w, h), flags=cv2.INTER_AREA,
                         borderValue=(245, 245, 245))
    return img, _moved(b, s, tx, ty)


def _fit(b: Body, size: tuple[int, int]) -> tuple[float, float, float]:
    w, h = size
    s = 0.86 * h / b.stature_px  # the body fills 86% of the canvas height
    return s, 0.5 * w - s * b.ankle[0], 0.95 * h - s * b.ankle[1]


def _moved(b: Body, s: float, tx: float, ty: float) -> Body:
    return Body((s * b.ankle[0] + tx, s * b.ankle[1] + ty), (s * b.hip[0] + tx,
                s * b.hip[1] + ty), s * b.stature_px, b.forward, b.tilt_deg)


def _skeleton(result, s: float, tx: float, ty: float, size) -> np.ndarray:
    from .report_pdf import mark_landmarks

    lm = [[s * p[0] + tx, s * p[1] + ty, *p[2:]] for p in _reading(result).landmarks_px]
    return mark_landmarks(np.full((size[1], size[0], 3), 245, np.uint8), lm)


def annotate(img: np.ndarray, b: Body | None, label: str = "") -> np.ndarray:
    """Grid (every 10% of stature above the ankle), plumb line through the ankle and the
    pelvis line with its angle, drawn on a copy of ``img`` (reference points ``b``)."""
    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    th = max(1, round(h / 450))
    font = cv2.FONT_HERSHEY_SIMPLEX
    if b is not None:
        ax, ay = (int(round(v)) for v in b.ankle)
        for k in range(11):
            y = int(round(ay - 0.1 * k * b.stature_px))
            if 0 <= y < h:
                cv2.line(out, (0, y), (w - 1, y), GRID_COLOUR, 1, cv2.LINE_AA)
                cv2.putText(out, f"{10 * k}%", (4, y - 3), font, 0.35 * th, GRID_COLOUR, 1,
                            cv2.LINE_AA)
        cv2.line(out, (ax, ay), (ax, max(0, int(ay - 1.02 * b.stature_px))), PLUMB_COLOUR,
                 th + 1, cv2.LINE_AA)
        ends = pelvis_ends(b)
        if ends is not None:
            p, a = ((int(round(v[0])), int(round(v[1]))) for v in ends)
            cv2.line(out, p, a, PELVIS_COLOUR, 2 * th + 1, cv2.LINE_AA)
            for q in (p, a):
                cv2.circle(out, q, 3 * th, PELVIS_COLOUR, -1, cv2.LINE_AA)
            tx = max(p[0], a[0]) + 8
            cv2.putText(out, f"tilt {b.tilt_deg:+.1f} deg", (min(tx, w - 150), min(p[1], a[1])
                                                                 - 8), font, 0.6 * th,
                        PELVIS_COLOUR, 2 * th, cv2.LINE_AA)
    if label:
        cv2.rectangle(out, (0, 0), (w, 30 * th), (255, 255, 255), -1)
        cv2.putText(out, label, (8, 21 * th), font, 0.6 * th, (31, 78, 121), 2 * th,
                    cv2.LINE_AA)
    return out


def annotated(rgb: np.ndarray | None, result: dict[str, Any], label: str = "",
              size: tuple[int, int] = CANVAS) -> np.ndarray:
    """One record's picture, aligned to the common canvas and annotated."""
    img, b = align(rgb, result, size)
    return annotate(img, b, label)


def in_place(rgb: np.ndarray, result: dict[str, Any]) -> np.ndarray:
    """The photo at its own size with landmarks, plumb line, grid and pelvis line (for the
    single-assessment view and report)."""
    from .report_pdf import mark_landmarks

    r = _reading(result)
    return annotate(mark_landmarks(rgb, r.landmarks_px), body(r))


def blend(before: np.ndarray, after: np.ndarray, t: float) -> np.ndarray:
    """``(1 − t)·before + t·after`` of two aligned pictures of one size (t in 0..1)."""
    t = float(np.clip(t, 0.0, 1.0))
    return cv2.addWeighted(before, 1.0 - t, after, t, 0.0)


def inset(rgb: np.ndarray, box: tuple[int, int, int, int], width: int = 420) -> np.ndarray:
    """The region ``box`` = (x0, y0, x1, y1) of ``rgb`` magnified to ``width`` pixels."""
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    h = max(1, round(width * crop.shape[0] / max(1, crop.shape[1])))
    return cv2.resize(crop, (width, h), interpolation=cv2.INTER_CUBIC)
