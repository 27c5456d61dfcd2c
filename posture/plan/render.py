"""A plan as text for the terminal and as a JSON-ready dict."""

from __future__ import annotations

import textwrap
from typing import Any

from .model import ClinicianNote, Plan, PlanItem, ThomasGuide

# --------------------------------------------------------------------------- output


def _wrap(text: str, indent: str = "", first: str | None = None, width: int = 88) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def format_plan_text(plan: Plan) -> str:
    """Render a plan for the terminal (plain text, 88 columns)."""
    out = ["EXERCISE PLAN", "=============", _wrap(plan.headline), ""]
    for note in plan.clinician_notes:  # before the exercises: they are not the only advice
        out += [_wrap(note.title), _wrap(note.why, "  ", "  "), ""]
    if plan.retake_guidance:
        out.append("How to retake the photo:")
        out += [_wrap(g, "    ", "  - ") for g in plan.retake_guidance]
        out.append("")
    for n, it in enumerate(plan.items, 1):
        out.append(f"{n}. {it.name}  [{it.kind}]")
        out.append(_wrap(it.dose_text, "         ", "   Dose: "))
        out.append(_wrap(it.why, "         ", "   Why:  "))
        out += [_wrap(s, "        ", f"     {i}. ") for i, s in enumerate(it.steps, 1)]
        out.append(_wrap(it.easier, "         ", "   Easier: "))
        out.append(_wrap(it.harder, "         ", "   Harder: "))
        out += [_wrap(c, "         ", "   Care: ") for c in it.cautions]
        out.append(f"   Picture: {it.image_path}")
        out.append("")
    if plan.notes:
        out.append("Notes:")
        out += [_wrap(n, "    ", "  - ") for n in plan.notes]
        out.append("")
    g = plan.thomas_test_guide
    if g is not None:
        out.append(f"Self-check: {g.name}")
        out.append(_wrap(g.needs, "  ", "  "))
        out += [_wrap(s, "     ", f"  {i}. ") for i, s in enumerate(g.steps, 1)]
        out += [_wrap(s, "    ", "  - ") for s in g.interpret]
        out.append(_wrap(g.caveat, "  ", "  "))
        out.append("  Re-run the plan with your answer (yes / no / unsure).")
        out.append("")
    out.append(_wrap(plan.red_flags_intro))
    out += [_wrap(r, "    ", "  - ") for r in plan.red_flags]
    out.append("")
    out.append(_wrap(plan.disclaimer))
    return "\n".join(out) + "\n"


def _plain(obj: Any) -> Any:
    if isinstance(obj, ThomasGuide | PlanItem | Plan | ClinicianNote):
        return {k: _plain(v) for k, v in vars(obj).items()}
    if isinstance(obj, tuple | list):
        return [_plain(v) for v in obj]
    return obj


def plan_to_dict(plan: Plan) -> dict:
    """A JSON-ready dict of the plan (tuples become lists, the Thomas guide a dict or None)."""
    return _plain(plan)
