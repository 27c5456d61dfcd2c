"""Where the correctable key points start: the detected ones, and default ASIS/PSIS.

The clinic's landmark correction starts each point at its detected place; ASIS and PSIS are
not pose landmarks, so they start at the ends of the drawn pelvis line (at the estimated
tilt), or, when the tilt was withheld, a level line 4% of the image height above the hip.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .analysis import CORRECTABLE, Assessment
from .sagittal_geometry import PELVIS_RAISE, pelvis_line_px

#: Offset of the default ASIS/PSIS from the hip joint without a tilt, fraction of the image
#: height (about half the ASIS–PSIS depth, and the ASIS–PSIS midpoint's height above the
#: hip joint: ground-truth note).
_PELVIS_OFFSET = 0.04


def key_points(a: Assessment) -> dict[str, tuple[float, float]]:
    """Every point of :data:`posture.analysis.CORRECTABLE` (image pixels, x right, y down)
    where a correction starts: detected landmarks of the near side, default ASIS/PSIS."""
    pts = {n: (float(a.side.points_px[f"{n}_near"][0]), float(a.side.points_px[f"{n}_near"][1]))
           for n in CORRECTABLE if n not in ("asis", "psis")}
    ends = _pelvis_line(a)
    if ends is not None:
        pts["psis"] = (float(ends[0][0]), float(ends[0][1]))
        pts["asis"] = (float(ends[1][0]), float(ends[1][1]))
    else:
        hx, hy = pts["hip"]
        d = _PELVIS_OFFSET * a.frame_size[1]
        fwd = 1.0 if a.facing == "right" else -1.0
        pts["psis"] = (hx - fwd * d, hy - d)
        pts["asis"] = (hx + fwd * d, hy - d)
    return pts


def with_pelvis(corrections: dict[str, tuple[float, float]], a: Assessment
                ) -> dict[str, tuple[float, float]]:
    """``corrections`` with both pelvis points (``reassess`` uses them only as a pair)."""
    if not {"asis", "psis"} & set(corrections):
        return dict(corrections)
    start = key_points(a)
    return {**{n: start[n] for n in ("asis", "psis")}, **corrections}


def drawable(a: Assessment, corrections: dict[str, tuple[float, float]] | None = None
             ) -> Assessment:
    """``a`` as ``draw_overlay`` can draw it.

    * Its label expects an interval beside every tilt, which a clinician-placed ASIS/PSIS
      tilt lacks (a zero-width one is drawn).
    * ``draw_overlay`` draws the pelvis line at the tilt through a point 4% of stature
      above the hip (:func:`~posture.sagittal_geometry.pelvis_line_px`): with ASIS and
      PSIS placed by hand (``corrections``), that point is moved to the middle of the
      placed pair, so the line runs through the placed points rather than parallel to them.
    """
    t = a.measurements.pelvic_tilt
    if t.value is not None and t.interval is None:
        tilt = replace(t, interval=(t.value, t.value))
        a = replace(a, measurements=a.measurements.replaced(tilt))
    if t.value is not None and corrections and {"asis", "psis"} <= set(corrections):
        f = a.side.frame
        mid = 0.5 * (f.to_body(np.asarray(corrections["asis"], float))
                     + f.to_body(np.asarray(corrections["psis"], float)))
        hip = mid - np.array([0.0, PELVIS_RAISE])
        a = a.with_view("side", replace(a.side, points={**a.side.points, "hip": hip}))
    return a


def pelvis_line_through(a: Assessment, corrections: dict[str, tuple[float, float]]
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """The (PSIS, ASIS) ends in pixels of the pelvis line the correction view draws."""
    return _pelvis_line(drawable(a, corrections))


def _pelvis_line(a: Assessment) -> tuple[np.ndarray, np.ndarray] | None:
    """The (PSIS, ASIS) ends in pixels of ``a``'s pelvis line, as the overlay draws it."""
    return pelvis_line_px(a.side.frame, a.side.points["hip"], a.measurements.pelvic_tilt.value)


def pelvis_window(a: Assessment) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) image pixels of a square around the pelvis for the magnified
    inset: centred between the starting ASIS and PSIS, 0.9 × the hip–ankle height wide
    (the pelvis and the top of the thigh, whatever the framing)."""
    pts = key_points(a)
    cx = 0.5 * (pts["asis"][0] + pts["psis"][0])
    cy = 0.5 * (pts["asis"][1] + pts["psis"][1])
    half = max(40.0, 0.45 * abs(pts["ankle"][1] - pts["hip"][1]))
    w, h = a.frame_size
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    return x0, y0, int(min(w, cx + half)), int(min(h, cy + half))


def click_to_image(click: dict, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """A click on a shown picture (``{"x", "y", "width", "height"}`` in displayed pixels,
    as streamlit-image-coordinates reports it) → image pixels, where the picture shows
    the image region ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return (x0 + float(click["x"]) * (x1 - x0) / float(click["width"]),
            y0 + float(click["y"]) * (y1 - y0) / float(click["height"]))


def image_to_inset(p: tuple[float, float], box: tuple[int, int, int, int],
                   size: tuple[int, int]) -> tuple[float, float]:
    """Image pixels → pixels of the magnified inset of ``box`` = (x0, y0, x1, y1) shown at
    ``size`` = (width, height) (the inverse of :func:`click_to_image`)."""
    x0, y0, x1, y1 = box
    return ((float(p[0]) - x0) * size[0] / max(1, x1 - x0),
            (float(p[1]) - y0) * size[1] / max(1, y1 - y0))
