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

# the pelvis line: 4% of stature above the hips, 8.5% of stature long (ground-truth note)
from ..sagittal_geometry import PELVIS_LENGTH, PELVIS_RAISE

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
_EARS, _HIPS, _ANKLES = (7, 8), (23, 24), (27, 28)


_FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (31, 78, 121)  # dark blue text on white: the page's accent colour
TILT_INK = (160, 20, 20)  # dark red: the pelvis line's colour, legible on white


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _mark_radius(shape: tuple[int, ...]) -> int:
    return max(4, round(max(shape[:2]) / 150))


def label_boxes(shape: tuple[int, ...], points: dict[str, tuple[float, float]]
                ) -> dict[str, tuple[int, int, int, int]]:
    """Where :func:`mark_points` writes each point's name: (x0, y0, x1, y1) pixels, beside
    its point, inside the picture, and clear of every other label and marker (points a
    few pixels apart, as ASIS, PSIS and hip in the magnified pelvis, would otherwise print
    their names over each other)."""
    h, w = shape[:2]
    r = _mark_radius(shape)
    scale, thick = r / 10, max(1, r // 4)
    taken = [(int(x) - r - 2, int(y) - r - 2, int(x) + r + 3, int(y) + r + 3)
             for x, y in points.values()]
    if "asis" in points and "psis" in points:  # keep the pelvis line between them clear
        a, p = np.asarray(points["asis"], float), np.asarray(points["psis"], float)
        n = int(np.linalg.norm(a - p) / max(1, r)) + 2
        taken += [(int(x) - 2, int(y) - 2, int(x) + 3, int(y) + 3)
                  for x, y in np.linspace(p, a, n)]
    out: dict[str, tuple[int, int, int, int]] = {}
    for name, (x, y) in sorted(points.items(), key=lambda kv: (kv[1][1], kv[0])):
        (tw, th), base = cv2.getTextSize(name, _FONT, scale, thick)
        bw, bh = tw + 6, th + base + 4
        cx, cy = int(round(x)), int(round(y))
        tries = [(cx + r + 3, cy - bh // 2), (cx - r - 3 - bw, cy - bh // 2),
                 (cx - bw // 2, cy - r - 3 - bh), (cx - bw // 2, cy + r + 3)]
        for k in range(1, 8):  # then further out, above and below, on either side
            for dy in (-k * (bh + 2), k * (bh + 2)):
                tries += [(cx + r + 3, cy - bh // 2 + dy), (cx - r - 3 - bw, cy - bh // 2 + dy)]
        fits = [(min(max(0, x0), w - bw), min(max(0, y0), h - bh)) for x0, y0 in tries]
        boxes = [(x0, y0, x0 + bw, y0 + bh) for x0, y0 in fits]
        free = [b for b in boxes if not any(_overlaps(b, t) for t in taken)]
        box = free[0] if free else boxes[0]
        out[name] = box
        taken.append(box)
    return out


def mark_points(rgb: np.ndarray, points: dict[str, tuple[float, float]]) -> np.ndarray:
    """A copy of ``rgb`` with each named point (image pixels) circled and labelled, each
    label on a white box of its own (:func:`label_boxes`); with both ``asis`` and
    ``psis``, the pelvis line is drawn between them (the tilt is theirs)."""
    img = np.ascontiguousarray(rgb.copy())
    r = _mark_radius(img.shape)
    scale, thick = r / 10, max(1, r // 4)
    if "asis" in points and "psis" in points:
        ends = [(int(round(points[n][0])), int(round(points[n][1]))) for n in ("psis", "asis")]
        th = max(1, round(max(img.shape[:2]) / 400))  # as the analysis overlay's line
        cv2.line(img, ends[0], ends[1], PELVIS_COLOUR, 2 * th, cv2.LINE_AA)
    for x, y in points.values():
        cv2.circle(img, (int(round(x)), int(round(y))), r, MARK_COLOUR, 2, cv2.LINE_AA)
    for name, (x0, y0, x1, y1) in label_boxes(img.shape, points).items():
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), -1)
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), MARK_COLOUR, 1)
        (_, th), _ = cv2.getTextSize(name, _FONT, scale, thick)
        cv2.putText(img, name, (x0 + 3, y0 + 2 + th), _FONT, scale, MARK_COLOUR, thick,
                    cv2.LINE_AA)
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
    from ..contract import from_dict

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
    from .overlay import mark_landmarks

    lm = [[s * p[0] + tx, s * p[1] + ty, *p[2:]] for p in _reading(result).landmarks_px]
    return mark_landmarks(np.full((size[1], size[0], 3), 245, np.uint8), lm)


def _text_box(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour,
              thick: int) -> None:
    """``text`` with its baseline-left at ``org``, on a white box (legible on any photo)."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    x, y = org
    cv2.rectangle(img, (x - 2, y - th - 3), (x + tw + 2, y + base), (255, 255, 255), -1)
    cv2.putText(img, text, (x, y), _FONT, scale, colour, thick, cv2.LINE_AA)


def header_height(img: np.ndarray) -> int:
    """Pixels of the white band :func:`with_header` draws at the top."""
    return 30 * max(1, round(img.shape[0] / 450))


def with_header(img: np.ndarray, label: str, tilt: float | None = None) -> np.ndarray:
    """A copy of ``img`` with a white band at the top holding ``label`` and, when given,
    the recorded tilt (dark red, the pelvis line's colour): text never sits on the
    picture, whose colours could hide it. The text shrinks to fit the width."""
    out = np.ascontiguousarray(img.copy())
    w = out.shape[1]
    th = max(1, round(out.shape[0] / 450))
    cv2.rectangle(out, (0, 0), (w, header_height(out)), (255, 255, 255), -1)
    parts = [(t, c) for t, c in ((label, INK), ("" if tilt is None else
                                                f"tilt {tilt:+.1f} deg", TILT_INK)) if t]
    scale, thick, gap = 0.6 * th, 2 * th, 14

    def width(sc: float, tk: int) -> int:
        return sum(cv2.getTextSize(t, _FONT, sc, tk)[0][0] for t, _ in parts) + gap * (
            len(parts) - 1)

    if parts and width(scale, thick) > w - 16:
        scale *= (w - 16) / width(scale, thick)
        thick = max(1, round(thick * scale / (0.6 * th)))
    x = 8
    for text, colour in parts:
        cv2.putText(out, text, (x, 21 * th), _FONT, scale, colour, thick, cv2.LINE_AA)
        x += cv2.getTextSize(text, _FONT, scale, thick)[0][0] + gap
    return out


def annotate(img: np.ndarray, b: Body | None, label: str = "", *, header: bool = True
             ) -> np.ndarray:
    """Grid (every 10% of stature above the ankle, labelled on white boxes), plumb line
    through the ankle and the pelvis line, drawn on a copy of ``img`` (reference points
    ``b``); with ``header``, a white band on top with ``label`` and the recorded tilt
    (:func:`with_header`). Pictures to be blended go without it: two bands would blend
    into one unreadable band."""
    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    th = max(1, round(h / 450))
    top = header_height(out) if header else 0
    if b is not None:
        ax, ay = (int(round(v)) for v in b.ankle)
        rows = [int(round(ay - 0.1 * k * b.stature_px)) for k in range(11)]
        for y in rows:
            if 0 <= y < h:
                cv2.line(out, (0, y), (w - 1, y), GRID_COLOUR, 1, cv2.LINE_AA)
        for k, y in enumerate(rows):  # after the lines: no line crosses a label
            if top + 14 * th <= y - 3 < h:
                _text_box(out, f"{10 * k}%", (4, y - 3), 0.45 * th, INK, 1)
        cv2.line(out, (ax, ay), (ax, max(0, int(ay - 1.02 * b.stature_px))), PLUMB_COLOUR,
                 th + 1, cv2.LINE_AA)
        ends = pelvis_ends(b)
        if ends is not None:
            p, a = ((int(round(v[0])), int(round(v[1]))) for v in ends)
            cv2.line(out, p, a, PELVIS_COLOUR, 2 * th + 1, cv2.LINE_AA)
            for q in (p, a):
                cv2.circle(out, q, 3 * th, PELVIS_COLOUR, -1, cv2.LINE_AA)
    if header and (label or (b is not None and b.tilt_deg is not None)):
        out = with_header(out, label, b.tilt_deg if b is not None else None)
    return out


def annotated(rgb: np.ndarray | None, result: dict[str, Any], label: str = "",
              size: tuple[int, int] = CANVAS, *, header: bool = True) -> np.ndarray:
    """One record's picture, aligned to the common canvas and annotated (``header``:
    see :func:`annotate`)."""
    img, b = align(rgb, result, size)
    return annotate(img, b, label, header=header)


def in_place(rgb: np.ndarray, result: dict[str, Any]) -> np.ndarray:
    """The photo at its own size with landmarks, plumb line, grid and pelvis line (for the
    single-assessment view and report)."""
    from .overlay import mark_landmarks

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


def method_of(record, metric: str) -> str:
    """How ``record``'s value of ``metric`` was obtained, in two words or fewer:
    "estimated" (the learned estimator, with its interval), "clinician-placed" (ASIS and
    PSIS placed by hand), "from landmarks" (pose key points), or "not recorded" (an older
    result without its method). One definition: :func:`posture.change.method_kind`."""
    from ..store.history import record_method

    return record_method(record, metric)


# -- the before/after table's cells (the clinic page and the progress PDF) ------------------

def change_label(x) -> str:
    """A compared metric's name (:class:`posture.store.history.MetricChange`); a front-view
    measure with its sign in words, e.g. "Pelvic obliquity (positive = left side higher)"
    (the side view's rows read as before issue 28)."""
    return x.label if x.view == "side" else f"{x.label} ({x.sign})"


def change_interval(x, which: int) -> str:
    """The interval of the before (``which`` 0) or after (1) value of a front-view measure,
    "interval a to b" (degrees); "" for a side-view row or a value without one."""
    from .format import deg

    iv = x.intervals[which]
    if x.view == "side" or iv is None or (x.before, x.after)[which] is None:
        return ""
    return f"interval {deg(iv[0])} to {deg(iv[1])}"


def change_vary(x) -> str:
    """How much retakes vary, for the table: ±MDC95, "does not apply" (two methods), "no
    retake figure yet" (a measure without retake figures: its change is not judged)."""
    if x.rule == "not applicable":
        return "does not apply"
    if x.rule == "no retake figure" or (x.change is None and x.view != "side"):
        return "no retake figure yet"
    return "—" if x.threshold is None else f"±{x.threshold:.1f}°"
