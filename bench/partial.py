"""Partial views: photos cut off at the shins or the knees, against the whole photo.

Each whole-body image is analysed as it is, then cut off at mid-shin and at the knees (the
bottom of the image removed, as a phone held too close would do) and analysed again. The
script prints how often the cut copies are measured (with the ``partial_view`` note), the
change of pelvic tilt against the whole view, and the interval scale that change implies:
the factor by which a partial view's 90% interval must exceed the whole-body one so that
the extra error is covered, ``sqrt(h² + (1.645·sd)²) / h`` at the median half-width ``h``.
A copy cut above the hips must abstain.

Usage::

    python bench/partial.py samples ../shared/photos [data/synth-test --limit 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from posture.analysis import Analyzer
from posture.errors import PostureError
from posture.images import load_image
from posture.pose import LM

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
CUTS = ("shins", "knees", "above_hips")


def cut_rows(a) -> dict[str, int]:
    """Image rows (from the top) to keep for each cut, from the whole view's landmarks."""
    xy = a.pose.xy
    knee = float(xy[[LM.LEFT_KNEE, LM.RIGHT_KNEE], 1].mean())
    ankle = float(xy[[LM.LEFT_ANKLE, LM.RIGHT_ANKLE], 1].mean())
    hip = float(xy[[LM.LEFT_HIP, LM.RIGHT_HIP], 1].mean())
    shoulder = float(xy[[LM.LEFT_SHOULDER, LM.RIGHT_SHOULDER], 1].mean())
    return {"shins": round((knee + ankle) / 2), "knees": round(knee + 0.02 * (ankle - hip)),
            "above_hips": round(hip - 0.3 * (hip - shoulder))}


def reading(an: Analyzer, rgb: np.ndarray) -> dict:
    try:
        a = an.analyze(rgb)
    except PostureError as err:
        return {"tilt": None, "verdict": f"error:{err.code}"}
    iv = a.measurements.pelvic_tilt.interval
    return {"tilt": a.measurements.pelvic_tilt.value,
            "halfwidth": None if iv is None else (iv[1] - iv[0]) / 2,
            "verdict": "measured" if not a.abstained else
            "abstained:" + ",".join(sorted(a.reason_codes)),
            "notes": [n.code for n in a.notes]}


def main(argv=None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--limit", type=int, default=None, help="first N images of each folder")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args(argv)
    rows = []
    with Analyzer() as an:
        for folder in a.folders:
            files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES
                           and not f.stem.endswith("_mask"))
            for f in tqdm(files[: a.limit] if a.limit else files, desc=folder.name):
                rgb = load_image(f).rgb
                try:
                    whole = an.analyze(rgb)
                except PostureError:
                    continue
                if whole.abstained:
                    continue
                row = {"file": f"{folder.name}/{f.name}", "whole": reading(an, rgb)}
                for cut, y in cut_rows(whole).items():
                    row[cut] = reading(an, np.ascontiguousarray(rgb[: max(8, y)]))
                rows.append(row)
    out = {"date": dt.date.today().isoformat(), "n": len(rows), "rows": rows}
    lines = [f"Partial views ({out['date']}, {len(rows)} whole-body images)", "",
             "| cut | measured | with partial_view note | mean abs change ° | SD of change ° "
             "| implied interval scale |", "|---|---|---|---|---|---|"]
    hw = float(np.median([r["whole"]["halfwidth"] for r in rows]))
    for cut in CUTS:
        got = [r for r in rows if r[cut]["tilt"] is not None]
        d = np.array([r[cut]["tilt"] - r["whole"]["tilt"] for r in got])
        noted = sum("partial_view" in r[cut].get("notes", []) for r in got)
        if len(d):
            sd = float(np.sqrt(np.mean(d ** 2)))
            scale = float(np.sqrt(hw ** 2 + (1.645 * sd) ** 2) / hw)
            out[cut] = {"measured": len(got), "mean_abs": float(np.abs(d).mean()), "sd": sd,
                        "scale": scale}
            lines.append(f"| {cut} | {len(got)}/{len(rows)} | {noted} | "
                         f"{np.abs(d).mean():.2f} | {sd:.2f} | {scale:.2f} |")
        else:
            lines.append(f"| {cut} | 0/{len(rows)} | 0 | – | – | – |")
    lines.append(f"\nMedian whole-view 90% half-width: {hw:.2f}°. SD of change is the root mean "
                 "square change (bias included).")
    md = "\n".join(lines) + "\n"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "partial.json").write_text(json.dumps(out, indent=1))
    (a.out / "partial.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
