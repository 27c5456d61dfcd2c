"""Repeatability: does the same photo, saved again, give the same reading and verdict?

Each image is analysed as it is and as seven copies a person would call "the same photo":
re-saved (JPEG quality 95), JPEG quality 85 and 70, a 3% crop of the top and left margin,
half size, 1.5× size and mirrored. For every kind of copy the change of pelvic tilt against
the original is summarised (mean and max |Δ|, degrees); per image, the standard deviation
of the tilt over the original and its seven copies; and the number of images whose view
verdict (measured vs abstained, and the reason codes) or severity band differs between
copies.

Usage::

    python bench/repeatability.py                      # ../shared/photos
    python bench/repeatability.py data/synth-test --limit 40   # held-out renders
    python bench/repeatability.py a/ b/ --out bench/results

Figures are measured in one run; the Markdown table is printed and written to
``bench/results/repeatability.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
from accuracy import _commit  # the same provenance line as the accuracy figures

from posture.analysis import Analyzer
from posture.errors import PostureError
from posture.images import load_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.copies import KINDS, copies  # noqa: E402  (the same copies the tests use)

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def reading(analyzer: Analyzer, src) -> dict:
    """Tilt, band and view verdict of one input (an error is a verdict too)."""
    try:
        a = analyzer.analyze(src)
    except PostureError as err:
        return {"tilt": None, "band": None, "verdict": f"error:{err.code}"}
    codes = sorted(set(a.reason_codes))
    return {"tilt": a.measurements.pelvic_tilt.value,
            "band": a.severity.band if a.severity else None,
            "verdict": "measured" if not a.abstained else "abstained:" + ",".join(codes),
            "notes": [str(n) for n in getattr(a, "notes", ())]}


def images_in(folder: Path, limit: int | None) -> list[Path]:
    # tools.synth writes each render's person mask beside it (*_mask.png): not a photo
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.stem.endswith("_mask"))
    return files[:limit] if limit else files


def measure_folder(analyzer: Analyzer, folder: Path, limit: int | None) -> dict:
    from tqdm import tqdm

    rows = []
    for f in tqdm(images_in(folder, limit), desc=folder.name, unit="image"):
        rgb = load_image(f).rgb
        row = {"file": f.name, "original": reading(analyzer, f)}
        for kind, data in copies(rgb).items():
            row[kind] = reading(analyzer, data)
        rows.append(row)
    return summarize(rows) | {"folder": str(folder), "rows": rows}


def summarize(rows: list[dict]) -> dict:
    per_kind = {}
    for kind in KINDS:
        d = [abs(r[kind]["tilt"] - r["original"]["tilt"]) for r in rows
             if r[kind]["tilt"] is not None and r["original"]["tilt"] is not None]
        per_kind[kind] = {"n": len(d), "mean": float(np.mean(d)) if d else None,
                          "max": float(np.max(d)) if d else None}
    sds, flips, band_flips, measured_all = [], 0, 0, 0
    for r in rows:
        readings = [r["original"]] + [r[k] for k in KINDS]
        tilts = [x["tilt"] for x in readings if x["tilt"] is not None]
        if len(tilts) == len(readings):
            measured_all += 1
            sds.append(float(np.std(tilts)))
        flips += len({x["verdict"] for x in readings}) > 1
        band_flips += len({x["band"] for x in readings}) > 1
    return {
        "n_images": len(rows),
        "measured_original": sum(r["original"]["tilt"] is not None for r in rows),
        "measured_all_copies": measured_all,
        "per_kind": per_kind,
        "sd_mean": float(np.mean(sds)) if sds else None,
        "sd_max": float(np.max(sds)) if sds else None,
        "verdict_flips": flips,
        "band_flips": band_flips,
    }


def _f(x, nd=2) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def markdown(results: dict) -> str:
    lines = [f"Repeatability ({results['date']}, commit {results['commit']})", "",
             "| set | images | measured (orig / all copies) | " +
             " | ".join(f"{k} mean / max °" for k in KINDS) +
             " | SD over 8, mean / max ° | verdict flips | band flips |",
             "|---|---|---|" + "---|" * len(KINDS) + "---|---|---|"]
    for s in results["sets"]:
        cells = [f"{_f(s['per_kind'][k]['mean'])} / {_f(s['per_kind'][k]['max'])}"
                 for k in KINDS]
        lines.append(f"| `{Path(s['folder']).name}` | {s['n_images']} | "
                     f"{s['measured_original']} / {s['measured_all_copies']} | "
                     + " | ".join(cells)
                     + f" | {_f(s['sd_mean'])} / {_f(s['sd_max'])} | {s['verdict_flips']} | "
                       f"{s['band_flips']} |")
    for s in results["sets"]:
        lines += ["", f"`{Path(s['folder']).name}` per image (tilt ° of the original; "
                      "verdicts that differ between copies):", ""]
        for r in s["rows"]:
            verdicts = sorted({r[k]["verdict"] for k in ("original", *KINDS)})
            tilts = [r[k]["tilt"] for k in ("original", *KINDS) if r[k]["tilt"] is not None]
            spread = f"{max(tilts) - min(tilts):.2f}" if tilts else "–"
            lines.append(f"- {r['file']}: {_f(r['original']['tilt'])}, spread {spread}°, "
                         f"{' | '.join(verdicts)}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", type=Path, nargs="*", help="image folders (default: shared photos)")
    p.add_argument("--limit", type=int, default=None, help="first N images of each folder")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args(argv)
    folders = a.folders or [SHARED_PHOTOS]
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        print(f"not a folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    with Analyzer() as an:
        sets = [measure_folder(an, f, a.limit) for f in folders]
    results = {"date": dt.date.today().isoformat(), "commit": _commit(), "sets": sets}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "repeatability.json").write_text(json.dumps(results, indent=1))
    md = markdown(results)
    (a.out / "repeatability.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
