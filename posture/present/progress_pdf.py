"""The progress report of one patient (PDF): before and after pictures aligned and
annotated, the change of every tracked metric with its verdict against the minimal
detectable change measured on retakes (:mod:`posture.change`), the palpation-equivalent
tilt of both visits, the pelvic tilt over time with each 90% interval, and the current
plan.

Fonts, page set-up, headings and the plan section are shared with the single-assessment
report (:mod:`posture.present.pdf_base`, :mod:`posture.present.pdf_plan`), so both
documents look and shape text alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from fpdf.fonts import FontFace

from ..change import mdc_sentence
from ..contract import from_dict
from ..palpation import WHICH_NUMBER
from ..store import AssessmentRecord, Patient, compare, trend
from ..store.history import palpation_by_record
from .format import deg
from .pdf_base import ACCENT, MUTED, Doc
from .pdf_plan import plan_or_error, plan_section


def build_progress_report(patient: Patient, records: Sequence[AssessmentRecord],
                          before: AssessmentRecord, after: AssessmentRecord,
                          pictures: Sequence[np.ndarray] | None = None, *,
                          include_name: bool = True) -> bytes:
    """The progress PDF as bytes.

    Parameters
    ----------
    records
        All the patient's assessments (for the tilt-over-time chart), any order.
    before, after
        The two assessments compared.
    pictures
        The two aligned, annotated pictures (RGB arrays,
        :func:`posture.present.compare.annotated`); made from the landmarks when omitted
        (no photo is read here).
    """
    from .compare import annotated

    if pictures is None:
        pictures = [annotated(None, r.result, f"{r.taken_at:%Y-%m-%d}") for r in
                    (before, after)]
    pdf = Doc("posture · progress report · screening aid, not a diagnosis · generated "
              + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    pdf.set_title("Posture progress report")
    pdf.set_creator("posture")
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 17)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 9, pdf.t("Posture progress report"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    who = patient.pseudonym + (f" · {patient.name}" if include_name and patient.name else "")
    c = compare(before, after)
    pdf.para(f"Patient {who} · assessments #{before.id} ({before.taken_at:%Y-%m-%d}) and "
             f"#{after.id} ({after.taken_at:%Y-%m-%d}), {c.days_between:g} days apart", 10)
    _pictures(pdf, pictures, before, after)
    _changes(pdf, c, before, after)
    _palpation(pdf, records, before, after)
    _tilt_chart(pdf, records)
    plan = plan_or_error(from_dict(after.result, strict=False), after.thomas_test)
    plan_section(pdf, plan)
    return bytes(pdf.output())


def _pictures(pdf: Doc, pictures, before, after) -> None:
    from PIL import Image

    from .compare import method_of

    pdf.heading("Before and after")
    top, w = pdf.get_y(), 86.0
    for i, (img, rec) in enumerate(zip(pictures, (before, after), strict=True)):
        im = Image.fromarray(np.asarray(img))
        h = w * im.height / im.width
        x = pdf.l_margin + i * (w + 8.0)
        pdf.image(im, x=x, y=top, w=w, h=h)
        pdf.set_xy(x, top + h + 1)
        pdf.set_font(pdf.family, "", 8)
        how = method_of(rec, "pelvic_tilt")
        pdf.cell(w, 4, pdf.t(f"{'Before' if i == 0 else 'After'}: {rec.taken_at:%Y-%m-%d}, "
                             f"tilt {deg(rec.pelvic_tilt_deg)} ({how})"), align="C")
    pdf.set_xy(pdf.l_margin, top + w * pictures[0].shape[0] / pictures[0].shape[1] + 6)
    pdf.para("Aligned at the ankle and scaled to stature. Yellow: plumb line through the "
             "ankle; blue: grid every 10% of stature; red: pelvis line at the recorded "
             "tilt.", 8, muted=True)


def _changes(pdf: Doc, c, before, after) -> None:
    from .compare import change_interval, change_label, change_vary, method_of

    pdf.heading("Change")
    heads = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT)
    pdf.set_font(pdf.family, "", 8.4)
    differ = []
    with pdf.table(col_widths=(32, 29, 29, 16, 20, 54), width=180, align="LEFT",
                   line_height=4.4, headings_style=heads, text_align="LEFT") as table:
        r = table.row()
        for h in ("Metric", "Before", "After", "Change", "Retakes vary", "Real change?"):
            r.cell(pdf.t(h))
        for x in c.changes:
            how = [method_of(rec, x.metric) for rec in (before, after)]
            if x.change is not None and how[0] != how[1]:
                differ.append(f"{x.label}: {how[0]} before, {how[1]} after")
            r = table.row()
            values = [_with_method(v, h) + (f"\n{change_interval(x, i)}"
                                            if change_interval(x, i) else "")
                      for i, (v, h) in enumerate(((x.before, how[0]), (x.after, how[1])))]
            for v in (change_label(x), *values, deg(x.change), change_vary(x),
                      x.words or "—"):
                r.cell(pdf.t(v))
    pdf.ln(1)
    if differ:
        pdf.para("Measured differently: " + "; ".join(differ) + ". Part of such a change "
                 "can be the difference between the two methods.", 8.5, bold=True)
    pdf.para("Beside each value, how it was obtained: estimated (the learned estimator "
             "from the photo, with a 90% interval), clinician-placed (ASIS and PSIS placed "
             "by hand on the photo; no interval), from landmarks (pose key points). "
             + mdc_sentence("pelvic_tilt") + " The other findings use 5° (photo posture "
             "apps; not yet measured on this tool's retakes)."
             + (" Front-view measures (from a front or back photo, sides the person's "
                "own): no retake figure yet, so their change is shown and not judged."
                if any(x.view != "side" for x in c.changes) else ""), 8, muted=True)


def _palpation(pdf: Doc, records, before, after) -> None:
    """The palpation-equivalent tilt of both visits, and which number is which."""
    views = palpation_by_record(records)
    parts = []
    for name, rec in (("before", before), ("after", after)):
        v = views.get(rec.id)
        e = None if v is None else v.estimate
        if e is None:
            parts.append(f"{name}: —")
            continue
        lo, hi = e.interval_deg
        parts.append(f"{name}: {deg(e.value_deg)} (90% interval {deg(lo)} to {deg(hi)}"
                     + (", calibrated to the clinic's meter" if e.calibrated else "") + ")")
    pdf.para("Pelvic tilt, palpation-equivalent: " + "; ".join(parts) + ". " + WHICH_NUMBER
             + " Between two visits the bone shape cancels: the change of the postural tilt is "
             "the change a meter would see.", 8.5)


def _with_method(v: float | None, how: str) -> str:
    return "—" if v is None else f"{deg(v)}\n{how}"


def _tilt_chart(pdf: Doc, records) -> None:
    pts = [p for p in trend(records, ["pelvic_tilt"])["pelvic_tilt"] if p.value is not None]
    if pdf.will_page_break(80):  # heading and chart on one page
        pdf.add_page()
    pdf.heading("Pelvic tilt over time")
    if not pts:
        pdf.para("No assessment has a measured pelvic tilt.", 9)
        return
    x0, y0, w, h = pdf.l_margin + 12, pdf.get_y() + 2, 160.0, 50.0
    vals = [v for p in pts for v in (p.value, p.lo, p.hi) if v is not None] + [0.0]
    lo, hi = min(vals) - 2, max(vals) + 2
    t0 = pts[0].taken_at.timestamp()
    span = max(pts[-1].taken_at.timestamp() - t0, 1.0)

    def X(t):  # noqa: N802
        return x0 + 6 + (0.5 if len(pts) == 1 else (t.timestamp() - t0) / span) * (w - 12)

    def Y(v):  # noqa: N802
        return y0 + h - (v - lo) / (hi - lo) * h

    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.2)
    pdf.rect(x0, y0, w, h)
    pdf.set_font(pdf.family, "", 7)
    step = 5.0 if hi - lo <= 40 else 10.0
    for v in np.arange(np.ceil(lo / step) * step, hi, step):
        pdf.text(x0 - 11, Y(v) + 1, pdf.t(f"{v + 0.0:+.0f}°"))  # no "-0"
    pdf.set_dash_pattern(dash=1, gap=1)
    pdf.line(x0, Y(0), x0 + w, Y(0))
    pdf.set_dash_pattern()
    pdf.set_draw_color(*ACCENT)
    pdf.set_fill_color(*ACCENT)
    for p in pts:
        if p.lo is not None:
            pdf.line(X(p.taken_at), Y(p.lo), X(p.taken_at), Y(p.hi))
    pdf.set_line_width(0.6)
    for a, b in zip(pts, pts[1:], strict=False):
        pdf.line(X(a.taken_at), Y(a.value), X(b.taken_at), Y(b.value))
    for p in pts:
        pdf.ellipse(X(p.taken_at) - 1.0, Y(p.value) - 1.0, 2.0, 2.0, style="F")
        pdf.text(X(p.taken_at) - 6, y0 + h + 4, p.taken_at.strftime("%Y-%m-%d"))
    pdf.set_line_width(0.2)
    pdf.set_xy(pdf.l_margin, y0 + h + 7)
    pdf.para("Degrees, + = anterior; vertical bars: 90% interval of each estimate.", 8,
             muted=True)
