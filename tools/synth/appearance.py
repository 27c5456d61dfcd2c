"""Per-vertex colours: skin, painted hair, clothing, shoes, eyes and lips.

Regions are found on the rest-pose mesh from the skinning weights (which body part a vertex
belongs to) and heights relative to the pelvic landmarks and joints, so they follow every
body shape. Colours are linear RGB.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .body import Body, landmark_points
from .scene import Appearance

# Material ids (per vertex): used for gloss and fabric texture.
SKIN, HAIR, CLOTH, SHOE, EYE = 0, 1, 2, 3, 4


def _group_weight(body: Body, prefixes: tuple[str, ...]) -> np.ndarray:
    """Total skinning weight of the bones whose label starts with one of ``prefixes``."""
    in_group = np.array([label.startswith(prefixes) for label in body.bone_labels])
    return (body.skin_weights * in_group[body.skin_bones]).sum(1)


HAIR_THICKNESS_M = {"bald": 0.0, "short": 0.007, "medium": 0.014, "long": 0.02}


def add_hair_volume(body: Body, material: np.ndarray, look: Appearance) -> Body:
    """Push the painted scalp outwards so that hair has some volume (rest pose).

    The push fades in over 2 cm above the hairline so the hair edge is soft, not a step.
    Only head vertices move: the pelvic landmarks and the back profile are untouched.
    """
    from .render import vertex_normals  # local: render imports this module's constants

    thickness = HAIR_THICKNESS_M[look.hair_style] * body.stature / 1.75
    hair = (material == HAIR).astype(float)
    if thickness == 0 or not hair.any():
        return body
    # soften the mask by averaging over each vertex's neighbours, twice
    for _ in range(2):
        acc = np.zeros(len(hair))
        cnt = np.zeros(len(hair))
        for a, b in ((0, 1), (1, 2), (2, 0)):
            for i, j in ((a, b), (b, a)):
                np.add.at(acc, body.faces[:, i], hair[body.faces[:, j]])
                np.add.at(cnt, body.faces[:, i], 1.0)
        hair = np.maximum(hair * 0.5, acc / np.maximum(cnt, 1))
    normals = vertex_normals(body.vertices, body.faces)
    moved = body.vertices + normals * (thickness * hair)[:, None]
    return dataclasses.replace(body, vertices=moved)


def vertex_colours(body: Body, look: Appearance) -> tuple[np.ndarray, np.ndarray]:
    """Albedo and material of every vertex.

    Parameters
    ----------
    body : Body
    look : Appearance

    Returns
    -------
    albedo : ndarray (V, 3)
        Linear RGB in [0, 1].
    material : ndarray (V,)
        One of SKIN, HAIR, CLOTH, SHOE, EYE.
    """
    v = body.vertices
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    heads = body.bone_heads
    s = body.stature / 1.75  # scale lengths with the body
    lm = landmark_points(v, body.faces)
    asis_z = (lm["ASIS_L"][2] + lm["ASIS_R"][2]) / 2
    hip_z = heads[body.bone("upperleg01.L")][2]
    knee_z = heads[body.bone("lowerleg01.L")][2]
    ankle_z = heads[body.bone("foot.L")][2]
    sole_z = z.min()
    neck_z = heads[body.bone("neck01")][2]
    eye_l, eye_r = heads[body.bone("eye.L")], heads[body.bone("eye.R")]

    arm = _group_weight(body, ("shoulder01", "upperarm", "lowerarm", "wrist", "finger",
                               "metacarpal"))
    leg = _group_weight(body, ("upperleg", "lowerleg", "foot", "toe"))
    foot = _group_weight(body, ("foot", "toe"))
    head = _group_weight(body, ("neck", "head", "eye"))
    trunk = 1.0 - arm - leg - head

    albedo = np.tile(np.asarray(look.skin), (len(v), 1))
    material = np.full(len(v), SKIN)
    # gentle redness on the face and joints, darker soles: skin is not one flat colour
    albedo *= 1.0 + 0.05 * np.sin(37 * x + 23 * y + 41 * z)[:, None]

    def paint(mask, colour, mat):
        albedo[mask] = colour
        material[mask] = mat

    # bottoms: from the waistband down the legs to the style's hem
    hem = {"briefs": hip_z - 0.03 * s, "shorts": hip_z - 0.45 * (hip_z - knee_z),
           "bike_shorts": hip_z - 0.75 * (hip_z - knee_z),
           "capri": knee_z - 0.5 * (knee_z - ankle_z),
           "leggings": ankle_z + 0.02 * s}[look.bottom_style]
    waist = asis_z + look.waistband * s
    bottom = (z < waist) & (z > hem) & (arm < 0.5) & (head < 0.5)
    paint(bottom, look.bottom, CLOTH)

    # tops: trunk between the hem and the neckline, sleeves along the arms
    if look.top_style != "none":
        top_hem = asis_z + look.top_hem * s
        if look.top_style == "sports_bra":
            top_hem = asis_z + 0.20 * s
        front = np.clip((heads[body.bone("spine01")][1] - y) / (0.10 * s), 0, 1)
        neckline = neck_z - (0.03 + 0.05 * front) * s
        torso = (trunk + 0.6 * head > 0.5) & (z > top_hem) & (z < neckline)
        sleeve = {"tank": 0.0, "sports_bra": 0.0, "tshirt": 0.13, "longsleeve": 0.30}
        length = sleeve[look.top_style] * s
        for side in ("L", "R"):
            shoulder = heads[body.bone(f"upperarm01.{side}")]
            elbow = heads[body.bone(f"lowerarm01.{side}")]
            axis = (elbow - shoulder) / np.linalg.norm(elbow - shoulder)
            along = (v - shoulder) @ axis
            on_side = np.sign(x) == (1 if side == "L" else -1)
            straps = look.top_style in ("tank", "sports_bra")
            bare = (0.2, -0.03) if straps else (0.5, 0.03)  # (arm weight, start along arm)
            torso &= ~(on_side & (arm > bare[0]) & (along > bare[1] * s))
            torso |= on_side & (arm > 0.3) & (along < length) & (z > top_hem) & \
                (length > 0)
        paint(torso & (z > hem), look.top, CLOTH)

    # feet: shoes (with a light sole) or socks
    if look.feet_style != "barefoot":
        top_of = ankle_z + (0.02 if look.feet_style == "shoes" else 0.08) * s
        paint((foot > 0.5) & (z < top_of), look.feet, SHOE if look.feet_style == "shoes"
              else CLOTH)
        if look.feet_style == "shoes":
            paint((foot > 0.3) & (z < sole_z + 0.025 * s), np.array([0.75, 0.74, 0.72]), SHOE)

    # hair: the scalp above a hairline that runs from the forehead down to the nape
    if look.hair_style != "bald":
        face_y = min(eye_l[1], eye_r[1])
        depth = np.clip((y - face_y) / (0.20 * s), 0, 1)  # 0 at the face, 1 at the back
        drop = {"short": 0.09, "medium": 0.13, "long": 0.17}[look.hair_style]
        hairline = eye_l[2] + (0.045 - drop * depth ** 1.5) * s
        scalp = (head > 0.5) & (z > hairline) & (z > neck_z + 0.02 * s)
        paint(scalp, look.hair, HAIR)
        # eyebrows
        for eye in (eye_l, eye_r):
            brow = (np.abs(z - eye[2] - 0.022 * s) < 0.006 * s) & \
                (np.abs(x - eye[0]) < 0.022 * s) & (y < eye[1] + 0.01)
            paint(brow, 0.6 * np.asarray(look.hair) + 0.02, HAIR)

    # eyes: a dark iris on the front of the eyeball (painted whites looked like goggles)
    for eye in (eye_l, eye_r):
        d = np.linalg.norm(v - eye, axis=1)
        paint((d < 0.016 * s) & (y < eye[1] - 0.010 * s) & (np.abs(z - eye[2]) < 0.005 * s),
              np.array([0.03, 0.02, 0.015]), EYE)
    mouth_z = eye_l[2] - 0.075 * s
    lips = (np.abs(z - mouth_z) < 0.007 * s) & (np.abs(x) < 0.025 * s) & \
        (y < face_y_of(v, eye_l) + 0.035 * s) & (head > 0.5) & (material == SKIN)
    albedo[lips] = np.asarray(look.skin) * np.array([0.85, 0.55, 0.55])
    return np.clip(albedo, 0, 1), material


def face_y_of(v: np.ndarray, eye: np.ndarray) -> float:
    """Depth (y) of the front of the face near the eyes, metres."""
    near = np.abs(v[:, 2] - eye[2]) < 0.04
    return float(v[near, 1].min()) if np.any(near) else float(eye[1])
