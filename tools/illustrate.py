"""Draw the exercise pictures in ``posture/data/exercises/<id>.png``.

Every picture is drawn here from joint angles: a side-view figure of fixed segment lengths
(so limbs always match) built by forward kinematics, with two-link inverse kinematics to put
feet and hands on targets. Near-side limbs are dark, far-side limbs light. Movements show
two phases with arrows. Nothing is copied from elsewhere.

Angle convention: world y points up, angles are absolute in degrees counter-clockwise from
+x. The figure is always seen from the same side, so one rule holds in every pose: the
front of the body is the trunk direction turned 90° clockwise, and knees flex clockwise,
elbows counter-clockwise. :func:`anatomy_problems` checks joint ranges for every pose.

Usage::

    python tools/illustrate.py            # writes all pictures
    python tools/illustrate.py --check    # only checks the poses
    python tools/illustrate.py --sheet out.png   # also writes a contact sheet to review
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT_DIR = Path(__file__).resolve().parents[1] / "posture" / "data" / "exercises"
SIZE = (480, 320)
SS = 4  # supersampling factor for anti-aliasing

# Segment lengths as fractions of body height (rounded anthropometric proportions).
THIGH, SHIN, TRUNK, NECK = 0.245, 0.246, 0.29, 0.055
UPPER, FORE = 0.17, 0.155
HEAD_R = 0.062
ANKLE_H = 0.045  # ankle joint height when the foot is flat
KNEE_R = 0.03  # knee tube radius: a kneeling knee sits this high

BG = (250, 250, 247)
NEAR = (36, 92, 122)
FAR = (146, 184, 204)
PROP = (214, 199, 176)
PROP_DARK = (170, 150, 120)
FLOOR = (120, 120, 120)
ARROW = (222, 89, 46)
TEXT = (60, 60, 60)


def d(angle: float) -> np.ndarray:
    """Unit vector at ``angle`` degrees."""
    a = math.radians(angle)
    return np.array([math.cos(a), math.sin(a)])


def wrap(a: float) -> float:
    """Angle in (-180, 180]."""
    a = (a + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


def angle_of(v: np.ndarray) -> float:
    return math.degrees(math.atan2(v[1], v[0]))


def two_link(root: np.ndarray, target: np.ndarray, a: float, b: float, sign: float) -> tuple:
    """Angles (first, second) of a two-link chain from ``root`` reaching ``target``.

    ``sign`` +1 bends the middle joint clockwise (knee), -1 counter-clockwise (elbow).
    The target is pulled in if out of reach.
    """
    v = np.asarray(target, float) - root
    dist = min(float(np.hypot(*v)), a + b - 1e-6)
    phi = angle_of(v)
    alpha = math.degrees(math.acos((a * a + dist * dist - b * b) / (2 * a * dist)))
    first = phi + sign * alpha
    mid = root + a * d(first)
    end = root + dist * d(phi)
    return first, angle_of(end - mid)


# --------------------------------------------------------------------------- the figure


@dataclass
class Figure:
    """A side-view body. ``hip`` is in world units (body height = 1, floor at y = 0).

    ``bend`` bows the spine: positive rounds it (flexion), negative arches it (extension).
    """

    hip: tuple[float, float]
    trunk: float = 90.0
    bend: float = 0.0
    neck: float | None = None
    head: float | None = None
    legs: dict = field(default_factory=dict)
    arms: dict = field(default_factory=dict)

    # -- building
    def leg(self, side: str, thigh: float, shin: float, foot: float | None = None) -> Figure:
        self.legs[side] = (thigh, shin, shin + 90.0 if foot is None else foot)
        return self

    def leg_to(self, side: str, ankle: tuple, foot: float | None = None) -> Figure:
        thigh, shin = two_link(np.array(self.hip, float), np.array(ankle), THIGH, SHIN, +1)
        return self.leg(side, thigh, shin, foot)

    def arm(self, side: str, upper: float, fore: float) -> Figure:
        self.arms[side] = (upper, fore)
        return self

    def arm_to(self, side: str, wrist: tuple) -> Figure:
        upper, fore = two_link(self.joints()["shoulder"], np.array(wrist), UPPER, FORE, -1)
        return self.arm(side, upper, fore)

    # -- geometry
    @property
    def neck_angle(self) -> float:
        return self.trunk if self.neck is None else self.neck

    @property
    def head_angle(self) -> float:
        return self.neck_angle if self.head is None else self.head

    def joints(self) -> dict[str, np.ndarray]:
        j: dict[str, np.ndarray] = {}
        j["hip"] = hip = np.array(self.hip, float)
        j["shoulder"] = sh = hip + TRUNK * d(self.trunk)
        j["neck_top"] = nt = sh + NECK * d(self.neck_angle)
        j["head"] = nt + 0.85 * HEAD_R * d(self.head_angle)
        for side, (thigh, shin, foot) in self.legs.items():
            j[f"knee_{side}"] = k = hip + THIGH * d(thigh)
            j[f"ankle_{side}"] = a = k + SHIN * d(shin)
            j[f"toe_{side}"] = a + 0.12 * d(foot) + 0.03 * d(foot - 90)
            j[f"heel_{side}"] = a - 0.035 * d(foot) + 0.03 * d(foot - 90)
        for side, (upper, fore) in self.arms.items():
            j[f"elbow_{side}"] = e = sh + UPPER * d(upper)
            j[f"wrist_{side}"] = e + FORE * d(fore)
        return j

    def spine(self, n: int = 24) -> np.ndarray:
        """Points along the (possibly bowed) trunk from hip to shoulder."""
        j = self.joints()
        back = d(self.trunk + 90.0)
        ctrl = (j["hip"] + j["shoulder"]) / 2 + 2 * self.bend * back
        t = np.linspace(0, 1, n)[:, None]
        return (1 - t) ** 2 * j["hip"] + 2 * (1 - t) * t * ctrl + t**2 * j["shoulder"]

    def spine_point(self, t: float) -> np.ndarray:
        pts = self.spine(101)
        return pts[int(round(t * 100))]


def anatomy_problems(fig: Figure, name: str = "") -> list[str]:
    """Joint angles outside a plausible range (knees bending backwards and the like)."""
    out = []
    front_rest = fig.trunk + 180.0  # thigh / upper-arm direction at rest
    for side, (thigh, shin, foot) in fig.legs.items():
        knee = wrap(thigh - shin)
        hip = wrap(thigh - front_rest)
        ankle = wrap(foot - (shin + 90.0))
        if not -12 <= knee <= 165:
            out.append(f"{name}: {side} knee flexion {knee:.0f}°")
        if not -45 <= hip <= 140:
            out.append(f"{name}: {side} hip flexion {hip:.0f}°")
        if not -95 <= ankle <= 45:
            out.append(f"{name}: {side} ankle {ankle:.0f}°")
    for side, (upper, fore) in fig.arms.items():
        elbow = wrap(fore - upper)
        if not -5 <= elbow <= 160:
            out.append(f"{name}: {side} elbow flexion {elbow:.0f}°")
    if not -60 <= wrap(fig.neck_angle - fig.trunk) <= 60:
        out.append(f"{name}: neck angle")
    if not -50 <= wrap(fig.head_angle - fig.neck_angle) <= 50:
        out.append(f"{name}: head angle")
    return out


# --------------------------------------------------------------------------- primitives


@dataclass
class Tube:
    pts: np.ndarray
    r0: float
    r1: float
    color: tuple


@dataclass
class Disc:
    c: np.ndarray
    r: float
    color: tuple


@dataclass
class Poly:
    pts: np.ndarray
    color: tuple


@dataclass
class Arrow:
    pts: np.ndarray
    color: tuple = ARROW


@dataclass
class Text:
    pos: np.ndarray
    text: str
    color: tuple = TEXT


def seg(p0, p1, r0, r1, color) -> Tube:
    return Tube(np.array([p0, p1], float), r0, r1, color)


def figure_prims(fig: Figure) -> list:
    """Drawing primitives for a figure, back to front."""
    j = fig.joints()
    prims: list = []

    def leg(side: str, color: tuple) -> None:
        if side not in fig.legs:
            return
        k, a = j[f"knee_{side}"], j[f"ankle_{side}"]
        prims.append(seg(j["hip"], k, 0.046, 0.031, color))
        prims.append(seg(k, a, 0.031, 0.02, color))
        heel, toe = j[f"heel_{side}"], j[f"toe_{side}"]
        prims.append(Poly(np.array([a + 0.022 * d(fig.legs[side][2] + 180), heel, toe, a]), color))
        prims.append(seg(heel, toe, 0.014, 0.01, color))
        prims.append(Disc(a, 0.022, color))

    def arm(side: str, color: tuple) -> None:
        if side not in fig.arms:
            return
        e, w = j[f"elbow_{side}"], j[f"wrist_{side}"]
        prims.append(seg(j["shoulder"], e, 0.03, 0.022, color))
        prims.append(seg(e, w, 0.022, 0.017, color))
        prims.append(Disc(w + 0.02 * d(fig.arms[side][1]), 0.024, color))

    arm("far", FAR)
    leg("far", FAR)
    spine = fig.spine()
    prims.append(Tube(spine, 0.07, 0.064, NEAR))
    prims.append(seg(j["shoulder"], j["neck_top"], 0.032, 0.03, NEAR))
    head, up = j["head"], fig.head_angle
    face = d(up - 90.0)
    prims.append(Disc(head, HEAD_R, NEAR))
    prims.append(Disc(head + 0.058 * face - 0.012 * d(up), 0.016, NEAR))  # nose
    prims.append(Disc(head + 0.03 * face + 0.012 * d(up), 0.0085, BG))  # eye
    leg("near", NEAR)
    arm("near", NEAR)
    return prims


def rect(x0, y0, x1, y1, color=PROP) -> Poly:
    return Poly(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float), color)


def arc(center, r, a0, a1, n=24) -> Arrow:
    angles = np.linspace(a0, a1, n)
    return Arrow(np.array([np.asarray(center) + r * d(a) for a in angles]))


def line(*pts) -> Arrow:
    return Arrow(np.array(pts, float))


@dataclass
class Panel:
    """One phase: a figure, props behind it, arrows and texts in front."""

    fig: Figure
    label: str = ""
    back: list = field(default_factory=list)
    front: list = field(default_factory=list)
    fit: list[str] | None = None  # joint names to frame (default: everything)

    def prims(self) -> list:
        return [*self.back, *figure_prims(self.fig), *self.front]


# --------------------------------------------------------------------------- rendering


def _extent(p) -> np.ndarray:
    """[xmin, ymin, xmax, ymax] of a primitive in world units."""
    if isinstance(p, Tube):
        r = max(p.r0, p.r1)
        return np.r_[p.pts.min(0) - r, p.pts.max(0) + r]
    if isinstance(p, Disc):
        return np.r_[p.c - p.r, p.c + p.r]
    if isinstance(p, Poly | Arrow):
        return np.r_[p.pts.min(0) - 0.02, p.pts.max(0) + 0.02]
    return np.r_[p.pos - [0.12, 0.03], p.pos + [0.12, 0.03]]


def _panel_box(panel: Panel) -> np.ndarray:
    if panel.fit:
        j = panel.fig.joints()
        pts = np.array([j[n] for n in panel.fit])
        box = np.r_[pts.min(0) - 0.1, pts.max(0) + 0.1]
    else:
        ext = np.array([_extent(p) for p in panel.prims()])
        box = np.r_[ext[:, :2].min(0), ext[:, 2:].max(0)]
    box[1] = min(box[1], -0.01) if not panel.fit else box[1]  # keep the floor in view
    return box


def render(panels: list[Panel], size: tuple[int, int] = SIZE) -> Image.Image:
    """Lay out panels side by side or stacked (whichever draws bigger), one shared scale."""
    W, H = size[0] * SS, size[1] * SS
    pad, label_h = 10 * SS, 20 * SS
    boxes = [_panel_box(p) for p in panels]
    wh = np.array([[b[2] - b[0], b[3] - b[1]] for b in boxes])
    n = len(panels)
    best = None
    for layout in ("row", "col"):
        cw, ch = (W / n, H) if layout == "row" else (W, H / n)
        s = min(((cw - 2 * pad) / wh[:, 0]).min(), ((ch - 2 * pad - label_h) / wh[:, 1]).min())
        if best is None or s > best[1]:
            best = (layout, s, cw, ch)
    layout, scale, cw, ch = best
    img = Image.new("RGB", (W, H), BG)
    dr = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14 * SS)
    small = ImageFont.load_default(size=12 * SS)
    for i, (panel, box) in enumerate(zip(panels, boxes, strict=True)):
        ox, oy = (i * cw, 0) if layout == "row" else (0, i * ch)
        # Centre the content in the cell, below the label strip.
        cx = ox + cw / 2 - scale * (box[0] + box[2]) / 2
        cy = oy + label_h + (ch - label_h) / 2 + scale * (box[1] + box[3]) / 2

        def tx(p, cx=cx, cy=cy):
            p = np.asarray(p, float)
            return (cx + scale * p[..., 0], cy - scale * p[..., 1])

        if i > 0:
            x0, y0 = (ox, oy + 8 * SS) if layout == "row" else (ox + 8 * SS, oy)
            x1, y1 = (ox, oy + ch - 8 * SS) if layout == "row" else (ox + cw - 8 * SS, oy)
            dr.line([(x0, y0), (x1, y1)], fill=(215, 215, 210), width=SS)
        fy = tx([0, 0])[1]
        if fy < oy + ch:
            dr.line([(ox + 6 * SS, fy), (ox + cw - 6 * SS, fy)], fill=FLOOR, width=2 * SS)
        for p in panel.prims():
            _draw(dr, p, tx, scale, small)
        if panel.label:
            tw = dr.textlength(panel.label, font=font)
            dr.text((ox + (cw - tw) / 2, oy + 4 * SS), panel.label, fill=TEXT, font=font)
    return img.resize(size, Image.LANCZOS)


def _draw(dr: ImageDraw.ImageDraw, p, tx: Callable, scale: float, font) -> None:
    if isinstance(p, Tube):
        # A tube is a dense run of discs: smooth joints and tapering for free.
        pts = p.pts
        lens = np.r_[0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        total = lens[-1] or 1.0
        step = min(p.r0, p.r1) / 4
        for s in np.linspace(0, total, max(2, int(total / step) + 1)):
            k = min(np.searchsorted(lens, s, side="right") - 1, len(pts) - 2)
            f = (s - lens[k]) / ((lens[k + 1] - lens[k]) or 1.0)
            c = pts[k] + f * (pts[k + 1] - pts[k])
            _disc(dr, tx(c), scale * (p.r0 + (p.r1 - p.r0) * s / total), p.color)
    elif isinstance(p, Disc):
        _disc(dr, tx(p.c), scale * p.r, p.color)
    elif isinstance(p, Poly):
        x, y = tx(p.pts)
        dr.polygon(list(zip(x, y, strict=True)), fill=p.color)
    elif isinstance(p, Arrow):
        x, y = tx(p.pts)
        xy = list(zip(x, y, strict=True))
        w = 3 * SS
        dr.line(xy, fill=p.color, width=w, joint="curve")
        tip, prev = np.array(xy[-1]), np.array(xy[-2])
        u = (tip - prev) / (np.hypot(*(tip - prev)) or 1.0)
        nrm = np.array([-u[1], u[0]])
        hl, hw = 11 * SS, 6 * SS
        head = [
            tuple(tip + u * 2 * SS),
            tuple(tip - u * hl + nrm * hw),
            tuple(tip - u * hl - nrm * hw),
        ]
        dr.polygon(head, fill=p.color)
    elif isinstance(p, Text):
        x, y = tx(p.pos)
        tw = dr.textlength(p.text, font=font)
        dr.text((x - tw / 2, y - 7 * SS), p.text, fill=p.color, font=font)


def _disc(dr: ImageDraw.ImageDraw, c, r: float, color: tuple) -> None:
    x, y = float(c[0]), float(c[1])
    dr.ellipse([x - r, y - r, x + r, y + r], fill=color)


# --------------------------------------------------------------------------- poses


def standing(hip_x: float = 0.0) -> Figure:
    """Upright, arms relaxed, facing right."""
    f = Figure(hip=(hip_x, ANKLE_H + 0.488), trunk=90)
    f.leg("near", -90, -90.5).leg("far", -90, -90.5)
    return f.arm("near", -92, -80).arm("far", -88, -78)


def hands_on_hips(f: Figure) -> Figure:
    hip = np.array(f.hip)
    return (
        f.arm("near", f.trunk - 195, f.trunk - 115)
        .arm_to("far", hip + 0.1 * d(f.trunk) + 0.03 * d(f.trunk - 90))
        .arm_to("near", hip + 0.1 * d(f.trunk) + 0.045 * d(f.trunk - 90))
    )


def supine_hook(hip_x: float = 0.0, lift: float = 0.0, trunk: float = 180.0) -> Figure:
    """On the back, knees bent, feet flat; ``lift`` raises the hips (bridge)."""
    f = Figure(hip=(hip_x, 0.07 + lift), trunk=trunk, neck=trunk, head=trunk)
    f.leg_to("near", (hip_x + 0.3, ANKLE_H), foot=0).leg_to("far", (hip_x + 0.3, ANKLE_H), foot=0)
    sh = f.joints()["shoulder"]
    return f.arm_to("near", (sh[0] + 0.3, 0.03)).arm_to("far", (sh[0] + 0.3, 0.03))


def half_kneel(lean: float = 90.0, back_thigh: float = -100.0) -> Figure:
    """Near knee down, far foot forward; returns the figure with the hip placed."""
    hip_y = KNEE_R + THIGH * -math.sin(math.radians(back_thigh))
    f = Figure(hip=(0.0, hip_y), trunk=lean)
    # Back shin flat on the floor pointing straight back, toes pointed.
    f.leg("near", back_thigh, 180.0, 200.0)
    return f.leg_to("far", (0.3, ANKLE_H), foot=0)


def quadruped(
    hip_x: float = 0.0, bend: float = 0.0, neck: float = -10, head: float = -15
) -> Figure:
    """Hands and knees, facing right."""
    hip_y = KNEE_R + THIGH
    f = Figure(hip=(hip_x, hip_y), trunk=0.0, bend=bend, neck=neck, head=head)
    f.leg("near", -90, 180, 200).leg("far", -90, 180, 200)
    sh = f.joints()["shoulder"]
    return f.arm_to("near", (sh[0], 0.04)).arm_to("far", (sh[0] + 0.01, 0.04))


def _label(pos, text) -> Text:
    return Text(np.asarray(pos, float), text)


def ex_half_kneeling() -> list[Panel]:
    f = hands_on_hips(half_kneel())
    j = f.joints()
    hip = j["hip"]
    return [
        Panel(
            f,
            "Tuck the pelvis, then shift forward",
            back=[rect(-0.4, -0.005, -0.1, 0.012, PROP)],
            front=[
                arc(hip + [-0.02, 0.0], 0.13, 200, 250),
                line(hip + [0.08, -0.13], hip + [0.2, -0.13]),
                _label(hip + [-0.22, 0.08], "tuck"),
            ],
        )
    ]


def ex_standing_hf() -> list[Panel]:
    f = Figure(hip=(0.0, 0.0), trunk=90)
    f.leg("far", -65, -100, 0)
    a = f.joints()["ankle_far"]
    f.hip = (0.0, ANKLE_H - a[1])
    f.leg_to("near", (-0.26, ANKLE_H + 0.05), foot=-35)
    hands_on_hips(f)
    hip = np.array(f.hip)
    return [
        Panel(
            f,
            "Tuck the pelvis, hips forward",
            front=[
                arc(hip + [-0.02, 0.0], 0.13, 200, 250),
                line(hip + [0.1, 0.05], hip + [0.24, 0.05]),
                _label(hip + [-0.22, 0.08], "tuck"),
            ],
        )
    ]


def ex_couch() -> list[Panel]:
    back_thigh = -112.0
    hip_y = KNEE_R + THIGH * -math.sin(math.radians(back_thigh))
    f = Figure(hip=(0.0, hip_y), trunk=88)
    knee = np.array(f.hip) + THIGH * d(back_thigh)
    wall_x = knee[0] - 0.075
    f.leg("near", back_thigh, 97, 95)
    f.leg_to("far", (0.33, ANKLE_H), foot=0)
    hands_on_hips(f)
    f.arm_to("near", f.joints()["knee_far"] + [-0.03, 0.06]).arm_to(
        "far", f.joints()["knee_far"] + [-0.02, 0.07]
    )
    return [
        Panel(
            f,
            "Shin up the wall, trunk upright",
            back=[rect(wall_x - 0.06, 0, wall_x, 0.85, PROP), rect(-0.45, -0.005, 0.1, 0.012)],
            front=[line(np.array(f.hip) + [-0.12, 0.25], np.array(f.hip) + [-0.12, 0.36])],
        )
    ]


def ex_hamstring_stretch() -> list[Panel]:
    f = Figure(hip=(0.0, 0.07), trunk=180, neck=180, head=180)
    f.leg("far", 0, 0, 85).leg("near", 72, 72, 160)
    toe = f.joints()["toe_near"]
    sh = f.joints()["shoulder"]
    grip = sh + [0.2, 0.22]
    f.arm_to("near", grip).arm_to("far", grip + [0.01, 0.0])
    strap = line(grip, toe + [0.01, 0.0])
    strap.color = PROP_DARK
    knee = f.joints()["knee_near"]
    return [
        Panel(
            f,
            "Raise the straight leg with a strap",
            front=[
                strap,
                arc(np.array(f.hip), THIGH + 0.12, 40, 62),
                _label(knee + [0.2, 0.0], ""),
            ],
        )
    ]


def ex_low_lunge() -> list[Panel]:
    back_thigh = -128.0
    hip_y = KNEE_R + THIGH * -math.sin(math.radians(back_thigh))
    f = Figure(hip=(0.0, hip_y), trunk=92)
    f.leg("near", back_thigh, 180, 200).leg_to("far", (0.38, ANKLE_H), foot=0)
    f.arm("near", 95, 100).arm("far", 92, 97)
    hip = np.array(f.hip)
    return [
        Panel(
            f,
            "Breathe out and sink the hips forward",
            back=[rect(-0.45, -0.005, -0.05, 0.012)],
            front=[line(hip + [0.02, -0.13], hip + [0.15, -0.2])],
        )
    ]


def ex_cat_camel() -> list[Panel]:
    a = quadruped(bend=0.05, neck=-40, head=-55)
    b = quadruped(bend=-0.04, neck=25, head=30)
    mid_a, mid_b = a.spine_point(0.5), b.spine_point(0.5)
    return [
        Panel(a, "Round the back up", front=[line(mid_a + [0, 0.1], mid_a + [0, 0.2])]),
        Panel(b, "Let the back sag", front=[line(mid_b + [0, 0.2], mid_b + [0, 0.1])]),
    ]


def ex_prone_press_up() -> list[Panel]:
    a = Figure(hip=(0.0, 0.07), trunk=2, neck=5, head=0)
    a.leg("near", 180, 180, 190).leg("far", 180, 180, 190)
    a.arm("near", 185, -20).arm("far", 183, -25)
    b = Figure(hip=(0.0, 0.07), trunk=40, bend=-0.04, neck=50, head=45)
    b.leg("near", 180, 180, 190).leg("far", 180, 180, 190)
    sh = b.joints()["shoulder"]
    b.arm_to("near", (sh[0] + 0.05, 0.03)).arm_to("far", (sh[0] + 0.06, 0.03))
    return [
        Panel(a, "Hands under the shoulders"),
        Panel(
            b,
            "Press up, hips stay down",
            front=[line(b.spine_point(0.7) + [-0.05, 0.1], b.spine_point(0.7) + [-0.05, 0.2])],
        ),
    ]


def ex_thoracic() -> list[Panel]:
    def pose(trunk: float, bend: float) -> Figure:
        f = Figure(hip=(0.0, 0.07), trunk=trunk, bend=bend, neck=trunk - 8, head=trunk - 10)
        f.leg_to("near", (0.3, ANKLE_H), foot=0).leg_to("far", (0.3, ANKLE_H), foot=0)
        head = f.joints()["head"]
        f.arm_to("near", head + [0.02, 0.05]).arm_to("far", head + [0.0, 0.05])
        return f

    a = pose(155, 0.0)
    # The roll touches the underside of the trunk (tube radius ~0.066) at 60% of its length.
    under = a.spine_point(0.6)
    r = (under[1] - 0.066) / 2
    roller = [Disc(np.array([under[0], r]), r, PROP)]
    # Phase 2: arch over the same roll; pick the trunk angle that keeps the back on it.
    b = min(
        (pose(t, -0.05) for t in np.arange(150, 181, 0.5)),
        key=lambda f: abs(f.spine_point(0.6)[1] - under[1]),
    )
    return [
        Panel(a, "Roll under the upper back", back=roller),
        Panel(
            b,
            "Ease the upper back over the roll",
            back=roller,
            front=[arc(np.array(b.hip), TRUNK + 0.16, 150, 165)],
        ),
    ]


def ex_ppt() -> list[Panel]:
    a = supine_hook()
    a.bend = -0.025
    b = supine_hook()
    hip = np.array(b.hip)
    gap = a.spine_point(0.5)
    return [
        Panel(
            a,
            "Relaxed: small gap under the back",
            front=[line(gap + [0, -0.1], gap + [0, -0.075]), _label(gap + [0, -0.15], "gap")],
        ),
        Panel(
            b,
            "Tilt the pelvis back, press the back flat",
            front=[arc(hip, 0.13, 60, 120), _label(hip + [0, 0.19], "tilt")],
        ),
    ]


def ex_dead_bug() -> list[Panel]:
    def pose(near_arm: float, far_thigh: float, far_shin: float) -> Figure:
        f = Figure(hip=(0.0, 0.07), trunk=180, neck=180, head=180)
        f.leg("near", 90, 0, 80).leg("far", far_thigh, far_shin, far_shin + 85)
        return f.arm("near", near_arm, near_arm).arm("far", 90, 92)

    a, b = pose(90, 90, 0), pose(170, 15, 15)
    sh, hip = b.joints()["shoulder"], np.array(b.hip)
    return [
        Panel(a, "Arms up, knees over hips"),
        Panel(
            b,
            "Reach arm back, opposite leg out",
            front=[arc(sh, UPPER + FORE + 0.08, 100, 150), arc(hip, THIGH + SHIN + 0.05, 60, 25)],
        ),
    ]


def ex_bird_dog() -> list[Panel]:
    a = quadruped()
    b = quadruped(neck=0, head=-5)
    b.leg("near", 180, 180, 270).arm("far", 0, 0)
    hip, sh = np.array(b.hip), b.joints()["shoulder"]
    return [
        Panel(a, "Hands and knees, back flat"),
        Panel(
            b,
            "Reach one arm and the other leg",
            front=[
                line(sh + [0.3, 0.1], sh + [0.45, 0.1]),
                line(hip + [-0.3, 0.1], hip + [-0.45, 0.1]),
            ],
        ),
    ]


def ex_chin_tucks() -> list[Panel]:
    def seated(neck: float, head: float, dx: float) -> Figure:
        f = Figure(hip=(dx, 0.33), trunk=90, neck=neck, head=head)
        f.leg_to("near", (dx + 0.25, ANKLE_H), foot=0).leg_to("far", (dx + 0.25, ANKLE_H), foot=0)
        hip = np.array(f.hip)
        return f.arm_to("near", hip + [0.22, 0.0]).arm_to("far", hip + [0.22, 0.01])

    a, b = seated(58, 100, 0.0), seated(93, 92, 0.0)
    stool = [rect(-0.12, 0.0, 0.12, 0.265, PROP)]
    fit = ["head", "hip", "knee_near", "ankle_near"]
    chin_b = b.joints()["head"] + [0.1, -0.03]
    return [
        Panel(a, "Head poking forward", back=stool, fit=fit),
        Panel(
            b,
            "Glide the head back",
            back=stool,
            fit=fit,
            front=[line(chin_b + [0.1, 0], chin_b + [0.0, 0])],
        ),
    ]


def ex_glute_bridge() -> list[Panel]:
    a = supine_hook()
    b = _bridge(supine_hook(), "both")
    hip = np.array(b.hip)
    return [
        Panel(a, "Knees bent, feet flat"),
        Panel(
            b,
            "Squeeze the buttocks, lift the hips",
            front=[line(hip + [0, -0.05], hip + [0, 0.06])],
        ),
    ]


def _bridge(f: Figure, legs: str) -> Figure:
    """Lift the hips until shoulders, hips and knees line up; feet stay put."""
    sh = f.joints()["shoulder"]
    foot = np.array([f.hip[0] + 0.3, ANKLE_H])
    best = None
    for deg in np.arange(180, 220, 0.5):
        # Shoulder fixed on the floor, trunk rotated; hip-to-knee continues the trunk line.
        hip = sh - TRUNK * d(deg)
        knee = hip + THIGH * d(deg + 180)
        err = abs(np.hypot(*(foot - knee)) - SHIN)
        if best is None or err < best[0]:
            best = (err, deg, hip)
    _, deg, hip = best
    g = Figure(hip=tuple(hip), trunk=deg, neck=180, head=180)
    g.arms = dict(f.arms)
    for side in ("near", "far"):
        if legs == "both" or side == "far":
            g.leg_to(side, foot, foot=0)
    return g


def ex_single_leg_bridge() -> list[Panel]:
    b = _bridge(supine_hook(), "far")
    thigh = b.legs["far"][0]
    b.leg("near", thigh, thigh, thigh + 90)
    a = supine_hook()
    a.leg("near", a.legs["near"][0], a.legs["near"][0], a.legs["near"][0] + 90)
    hip = np.array(b.hip)
    return [
        Panel(a, "One leg straight, thighs level"),
        Panel(b, "Lift the hips on one leg", front=[line(hip + [0, -0.05], hip + [0, 0.06])]),
    ]


def ex_plank() -> list[Panel]:
    """Forearms under the shoulders, body straight from head to heels, toes tucked."""

    def pose(deg: float) -> Figure:
        f = Figure(hip=(0.0, 0.0), trunk=deg, neck=deg, head=deg - 5)
        f.leg("near", 180 + deg, 180 + deg, 262).leg("far", 180 + deg, 180 + deg, 262)
        return f.arm("near", -90, 0).arm("far", -90, 2)

    def gap(f: Figure) -> float:
        # Height of the forearm underside minus height of the toe underside.
        j = f.joints()
        return (j["elbow_near"][1] - 0.022) - (j["toe_near"][1] - 0.01)

    f = min((pose(deg) for deg in np.arange(0, 30, 0.25)), key=lambda f: abs(gap(f)))
    f.hip = (0.0, 0.022 - f.joints()["elbow_near"][1])
    hip = np.array(f.hip)
    arrow = line(hip + [0, -0.17], hip + [0, -0.1])
    return [Panel(f, "Straight line from head to heels", front=[arrow])]


def ex_hamstring_curl() -> list[Panel]:
    a = Figure(hip=(0.0, 0.2), trunk=196, neck=180, head=180)
    a.leg_to("near", (0.49, ANKLE_H), foot=80).leg_to("far", (0.49, ANKLE_H), foot=80)
    sh = a.joints()["shoulder"]
    a.hip = (0.0, a.hip[1] - (sh[1] - 0.07))
    a.leg_to("near", (0.49, ANKLE_H), foot=80).leg_to("far", (0.49, ANKLE_H), foot=80)
    sh = a.joints()["shoulder"]
    a.arm_to("near", (sh[0] + 0.3, 0.03)).arm_to("far", (sh[0] + 0.3, 0.03))
    b = _bridge(supine_hook(), "both")
    b.arms = dict(b.arms)
    towel_a = rect(0.42, 0.0, 0.58, 0.012, PROP_DARK)
    towel_b = rect(0.25, 0.0, 0.41, 0.012, PROP_DARK)
    ankle = b.joints()["ankle_near"]
    return [
        Panel(a, "Hips up, heels on a towel", back=[towel_a]),
        Panel(
            b,
            "Pull the heels in",
            back=[towel_b],
            front=[line(ankle + [0.2, 0.1], ankle + [0.05, 0.1])],
        ),
    ]


def ex_walking_lunges() -> list[Panel]:
    a = standing()
    hands_on_hips(a)
    back_thigh = -97.0
    hip_y = KNEE_R + 0.04 + THIGH * -math.sin(math.radians(back_thigh))
    b = Figure(hip=(0.0, hip_y), trunk=90)
    b.leg("near", back_thigh, 172, -62).leg_to("far", (0.3, ANKLE_H), foot=0)
    hands_on_hips(b)
    hip = np.array(b.hip)
    return [
        Panel(a, "Stand tall"),
        Panel(
            b,
            "Long step, lower the back knee",
            front=[
                line(hip + [0.16, 0.2], hip + [0.16, 0.1]),
                line(hip + [0.3, 0.35], hip + [0.45, 0.35]),
            ],
        ),
    ]


def ex_standing_march() -> list[Panel]:
    a = standing()
    b = standing()
    b.leg("near", 0, -90, 0)
    hip = np.array(b.hip)
    wall = [rect(0.3, 0.0, 0.36, 0.95, PROP)]
    for f in (a, b):
        sh = f.joints()["shoulder"]
        f.arm_to("near", (0.3, sh[1] - 0.12))
    return [
        Panel(a, "Stand tall, hand on a wall", back=wall),
        Panel(
            b, "Lift the knee to hip height", back=wall, front=[arc(hip, THIGH + 0.08, -70, -10)]
        ),
    ]


def ex_sitting_breaks() -> list[Panel]:
    a = Figure(hip=(0.0, 0.33), trunk=95, neck=80, head=85)
    a.leg_to("near", (0.27, ANKLE_H), foot=0).leg_to("far", (0.25, ANKLE_H), foot=0)
    hip = np.array(a.hip)
    a.arm_to("near", hip + [0.38, 0.15]).arm_to("far", hip + [0.37, 0.155])
    chair = [
        rect(-0.12, 0.23, 0.14, 0.265, PROP),
        rect(-0.12, 0.0, -0.09, 0.265, PROP),
        rect(0.11, 0.0, 0.14, 0.265, PROP),
        rect(-0.15, 0.23, -0.12, 0.62, PROP),
    ]
    desk = [rect(0.3, 0.42, 0.7, 0.455, PROP_DARK), rect(0.62, 0.0, 0.66, 0.42, PROP_DARK)]
    b = standing(0.1)
    b.leg("near", -80, -100, 0)
    hip_b = np.array(b.hip)
    b.leg("near", -80, -100, -10)
    return [
        Panel(a, "Every 30-45 min of sitting...", back=[*chair, *desk]),
        Panel(
            b,
            "...stand up and move for 1-2 min",
            back=_shift(chair, -0.3),
            front=[line(hip_b + [0.2, 0.1], hip_b + [0.35, 0.1])],
        ),
    ]


def _shift(polys: list[Poly], dx: float) -> list[Poly]:
    return [Poly(p.pts + [dx, 0.0], p.color) for p in polys]


def walker(phase: float) -> Figure:
    f = Figure(hip=(0.0, 0.0), trunk=92, neck=92, head=90)
    f.leg("far", -70 - phase, -88 - phase, 0).leg("near", -110 + phase, -125 + phase, -40)
    lowest = min(f.joints()["ankle_far"][1], f.joints()["toe_near"][1] + 0.03 - ANKLE_H)
    f.hip = (0.0, ANKLE_H - lowest)
    return f.arm("near", -70, -45).arm("far", -112, -95)


def ex_daily_walk() -> list[Panel]:
    f = walker(0)
    hip = np.array(f.hip)
    return [
        Panel(
            f, "About 30 minutes on most days", front=[line(hip + [0.25, 0.3], hip + [0.45, 0.3])]
        )
    ]


def ex_soft_knees() -> list[Panel]:
    a = standing()
    a.leg("near", -96, -86, 4).leg("far", -96, -86, 4)
    a.hip = (0.0, ANKLE_H - (THIGH * d(-96)[1] + SHIN * d(-86)[1]))
    b = standing()
    b.leg("near", -88, -92, 2).leg("far", -88, -92, 2)
    b.hip = (0.0, ANKLE_H - (THIGH * d(-88)[1] + SHIN * d(-92)[1]))
    ka, kb = a.joints()["knee_near"], b.joints()["knee_near"]
    return [
        Panel(a, "Knees pushed back (locked)", front=[line(ka + [0.15, 0], ka + [0.05, 0])]),
        Panel(b, "Soft knees: straight, not braced", front=[line(kb + [0.05, 0], kb + [0.15, 0])]),
    ]


EXERCISES: dict[str, Callable[[], list[Panel]]] = {
    "half-kneeling-hip-flexor-stretch": ex_half_kneeling,
    "standing-hip-flexor-stretch": ex_standing_hf,
    "couch-stretch": ex_couch,
    "hamstring-stretch": ex_hamstring_stretch,
    "yoga-low-lunge": ex_low_lunge,
    "cat-camel": ex_cat_camel,
    "prone-press-up": ex_prone_press_up,
    "thoracic-extension": ex_thoracic,
    "posterior-pelvic-tilt-drill": ex_ppt,
    "dead-bug": ex_dead_bug,
    "bird-dog": ex_bird_dog,
    "chin-tucks": ex_chin_tucks,
    "glute-bridge": ex_glute_bridge,
    "single-leg-bridge": ex_single_leg_bridge,
    "front-plank": ex_plank,
    "hamstring-curl": ex_hamstring_curl,
    "walking-lunges": ex_walking_lunges,
    "standing-march": ex_standing_march,
    "sitting-breaks": ex_sitting_breaks,
    "daily-walk": ex_daily_walk,
    "soft-knees": ex_soft_knees,
}


def all_problems() -> list[str]:
    """Anatomy problems over every pose, plus body parts sunk into the floor."""
    out = []
    for ex_id, make in EXERCISES.items():
        for i, panel in enumerate(make()):
            name = f"{ex_id}[{i}]"
            out += anatomy_problems(panel.fig, name)
            j = panel.fig.joints()
            low = min(p[1] for k, p in j.items() if k != "head")
            if low < -0.02:
                out.append(f"{name}: a joint is {-low:.2f} below the floor")
    return out


def write_all(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ex_id, make in EXERCISES.items():
        img = render(make())
        path = out_dir / f"{ex_id}.png"
        img.quantize(colors=48, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True
        )
        paths.append(path)
    return paths


def contact_sheet(paths: list[Path], cols: int = 3) -> Image.Image:
    rows = math.ceil(len(paths) / cols)
    sheet = Image.new("RGB", (cols * SIZE[0], rows * SIZE[1]), (255, 255, 255))
    for i, p in enumerate(paths):
        sheet.paste(Image.open(p).convert("RGB"), ((i % cols) * SIZE[0], (i // cols) * SIZE[1]))
    return sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check poses")
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet here")
    args = ap.parse_args(argv)
    problems = all_problems()
    for p in problems:
        print("pose problem:", p, file=sys.stderr)
    if args.check:
        return 1 if problems else 0
    paths = write_all()
    for p in paths:
        print(f"{p.name}: {p.stat().st_size / 1024:.1f} KB")
    if args.sheet:
        contact_sheet(paths).save(args.sheet)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
