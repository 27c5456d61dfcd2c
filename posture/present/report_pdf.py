"""The PDF report of one assessment: photo, metrics with intervals, severity, plan, safety.

Fonts, text safety and page building blocks are :mod:`posture.present.pdf_base`'s; the
plan printed is the one the caller gives (:func:`posture.present.pdf_plan.plan_or_error`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ..contract import from_dict
from ..errors import PostureError
from ..measures import MeasureSpec, measures
from ..palpation import WHICH_NUMBER, PalpationEstimate, palpation_equivalent
from ..plan import THOMAS_LABELS, Plan
from ..result import Reading
from ..store.history import tracked
from ..store.records import AssessmentRecord, Patient
from .format import deg
from .overlay import mark_landmarks
from .pdf_base import ACCENT, MUTED, Doc, clean_text
from .pdf_plan import plan_section


def _as_pil(photo: bytes | np.ndarray):
    from PIL import Image

    img = Image.open(io.BytesIO(photo)) if isinstance(photo, bytes | bytearray) else \
        Image.fromarray(np.ascontiguousarray(photo).astype(np.uint8))
    img = img.convert("RGB")
    img.thumbnail((1200, 1200))  # keeps the PDF small; 62 mm wide needs ~730 px at 300 dpi
    return img


def _coverage_pct(r: Reading) -> str:
    from ..config import thresholds

    cov = r.interval_coverage or thresholds()["estimate"]["interval_coverage"]
    return f"{round(100 * float(cov))}%"


def _metric_rows(r: Reading, palpation: PalpationEstimate | None = None
                 ) -> list[tuple[str, str, str, str]]:
    """One row per tracked metric; after the (postural) pelvic tilt, its
    palpation-equivalent value with the wider interval (``palpation``, e.g. calibrated to
    the clinic's meter, or else the uncalibrated one of ``r``)."""
    rows = []
    for spec in (m for m in tracked() if m.view == "side"):  # the front view: _frontal
        v, iv, _ = r.metric(spec.name)
        if v is None:
            value, interval = "not measured", ""
        else:
            value = deg(v)
            if iv is None:
                interval = "not estimated"
            else:
                interval = f"{deg(iv[0])} to {deg(iv[1])}"
        if spec.name != "pelvic_tilt":
            rows.append((spec.label, value, interval, spec.convention))
            continue
        rows.append((f"{spec.label} (postural)", value, interval, spec.convention))
        p = palpation or palpation_equivalent(v, iv, r.interval_coverage)
        if p is not None:
            lo, hi = p.interval_deg
            how = "calibrated to the clinic's meter" if p.calibrated else \
                "wider: bone shape unknown"
            rows.append((f"{spec.label} (palpation-equivalent)", deg(p.value_deg),
                         f"{deg(lo)} to {deg(hi)}", f"what a palpation meter would read; "
                         f"{how}"))
    return rows


def build_report(
    result: Mapping[str, Any] | Reading,
    *,
    patient: Patient | None = None,
    record: AssessmentRecord | None = None,
    photo: bytes | np.ndarray | None = None,
    draw_landmarks: bool = False,
    plan: Plan | PostureError | None = None,
    thomas_test: str | None = None,
    notes: str = "",
    corrections: Mapping[str, Any] | None = None,
    taken_at: datetime | None = None,
    include_name: bool = True,
    palpation: PalpationEstimate | None = None,
) -> bytes:
    """The PDF report of one assessment, as bytes.

    Parameters
    ----------
    result
        The typed result (:class:`posture.result.Reading`, e.g. ``record.reading``) or
        the analysis contract dict (``posture analyze --json``).
    patient, record
        The patient and, for a saved assessment, its record (whose Thomas test, notes,
        corrections and date override the keyword arguments of the same meaning).
    photo
        Annotated RGB array, or JPEG/PNG bytes; with ``draw_landmarks`` the stored
        ``landmarks_px`` of ``result`` are drawn on it first.
    plan
        The exercise plan to print (the caller makes it, e.g.
        :func:`posture.present.pdf_plan.plan_or_error`), the error that made it unavailable
        (the section says so), or None for no plan section.
    include_name
        Print the patient's name (personal data) beside the pseudonym.
    palpation
        The palpation-equivalent tilt to print (e.g. calibrated to the clinic's meter,
        :func:`posture.store.history.palpation_by_record`); by default the uncalibrated one
        of ``result``.
    """
    result = from_dict(result, strict=False)
    if record is not None:
        thomas_test, notes = record.thomas_test, record.notes
        corrections, taken_at = record.corrections, record.taken_at
    pdf = Doc("posture · screening aid, not a diagnosis · generated "
              + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    pdf.set_title("Posture assessment report")
    pdf.set_creator("posture")
    pdf.add_page()
    _title(pdf, result, patient, taken_at, include_name)
    _findings(pdf, result, photo, draw_landmarks, palpation)
    if front_kinds(result):
        _frontal(pdf, result)
    _clinical(pdf, thomas_test, notes, corrections)
    if plan is not None:
        plan_section(pdf, plan)
    return bytes(pdf.output())


def _title(pdf: Doc, result, patient, taken_at, include_name) -> None:
    pdf.set_font(pdf.family, "B", 17)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 9, pdf.t("Posture assessment report"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    rows = []
    if patient is not None:
        rows.append(("Patient", patient.pseudonym))
        if include_name and patient.name:
            rows.append(("Name", patient.name))
        rows.append(("Birth year / sex", f"{patient.birth_year or '—'} / {patient.sex or '—'}"))
    when = taken_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if taken_at else "—"
    rows += [("Assessment date", when),
             ("Facing", str(result.facing or "—")),
             ("Pose model / estimator", f"{result.pose_variant or '—'} / "
                                        f"{result.estimator_version or 'none'}")]
    pdf.set_font(pdf.family, "", 9.5)
    with pdf.table(col_widths=(45, 135), width=180, align="LEFT", first_row_as_headings=False,
                   borders_layout="NONE", line_height=5.2, text_align="LEFT") as table:
        for k, v in rows:
            r = table.row()
            r.cell(pdf.t(k), style=FontFace(emphasis="BOLD", color=MUTED))
            # one line each: a name of 200 line breaks made a row taller than the page
            r.cell(pdf.t(" ".join(clean_text(v).split())))


def _findings(pdf: Doc, result, photo, draw_landmarks,
              palpation: PalpationEstimate | None = None) -> None:
    pdf.heading("Findings")
    top = pdf.get_y()
    table_x, table_w = pdf.l_margin, 180.0
    bottom = top
    if photo is not None:
        img = _as_pil(photo if not draw_landmarks else
                      mark_landmarks(np.asarray(_as_pil(photo)), result.landmarks_px))
        w = 60.0
        h = min(110.0, w * img.height / img.width)
        w = h * img.width / img.height
        pdf.image(img, x=pdf.l_margin, y=top, w=w, h=h)
        bottom = top + h
        table_x, table_w = pdf.l_margin + 64.0, 116.0
    pdf.set_font(pdf.family, "", 8.8)
    pdf.set_xy(table_x, top)
    pdf.set_left_margin(table_x)  # the table and following text sit beside the photo
    heads = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT)
    with pdf.table(col_widths=(29, 16, 34, 37), width=table_w, align="LEFT", line_height=4.6,
                   headings_style=heads, text_align="LEFT", cell_fill_color=(242, 245, 249),
                   cell_fill_mode="ROWS") as table:
        r = table.row()
        for h_ in ("Metric", "Value", f"{_coverage_pct(result)} interval", "Convention"):
            r.cell(pdf.t(h_))
        for row in _metric_rows(result, palpation):
            r = table.row()
            for c in row:
                r.cell(pdf.t(c))
    pdf.ln(1)
    if result.pelvic_tilt_deg is not None:
        # no "?" in the report itself: a "?" in the PDF means a glyph no font had
        pdf.para("Which pelvic tilt is shown: " + WHICH_NUMBER, 7.8, muted=True)
    pdf.ln(1)
    _severity(pdf, result)
    pdf.set_left_margin(15)
    pdf.set_y(max(pdf.get_y(), bottom) + 2)


def front_kinds(r: Reading) -> tuple[str, ...]:
    """The views other than the side one that ``r`` was measured from ("front", "back";
    issue 28), in order; () for a side-only result (every result before issue 28)."""
    views = getattr(r, "views", None) or r.extra.get("views") or ()
    return tuple(v for v in views if v != "side")


def obliquity_flagged(r: Reading) -> bool:
    """Whether the pelvic obliquity is flagged (``obliquity_flag``: beyond
    ``thresholds.yaml`` frontal.obliquity_flag_deg)."""
    flag = getattr(r, "obliquity_flag", None)
    return (r.extra.get("obliquity_flag") if flag is None else flag) is True


def frontal_value(spec: MeasureSpec, v: float | None) -> str:
    """A frontal measure's value with its unit: degrees, or percent of stature."""
    if v is None:
        return "not measured"
    return deg(v) if spec.unit == "deg" else f"{100 * v + 0.0:+.1f}% of height"


def _frontal(pdf: Doc, result: Reading) -> None:
    """The front (or back) photo's measures, each with its unit, sign in words and
    interval, and the "see a clinician" note when the pelvic obliquity is flagged."""
    kinds = front_kinds(result)
    pdf.heading("Front view" if kinds == ("front",) else
                f"{' and '.join(k.capitalize() for k in kinds)} view")
    if obliquity_flagged(result):
        for note in _clinician_notes(result):
            pdf.para(note.title, 10, bold=True)
            pdf.para(note.why, 8.5)
    heads = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT)
    pdf.set_font(pdf.family, "", 8.8)
    with pdf.table(col_widths=(40, 30, 40, 70), width=180, align="LEFT", line_height=4.6,
                   headings_style=heads, text_align="LEFT") as table:
        r = table.row()
        for h_ in ("Measure", "Value", "Interval", "Sign"):
            r.cell(pdf.t(h_))
        for spec in (m for m in measures() if m.view != "side"):
            v, iv, _ = result.metric(spec.name)
            r = table.row()
            for c in (spec.label, frontal_value(spec, v),
                      "" if v is None else "not estimated" if iv is None else
                      f"{frontal_value(spec, iv[0])} to {frontal_value(spec, iv[1])}",
                      spec.sign):
                r.cell(pdf.t(c))
    pdf.para("Sides are the person's own (in a front photo their left is on the image's "
             "right). Severity and the plan's tilt come from the side view.", 7.8, muted=True)


def _clinician_notes(result: Reading):
    """The plan's "see a clinician" notes for ``result`` (plan_rules.yaml ``refer``), the
    obliquity flag taken from wherever the result holds it."""
    from dataclasses import replace

    from ..plan import PlanInput, clinician_notes, load_rules

    inp = replace(PlanInput.from_reading(result), obliquity_flag=True)
    return clinician_notes(inp, load_rules())


def _severity(pdf: Doc, result: Reading) -> None:
    if result.abstained or result.severity is None:
        pdf.para("Pelvic tilt was not graded: the tool abstained.", 9.5, bold=True)
        pdf.bullets([str(r) for r in result.reasons] or ["no reason given"], 8.5)
        guidance = list(result.retake_guidance)
        if guidance:
            pdf.para("To retake the photo:", 8.5)
            pdf.bullets(guidance, 8.5)
    else:
        label = result.band_text or result.severity
        pdf.para(f"Severity band: {label}", 10, bold=True)
        probs = result.severity_probabilities or {}
        if probs:
            top = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
            pdf.para("Band probabilities: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in top),
                     8.5)
    if result.severity_disclaimer:
        pdf.para(result.severity_disclaimer, 8, muted=True)
    if result.error is not None:
        pdf.para(f"Error [{result.error.code}]: {result.error.message}", 8.5)


def _clinical(pdf: Doc, thomas_test, notes, corrections) -> None:
    pdf.heading("Clinical details")
    pdf.para(f"Modified Thomas test: {THOMAS_LABELS.get(thomas_test, thomas_test)}", 9.5)
    if corrections:
        moved = ", ".join(f"{k} → ({float(v[0]):.0f}, {float(v[1]):.0f}) px"
                          for k, v in corrections.items())
        pdf.para(f"Landmarks corrected by the clinician: {moved}", 9.5)
    else:
        pdf.para("Landmarks: as detected (no corrections).", 9.5)
    if clean_text(notes).strip():
        pdf.para("Notes:", 9.5, bold=True)
        pdf.para(notes, 9.5, indent=3)
