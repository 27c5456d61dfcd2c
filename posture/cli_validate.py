"""``posture validate``: the photo reading against a clinic's own instrument.

Kept apart from :mod:`posture.cli` like the clinic commands; the statistics live in
:mod:`posture.agreement` and the reading of the file in :mod:`posture.validate`.
"""

from __future__ import annotations

import json
import sys


def add_parsers(sub) -> None:
    v = sub.add_parser(
        "validate",
        help="agreement of the photo reading with a palpation meter or inclinometer",
        description="Analyse every photo listed in READINGS.csv (columns photo, "
                    "reference_deg; optional subject) and print Bland-Altman bias and 95%% "
                    "limits, ICC(2,1), SEM and MDC95 of the pelvic tilt against the reference.")
    v.add_argument("readings", metavar="READINGS.csv")
    v.add_argument("--plot", metavar="OUT.png", help="write a Bland-Altman plot here")
    v.add_argument("--overwrite", action="store_true",
                   help="replace an existing --plot file not written by posture")
    v.add_argument("--json", action="store_true", help="print the figures as JSON")
    v.add_argument("--model", default=None, help="pose model: a .task path or lite|full|heavy")
    v.set_defaults(func=cmd_validate)


def cmd_validate(args) -> int:
    from tqdm import tqdm

    from .analysis import Analyzer
    from .outputs import prepare_image_output, save_overlay
    from .present.agreement_plot import bland_altman_image
    from .validate import read_readings, summary_lines, to_dict, validate

    rows = read_readings(args.readings)
    replace = None
    if args.plot:  # checked before hours of analysis, never over an input
        replace = prepare_image_output(args.plot, [args.readings, *(r.photo for r in rows)],
                                       overwrite=args.overwrite, what="plot")
    bar = tqdm(total=len(rows), desc="photos", unit="photo", file=sys.stderr,
               disable=not sys.stderr.isatty())
    with Analyzer(args.model) as analyzer:
        def measure(photo):
            return analyzer.analyze(photo).measurements.pelvic_tilt.value

        result = validate(rows, measure, progress=lambda i, n: bar.update(1))
    bar.close()
    if args.plot:
        est, ref = result.pairs
        img = bland_altman_image(est, ref, result.stats, reference_name="reference",
                                 estimate_name="photo",
                                 title=f"Pelvic tilt: photo vs reference, {result.stats.n} people")
        save_overlay(img, args.plot, replace=bool(replace))
    if args.json:
        print(json.dumps(to_dict(result), indent=1, ensure_ascii=False))
    else:
        print("\n".join(summary_lines(result)))
        if args.plot:
            print(f"Bland-Altman plot: {args.plot}")
    return 0
