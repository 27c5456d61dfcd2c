"""The exercise plan and safety sections of the PDF documents, and the plan they print."""

from __future__ import annotations

from pathlib import Path

from ..errors import PostureError
from ..plan import Plan, PlanInput, make_plan
from ..result import Reading
from .pdf_base import Doc


def plan_or_error(result: Reading, thomas_test: str | None) -> Plan | PostureError:
    """The exercise plan of ``result``, or the error that made it unavailable (a broken
    plan data file must not stop a report: the section then says so)."""
    try:
        return make_plan(PlanInput.from_reading(result), thomas_test=thomas_test)
    except PostureError as err:
        return err


def plan_section(pdf: Doc, plan: Plan | PostureError) -> None:
    """The plan (headline, retake guidance, exercises, notes) and the safety section."""
    pdf.heading("Exercise plan")
    if isinstance(plan, Exception):
        pdf.para(f"The exercise plan is unavailable ({getattr(plan, 'code', 'error')}).", 9.5)
        return
    pdf.para(plan.headline, 10, bold=True)
    for g in plan.retake_guidance:
        pdf.bullets([g], 9)
    for n, it in enumerate(plan.items, 1):
        _plan_item(pdf, n, it)
    if plan.notes:
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.para("Notes", 9.5, bold=True)
        pdf.bullets(plan.notes, 8.5)
    pdf.heading("Safety")
    pdf.para(plan.red_flags_intro, 9.5, bold=True)
    pdf.bullets(plan.red_flags, 9)
    pdf.ln(2)
    pdf.para(plan.disclaimer, 8.5, muted=True)



def _plan_item(pdf: Doc, n: int, it) -> None:
    pic = Path(it.image_path) if it.image_path else None
    if pdf.will_page_break(36):
        pdf.add_page()
    top, page = pdf.get_y() + 1, pdf.page
    indent = 0.0
    if pic is not None and pic.is_file():
        pdf.image(str(pic), x=pdf.l_margin, y=top, w=30, h=30, keep_aspect_ratio=True)
        indent = 34.0
    pdf.set_y(top)
    pdf.para(f"{n}. {it.name}  ({it.kind})", 10, bold=True, indent=indent)
    pdf.para(f"Dose: {it.dose_text}", 8.8, indent=indent)
    pdf.para(f"Why: {it.why}", 8.8, indent=indent, muted=True)
    for i, s in enumerate(it.steps, 1):
        pdf.para(f"{i}. {s}", 8.5, indent=indent + 2, h=4.2)
    for c in it.cautions:
        pdf.para(f"Care: {c}", 8.5, indent=indent, h=4.2)
    below_picture = top + 31 if indent and pdf.page == page else 0.0
    pdf.set_y(max(pdf.get_y(), below_picture) + 2)
