"""Step 4a: sagittal geometry → pelvic tilt and lumbar lordosis (learned).

MediaPipe gives no ASIS or PSIS, and its hip point sits centimetres off the joint, so the
tilt cannot be read off the landmarks directly. Two learned parts read it from what *is*
visible, both in the body frame (facing-normalised, roll removed, scaled by stature) so
that mirror images and image size do not change their input:

* the pelvis-patch networks: small convolutional networks that look at the grey image and
  the person mask around the pelvis (:func:`pelvis_patch`), trained in
  ``tools/train_patchnet.py`` (PyTorch) and shipped as one ONNX graph that
  :mod:`posture.estimator_runtime` runs with onnxruntime;
* the outline regression (:class:`Regressor`, fitted in ``tools/train_estimator.py``): the
  shape of the back and front outline between the knees and the shoulders and the key
  points' positions (:func:`features`).

The answer is their blend, with the weight in ``posture/data/estimator.json`` (the shipped
file gives the networks all of it: the regression answers only where no patch was cut).
Both were fitted on synthetic renders whose tilt is known (``tools/synth``); the file
also holds the calibrated interval and the data they saw.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache

import numpy as np

from .config import data_path, validate_data
from .errors import DataFileError
from .estimator_runtime import (  # noqa: F401  (network_input, soften_mask: re-exported)
    PatchNetRuntime,
    network_input,
    soften_mask,
)
from .sagittal import OUTLINE_LEVELS, SideView
from .schemas import EstimatorFile

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


#: The pelvis patch: a square of PATCH_SIDE stature units centred PATCH_CENTRE above the
#: hip midpoint (from mid-thigh to the lower ribs, belly to back), PATCH_PX pixels a side.
PATCH_PX = 64
PATCH_SIDE = 0.40
PATCH_CENTRE = 0.05


#: Test-time jitter of the pelvis patch: (forward, up) shifts of its centre in stature
#: units. The network's answer is averaged over them, so that a landmark moved by a few
#: pixels (a re-saved or cropped copy of the photo) moves the reading much less.
PATCH_JITTER = tuple((du, dv) for dv in (-0.012, 0.0, 0.012) for du in (-0.012, 0.0, 0.012))


def pelvis_patch(rgb: np.ndarray, mask: np.ndarray, side: SideView,
                 jitter: tuple[tuple[float, float], ...] | None = None) -> np.ndarray:
    """Grey image and person mask around the pelvis, in the body frame.

    The patch is facing-normalised (the person always faces +x), upright (roll removed)
    and scaled by stature, so a small network sees the same anatomy at the same place
    whatever the photo's size, roll or facing.

    Parameters
    ----------
    jitter : sequence of (du, dv), optional
        Shifts of the patch centre (stature units); one patch per shift is returned.

    Returns
    -------
    (2, PATCH_PX, PATCH_PX) uint8 array: grey image, mask (255 = person); with ``jitter``,
    (len(jitter), 2, PATCH_PX, PATCH_PX).
    """
    import cv2

    f = side.frame
    shifts = ((0.0, 0.0),) if jitter is None else tuple(jitter)
    h = PATCH_SIDE / 2
    centres = [side.points["hip"] + np.array([du, PATCH_CENTRE + dv]) for du, dv in shifts]
    corners = [np.array([[c[0] - h, c[1] + h], [c[0] + h, c[1] + h], [c[0] - h, c[1] - h]])
               for c in centres]
    img_pts = [f.to_image(c) for c in corners]  # patch top-left, top-right, bottom-left (px)
    everything = np.concatenate(img_pts)
    # Shrink a crop first when the patch is much smaller than its footprint: warpAffine
    # samples points and would alias; INTER_AREA averages.
    span = float(np.linalg.norm(img_pts[0][1] - img_pts[0][0]))
    scale = min(1.0, 2.0 * PATCH_PX / max(span, 1.0))
    x0, y0 = np.floor(everything.min(axis=0) - span * 0.75).astype(int)
    x1, y1 = np.ceil(everything.max(axis=0) + span * 0.75).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, rgb.shape[1]), min(y1, rgb.shape[0])
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    m = (np.clip(mask[y0:y1, x0:x1], 0, 1) * 255).astype(np.uint8)
    if scale < 1.0 and grey.size:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m, size, interpolation=cv2.INTER_AREA)
    dst = np.array([[0, 0], [PATCH_PX, 0], [0, PATCH_PX]], np.float32)
    size = (PATCH_PX, PATCH_PX)
    out = []
    for pts in img_pts:
        src = ((pts - (x0, y0)) * scale).astype(np.float32)
        warp = cv2.getAffineTransform(src, dst)
        g = cv2.warpAffine(grey, warp, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        mm = cv2.warpAffine(m, warp, size, flags=cv2.INTER_LINEAR, borderValue=0)
        out.append(np.stack([g, mm]))
    return out[0] if jitter is None else np.stack(out)


def load_patchnet(source: str | os.PathLike | bytes) -> PatchNetRuntime:
    """The pelvis-patch networks exported by ``tools/train_patchnet.py`` (an ``.onnx`` file
    or its bytes), ready to run."""
    if isinstance(source, bytes | bytearray):
        return PatchNetRuntime.from_bytes(bytes(source))
    return PatchNetRuntime.from_file(source)


@dataclass(frozen=True)
class EstimatorModel:
    """The fitted regression plus its calibration and provenance.

    Attributes
    ----------
    regressor : Regressor
        Targets include ``pelvic_tilt_deg`` and ``lumbar_lordosis_deg``.
    interval_halfwidth : dict
        Split-conformal half-width of the 90% interval per target, degrees, over all
        calibration renders.
    interval_bins : (edges, {target: half-widths}) or None
        The same, per bin of the predicted tilt (Mondrian conformal): the error grows with
        the tilt (regression towards the mean at the extremes), so one width for all would
        over-cover near 0° and under-cover near 30°.
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
    patchnet: PatchNetRuntime | None = None
    blend: float = 0.0  # weight of the patch network in the final estimate
    interval_bins: tuple[tuple[float, ...], dict[str, tuple[float, ...]]] | None = None

    def halfwidth(self, target: str, predicted_tilt: float) -> float:
        """90% interval half-width (degrees) of ``target`` at this predicted tilt."""
        if self.interval_bins is None or target not in self.interval_bins[1]:
            return self.interval_halfwidth[target]
        edges, widths = self.interval_bins
        return widths[target][int(np.searchsorted(edges, predicted_tilt, side="right"))]

    def predict(self, side: SideView, patch: np.ndarray | None = None) -> dict[str, float]:
        """Targets (degrees) for one side view; ``patch`` from :func:`pelvis_patch`.

        A stack of jittered patches (N, 2, H, W) is averaged over its N members.
        """
        y = self.regressor.predict(features(side))[0]
        if self.patchnet is not None and patch is not None and self.blend > 0:
            net = self.patchnet.predict(patch)
            net = net.mean(axis=0) if patch.ndim == 4 else net
            y = (1.0 - self.blend) * y + self.blend * net
        return dict(zip(self.regressor.target_names, (float(v) for v in y), strict=True))


ESTIMATOR_FILE = "estimator.json"


@cache
def load_estimator(name: str = ESTIMATOR_FILE) -> EstimatorModel | None:
    """The packaged estimator, or None when no fitted model ships with this build.

    The file's shape is checked by :class:`posture.schemas.EstimatorFile`; whether it fits
    this code (feature version and count, the network's targets) is checked here."""
    path = data_path(name)
    if not path.is_file():
        return None
    try:
        d = validate_data(EstimatorFile, json.loads(path.read_text(encoding="utf-8")), name)
        if d.feature_version != FEATURE_VERSION:
            raise DataFileError(
                f"{name} was fitted on feature version {d.feature_version}, "
                f"this code computes version {FEATURE_VERSION}: retrain it"
            )
        reg = Regressor.from_dict(d.regressor.model_dump())
        if reg.mean.shape[0] != len(feature_names()):
            raise DataFileError(f"{name}: expects {reg.mean.shape[0]} features")
        net = None
        if d.patchnet:
            net = load_patchnet(data_path(d.patchnet).read_bytes())
            if tuple(net.targets) != reg.target_names[:len(net.targets)]:
                raise DataFileError(f"{d.patchnet} predicts {net.targets}, "
                                    f"the regression {reg.target_names}")
        bins = None
        if d.interval_bins is not None:
            bins = (tuple(d.interval_bins.edges),
                    {k: tuple(v) for k, v in d.interval_bins.halfwidth.items()})
        return EstimatorModel(reg, dict(d.interval_halfwidth), dict(d.typical_error),
                              dict(d.meta), net, d.blend, bins)
    except (OSError, ValueError) as exc:  # unreadable, not JSON, a damaged network graph
        raise DataFileError(f"{name} is malformed: {exc}") from exc
