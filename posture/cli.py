"""The ``posture`` command line.

Exit codes: 0 success (an abstention is a successful answer), 2 unreadable or invalid
input, 3 no usable person or view, 4 no pose model, 5 a broken data file, 6 an output that
must not or cannot be written (an input, not ours, a folder, locked; see
:mod:`posture.outputs`), 7 a clinic-store error (:class:`posture.errors.StoreError`), 1
anything else.
No traceback reaches the user: unexpected errors print one line and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import PostureError


def _print_json(d: dict) -> None:
    print(json.dumps(d, ensure_ascii=False))


def _parse_vertical(text: str):
    from .horizon import roll_from_vertical

    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
        return roll_from_vertical((x0, y0), (x1, y1))
    except ValueError as exc:
        raise PostureError(f"--vertical: {exc}; expected X0,Y0,X1,Y1 in pixels",
                           code="bad_argument") from exc


def _roll_arg(args):
    from .horizon import Roll

    if args.vertical:
        return _parse_vertical(args.vertical)
    if args.roll is not None:
        return Roll(float(args.roll), "declared")
    return "none" if args.no_roll else "auto"


def _frontal_lines(r) -> list[str]:
    """The front view's measures of a reading (registry order), one line each."""
    from .measures import measures

    lines = []
    for s in measures():
        value = r.value(s.name) if s.view == "front" else None
        if value is None:
            continue
        iv = r.interval(s.name)
        if s.unit == "stature":
            text = f"{s.label}: {100 * value:+.1f}% of height ({s.sign}"
            text += f"; 90% interval {100 * iv[0]:+.1f}% to {100 * iv[1]:+.1f}%)" if iv else ")"
        else:
            text = f"{s.label}: {value:+.1f}° ({s.sign}"
            text += f"; 90% interval {iv[0]:+.1f}° to {iv[1]:+.1f}°)" if iv else ")"
        if s.flag and getattr(r, s.flag, None):
            text += f" — {s.flag_label}: see a clinician"
        lines.append(text)
    return lines


def _human_summary(r) -> str:
    """The terminal summary of a :class:`~posture.result.Reading` (a side view, a front or
    back view, or both)."""
    kind = r.view_kind or "side"
    first = (f"facing {r.facing}" if kind == "side" else f"{kind} view")
    if len(r.views) > 1:
        first += " + " + ", ".join(f"{v} view" for v in r.views[1:])
    lines = [f"{r.source or 'image'}: {first}"]
    if r.abstained:
        lines.append("Pelvic tilt: not measured (abstained)")
        lines += [f"  - {x}" for x in r.reasons]
        lines += [f"  > {g}" for g in r.retake_guidance]
    else:
        lo, hi = r.pelvic_tilt_interval_deg
        cov = round(100 * (r.interval_coverage or 0.9))
        lines.append(
            f"Pelvic tilt: {r.pelvic_tilt_deg:+.1f}° (positive = anterior; {cov}% interval "
            f"{lo:+.1f}° to {hi:+.1f}°) → {r.band_text}"
        )
        if r.lumbar_lordosis_deg is not None:
            lines.append(f"Lumbar lordosis (surface): {r.lumbar_lordosis_deg:.1f}°")
        lines += [f"  Note: {n.detail}" for n in r.notes]
        lines.append(f"  {r.severity_disclaimer}")
    if r.head_neck_angle_deg is not None:
        flag = " (forward head)" if r.forward_head else ""
        lines.append(f"Ear–shoulder angle: {r.head_neck_angle_deg:.1f}°{flag}")
    if r.knee_angle_deg is not None:
        flag = " (hyperextended)" if r.knee_hyperextension else ""
        lines.append(f"Knee: {r.knee_angle_deg:+.1f}° (+ = hyperextension){flag}")
    lines += _frontal_lines(r)
    if r.roll_source != "none":
        lines.append(f"Camera roll corrected: {r.roll_deg:+.1f}° ({r.roll_source})")
    return "\n".join(lines)


def _annotate_target(args) -> bool | None:
    """Check ``--annotate`` before any work (kept apart from the analysis itself): never the
    photo, never a file we did not write unless ``--overwrite``. Returns whether the target
    may be replaced, or None without ``--annotate``."""
    from .outputs import prepare_image_output

    if not args.annotate:
        return None
    inputs = [args.photo] + ([args.front] if getattr(args, "front", None) else [])
    return prepare_image_output(args.annotate, inputs, overwrite=args.overwrite)


def _save_annotation(args, rgb, replace: bool) -> None:
    from .outputs import save_overlay

    save_overlay(rgb, args.annotate, replace=replace)


def _with_front(side, front):
    """The side photo's outcome with the ``--front`` photo's view combined into it
    (:func:`posture.analysis.combine`); the front photo's error, or ``invalid_input`` for
    photos of the wrong views, otherwise."""
    from dataclasses import replace

    from .analysis import combine
    from .errors import InputError

    if front.assessment is None:
        return front
    try:
        return replace(side, assessment=combine(side.assessment, front.assessment))
    except ValueError as exc:
        return type(side).failure(InputError(
            f"--front needs a side photo first and a front or back photo after it: {exc}"),
            side.source)


def cmd_analyze(args) -> int:
    from contextlib import ExitStack

    from .analysis import Analyzer
    from .contract import error_reading, exit_code_for, to_dict
    from .plan import PlanInput, format_plan_text, make_plan, plan_to_dict
    from .safe import analyze_input

    source = str(args.photo)
    replace = _annotate_target(args)  # an output error is the command's error: exit 6
    try:
        roll = _roll_arg(args)
        with ExitStack() as stack:  # the model is loaded only for a readable photo
            loaded: list = []

            def analyzer():
                if not loaded:
                    loaded.append(stack.enter_context(Analyzer(args.model, roll=roll)))
                return loaded[0]

            outcome = analyze_input(analyzer, args.photo, name=source)
            if args.front is not None and outcome.assessment is not None:
                outcome = _with_front(outcome, analyze_input(analyzer, args.front,
                                                             name=str(args.front)))
        r = outcome.reading()
        if args.annotate and outcome.assessment is not None:
            _save_annotation(args, outcome.overlay(), bool(replace))
    except PostureError as err:
        r = error_reading(err, source=source)
    plan = (make_plan(PlanInput.from_reading(r), thomas_test=args.thomas)
            if args.plan and r.ok else None)
    if args.json:
        d = to_dict(r)
        if plan is not None:
            d["plan"] = plan_to_dict(plan)
        _print_json(d)
    else:
        print(_human_summary(r) if r.facing else
              f"error [{r.error.code}]: {r.error.message}")
        if plan is not None:
            print()
            print(format_plan_text(plan))
    return exit_code_for(r)


def _plan_dict(result: dict, thomas):
    from .plan import PlanInput, make_plan, plan_to_dict

    return plan_to_dict(make_plan(PlanInput.from_result(result), thomas_test=thomas))


def _plan_text(result: dict, thomas) -> str:
    from .plan import PlanInput, format_plan_text, make_plan

    return format_plan_text(make_plan(PlanInput.from_result(result), thomas_test=thomas))


def cmd_plan(args) -> int:
    from .plan.source import read_result_file

    # a regular file of at most 1 MB: never /dev/zero, never a FIFO (issue 23)
    result = read_result_file(args.result)
    if args.json:
        _print_json(_plan_dict(result, args.thomas))
    else:
        print(_plan_text(result, args.thomas))
    return 0


def cmd_models(args) -> int:
    from . import models

    if args.action == "list":
        for row in models.list_models():
            print(row if isinstance(row, str) else _model_row(row))
        return 0
    bundle = models.fetch_model(args.variant, force=args.force)
    print(f"{bundle.variant}: {bundle.path} ({bundle.source})")
    return 0


def _workers_arg(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number or 'auto'") from None


def cmd_batch(args) -> int:
    from .batch import run_batch

    engine_options = {"address": args.address} if args.engine == "ray" else None
    summary = run_batch(args.inputs, args.out, jsonl=args.jsonl, annotate_dir=args.annotate,
                        workers=args.workers, model=args.model, overwrite=args.overwrite,
                        engine=args.engine, engine_options=engine_options)
    print(summary.text())
    return 0  # bad files are rows with their error code, not a failed run


def _model_row(row) -> str:
    if hasattr(row, "__dataclass_fields__"):
        return "  ".join(f"{k}={getattr(row, k)}" for k in row.__dataclass_fields__)
    return str(row)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="posture",
        description="Pelvic tilt and lumbar lordosis from a side-view photo.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="analyse one photo (side, front or back view)")
    a.add_argument("photo", help="JPEG, PNG, WebP or HEIC photo of a person standing "
                                 "side-on (or facing toward or away from the camera)")
    a.add_argument("--json", action="store_true", help="print the JSON contract")
    a.add_argument("--front", metavar="FRONT.jpg", default=None,
                   help="a front (or back) photo of the same person: one result with both "
                        "views")
    a.add_argument("--annotate", metavar="OUT.png",
                   help="write the annotated image here (never over the photo)")
    a.add_argument("--overwrite", action="store_true",
                   help="replace an existing --annotate file not written by posture")
    a.add_argument("--model", default=None,
                   help="pose model: a .task path or lite|full|heavy (default: full)")
    a.add_argument("--plan", action="store_true", help="add the matching exercise plan")
    a.add_argument("--thomas", choices=["yes", "no", "unsure"], default=None,
                   help="modified Thomas test result (hip flexors tight?) for the plan")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--vertical", metavar="X0,Y0,X1,Y1",
                   help="two pixels on a line that is truly vertical (declares camera roll)")
    g.add_argument("--roll", type=float, metavar="DEG",
                   help="declare camera roll in degrees (+ = verticals appear clockwise)")
    g.add_argument("--no-roll", action="store_true", help="assume a level camera")
    a.set_defaults(func=cmd_analyze)

    pl = sub.add_parser("plan", help="exercise plan for an analysis JSON")
    pl.add_argument("result", help="a file written by `posture analyze --json`")
    pl.add_argument("--thomas", choices=["yes", "no", "unsure"], default=None)
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_plan)

    b = sub.add_parser("batch", help="analyse many photos into a CSV (resumable)")
    b.add_argument("inputs", metavar="DIR_OR_GLOB", help="a folder of photos or a glob pattern")
    b.add_argument("--out", required=True, metavar="RESULTS.csv",
                   help="CSV to write; rows already in it are skipped (resume)")
    b.add_argument("--jsonl", metavar="OUT.jsonl", help="also write full results with landmarks")
    b.add_argument("--annotate", metavar="DIR",
                   help="write an annotated PNG per photo here (a folder without inputs)")
    b.add_argument("--overwrite", action="store_true",
                   help="replace outputs that exist but were not written by posture (inputs "
                        "are never written to)")
    b.add_argument("--workers", type=_workers_arg, default=1,
                   help="parallel processes (Ray: actors), or 'auto' from the cores (default 1)")
    b.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes, or Ray Data (pip install 'posture[cluster]'; "
                        "inputs may then be URIs such as s3://bucket/photos)")
    b.add_argument("--address", metavar="HOST:PORT",
                   help="with --engine ray: join this Ray cluster (default: a local instance)")
    b.add_argument("--model", default=None, help="pose model: a .task path or lite|full|heavy")
    b.set_defaults(func=cmd_batch)

    m = sub.add_parser("models", help="list or fetch pose models")
    m.add_argument("action", choices=["list", "fetch"])
    m.add_argument("variant", nargs="?", default="full", choices=["lite", "full", "heavy"])
    m.add_argument("--force", action="store_true", help="fetch again even when cached")
    m.set_defaults(func=cmd_models)

    from .cli_users import add_parsers as add_clinic_parsers  # users, audit (clinic store)

    add_clinic_parsers(sub)
    from .cli_validate import add_parsers as add_validate_parser

    add_validate_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PostureError as err:
        print(f"error [{err.code}]: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `posture analyze x.jpg | head -1`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # the last line of defence: one line, no traceback
        print(f"error [internal]: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
