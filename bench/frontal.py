"""Front- and back-view measures against labelled renders (issue 28, items 1-3).

The renders come from ``python -m tools.synth front`` (generator 0.5.0), none used to set
anything in ``posture/frontal.py``; regenerate them with::

    nice python -m tools.synth front --n 60 --seed 101 --view front --out data/front-101
    nice python -m tools.synth front --n 24 --seed 102 --view back --out data/back-102

Each image is read as the app would read a photo: MediaPipe (full model), the camera roll
from the background (``posture.horizon.estimate_roll`` with the person mask), then
``posture.frontal.measure_frontal``. The **mirror** is the flipped image analysed again from
scratch (detection and roll); a measure and its mirror's must have the same size and the
other sign. The **paired** reading is (image - mirror) / 2, antisymmetric by construction.

Labels (``tools.synth.frontal``, + = the subject's left side higher): pelvic obliquity is
the ASIS line (front) or the PSIS line (back) in the body's frontal plane; shoulder level the
acromion line; head tilt the ear line; trunk shift the mid-shoulder from the mid-ankle plumb
line over stature. The hip-joint-centre line MediaPipe stands for is reported beside the
ASIS/PSIS line: how far the stand-in can be from the clinical line even when detected
perfectly.

Usage::

    nice -n 10 python bench/frontal.py [--front data/front-101] [--back data/back-102]
                                        [--out bench/results] [--limit N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posture.frontal import measure_frontal, with_mirror  # noqa: E402
from posture.horizon import Roll, estimate_roll  # noqa: E402
from posture.pose import PoseEstimator  # noqa: E402
from posture.view_kind import classify_view  # noqa: E402

MEASURES = ("pelvic_obliquity_deg", "shoulder_level_deg", "head_tilt_deg",
            "trunk_shift_frac", "knee_left_deg", "knee_right_deg")


def labels_of(label: dict) -> dict:
    """The label each measure is compared with."""
    f = label["frontal"]
    primary = "asis" if label["view"] == "front" else "psis"
    return {
        "pelvic_obliquity_deg": f["pelvic_obliquity_3d_deg"][primary],
        "hip_joint_line_deg": f["pelvic_obliquity_3d_deg"]["hip_joints"],
        "hip_joint_line_image_deg": f["image_deg"]["without_roll"]["hip_joints"],
        "clinical_line_image_deg": f["image_deg"]["without_roll"][primary],
        "shoulder_level_deg": f["shoulder_level_3d_deg"]["acromion"],
        "shoulder_joints_deg": f["shoulder_level_3d_deg"]["shoulder_joints"],
        "head_tilt_deg": f["head_tilt_3d_deg"],
        "trunk_shift_frac": f["trunk_shift_frac"],
        "knee_left_deg": f["knee_valgus_3d_deg"]["L"],
        "knee_right_deg": f["knee_valgus_3d_deg"]["R"],
        "roll_deg": label["camera"]["roll_deg"],
    }


def read_one(est: PoseEstimator, rgb: np.ndarray, view: str) -> dict | None:
    """Detect, estimate the roll and measure one image; None when nobody is found."""
    pose = est.detect(rgb).primary
    if pose is None:
        return None
    roll = estimate_roll(rgb, pose.mask)
    m = measure_frontal(pose, roll, view)
    out = {k: getattr(m, k) for k in MEASURES}
    out["roll_deg"] = roll.deg
    out["kind"] = classify_view(pose).kind
    out["_measures"] = m
    # with the true roll (filled in by the caller) the roll estimate's share is seen apart
    out["_pose"] = pose
    return out


def analyse(folder: Path, est: PoseEstimator, limit: int | None) -> list[dict]:
    rows = []
    files = sorted(folder.glob("[fb]*.json"))[:limit]
    for path in files:
        label = json.loads(path.read_text())
        view = label["view"]
        bgr = cv2.imread(str(path.with_suffix(".jpg")))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        a = read_one(est, rgb, view)
        b = read_one(est, np.ascontiguousarray(rgb[:, ::-1]), view)
        row = {"id": label["id"], "view": view, "label": labels_of(label)}
        if a is None or b is None:
            row["missed"] = True
            rows.append(row)
            continue
        true_roll = Roll(row["label"]["roll_deg"], "declared")
        known = measure_frontal(a.pop("_pose"), true_roll, view)
        b.pop("_pose")
        row["reading"] = a
        row["mirror"] = b
        paired = with_mirror(a.pop("_measures"), b.pop("_measures"))
        row["paired"] = {k: getattr(paired, k) for k in MEASURES}
        row["true_roll"] = {k: getattr(known, k) for k in MEASURES}
        rows.append(row)
        print(f"{label['id']}: obliquity {a['pelvic_obliquity_deg']:+.2f} "
              f"(mirror {b['pelvic_obliquity_deg']:+.2f}, label "
              f"{row['label']['pelvic_obliquity_deg']:+.2f}), shoulders "
              f"{a['shoulder_level_deg']:+.2f} (label {row['label']['shoulder_level_deg']:+.2f})"
              f", kind {a['kind']}", flush=True)
    return rows


def agreement(est: np.ndarray, ref: np.ndarray) -> dict:
    """MAE, bias, SD of the differences, 95% limits of agreement, max |error|."""
    d = np.asarray(est, float) - np.asarray(ref, float)
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    return {"n": int(len(d)), "mae": float(np.abs(d).mean()), "bias": float(d.mean()),
            "sd": sd, "loa": [float(d.mean() - 1.96 * sd), float(d.mean() + 1.96 * sd)],
            "max_abs": float(np.abs(d).max()), "r": float(np.corrcoef(est, ref)[0, 1])}


def summarise(rows: list[dict]) -> dict:
    ok = [r for r in rows if not r.get("missed")]
    out: dict = {"images": len(rows), "measured": len(ok)}
    for view in ("front", "back"):
        rs = [r for r in ok if r["view"] == view]
        if not rs:
            continue
        s: dict = {"n": len(rs),
                   "kind": {k: sum(r["reading"]["kind"] == k for r in rs)
                            for k in ("front", "back", "side", "unclear")}}
        lab = {k: np.array([r["label"][k] for r in rs]) for k in rs[0]["label"]}
        for key in MEASURES:
            ref = lab[key]
            s[key] = {
                "single": agreement([r["reading"][key] for r in rs], ref),
                "paired": agreement([r["paired"][key] for r in rs], ref),
                "true_roll": agreement([r["true_roll"][key] for r in rs], ref),
                "mirror_sum_abs": None if key.startswith("knee") else {
                    "mean": float(np.mean([abs(r["reading"][key] + r["mirror"][key])
                                           for r in rs])),
                    "max": float(np.max([abs(r["reading"][key] + r["mirror"][key])
                                         for r in rs]))},
            }
        s["shoulder_vs_joint_label"] = agreement(
            [r["reading"]["shoulder_level_deg"] for r in rs], lab["shoulder_joints_deg"])
        # the stand-in: hip-joint centres against the clinical line, perfectly detected
        s["hip_joints_vs_clinical_3d"] = agreement(lab["hip_joint_line_deg"],
                                                   lab["pelvic_obliquity_deg"])
        s["hip_joints_vs_clinical_image"] = agreement(lab["hip_joint_line_image_deg"],
                                                      lab["clinical_line_image_deg"])
        # what a perfect detector of the clinical points would read from the image
        # (perspective: yaw and camera height turn the line in the picture)
        s["clinical_image_vs_3d"] = agreement(lab["clinical_line_image_deg"],
                                              lab["pelvic_obliquity_deg"])
        s["roll"] = agreement([r["reading"]["roll_deg"] for r in rs], lab["roll_deg"])
        s["label_range"] = {k: [float(lab[k].min()), float(lab[k].max())]
                            for k in ("pelvic_obliquity_deg", "shoulder_level_deg",
                                      "head_tilt_deg", "trunk_shift_frac")}
        out[view] = s
    return out


def markdown(summary: dict, args) -> str:
    lines = ["# Front- and back-view measures on labelled renders (issue 28)", "",
             f"Run {dt.date.today().isoformat()}: `python bench/frontal.py` on "
             f"`{args.front.name}` and `{args.back.name}` (tools.synth 0.5.0, MediaPipe full, roll "
             "from the background). Degrees unless named; + = the subject's left side "
             "higher / toward the left / valgus. LoA = bias ± 1.96 SD.", ""]
    for view in ("front", "back"):
        s = summary.get(view)
        if not s:
            continue
        lines += [f"## {view.title()} views ({s['n']} renders)", "",
                  f"View classifier: {s['kind']}.", "",
                  "| measure | reading | MAE | bias | LoA | max | r | mirror: mean / max "
                  "abs(a + a') |", "|---|---|---|---|---|---|---|---|"]
        for key in MEASURES:
            for mode in ("single", "paired", "true_roll"):
                a = s[key][mode]
                mirror = s[key]["mirror_sum_abs"]
                mtxt = "" if mirror is None or mode != "single" else \
                    f"{mirror['mean']:.3f} / {mirror['max']:.3f}"
                fmt = "{:.4f}" if key.endswith("frac") else "{:.2f}"
                f = fmt.format
                lines.append(f"| {key} | {mode} | {f(a['mae'])} | {f(a['bias'])} | "
                             f"{f(a['loa'][0])} .. {f(a['loa'][1])} | {f(a['max_abs'])} | "
                             f"{a['r']:.2f} | {mtxt} |")
        h3, hi = s["hip_joints_vs_clinical_3d"], s["hip_joints_vs_clinical_image"]
        sj, ci = s["shoulder_vs_joint_label"], s["clinical_image_vs_3d"]
        lines += ["", f"Hip-joint line vs {'ASIS' if view == 'front' else 'PSIS'} line "
                  f"(labels, no detection): 3D MAE {h3['mae']:.3f}, max {h3['max_abs']:.3f};"
                  f" image plane MAE {hi['mae']:.3f}, max {hi['max_abs']:.3f}.",
                  f"The clinical line itself in the image (without roll) vs 3D: MAE "
                  f"{ci['mae']:.2f}, max {ci['max_abs']:.2f} (perspective: what a perfect "
                  "detector of those points would be off by, with no perspective correction).",
                  f"Shoulder reading vs the shoulder-joint-centre line (instead of the "
                  f"acromions): MAE {sj['mae']:.2f}, bias {sj['bias']:+.2f}.",
                  f"Roll estimate: MAE {s['roll']['mae']:.2f}, max {s['roll']['max_abs']:.2f}.",
                  f"Label ranges: {s['label_range']}.", ""]
    lines += ["## Targets of issue 28", "",
              "| target | front | back |", "|---|---|---|"]

    def cell(view: str, fn) -> str:
        return fn(summary[view]) if view in summary else "-"

    for name, fn in (
            ("obliquity MAE <= 1.0 (paired)", lambda s: _met(s["pelvic_obliquity_deg"]
                                                            ["paired"]["mae"], 1.0)),
            ("shoulder level MAE <= 1.0 (paired)", lambda s: _met(s["shoulder_level_deg"]
                                                                 ["paired"]["mae"], 1.0)),
            ("mirror: same size, other side, within 0.5 (single reading, mean abs(a + a'))",
             lambda s: _met(s["pelvic_obliquity_deg"]["mirror_sum_abs"]["mean"], 0.5)),
    ):
        lines.append(f"| {name} | {cell('front', fn)} | {cell('back', fn)} |")
    lines += ["", "The paired reading ((image - mirror) / 2, `posture.frontal.with_mirror`) "
              "meets the mirror target by construction (0.000).", ""]
    return "\n".join(lines) + "\n"


def _rounded(value):
    """Floats to 5 significant digits: the JSON stays small, the figures unchanged."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.5g}")
    return value


def _met(value: float, target: float) -> str:
    return f"{value:.2f} ({'met' if value <= target else 'not met'})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--front", type=Path, default=ROOT / "data" / "front-101")
    p.add_argument("--back", type=Path, default=ROOT / "data" / "back-102")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--reuse", action="store_true",
                   help="summarise the readings of <out>/frontal.json again")
    args = p.parse_args(argv)
    rows = []
    if args.reuse:
        rows = json.loads((args.out / "frontal.json").read_text())["rows"]
    else:
        with PoseEstimator("full") as est:
            for folder in (args.front, args.back):
                if not folder.is_dir():
                    print(f"{folder} is missing: make it with python -m tools.synth front "
                          "(see the docstring)", file=sys.stderr)
                    return 2
                rows += analyse(folder, est, args.limit)
    summary = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "frontal.json").write_text(json.dumps(
        _rounded({"summary": summary, "rows": rows}), indent=1, default=float))
    md = markdown(summary, args)
    (args.out / "frontal.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
