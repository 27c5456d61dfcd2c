"""The body model: anny shapes, the ASIS/PSIS landmarks and the pelvis skin re-binding.

Everything here follows ``../shared/ground-truth.md``. Coordinates are anny's template frame
in metres: x = the subject's left, -y = forward, z = up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

# Local shape changes (anny "local_changes") the generator varies, each in [-1, 1].
LOCAL_CHANGES: tuple[str, ...] = (
    "stomach-pregnant-incr",  # belly
    "buttocks-volume-incr",
    "torso-scale-depth-incr",
    "hip-scale-depth-incr",
    "hip-scale-horiz-incr",
    "measure-waist-circ-incr",
    "upperlegs-height-incr",
    "lowerlegs-height-incr",
)

# (face, barycentric weights) of the four landmarks, from ground-truth.md (default topology).
LANDMARK_FACES: dict[str, tuple[int, tuple[float, float, float]]] = {
    "ASIS_L": (21258, (0.634, 0.144, 0.222)),
    "PSIS_L": (21363, (0.083, 0.369, 0.548)),
    "ASIS_R": (7972, (0.634, 0.222, 0.144)),
    "PSIS_R": (8038, (0.548, 0.369, 0.083)),
}

# The ear landmark (roughly the tragus, as MediaPipe places "ear") is the mean of the few
# vertices nearest to this point on the neutral body; the indices are then fixed.
EAR_POINT_NEUTRAL_L = np.array([0.078, -0.052, 0.875])
EAR_VERTEX_COUNT = 8

# Pelvis re-binding radii (ground-truth.md): fully bound to root within the inner radius,
# smoothstep fade back to the original weights at the outer radius. Metres.
REBIND_INNER_M = 0.035
REBIND_OUTER_M = 0.09

NEUTRAL_AGE_YEARS = 30.0


@dataclass(frozen=True)
class BodyShape:
    """Phenotype of one body (anny slider values).

    Attributes
    ----------
    gender : float
        0 = male, 1 = female (anny's slider).
    age_years : float
        Age in years (mapped to anny's age slider by anny's own calibration).
    height, weight, muscle, proportions, cupsize, firmness : float
        anny sliders in [0, 1]; 0.5 is the average.
    african, asian, caucasian : float
        anny's ethnicity mix (normalised by anny), each in [0, 1].
    local_changes : tuple of (str, float)
        Values in [-1, 1] for the names in ``LOCAL_CHANGES``.
    """

    gender: float = 0.5
    age_years: float = NEUTRAL_AGE_YEARS
    height: float = 0.5
    weight: float = 0.5
    muscle: float = 0.5
    proportions: float = 0.5
    cupsize: float = 0.5
    firmness: float = 0.5
    african: float = 0.5
    asian: float = 0.5
    caucasian: float = 0.5
    local_changes: tuple[tuple[str, float], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Body:
    """One body shape in its rest pose, ready for posing.

    Attributes
    ----------
    vertices : ndarray (V, 3)
        Rest-pose vertices, metres, template frame.
    faces : ndarray (F, 3)
        Triangles (vertex indices).
    bone_labels : tuple of str
    bone_parents : ndarray (B,)
        Parent index per bone (-1 for ``root``); parents come before children.
    bone_heads : ndarray (B, 3)
        Rest-pose bone heads (joint centres), metres.
    skin_bones, skin_weights : ndarray (V, K)
        Linear-blend-skinning influences after the pelvis re-binding.
    rebind_alpha : ndarray (V,)
        How much each vertex was re-bound to ``root`` (1 = fully, 0 = untouched).
    stature : float
        Rest-pose height (top of head to sole), metres.
    shape : BodyShape
    """

    vertices: np.ndarray
    faces: np.ndarray
    bone_labels: tuple[str, ...]
    bone_parents: np.ndarray
    bone_heads: np.ndarray
    skin_bones: np.ndarray
    skin_weights: np.ndarray
    rebind_alpha: np.ndarray
    stature: float
    shape: BodyShape
    ear_vertices: tuple[np.ndarray, np.ndarray] = field(repr=False, default=None)

    def bone(self, label: str) -> int:
        """Index of a bone by its anny label."""
        return self.bone_labels.index(label)


def landmark_points(vertices: np.ndarray, faces: np.ndarray) -> dict[str, np.ndarray]:
    """The four pelvic landmarks on a (rest or posed) mesh.

    Parameters
    ----------
    vertices : ndarray (V, 3)
        Mesh vertices, metres.
    faces : ndarray (F, 3)

    Returns
    -------
    dict
        ``ASIS_L``, ``ASIS_R``, ``PSIS_L``, ``PSIS_R`` -> ndarray (3,), metres.
    """
    out = {}
    for name, (face, bary) in LANDMARK_FACES.items():
        out[name] = np.asarray(bary) @ vertices[faces[face]]
    return out


def sagittal_tilt_deg(asis: np.ndarray, psis: np.ndarray, forward: np.ndarray) -> float:
    """Angle of the PSIS->ASIS line below the horizontal, in the sagittal plane.

    Parameters
    ----------
    asis, psis : ndarray (3,)
        Points, metres (z up).
    forward : ndarray (3,)
        The body's forward direction (horizontal unit vector).

    Returns
    -------
    float
        Degrees; positive = anterior tilt (ASIS lower than PSIS).
    """
    d = asis - psis
    return float(np.degrees(np.arctan2(-d[2], d @ forward)))


def pelvic_tilts(vertices: np.ndarray, faces: np.ndarray, forward=(0.0, -1.0, 0.0)) -> dict:
    """Pelvic tilt of a mesh: from the mid-points (the label) and each side, degrees."""
    lm = landmark_points(vertices, faces)
    fwd = np.asarray(forward, dtype=float)
    mid_a = (lm["ASIS_L"] + lm["ASIS_R"]) / 2
    mid_p = (lm["PSIS_L"] + lm["PSIS_R"]) / 2
    return {
        "mid": sagittal_tilt_deg(mid_a, mid_p, fwd),
        "left": sagittal_tilt_deg(lm["ASIS_L"], lm["PSIS_L"], fwd),
        "right": sagittal_tilt_deg(lm["ASIS_R"], lm["PSIS_R"], fwd),
    }


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _distance_to_segments(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each point (N, 3) to the nearest of the segments a[i]-b[i] (S, 3)."""
    ab = b - a
    ap = points[:, None, :] - a[None]
    t = np.clip((ap * ab[None]).sum(-1) / (ab * ab).sum(-1)[None], 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - nearest, axis=-1).min(axis=1)


def _skin_point(vertices: np.ndarray, near: np.ndarray, axis: int, sign: float,
                band: float = 0.012) -> np.ndarray:
    """The outermost skin vertex along ``sign * axis`` in a small band around ``near``.

    Used to put the bony points of the re-binding polyline on the skin, where the thin
    soft tissue moves with the bone.
    """
    others = [k for k in range(3) if k != axis]
    in_band = np.all(np.abs(vertices[:, others] - near[others]) < band, axis=1)
    if not np.any(in_band):
        return near
    candidates = vertices[in_band]
    return candidates[np.argmax(sign * candidates[:, axis])]


def pelvis_polyline(vertices: np.ndarray, faces: np.ndarray, hip_l: np.ndarray,
                    hip_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments through the bony pelvic points whose skin moves with the pelvis.

    The polyline runs ASIS -> iliac tubercle -> PSIS -> sacrum and ASIS -> pubis on each side
    (ground-truth.md). ASIS and PSIS are the landmarks; the other points are placed on the
    skin from them: the iliac tubercle on the lateral skin 35 % of the way from ASIS to PSIS
    and 4 cm (scaled by pelvis size) above that line, the sacrum on the posterior midline
    4 cm below mid-PSIS, the pubis on the anterior midline 1.5 cm below the hip centres.

    Returns
    -------
    a, b : ndarray (S, 3)
        Segment end points, metres.
    """
    lm = landmark_points(vertices, faces)
    mid_p = (lm["PSIS_L"] + lm["PSIS_R"]) / 2
    depth = np.linalg.norm((lm["ASIS_L"] - lm["PSIS_L"])[1:])
    scale = depth / 0.155  # ground-truth ASIS-PSIS depth of the neutral body
    sacrum = _skin_point(vertices, mid_p - [0, 0, 0.04 * scale], axis=1, sign=+1.0)
    pubis_guess = np.array([0.0, (lm["ASIS_L"][1] + lm["ASIS_R"][1]) / 2,
                            (hip_l[2] + hip_r[2]) / 2 - 0.015 * scale])
    pubis = _skin_point(vertices, pubis_guess, axis=1, sign=-1.0)
    a, b = [], []
    for side, sign in (("L", 1.0), ("R", -1.0)):
        asis, psis = lm[f"ASIS_{side}"], lm[f"PSIS_{side}"]
        guess = asis + 0.35 * (psis - asis) + [0, 0, 0.04 * scale]
        tubercle = _skin_point(vertices, guess, axis=0, sign=sign)
        for p, q in ((asis, tubercle), (tubercle, psis), (psis, sacrum), (asis, pubis)):
            a.append(p)
            b.append(q)
    return np.array(a), np.array(b)


def rebind_pelvis(vertices: np.ndarray, faces: np.ndarray, skin_bones: np.ndarray,
                  skin_weights: np.ndarray, root: int, hip_l: np.ndarray,
                  hip_r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bind the skin over the bony pelvis to ``root`` (ground-truth.md).

    Vertices within ``REBIND_INNER_M`` of the pelvis polyline go fully to ``root``; the
    binding fades with a smoothstep back to the original weights at ``REBIND_OUTER_M``.

    Returns
    -------
    bones, weights : ndarray (V, K + 1)
        New influences (one column added for ``root``).
    alpha : ndarray (V,)
        Re-binding amount per vertex.
    """
    a, b = pelvis_polyline(vertices, faces, hip_l, hip_r)
    dist = _distance_to_segments(vertices, a, b)
    alpha = 1.0 - _smoothstep((dist - REBIND_INNER_M) / (REBIND_OUTER_M - REBIND_INNER_M))
    bones = np.concatenate([skin_bones, np.full((len(vertices), 1), root)], axis=1)
    weights = np.concatenate([skin_weights * (1.0 - alpha)[:, None], alpha[:, None]], axis=1)
    return bones, weights, alpha


class BodyModel:
    """Wraps one anny model (built once per process: ~7 s from anny's cache)."""

    def __init__(self) -> None:
        import anny  # heavy import kept local so that --help stays fast
        import torch

        self._torch = torch
        torch.set_num_threads(1)  # one core per worker; workers parallelise
        self.model = anny.Anny(phenotypes="all", local_changes=list(LOCAL_CHANGES),
                               skinning_method="lbs")
        self.faces = self.model.faces.numpy().astype(np.int64)
        self.bone_labels = tuple(self.model.bone_labels)
        self.bone_parents = np.asarray(self.model.bone_parents, dtype=np.int64)
        assert all(self.bone_parents[i] < i for i in range(1, len(self.bone_parents)))
        self._skin_bones = self.model.vertex_bone_indices.numpy().astype(np.int64)
        self._skin_weights = self.model.vertex_bone_weights.numpy().astype(np.float64)
        self._age_anchors = _anny_age_anchors()

    def anny_age(self, years: float) -> float:
        """anny's age slider for an age in years (anny's morphological-age calibration)."""
        years_anchor, slider_anchor = self._age_anchors
        return float(np.interp(years, years_anchor, slider_anchor))

    @cached_property
    def ear_vertex_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertex indices of the left and right ear landmarks (fixed on the neutral body)."""
        verts = self._rest(BodyShape())[0]
        ids = []
        for sign in (1.0, -1.0):
            point = EAR_POINT_NEUTRAL_L * [sign, 1.0, 1.0]
            d = np.linalg.norm(verts - point, axis=1)
            ids.append(np.sort(np.argsort(d)[:EAR_VERTEX_COUNT]))
        return ids[0], ids[1]

    def _rest(self, shape: BodyShape) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        pheno = {
            "gender": shape.gender, "age": self.anny_age(shape.age_years),
            "muscle": shape.muscle, "weight": shape.weight, "height": shape.height,
            "proportions": shape.proportions, "cupsize": shape.cupsize,
            "firmness": shape.firmness, "african": shape.african, "asian": shape.asian,
            "caucasian": shape.caucasian,
        }
        local = dict(shape.local_changes)
        unknown = set(local) - set(LOCAL_CHANGES)
        if unknown:
            raise ValueError(f"unknown local changes: {sorted(unknown)}")
        with torch.no_grad():
            out = self.model(phenotype_kwargs=pheno, local_changes_kwargs=local or None)
        return (out["rest_vertices"][0].numpy().astype(np.float64),
                out["rest_bone_heads"][0].numpy().astype(np.float64))

    def height_for_stature(self, shape: BodyShape, stature_m: float) -> float:
        """The anny height slider that gives ``shape`` the wanted standing height.

        Stature is close to linear in the slider, so two rest builds and a secant (clipped
        to the slider range) are enough; the exact stature is measured and labelled.
        """
        lo = self._rest(replace(shape, height=0.0))[0][:, 2]
        hi = self._rest(replace(shape, height=1.0))[0][:, 2]
        s_lo, s_hi = lo.max() - lo.min(), hi.max() - hi.min()
        return float(np.clip((stature_m - s_lo) / (s_hi - s_lo), 0.0, 1.0))

    def build(self, shape: BodyShape, rebind: bool = True) -> Body:
        """Build one body in its rest pose, with the pelvis skin re-bound to ``root``.

        Parameters
        ----------
        shape : BodyShape
        rebind : bool
            False keeps anny's own skin weights (only for comparisons).
        """
        verts, heads = self._rest(shape)
        root = self.bone_labels.index("root")
        hip_l = heads[self.bone_labels.index("upperleg01.L")]
        hip_r = heads[self.bone_labels.index("upperleg01.R")]
        if rebind:
            bones, weights, alpha = rebind_pelvis(verts, self.faces, self._skin_bones,
                                                  self._skin_weights, root, hip_l, hip_r)
        else:
            bones, weights = self._skin_bones, self._skin_weights
            alpha = np.zeros(len(verts))
        return Body(
            vertices=verts, faces=self.faces, bone_labels=self.bone_labels,
            bone_parents=self.bone_parents, bone_heads=heads, skin_bones=bones,
            skin_weights=weights, rebind_alpha=alpha,
            stature=float(verts[:, 2].max() - verts[:, 2].min()), shape=shape,
            ear_vertices=self.ear_vertex_ids,
        )


def _anny_age_anchors() -> tuple[np.ndarray, np.ndarray]:
    """(years, slider) anchors of anny's morphological age mapping, from anny's data."""
    import torch
    from anny.paths import get_anny_root_dir

    state = torch.load(get_anny_root_dir() / "data" / "shape_calibration" / "boys.pth",
                       weights_only=True, map_location="cpu")["morphological_age_mapping"]
    return (state["morphological_age_anchors"].numpy(), state["anny_age_anchors"].numpy())
