"""Step 4a: sagittal geometry → pelvic tilt and lumbar lordosis (learned).

MediaPipe gives no ASIS or PSIS, and its hip point sits centimetres off the joint, so the
tilt cannot be read off the landmarks directly. Instead a small regression maps what *is*
visible in a side view to the tilt: the shape of the back and front outline between the
knees and the shoulders (depth of the lumbar curve, buttock and abdomen protrusion) and the
positions of the key points, all in the body frame (facing-normalised, roll removed,
divided by stature) so that mirror images and image size do not change the features.

The regression was fitted on synthetic renders whose tilt is known (``tools/synth``,
``tools/train_estimator.py``). Its parameters, the data it saw and its calibrated interval
ship in ``posture/data/estimator.json``. Inference is a few small matrix products.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from .errors import DataFileError
from .sagittal import OUTLINE_LEVELS, SideView

FEATURE_VERSION = 2
#: Key points whose body-frame (u, v) enter the features, relative to the hip midpoint.
POINTS = ("ear", "shoulder", "elbow", "wrist", "knee", "ankle", "heel", "toe",
          "ear_near", "shoulder_near", "hip_near", "knee_near", "ankle_near")
#: Heights, relative to the buttock apex (stature units), of the apex-aligned back profile.
APEX_LEVELS = np.linspace(-0.10, 0.25, 36)
_OUTLINE_STEP = 2  # every other outline row for the hip-aligned profiles (~2 cm apart)


def feature_names() -> list[str]:
    n_rows = len(range(0, OUTLINE_LEVELS, _OUTLINE_STEP))
    names = []
    for p in POINTS:
        names += [f"{p}_du", f"{p}_dv"]
    names.append("hip_v")
    names += [f"post_{i:02d}" for i in range(n_rows)]
    names += [f"ant_{i:02d}" for i in range(n_rows)]
    names += ["lumbar_depth", "lumbar_height", "lumbar_angle", "apex_v", "apex_u"]
    names += [f"apex_post_{i:02d}" for i in range(len(APEX_LEVELS))]
    names += [f"apex_ant_{i:02d}" for i in range(len(APEX_LEVELS))]
    names += [f"apex_slope_{i:02d}" for i in range(len(APEX_LEVELS))]
    return names


def outline_descriptors(v: np.ndarray, anterior: np.ndarray, posterior: np.ndarray,
                        hip_v: float) -> np.ndarray:
    """Shape of the lower back read off the outline (all lengths in stature units).

    The buttock apex is the back-most point of the posterior outline near the hips; the
    deepest point of the lumbar curve is the front-most point of the posterior outline
    above it. Their distance and the angle of the line joining them grow with anterior
    tilt. The back and front profiles are then re-sampled relative to the apex, so that
    people of different proportions line up, with the slope of the back profile (degrees).

    Returns NaNs when the outline is missing around the hips.
    """
    n = 5 + 3 * len(APEX_LEVELS)
    ok = np.isfinite(posterior) & np.isfinite(anterior)
    near_hips = ok & (v > hip_v - 0.12) & (v < hip_v + 0.03)
    if near_hips.sum() < 3:
        return np.full(n, np.nan)
    ia = np.flatnonzero(near_hips)[np.argmin(posterior[near_hips])]
    va, ua = v[ia], posterior[ia]
    above = ok & (v > va) & (v < va + 0.22)
    if above.sum() < 3:
        return np.full(n, np.nan)
    il = np.flatnonzero(above)[np.argmax(posterior[above])]
    vl, ul = v[il], posterior[il]
    angle = np.degrees(np.arctan2(vl - va, ul - ua))
    vv, pp, aa = v[ok], posterior[ok], anterior[ok]
    prof = np.interp(va + APEX_LEVELS, vv, pp, left=np.nan, right=np.nan) - ua
    front = np.interp(va + APEX_LEVELS, vv, aa, left=np.nan, right=np.nan) - ua
    slope = np.degrees(np.arctan(np.gradient(prof, APEX_LEVELS)))
    return np.concatenate([[ul - ua, vl - va, angle, va - hip_v, ua], prof, front, slope])


def features(side: SideView) -> np.ndarray:
    """The feature vector of one side view (NaN where the outline is missing).

    Horizontal positions are relative to the hip midpoint, heights to the hips too, and
    all lengths are in units of stature: mirror images and image size do not change them.
    """
    hip = side.points["hip"]
    vals = []
    for p in POINTS:
        du, dv = side.points[p] - hip
        vals += [du, dv]
    vals.append(hip[1])
    sil = side.silhouette
    rows = len(range(0, OUTLINE_LEVELS, _OUTLINE_STEP))
    if sil is None or len(sil.v) != OUTLINE_LEVELS:
        vals += [np.nan] * (2 * rows + 5 + 3 * len(APEX_LEVELS))
    else:
        vals += list(sil.posterior[::_OUTLINE_STEP] - hip[0])
        vals += list(sil.anterior[::_OUTLINE_STEP] - hip[0])
        desc = outline_descriptors(sil.v, sil.anterior - hip[0], sil.posterior - hip[0], hip[1])
        vals += list(desc)
    return np.asarray(vals, dtype=np.float64)


@dataclass(frozen=True)
class Regressor:
    """A standardised multilayer perceptron (a ridge regression is the 0-hidden-layer case).

    ``predict`` imputes missing features with the training medians, standardises, applies
    the layers with ReLU between them, and returns the targets in their own units.
    """

    target_names: tuple[str, ...]
    impute: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    target_mean: np.ndarray
    target_scale: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        x = np.where(np.isnan(x), self.impute, x)
        h = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h * self.target_scale + self.target_mean

    @classmethod
    def from_dict(cls, d: dict) -> Regressor:
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        layers = tuple(
            (np.asarray(l["w"], dtype=np.float64), np.asarray(l["b"], dtype=np.float64))
            for l in d["layers"]  # noqa: E741
        )
        return cls(tuple(d["targets"]), arr("impute"), arr("mean"), arr("scale"), layers,
                   arr("target_mean"), arr("target_scale"))

    def to_dict(self) -> dict:
        return {
            "targets": list(self.target_names),
            "impute": self.impute.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "layers": [{"w": w.tolist(), "b": b.tolist()} for w, b in self.layers],
            "target_mean": self.target_mean.tolist(),
            "target_scale": self.target_scale.tolist(),
        }


@dataclass(frozen=True)
class EstimatorModel:
    """The fitted regression plus its calibration and provenance.

    Attributes
    ----------
    regressor : Regressor
        Targets include ``pelvic_tilt_deg`` and ``lumbar_lordosis_deg``.
    interval_halfwidth : dict
        Split-conformal half-width of the 90% interval per target, degrees.
    typical_error : dict
        90th percentile absolute error of the landmark-based secondary metrics, degrees or
        stature fractions, measured on held-out renders.
    meta : dict
        Version, training data seeds, feature version, figures on the calibration split.
    """

    regressor: Regressor
    interval_halfwidth: dict[str, float]
    typical_error: dict[str, float]
    meta: dict

    def predict(self, side: SideView) -> dict[str, float]:
        y = self.regressor.predict(features(side))[0]
        return dict(zip(self.regressor.target_names, (float(v) for v in y), strict=True))


ESTIMATOR_FILE = "estimator.json"


@cache
def load_estimator(name: str = ESTIMATOR_FILE) -> EstimatorModel | None:
    """The packaged estimator, or None when no fitted model ships with this build."""
    ref = resources.files("posture.data").joinpath(name)
    if not ref.is_file():
        return None
    try:
        d = json.loads(ref.read_text(encoding="utf-8"))
        if d.get("feature_version") != FEATURE_VERSION:
            raise DataFileError(
                f"{name} was fitted on feature version {d.get('feature_version')}, "
                f"this code computes version {FEATURE_VERSION}: retrain it"
            )
        reg = Regressor.from_dict(d["regressor"])
        if reg.mean.shape[0] != len(feature_names()):
            raise DataFileError(f"{name}: expects {reg.mean.shape[0]} features")
        return EstimatorModel(reg, dict(d["interval_halfwidth"]), dict(d.get("typical_error", {})),
                              dict(d.get("meta", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{name} is malformed: {exc}") from exc
