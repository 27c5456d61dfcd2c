"""The plan as documents for people: a printable HTML page (pictures embedded) and plain
text (no server paths), both keeping the red-flag answers and the result's summary."""

from __future__ import annotations

import base64
import html
import textwrap
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from posture.contract import from_dict
from posture.result import Reading

from .screening import red_flag_questions

# A flex row stretches its items to the row's height: the pictures keep their own aspect
# ratio (align-self, object-fit), or they were squashed beside a long list of steps.
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:820px;margin:24px auto;
color:#1d1d1d;line-height:1.45;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px} h2{font-size:1.15em;margin:0 0 4px}
.meta{color:#555;font-size:.9em}
.item{display:flex;align-items:flex-start;gap:16px;border:1px solid #ccc;border-radius:8px;
padding:12px;margin:12px 0;page-break-inside:avoid;break-inside:avoid}
.item img{width:210px;height:auto;flex:none;align-self:flex-start;object-fit:contain;
border-radius:4px}
@media (max-width:520px){.item{flex-direction:column}.item img{width:100%;max-width:320px}}
.dose{font-weight:600} .why,.small{color:#444;font-size:.92em}
.flags{border:2px solid #c0392b;border-radius:8px;padding:8px 14px;margin-top:18px}
ol,ul{margin:4px 0 4px 20px;padding:0}
@media print{body{margin:0}.item{border-color:#999}}
"""


def _img(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        return ""
    b64 = base64.b64encode(p.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="">'


def _li(items) -> str:
    return "".join(f"<li>{html.escape(s)}</li>" for s in items)


def _cov(r: Reading) -> str:
    """The interval's coverage as a percentage (it is editable in thresholds.yaml)."""
    from posture.config import thresholds

    return f"{r.interval_coverage or thresholds()['estimate']['interval_coverage']:.0%}"


def _answers_lines(answers: Mapping[str, bool | None] | None) -> list[str]:
    if not answers:
        return []
    return [f"{'YES' if v else 'no' if v is not None else 'not answered'}: {q.question}"
            for q in red_flag_questions() for v in [answers.get(q.flag)]]


def plan_text(plan, result: dict | None = None,
              answers: Mapping[str, bool | None] | None = None, *,
              today: date | None = None, width: int = 88) -> str:
    """The plan as plain text for a download: no server file paths, the red-flag answers
    kept (``answers`` as for :func:`screening_outcome`)."""
    today = today or date.today()

    def wrap(text: str, first: str = "", rest: str | None = None) -> str:
        return textwrap.fill(text, width, initial_indent=first,
                             subsequent_indent=first if rest is None else rest,
                             break_on_hyphens=False)

    out = ["EXERCISE PLAN", "=============", f"Made {today.isoformat()} with posture.", ""]
    r = from_dict(result, strict=False) if result else None
    if r is not None and r.pelvic_tilt_deg is not None:
        iv = r.pelvic_tilt_interval_deg
        rng = f" ({_cov(r)} interval {iv[0]:+.0f}° to {iv[1]:+.0f}°)" if iv else ""
        out += [wrap(f"Pelvic tilt {r.pelvic_tilt_deg:+.1f}°{rng}; "
                     f"{r.band_text or 'not graded'}."), ""]
    lines = _answers_lines(answers)
    if lines:
        out.append("Safety questions (your answers):")
        out += [wrap(s, "  - ", "    ") for s in lines]
        out.append("")
    out += [wrap(plan.headline), ""]
    for note in plan.clinician_notes:  # before the exercises: they are not the only advice
        out += [wrap(note.title), wrap(note.why, "  "), ""]
    if plan.retake_guidance:
        out.append("How to retake the photo:")
        out += [wrap(g, "  - ", "    ") for g in plan.retake_guidance]
        out.append("")
    for n, it in enumerate(plan.items, 1):
        out.append(f"{n}. {it.name}  [{it.kind}]")
        out.append(wrap(it.dose_text, "   Dose: ", "         "))
        out.append(wrap(it.why, "   Why:  ", "         "))
        out += [wrap(s, f"     {i}. ", "        ") for i, s in enumerate(it.steps, 1)]
        for label, text in (("Easier", it.easier), ("Harder", it.harder)):
            if text:
                out.append(wrap(text, f"   {label}: ", "         "))
        out += [wrap(c, "   Care: ", "         ") for c in it.cautions]
        out.append("")
    if plan.notes:
        out.append("Notes:")
        out += [wrap(n, "  - ", "    ") for n in plan.notes]
        out.append("")
    out.append(wrap(plan.red_flags_intro))
    out += [wrap(r, "  - ", "    ") for r in plan.red_flags]
    out += ["", wrap(plan.disclaimer)]
    return "\n".join(out) + "\n"


def plan_html(plan, result: dict | None = None,
              answers: Mapping[str, bool | None] | None = None, *,
              today: date | None = None) -> str:
    """The plan as one HTML document (``posture.plan.Plan``; ``result`` for the summary)."""
    e = html.escape
    today = today or date.today()
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>Exercise plan ({today.isoformat()})</title><style>{_CSS}</style></head>",
           "<body><h1>Exercise plan</h1>",
           f"<p class='meta'>Made {today.isoformat()} with posture.</p>"]
    r = from_dict(result, strict=False) if result else None
    if r is not None and r.pelvic_tilt_deg is not None:
        iv = r.pelvic_tilt_interval_deg
        rng = f" ({_cov(r)} interval {iv[0]:+.0f}° to {iv[1]:+.0f}°)" if iv else ""
        out.append(f"<p class='meta'>Pelvic tilt {r.pelvic_tilt_deg:+.1f}°{rng}; "
                   f"{e(r.band_text or '')}.</p>")
    lines = _answers_lines(answers)
    if lines:
        out.append(f"<h2>Safety questions (your answers)</h2><ul class='small'>{_li(lines)}"
                   "</ul>")
    out.append(f"<p><b>{e(plan.headline)}</b></p>")
    for note in plan.clinician_notes:
        out.append(f"<div class='flags'><p><b>{e(note.title)}</b></p>"
                   f"<p class='small'>{e(note.why)}</p></div>")
    if plan.retake_guidance:
        out.append(f"<h2>How to retake the photo</h2><ul>{_li(plan.retake_guidance)}</ul>")
    for n, it in enumerate(plan.items, 1):
        out.append("<div class='item'>" + _img(it.image_path) + "<div>")
        out.append(f"<h2>{n}. {e(it.name)} <span class='small'>({e(it.kind)})</span></h2>")
        out.append(f"<div class='dose'>{e(it.dose_text)}</div>")
        out.append(f"<div class='why'>{e(it.why)}</div><ol>{_li(it.steps)}</ol>")
        extra = [f"Easier: {it.easier}", f"Harder: {it.harder}", *it.cautions]
        out.append(f"<ul class='small'>{_li(s for s in extra if s.split(': ', 1)[-1])}</ul>")
        out.append("</div></div>")
    if plan.notes:
        out.append(f"<h2>Notes</h2><ul class='small'>{_li(plan.notes)}</ul>")
    g = plan.thomas_test_guide
    if g is not None:
        out.append(f"<h2>Self-check: {e(g.name)}</h2><p class='small'>{e(g.needs)}</p>"
                   f"<ol class='small'>{_li(g.steps)}</ol><ul class='small'>"
                   f"{_li(g.interpret)}</ul><p class='small'>{e(g.caveat)}</p>")
    out.append(f"<div class='flags'><p><b>{e(plan.red_flags_intro)}</b></p>"
               f"<ul>{_li(plan.red_flags)}</ul></div>")
    out.append(f"<p class='small'>{e(plan.disclaimer)}</p></body></html>")
    return "".join(out)
