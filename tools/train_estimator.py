"""Fit the pelvic tilt / lumbar lordosis estimator on synthetic renders.

Three steps, all reproducible:

1. ``extract``: run the real pipeline over a folder of renders from ``tools.synth``, as the
   app reads a photo (working size, and its mirror image), and cache features, pelvis
   patches, targets and view checks in an ``.npz``; ``--copies K`` adds K perturbed copies
   of each render (JPEG, resize, crop, blur, noise: see :func:`perturb`).
2. ``fit``: fit the outline regression on a training set, pick the blend with the patch
   network on half of a calibration set, and write ``posture/data/estimator.json``.
3. ``calibrate``: set the 90% interval from the app's own readings of the calibration renders.

The shipped estimator (2026-12-02) was made with::

    python -m tools.synth generate --n 400 --seed 202 --out data/synth-calib --workers 2
    python -m tools.synth generate --n 2000 --seed 101 --out data/synth-train --workers 2
    python -m tools.synth generate --n 1000 --seed 104 --out data/synth-train2
    python -m tools.train_estimator extract data/synth-calib data/features-calib.npz
    python -m tools.train_estimator extract data/synth-train data/features-train.npz \
        --copies 1 --seed 1
    python -m tools.train_estimator extract data/synth-train2 data/features-train2.npz \
        --copies 1 --seed 2
    # fine-tune the three networks of 2026-11-26 on softened masks, in two rounds
    python tools/train_patchnet.py data/features-train.npz --out data/patchnet-b2.npz \
        --epochs 4 --init <weights of 2026-11-26> --seed 0 1 2 --max-lr 1e-3 --mask-blur 2
    python tools/train_patchnet.py data/features-train.npz data/features-train2.npz \
        --out posture/data/estimator_patchnet.npz --epochs 3 --init data/patchnet-b2.npz \
        --seed 0 1 2 --max-lr 5e-4 --mask-blur 2
    python -m tools.train_estimator fit data/features-train.npz data/features-train2.npz \
        --calib data/features-calib.npz --patchnet posture/data/estimator_patchnet.npz \
        --models ridge
    python -m tools.train_estimator calibrate data/synth-calib

scikit-learn is needed here only (``requirements-dev.txt``); the shipped model is plain
arrays evaluated with NumPy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import numpy as np

from posture.estimator import (
    FEATURE_VERSION,
    PATCH_PX,
    Regressor,
    feature_names,
    features,
    pelvis_patch,
)
from posture.metrics import head_neck_angle, knee_angle, measure, trunk_lean

TARGETS = ("pelvic_tilt_deg", "lumbar_lordosis_deg")
SECONDARY = ("head_neck_angle_deg", "trunk_lean_deg", "knee_angle_deg")
#: Bins of the predicted tilt for the interval (degrees): below 5, 5–15, 15–22, above 22.
TILT_BIN_EDGES = (5.0, 15.0, 22.0)
OUT_MODEL = Path(__file__).resolve().parents[1] / "posture" / "data" / "estimator.json"


# -- reading the generator's labels ----------------------------------------------------------

def label_targets(label: dict) -> dict[str, float]:
    """The regression targets of one render label (see tools/synth/labels.py)."""
    return {
        "pelvic_tilt_deg": float(label["pelvic_tilt_deg"]),
        "lumbar_lordosis_deg": float(label["lumbar_lordosis_deg"]["surface_deg"]),
    }


def label_secondary(label: dict, side) -> dict[str, float]:
    """Ground-truth secondary metrics from the labelled 2D joint centres, in the body
    frame the pipeline built (same origin and stature) but with the true camera roll."""
    from posture.horizon import Roll
    from posture.sagittal import BodyFrame, frame_axes

    pts = label["points"]
    near = "L" if label["facing"] == "left" else "R"
    fwd, up = frame_axes(label["facing"], Roll(float(label["camera"]["roll_deg"]), "declared"))
    f = BodyFrame(np.asarray(side.frame.origin), fwd, up, side.frame.stature_px)

    def p(name):
        return f.to_body(np.asarray(pts[f"{name}_{near}"]["px"], float))

    def mid(name):
        return f.to_body((np.asarray(pts[f"{name}_L"]["px"], float)
                          + np.asarray(pts[f"{name}_R"]["px"], float)) / 2)

    return {
        "head_neck_angle_deg": head_neck_angle(p("ear"), p("shoulder")),
        "trunk_lean_deg": trunk_lean(mid("hip"), mid("shoulder")),
        "knee_angle_deg": knee_angle(p("hip"), p("knee"), p("ankle")),
    }


def _pipeline_secondary(side) -> dict[str, float]:
    """The secondary metrics exactly as the tool reports them (posture.metrics.measure)."""
    m = measure(side, None)
    return {"head_neck_angle_deg": m.head_neck_angle.value,
            "trunk_lean_deg": m.trunk_lean.value, "knee_angle_deg": m.knee_angle.value}


# -- step 1: features ----------------------------------------------------------------------

def perturb(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of a render that a person would still call the same photo.

    JPEG quality 40–95, resized 0.4–2×, up to 4% cropped off each edge, and sometimes a
    slight blur or sensor noise: the changes the reading must not follow (issue 12). The
    pose model's landmarks and mask then move as they do on real copies, so a network
    trained on these patches learns to ignore that noise.
    """
    import cv2

    h, w = rgb.shape[:2]
    t, b, lft, r = (rng.uniform(0.0, 0.04, 4) * (h, h, w, w)).astype(int)
    img = np.ascontiguousarray(rgb[t:h - b, lft:w - r])
    s = float(np.exp(rng.uniform(np.log(0.4), np.log(2.0))))
    size = (max(64, round(img.shape[1] * s)), max(64, round(img.shape[0] * s)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
    if rng.random() < 0.3:
        noise = rng.normal(0.0, rng.uniform(2.0, 6.0), img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    q = int(rng.integers(40, 96))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _views(an, rgb: np.ndarray):
    """The photo's two views as ``Analyzer.analyze`` makes and judges them:
    [(pose result, side view, image)], or None when either finds nobody."""
    from posture.analysis import judge_views

    views = an.balanced_views(rgb)
    if any(v.result.primary is None for v in views):
        return None
    _, sides = judge_views(views)
    return [(v.result, side, v.rgb) for v, side in zip(views, sides, strict=True)]


def extract(render_dir: Path, out: Path, model: str | None = None, roll_mode: str = "auto",
            limit: int | None = None, copies: int = 0, seed: int = 0) -> None:
    """Run the pipeline over every render in ``render_dir`` and save an ``.npz``.

    Each render is analysed as the app does (working size, and its mirror image), so it
    gives two rows (``view`` 0 and 1, same ``id``); with ``copies`` each of that many
    perturbed copies (:func:`perturb`) adds two more (``copy`` 1, 2, ...).
    """
    from tqdm import tqdm

    from posture.analysis import Analyzer
    from posture.images import load_image
    from posture.sagittal import analyze_side

    ids = sorted(p.stem for p in render_dir.glob("*.json")
                 if (render_dir / f"{p.stem}.jpg").is_file())
    if limit:
        ids = ids[:limit]
    rows_x, rows_y, rows_meta, rows_p = [], [], [], []
    if out.is_file():  # resume: keep rows already extracted with this feature version
        z = np.load(out)
        if int(z["feature_version"]) == FEATURE_VERSION and "P" in z:
            rows_x, rows_y, rows_p = list(z["X"]), list(z["y"]), list(z["P"])
            rows_meta = [json.loads(m) for m in z["meta"]]
            done = {m["id"] for m in rows_meta}
            ids = [i for i in ids if i not in done]
    with Analyzer(model, roll=roll_mode) as an:
        for rid in tqdm(ids, desc=f"features {render_dir.name}", unit="img"):
            label = json.loads((render_dir / f"{rid}.json").read_text())
            t = label_targets(label)
            rgb = load_image(render_dir / f"{rid}.jpg").rgb
            rng = np.random.default_rng([seed, int(rid.rsplit("_", 1)[-1])])
            for k in range(copies + 1):
                views = _views(an, rgb if k == 0 else perturb(rgb, rng))
                for vi in range(2):
                    meta = {"id": rid, "copy": k, "view": vi, "detected": views is not None}
                    x = np.full(len(feature_names()), np.nan)
                    patch = np.zeros((2, PATCH_PX, PATCH_PX), np.uint8)
                    sec_pred = dict.fromkeys(SECONDARY, np.nan)
                    sec_true = dict.fromkeys(SECONDARY, np.nan)
                    if views is not None:
                        result, side, img = views[vi]
                        x = features(side)
                        if result.primary.mask is not None:
                            patch = pelvis_patch(img, result.primary.mask, side)
                        meta.update(view_ok=side.gate.ok,
                                    reasons=[str(r) for r in side.gate.reasons],
                                    facing_ok=(side.facing == label["facing"]) == (vi == 0),
                                    roll_est=side.roll.deg,
                                    roll_true=label["camera"]["roll_deg"])
                        if k == 0 and vi == 0:
                            # true secondary metrics are defined in the render's own pixels
                            own = analyze_side(result.rescaled(rgb.shape[1], rgb.shape[0]),
                                               side.roll)
                            sec_pred = _pipeline_secondary(own)
                            try:
                                sec_true = label_secondary(label, own)
                            except KeyError:
                                pass
                    rows_x.append(x)
                    rows_p.append(patch)
                    rows_y.append([t[k2] for k2 in TARGETS])
                    meta["secondary_pred"] = sec_pred
                    meta["secondary_true"] = sec_true
                    rows_meta.append(meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, X=np.array(rows_x), y=np.array(rows_y), P=np.array(rows_p),
                        meta=np.array([json.dumps(m) for m in rows_meta]),
                        source=str(render_dir), feature_version=FEATURE_VERSION)
    tmp.replace(out)
    print(f"wrote {out}: {len(ids)} renders, {len(rows_y)} rows")


def load_features(path: Path):
    z = np.load(path, allow_pickle=False)
    meta = [json.loads(s) for s in z["meta"]]
    return z["X"], z["y"], meta


def usable(meta: list[dict]) -> np.ndarray:
    """Renders on which the pipeline would measure (detected, view gate passed)."""
    return np.array([bool(m.get("detected") and m.get("view_ok")) for m in meta])


# -- step 2: fitting ----------------------------------------------------------------------

def _mlp_to_regressor(pipe, impute, y_mean, y_scale) -> Regressor:
    scaler, mlp = pipe.named_steps["scale"], pipe.named_steps["mlp"]
    layers = tuple((np.asarray(w), np.asarray(b)) for w, b in
                   zip(mlp.coefs_, mlp.intercepts_, strict=True))
    return Regressor(TARGETS, impute, scaler.mean_, scaler.scale_, layers, y_mean, y_scale)


def _ridge_to_regressor(pipe, impute, y_mean, y_scale) -> Regressor:
    scaler, ridge = pipe.named_steps["scale"], pipe.named_steps["ridge"]
    w = np.atleast_2d(ridge.coef_).T
    return Regressor(TARGETS, impute, scaler.mean_, scaler.scale_,
                     ((w, np.atleast_1d(ridge.intercept_)),), y_mean, y_scale)


def candidates(seed: int):
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    yield "ridge", Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=3.0))]), \
        _ridge_to_regressor
    for hidden, alpha in (((64,), 1e-2), ((128, 64), 1e-2), ((64, 32), 3e-2)):
        mlp = MLPRegressor(hidden_layer_sizes=hidden, alpha=alpha, max_iter=3000,
                           early_stopping=True, validation_fraction=0.15,
                           n_iter_no_change=40, random_state=seed, learning_rate_init=1e-3)
        yield f"mlp{hidden}a{alpha}", Pipeline([("scale", StandardScaler()), ("mlp", mlp)]), \
            _mlp_to_regressor


def conformal_halfwidth(residuals: np.ndarray, coverage: float) -> float:
    """Split-conformal half-width: the ⌈(n+1)·coverage⌉-th smallest |residual|."""
    r = np.sort(np.abs(residuals))
    k = min(len(r) - 1, math.ceil((len(r) + 1) * coverage) - 1)
    return float(r[k])


def _load_many(paths: list[Path]):
    parts = [load_features(p) for p in paths]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    meta = [m for p in parts for m in p[2]]
    return X, y, meta


def fit(train: list[Path], calib: Path, out: Path = OUT_MODEL, seed: int = 0,
        coverage: float = 0.9, patchnet: Path | None = None,
        models: tuple[str, ...] | None = None) -> dict:
    """Fit the outline regression, blend in the patch network, calibrate the interval.

    The calibration renders are split in two halves: the first picks the blend weight of
    the patch network, the second (never used for any choice) sets the split-conformal
    interval half-width, so the interval's coverage is honest.
    """
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from posture.estimator import load_patchnet

    Xtr, ytr, mtr = _load_many(train)
    Xca, yca, mca = load_features(calib)
    Pca = np.load(calib)["P"]
    ktr = usable(mtr)
    # calibrate on the renders as given (copy 0), each judged as the app does: the mean
    # over its views (the photo and its mirror image)
    kca = usable(mca) & np.array([m.get("copy", 0) == 0 for m in mca])
    Xtr, ytr, Xca, yca, Pca = Xtr[ktr], ytr[ktr], Xca[kca], yca[kca], Pca[kca]
    groups = np.array([m["id"] for m, ok in zip(mtr, ktr, strict=True) if ok])
    mca = [m for m, ok in zip(mca, kca, strict=True) if ok]
    _, gca = np.unique([m["id"] for m in mca], return_inverse=True)
    per_render = lambda v: np.stack([v[gca == g].mean(axis=0)  # noqa: E731
                                     for g in range(gca.max() + 1)])
    impute = np.nanmedian(Xtr, axis=0)
    impute = np.where(np.isnan(impute), 0.0, impute)
    fill = lambda X: np.where(np.isnan(X), impute, X)  # noqa: E731
    y_mean, y_scale = ytr.mean(axis=0), ytr.std(axis=0)
    yz = (ytr - y_mean) / y_scale

    scores = {}
    best = None
    for name, pipe, export in candidates(seed):
        if models and name not in models:
            continue
        # folds by render: its views and copies must not sit on both sides of a split
        pred = cross_val_predict(pipe, fill(Xtr), yz, cv=GroupKFold(5), groups=groups)
        mae = float(np.mean(np.abs(pred[:, 0] * y_scale[0] + y_mean[0] - ytr[:, 0])))
        scores[name] = round(mae, 3)
        print(f"  {name}: CV MAE pelvic tilt {mae:.2f}°", file=sys.stderr)
        if best is None or mae < best[0]:
            best = (mae, name, pipe, export)
    _, name, pipe, export = best
    pipe.fit(fill(Xtr), yz)
    reg = export(pipe, impute, y_mean, y_scale)
    pred_ca = reg.predict(Xca)
    # the exported NumPy model must reproduce scikit-learn's predictions
    sk = pipe.predict(fill(Xca)) * y_scale + y_mean
    assert np.allclose(sk, pred_ca, atol=1e-6), "export mismatch"
    pred_ca, yca = per_render(pred_ca), per_render(yca)

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(yca))
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2:]
    blend, net_mae = 0.0, None
    if patchnet is not None:
        # the graph train_patchnet exported beside its weights: what the library runs
        net = load_patchnet(patchnet.with_suffix(".onnx"))
        pred_net = per_render(net.predict(Pca))
        net_mae = float(np.mean(np.abs(pred_net[:, 0] - yca[:, 0])))
        grid = np.linspace(0.0, 1.0, 21)
        maes = [np.mean(np.abs((1 - w) * pred_ca[half_a, 0] + w * pred_net[half_a, 0]
                               - yca[half_a, 0])) for w in grid]
        blend = float(grid[int(np.argmin(maes))])
        pred_ca = (1 - blend) * pred_ca + blend * pred_net
        print(f"  patch network alone: calib MAE {net_mae:.2f}°; blend weight {blend:.2f}",
              file=sys.stderr)
    halfwidth = {t: conformal_halfwidth(pred_ca[half_b, i] - yca[half_b, i], coverage)
                 for i, t in enumerate(TARGETS)}
    # Mondrian conformal: one half-width per bin of the predicted tilt (errors grow with
    # the tilt); the edges are fixed in advance at the severity bands' scale
    bin_of = np.searchsorted(TILT_BIN_EDGES, pred_ca[half_b, 0], side="right")
    bin_widths = {t: [conformal_halfwidth(pred_ca[half_b, i][bin_of == b]
                                          - yca[half_b, i][bin_of == b], coverage)
                      for b in range(len(TILT_BIN_EDGES) + 1)]
                  for i, t in enumerate(TARGETS)}
    typical, bias = {}, {}
    for k in SECONDARY:
        err = np.array([m["secondary_pred"][k] - m["secondary_true"][k] for m in mca])
        err = err[np.isfinite(err)]
        if len(err) > 20:
            # MediaPipe's points are not the skeletal joint centres the renders label: the
            # median offset is a difference of definitions, reported apart from the spread
            bias[k] = round(float(np.median(err)), 2)
            typical[k] = conformal_halfwidth(err - np.median(err), coverage)
    meta = {
        "version": dt.date.today().isoformat() + "-" + name + ("+patchnet" if blend else ""),
        "model": name,
        "feature_version": FEATURE_VERSION,
        "train_sources": [str(np.load(t)["source"]) for t in train],
        "calib_source": str(np.load(calib)["source"]),
        "n_train": int(len(ytr)), "n_calib": int(len(yca)),
        "cv_mae_deg": scores,
        "patchnet_calib_mae_deg": None if net_mae is None else round(net_mae, 3),
        "blend": blend,
        "calib_mae_deg": {t: round(float(np.mean(np.abs(pred_ca[:, i] - yca[:, i]))), 3)
                          for i, t in enumerate(TARGETS)},
        "secondary_bias_vs_joint_centres": bias,
        "coverage": coverage,
        "seed": seed,
    }
    doc = {"feature_version": FEATURE_VERSION, "regressor": reg.to_dict(),
           "interval_halfwidth": halfwidth, "typical_error": typical, "meta": meta,
           "blend": blend,
           "interval_bins": {"edges": list(TILT_BIN_EDGES), "halfwidth": bin_widths}}
    if patchnet is not None and blend > 0:
        doc["patchnet"] = patchnet.with_suffix(".onnx").name
    out.write_text(json.dumps(doc, separators=(",", ":")))
    print(json.dumps(meta | {"interval_halfwidth": halfwidth, "interval_bins": bin_widths,
                             "typical_error": typical},
                     indent=1))
    return doc


def calibrate(render_dir: Path, out: Path = OUT_MODEL, coverage: float = 0.9) -> dict:
    """Set the interval from the app's own readings of calibration renders.

    ``fit`` calibrates on single un-shifted patches; the app reads a photo as the mean of
    its two views and of the shifted patches (``analysis.PATCH_JITTER``), whose errors are
    smaller. Every render of ``render_dir`` is analysed as ``Analyzer.analyze`` does, with
    the estimator in ``out``, and the split-conformal half-widths (overall and per bin of
    the predicted tilt) are replaced by those of these readings. The renders must not have
    been used for any other choice: ``fit`` used them only to pick the blend weight.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from posture.analysis import Analyzer
    from posture.estimator import load_estimator

    doc = json.loads(out.read_text())
    load_estimator.cache_clear()
    ids = sorted(p.stem for p in render_dir.glob("*.json")
                 if (render_dir / f"{p.stem}.jpg").is_file())
    pred, true = [], []
    with Analyzer() as an:
        # a narrow interval while calibrating, so no reading is withheld as too uncertain
        an.estimator = replace(an.estimator, interval_bins=None,
                               interval_halfwidth=dict.fromkeys(TARGETS, 0.5))
        for rid in tqdm(ids, desc=f"calibrate {render_dir.name}", unit="img"):
            label = json.loads((render_dir / f"{rid}.json").read_text())
            a = an.analyze(render_dir / f"{rid}.jpg")
            m = a.measurements
            if a.abstained or m.pelvic_tilt.value is None:
                continue
            t = label_targets(label)
            pred.append([m.pelvic_tilt.value, m.lumbar_lordosis.value])
            true.append([t[k] for k in TARGETS])
    pred, true = np.array(pred, float), np.array(true, float)
    err = pred - true
    bin_of = np.searchsorted(TILT_BIN_EDGES, pred[:, 0], side="right")
    doc["interval_halfwidth"] = {t: conformal_halfwidth(err[:, i], coverage)
                                 for i, t in enumerate(TARGETS)}
    doc["interval_bins"] = {"edges": list(TILT_BIN_EDGES), "halfwidth": {
        t: [conformal_halfwidth(err[bin_of == b, i], coverage)
            for b in range(len(TILT_BIN_EDGES) + 1)] for i, t in enumerate(TARGETS)}}
    doc["meta"]["interval_source"] = {
        "renders": str(render_dir), "n": int(len(err)), "how": "Analyzer.analyze readings",
        "per_bin_n": [int((bin_of == b).sum()) for b in range(len(TILT_BIN_EDGES) + 1)],
        "mae_deg": {t: round(float(np.mean(np.abs(err[:, i]))), 3)
                    for i, t in enumerate(TARGETS)}}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")))
    tmp.replace(out)
    load_estimator.cache_clear()
    print(json.dumps({k: doc[k] for k in ("interval_halfwidth", "interval_bins")} |
                     {"interval_source": doc["meta"]["interval_source"]}, indent=1))
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train_estimator")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("renders", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--model", default=None)
    e.add_argument("--limit", type=int)
    e.add_argument("--copies", type=int, default=0,
                   help="perturbed copies of each render (augmentation, see perturb)")
    e.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    c = sub.add_parser("calibrate", help="interval from the app's readings of renders")
    c.add_argument("renders", type=Path)
    c.add_argument("--out", type=Path, default=OUT_MODEL)
    f = sub.add_parser("fit")
    f.add_argument("train", type=Path, nargs="+", help="training feature files")
    f.add_argument("--calib", type=Path, required=True)
    f.add_argument("--patchnet", type=Path, default=None,
                   help="weights from tools/train_patchnet.py (inside posture/data/; "
                        "its .onnx beside them is what ships)")
    f.add_argument("--out", type=Path, default=OUT_MODEL)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--models", nargs="+", default=None,
                   help="candidate names to try (default: all; e.g. ridge)")
    a = p.parse_args(argv)
    if a.cmd == "calibrate":
        calibrate(a.renders, a.out)
        return 0
    if a.cmd == "extract":
        extract(a.renders, a.out, a.model, limit=a.limit, copies=a.copies, seed=a.seed)
    else:
        fit(a.train, a.calib, a.out, a.seed, patchnet=a.patchnet, models=a.models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
