"""Drawing the findings on the photo. Reads an Assessment; never re-runs anything."""

from __future__ import annotations

import cv2
import numpy as np

from ..analysis import Assessment
from ..classify import band_phrase
from ..pose import LM
from ..sagittal_geometry import pelvis_line_px

# BGR-free: we draw on RGB arrays, so colours are (R, G, B).
SKELETON_COLOUR = (255, 255, 255)
NEAR_COLOUR = (0, 200, 255)
CONTOUR_COLOUR = (80, 220, 120)
PLUMB_COLOUR = (255, 210, 0)
PELVIS_COLOUR = (255, 70, 70)

_BONES = [
    (LM.LEFT_EAR, LM.LEFT_SHOULDER), (LM.RIGHT_EAR, LM.RIGHT_SHOULDER),
    (LM.LEFT_SHOULDER, LM.LEFT_HIP), (LM.RIGHT_SHOULDER, LM.RIGHT_HIP),
    (LM.LEFT_SHOULDER, LM.LEFT_ELBOW), (LM.LEFT_ELBOW, LM.LEFT_WRIST),
    (LM.RIGHT_SHOULDER, LM.RIGHT_ELBOW), (LM.RIGHT_ELBOW, LM.RIGHT_WRIST),
    (LM.LEFT_HIP, LM.LEFT_KNEE), (LM.LEFT_KNEE, LM.LEFT_ANKLE),
    (LM.RIGHT_HIP, LM.RIGHT_KNEE), (LM.RIGHT_KNEE, LM.RIGHT_ANKLE),
    (LM.LEFT_ANKLE, LM.LEFT_HEEL), (LM.LEFT_HEEL, LM.LEFT_FOOT_INDEX),
    (LM.RIGHT_ANKLE, LM.RIGHT_HEEL), (LM.RIGHT_HEEL, LM.RIGHT_FOOT_INDEX),
]


def _pt(p) -> tuple[int, int] | None:
    """Integer pixel of ``p``, or None for a point the analysis left out (NaN).

    A partial view (feet or knees out of the picture) marks the hidden points NaN rather
    than guessing them; the overlay leaves them out the same way.
    """
    x, y = float(p[0]), float(p[1])
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    return int(round(x)), int(round(y))


def _line(img: np.ndarray, a, b, colour, th: int) -> None:
    pa, pb = _pt(a), _pt(b)
    if pa is not None and pb is not None:
        cv2.line(img, pa, pb, colour, th, cv2.LINE_AA)


def _dot(img: np.ndarray, p, radius: int, colour) -> None:
    c = _pt(p)
    if c is not None:
        cv2.circle(img, c, radius, colour, -1, cv2.LINE_AA)


def _hidden_landmarks(a: Assessment) -> set[int]:
    """Landmarks of body parts a partial view left out: MediaPipe's guesses for them are
    not drawn (they would show feet where the picture has none)."""
    view = a.side.gate
    if not view.partial:
        return set()
    hidden = {LM.LEFT_ANKLE, LM.RIGHT_ANKLE, LM.LEFT_HEEL, LM.RIGHT_HEEL,
              LM.LEFT_FOOT_INDEX, LM.RIGHT_FOOT_INDEX}
    if not view.knees_seen:
        hidden |= {LM.LEFT_KNEE, LM.RIGHT_KNEE}
    return hidden


def draw_overlay(rgb: np.ndarray, a: Assessment, *, contour: bool = True,
                 label: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with landmarks, outline, plumb line and pelvis line drawn on.

    ``label`` adds the tilt, its interval and band as text in the top-left corner: for a
    picture saved on its own (``--annotate``). The app leaves it out and shows the numbers
    as page text, which scales with the screen and reaches screen readers.
    """
    img = np.ascontiguousarray(rgb.copy())
    h, w = img.shape[:2]
    th = max(1, round(max(h, w) / 400))
    if a.view_kind != "side":  # a front or back photo (issue 28)
        return _draw_front(img, a, th, label=label)
    if contour and a.pose.mask is not None:
        m = (a.pose.mask > 0.5).astype(np.uint8)
        cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if cs:
            cv2.drawContours(img, [max(cs, key=cv2.contourArea)], -1, CONTOUR_COLOUR, th,
                             cv2.LINE_AA)
    xy = a.pose.xy
    hidden = _hidden_landmarks(a)
    for i, j in _BONES:
        if i not in hidden and j not in hidden:
            _line(img, xy[i], xy[j], SKELETON_COLOUR, th)
    for k in ("ear_near", "shoulder_near", "hip_near", "knee_near", "ankle_near"):
        _dot(img, a.side.points_px[k], 2 * th + 1, NEAR_COLOUR)
    f = a.side.frame
    top, bottom = f.to_image(np.array([0.0, 1.0])), f.to_image(np.array([0.0, 0.0]))
    _line(img, bottom, top, PLUMB_COLOUR, th)
    ends = pelvis_line_px(f, a.side.points["hip"], a.measurements.pelvic_tilt.value)
    if ends is not None:
        _line(img, ends[0], ends[1], PELVIS_COLOUR, 2 * th)
        _dot(img, ends[1], 3 * th, PELVIS_COLOUR)
    if label:
        _label(img, a, th)
    return img


def _through(p: np.ndarray, q: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The segment p–q lengthened ``scale`` times about its midpoint (lines stand out
    beyond the joints)."""
    mid, half = (p + q) / 2, (q - p) / 2 * scale
    return mid - half, mid + half


def _draw_front(img: np.ndarray, a: Assessment, th: int, *, label: bool) -> np.ndarray:
    """A front or back view: skeleton, the pelvis (hip-joint) and shoulder lines and the
    plumb line through the ankle midpoint along the true vertical (roll taken out)."""
    view = a.view
    xy = view.pose.xy
    for i, j in _BONES:
        _line(img, xy[i], xy[j], SKELETON_COLOUR, th)
    hips = _through(xy[LM.LEFT_HIP], xy[LM.RIGHT_HIP], 1.6)
    shoulders = _through(xy[LM.LEFT_SHOULDER], xy[LM.RIGHT_SHOULDER], 1.3)
    _line(img, *shoulders, NEAR_COLOUR, 2 * th)
    _line(img, *hips, PELVIS_COLOUR, 2 * th)
    if view.gate.whole_body:
        r = np.radians(view.roll.deg)
        up = np.array([np.sin(r), -np.cos(r)])  # the true vertical (posture.horizon)
        base = (xy[LM.LEFT_ANKLE] + xy[LM.RIGHT_ANKLE]) / 2
        height = np.linalg.norm(base - (xy[LM.LEFT_EAR] + xy[LM.RIGHT_EAR]) / 2) * 1.1
        _line(img, base, base + up * height, PLUMB_COLOUR, th)
    if label:
        _label(img, a, th)
    return img


def label_text(a: Assessment) -> str:
    """The label's words: tilt (degrees, + = anterior), its 90% interval and the band in
    words, both bands when they are too close to call (as every other output says); for a
    front or back photo, the pelvic obliquity (degrees, + = the subject's left higher)."""
    if getattr(a, "view_kind", "side") != "side":
        m = a.measurements.get("pelvic_obliquity")
        if m is None or m.value is None:
            return f"{a.view_kind} view: pelvic obliquity not measured"
        return f"pelvic obliquity {m.value:+.1f} deg (+ = left side higher)"
    m = a.measurements.pelvic_tilt
    if m.value is None:
        return "pelvic tilt: not measured (see reasons)"
    text = f"pelvic tilt {m.value:+.1f} deg"
    if m.interval is not None:
        text += f" [{m.interval[0]:+.0f}, {m.interval[1]:+.0f}]"
    if a.severity:
        text += " " + band_phrase(a.severity).lower()
    return text


def _label(img: np.ndarray, a: Assessment, th: int) -> None:
    text = label_text(a)
    w = img.shape[1]
    scale = max(0.5, w / 1100)
    font = cv2.FONT_HERSHEY_SIMPLEX
    # on a small picture the label must stay whole: shrink it (not below legible), then
    # break it into lines at spaces
    (tw, _), _ = cv2.getTextSize(text, font, scale, th)
    if tw + 16 > w:
        scale = max(0.35, scale * (w - 16) / tw)
        th = 1
    lines: list[str] = []
    for word in text.split(" "):
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(trial, font, scale, th)[0][0] + 16 <= w:
            lines[-1] = trial
        else:
            lines.append(word)
    sizes = [cv2.getTextSize(s, font, scale, th) for s in lines]
    line_h = max(sz[0][1] + sz[1] for sz in sizes) + 6
    box_w = max(sz[0][0] for sz in sizes) + 16
    cv2.rectangle(img, (0, 0), (min(box_w, w), line_h * len(lines) + 10), (0, 0, 0), -1)
    for i, (s, ((_, tht), _)) in enumerate(zip(lines, sizes, strict=True)):
        cv2.putText(img, s, (8, 8 + tht + i * line_h), font, scale, (255, 255, 255), th,
                    cv2.LINE_AA)


def mark_landmarks(rgb: np.ndarray, landmarks_px) -> np.ndarray:
    """A copy of ``rgb`` with the stored landmarks drawn: the ear–shoulder–hip–knee–ankle
    chain of both sides (for saved assessments, whose pose object is not kept)."""
    img = np.ascontiguousarray(rgb.copy())
    if not landmarks_px:
        return img
    th = max(2, round(max(img.shape[:2]) / 300))
    chains = [(LM.LEFT_EAR, LM.LEFT_SHOULDER, LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE),
              (LM.RIGHT_EAR, LM.RIGHT_SHOULDER, LM.RIGHT_HIP, LM.RIGHT_KNEE, LM.RIGHT_ANKLE)]
    for chain in chains:
        pts = [tuple(int(round(v)) for v in landmarks_px[int(i)][:2]) for i in chain]
        for a, b in zip(pts, pts[1:], strict=False):
            cv2.line(img, a, b, (255, 255, 255), th, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 2 * th, (0, 200, 255), -1, cv2.LINE_AA)
    return img
