"""Record the shipped estimator's pelvic-tilt bias on the committed held-out renders.

Writes ``tests/data/heldout_bias.json``: the mean signed error (estimate − label) over
``samples/heldout/*.jpg``, its standard error (SD of the errors / √n), n, and how it was
measured (command, UTC date, commit). ``tests/test_accuracy_gates.py`` pins the mean error
of these renders to this figure (±0.5°): a regression pin, not a claim of zero bias (the
bias on 300 renders is in the README and ``bench/results/accuracy.json``).

Rerun it only when the estimator is deliberately changed (retrained, recalibrated), and
commit the new file with that change::

    python -m tools.heldout_bias            # measure and write the file
    python -m tools.heldout_bias --print    # measure and print, write nothing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "samples" / "heldout"
OUT = ROOT / "tests" / "data" / "heldout_bias.json"


def measure() -> dict:
    """Analyse every held-out render with the full model, as the accuracy gates do."""
    from posture.analysis import Analyzer
    from posture.images import load_image

    paths = sorted(HELDOUT.glob("*.jpg"))
    errors = {}
    with Analyzer("full") as analyzer:
        for path in paths:
            truth = float(json.loads(path.with_suffix(".json").read_text())["pelvic_tilt_deg"])
            value = analyzer.analyze(load_image(path).rgb).measurements.pelvic_tilt.value
            if value is None:
                raise SystemExit(f"{path.name}: no tilt (abstained); nothing recorded")
            errors[path.name] = round(value - truth, 4)
    e = np.array(list(errors.values()))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "posture"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {
        "what": "mean signed pelvic-tilt error (estimate - label, degrees) of the shipped "
                "estimator on samples/heldout/*.jpg; a regression pin of the bias of these "
                "renders, not the estimator's bias (README 'Accuracy': 300 renders)",
        "command": "python -m tools.heldout_bias",
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": commit + (" (posture/ modified)" if dirty else ""),
        "estimator": "posture/data/estimator.json",
        "n": int(e.size),
        "mean_error_deg": round(float(e.mean()), 3),
        "sd_error_deg": round(float(e.std(ddof=1)), 3),
        "se_mean_deg": round(float(e.std(ddof=1)) / math.sqrt(e.size), 3),
        "errors_deg": errors,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--print", action="store_true", help="print, do not write the file")
    args = p.parse_args(argv)
    rec = measure()
    text = json.dumps(rec, indent=1) + "\n"
    if args.print:
        sys.stdout.write(text)
    else:
        OUT.write_text(text)
        print(f"{OUT.relative_to(ROOT)}: mean error {rec['mean_error_deg']:+.3f} deg, "
              f"SE {rec['se_mean_deg']:.3f}, n {rec['n']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
