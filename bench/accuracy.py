"""Accuracy of pelvic tilt (and lordosis) on held-out synthetic renders, and on real photos.

Runs the shipped pipeline (``posture.Analyzer``, the same path as ``posture analyze``) on
renders from ``tools.synth`` whose seed was never used for training, and on transformed
copies of them, and prints:

- MAE, RMSE, bias and 95% limits of agreement (Bland–Altman) of pelvic tilt, with a
  Bland–Altman plot (PNG);
- coverage of the reported interval; severity confusion matrix; abstention rate;
- the same on mirrored copies and on copies rolled by a known angle;
- size invariance: the person resized to 300 px and 2000 px tall;
- on ``../shared/photos``: each photo's values or its abstention reasons.

Usage::

    python -m tools.synth generate --n 400 --seed 303 --out data/synth-test
    python bench/accuracy.py data/synth-test [--limit N] [--out bench/results]

Figures are measured in one run and written to ``bench/results/accuracy.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from posture.agreement import agreement as agreement_stats
from posture.analysis import Analyzer
from posture.classify import BAND_IDS, band_of
from posture.errors import PostureError
from posture.images import load_image
from posture.present.agreement_plot import bland_altman_image

ROOT = Path(__file__).resolve().parents[1]  # the repository (posture is installed)

SHARED_PHOTOS = ROOT.parent / "shared" / "photos"


def rotate(rgb: np.ndarray, deg: float) -> np.ndarray:
    """Rotate the image content clockwise on screen by ``deg`` (a camera roll of +deg)."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -deg, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def resize_person(rgb: np.ndarray, person_px: float, target_px: float) -> np.ndarray:
    s = target_px / person_px
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (max(64, round(w * s)), max(64, round(h * s))), interpolation=interp)


def run(analyzer: Analyzer, rgb: np.ndarray) -> dict:
    try:
        a = analyzer.analyze(rgb)
    except PostureError as err:
        return {"error": err.code}
    m = a.measurements
    return {
        "tilt": m.pelvic_tilt.value, "interval": m.pelvic_tilt.interval,
        "lordosis": m.lumbar_lordosis.value, "abstained": a.abstained,
        "reasons": [str(r) for r in a.reasons], "band": a.severity.band if a.severity else None,
        "roll": a.side.roll.deg,
    }


def agreement(pred: np.ndarray, true: np.ndarray) -> dict:
    d = pred - true
    if len(d) == 0:
        return {"n": 0}
    bias, sd = float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0
    return {
        "n": int(len(d)), "mae": float(np.abs(d).mean()), "rmse": float(np.sqrt((d**2).mean())),
        "bias": bias, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd,
        "p90_abs": float(np.quantile(np.abs(d), 0.9)),
    }


def confusion(pred_bands, true_bands) -> list[list[int]]:
    idx = {b: i for i, b in enumerate(BAND_IDS)}
    mat = [[0] * len(BAND_IDS) for _ in BAND_IDS]
    for p, t in zip(pred_bands, true_bands, strict=True):
        mat[idx[t]][idx[p]] += 1
    return mat


def summarize(rows: list[dict], key: str = "tilt") -> dict:
    measured = [r for r in rows if r.get("tilt") is not None]
    pred = np.array([r[key] for r in measured], float)
    true = np.array([r["true_" + key] for r in measured], float)
    out = {"n": len(rows), "abstained": sum(1 for r in rows if r.get("tilt") is None),
           "agreement": agreement(pred, true)}
    out["abstention_rate"] = out["abstained"] / max(1, len(rows))
    if key == "tilt" and measured:
        inside = [r["interval"][0] <= r["true_tilt"] <= r["interval"][1] for r in measured]
        out["coverage"] = float(np.mean(inside))
        pb = [r["band"] for r in measured]
        tb = [band_of(r["true_tilt"]).id for r in measured]
        out["confusion"] = confusion(pb, tb)
        steps = [abs(BAND_IDS.index(p) - BAND_IDS.index(t)) for p, t in zip(pb, tb, strict=True)]
        out["severity_exact"] = float(np.mean([s == 0 for s in steps]))
        out["severity_two_or_more_off"] = int(sum(s >= 2 for s in steps))
        reasons = {}
        for r in rows:
            for code in r.get("reasons", []) + ([r["error"]] if "error" in r else []):
                c = code.split(":")[0]
                reasons[c] = reasons.get(c, 0) + 1
        out["abstain_reasons"] = reasons
    return out


def main(argv=None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("renders", type=Path, help="held-out render folder (tools.synth output)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--roll-deg", type=float, default=3.0, help="roll added to the rolled copies")
    p.add_argument("--scale-n", type=int, default=60, help="renders used for the size check")
    a = p.parse_args(argv)

    ids = sorted(q.stem for q in a.renders.glob("*.json"))
    if a.limit:
        ids = ids[: a.limit]
    if not ids:
        print(f"no renders in {a.renders}", file=sys.stderr)
        return 2
    variants = {"original": [], "mirrored": [], "rolled": []}
    scale_pairs = []
    rng = np.random.default_rng(0)
    with Analyzer() as an:
        for i, rid in enumerate(tqdm(ids, desc="accuracy", unit="render")):
            label = json.loads((a.renders / f"{rid}.json").read_text())
            rgb = load_image(a.renders / f"{rid}.jpg").rgb
            truth = {"true_tilt": label["pelvic_tilt_deg"],
                     "true_lordosis": label["lumbar_lordosis_deg"]["surface_deg"], "id": rid,
                     # anny's gender slider: 0 = male, 1 = female (tools/synth/body.py)
                     "female": label.get("params", {}).get("shape", {}).get("gender", 0.5) > 0.5}
            orig = run(an, rgb) | truth
            variants["original"].append(orig)
            variants["mirrored"].append(run(an, np.ascontiguousarray(rgb[:, ::-1])) | truth)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            variants["rolled"].append(run(an, rotate(rgb, sign * a.roll_deg)) | truth)
            if i < a.scale_n and orig.get("tilt") is not None:
                bbox = label["person_bbox_px"]
                person = bbox[3] - bbox[1]
                small = run(an, resize_person(rgb, person, 300))
                large = run(an, resize_person(rgb, person, 2000))
                if small.get("tilt") is not None and large.get("tilt") is not None:
                    scale_pairs.append(abs(small["tilt"] - large["tilt"]))
        real = []
        if SHARED_PHOTOS.is_dir():
            for f in sorted(SHARED_PHOTOS.glob("*.jpg")):
                real.append({"file": f.name} | run(an, load_image(f).rgb))

    mirror_diff = [abs(o["tilt"] - m["tilt"]) for o, m in
                   zip(variants["original"], variants["mirrored"], strict=True)
                   if o.get("tilt") is not None and m.get("tilt") is not None]
    results = {
        "date": dt.date.today().isoformat(),
        "commit": _commit(),
        "renders": str(a.renders), "n_renders": len(ids),
        "tilt": {k: summarize(v) for k, v in variants.items()},
        "lordosis": summarize(variants["original"], "lordosis")["agreement"],
        "mirror_abs_diff_deg": _dist(mirror_diff),
        "by_sex": {sex: summarize([r for r in variants["original"]
                                   if r["female"] == f])["agreement"]
                   for sex, f in (("women", True), ("men", False))},
        "scale_300_vs_2000_abs_diff_deg": _dist(scale_pairs),
        "real_photos": real,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    o = variants["original"]
    measured = [r for r in o if r.get("tilt") is not None]
    if measured:
        pred = np.array([r["tilt"] for r in measured])
        true = np.array([r["true_tilt"] for r in measured])
        img = bland_altman_image(pred, true, agreement_stats(pred, true),
                                 title=f"Pelvic tilt on {len(measured)} held-out renders",
                                 reference_name="truth")
        cv2.imwrite(str(a.out / "bland_altman.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (a.out / "accuracy.json").write_text(json.dumps(results, indent=1))
    md = markdown(results)
    (a.out / "accuracy.md").write_text(md)
    print(md)
    return 0


def _dist(values) -> dict:
    v = np.asarray(values, float)
    if len(v) == 0:
        return {"n": 0}
    return {"n": int(len(v)), "mean": float(v.mean()), "p95": float(np.quantile(v, 0.95)),
            "max": float(v.max())}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(r: dict) -> str:
    lines = [f"Accuracy benchmark ({r['date']}, commit {r['commit']}, {r['n_renders']} held-out "
             f"renders from `{r['renders']}`)", "",
             "| set | n measured | abstained | MAE ° | RMSE ° | bias ° | 95% LoA ° | "
             "90% interval coverage | severity exact | ≥2 bands off |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in r["tilt"].items():
        g = s["agreement"]
        if not g.get("n"):
            lines.append(f"| {name} | 0 | {s['abstained']} | – | – | – | – | – | – | – |")
            continue
        lines.append(
            f"| {name} | {g['n']} | {s['abstained']} ({100 * s['abstention_rate']:.1f}%) | "
            f"{g['mae']:.2f} | {g['rmse']:.2f} | {g['bias']:+.2f} | "
            f"{g['loa_low']:+.1f} to {g['loa_high']:+.1f} | {100 * s['coverage']:.1f}% | "
            f"{100 * s['severity_exact']:.1f}% | {s['severity_two_or_more_off']} |")
    lo = r["lordosis"]
    if lo.get("n"):
        lines += ["", f"Lumbar lordosis (surface measure): MAE {lo['mae']:.2f}°, bias "
                      f"{lo['bias']:+.2f}°, 95% LoA {lo['loa_low']:+.1f}° to "
                      f"{lo['loa_high']:+.1f}°"]
    md, sc = r["mirror_abs_diff_deg"], r["scale_300_vs_2000_abs_diff_deg"]
    if md.get("n"):
        bs = r.get("by_sex", {})
        if all(bs.get(k, {}).get("n") for k in ("women", "men")):
            lines.append(f"By sex: MAE women {bs['women']['mae']:.2f}° (n = {bs['women']['n']}), "
                         f"men {bs['men']['mae']:.2f}° (n = {bs['men']['n']})")
        lines.append(f"Mirror invariance: |tilt − tilt(mirrored)| mean {md['mean']:.2f}°, "
                     f"95th percentile {md['p95']:.2f}°, max {md['max']:.2f}° (n = {md['n']})")
    if sc.get("n"):
        lines.append(f"Size invariance: |tilt(300 px tall) − tilt(2000 px tall)| mean "
                     f"{sc['mean']:.2f}°, 95th percentile {sc['p95']:.2f}°, max {sc['max']:.2f}° "
                     f"(n = {sc['n']})")
    conf = r["tilt"]["original"].get("confusion")
    if conf:
        lines += ["", "Severity confusion (rows: true band, columns: estimated band):", "",
                  "| true \\ est | " + " | ".join(BAND_IDS) + " |",
                  "|---|" + "---|" * len(BAND_IDS)]
        for b, row in zip(BAND_IDS, conf, strict=True):
            lines.append(f"| {b} | " + " | ".join(str(v) for v in row) + " |")
    if r["real_photos"]:
        lines += ["", "Real photos (`../shared/photos`, no ground truth):", "",
                  "| photo | pelvic tilt ° | 90% interval ° | band | abstain reasons |",
                  "|---|---|---|---|---|"]
        for p in r["real_photos"]:
            t = "–" if p.get("tilt") is None else f"{p['tilt']:+.1f}"
            iv = p.get("interval")
            iv = "–" if not iv else f"{iv[0]:+.1f} to {iv[1]:+.1f}"
            why = "; ".join(x.split(":")[0] for x in p.get("reasons", []))
            why = why or p.get("error", "")
            lines.append(f"| {p['file']} | {t} | {iv} | {p.get('band') or '–'} | {why} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
