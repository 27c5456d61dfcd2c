"""Clinic page views of saved records: patient choice, history, before/after, export, audit.

Every view of a patient's records, export and deletion is written to the audit trail with
the viewer's name (``posture.store``); no geometry or drawing here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from posture.change import mdc_sentence
from posture.palpation import WHICH_NUMBER, instruments
from posture.plan import THOMAS_LABELS
from posture.present.format import deg as fmt  # the PDFs' formatter too: one way to show °
from posture.store import SEXES, Patient, StoreError, compare, trend_rows
from posture.store.history import METRICS, palpation_by_record

from .clinic_auth import Viewer, allowed_now

ACCENT = "#1f4e79"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
THOMAS_LABEL = THOMAS_LABELS  # one definition (posture.plan)
NEXT = "clinic_select_next"  # patient to select on the next run (a new one)
log = logging.getLogger(__name__)


def esc(text: object) -> str:
    """User text made inert for Streamlit markdown (names and notes are not markup)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def fail(err: StoreError) -> None:
    st.error(f"{err.message} (code: {err.code})")


@contextmanager
def section(name: str) -> Iterator[None]:
    """One part of the page: an error in it is shown there, and the rest of the page (the
    other tabs, erasing a patient, the audit trail) still works."""
    try:
        yield
    except StoreError as err:
        fail(err)
    except Exception:  # the traceback goes to the server log, not to the viewer
        log.exception("clinic page: the %s section failed", name)
        st.error(f"The {name} section could not be shown (code: internal). The rest of "
                 "the page works; the server's log has the details.", icon="⚠️")


class ExportRefused(PermissionError):
    """A download clicked after the viewer's session ended (nothing made, nothing sent)."""


def gated_download(s, viewer: Viewer, label: str, build: Callable[[], bytes | str], *,
                   file_name: str, mime: str, key: str, detail: str,
                   patient_id: int | None = None, assessment_id: int | None = None,
                   admin: bool = False, where=st, icon: str = "⬇️") -> None:
    """A download button whose file is made only when it is clicked (Streamlit's deferred
    ``data``): the session is checked in the store at that moment, then the file is built
    and its "export" audit row written (actor: the session's user), and only then is the
    file handed over. Nothing is uploaded at render; an ended session gets no file."""
    def make() -> bytes | str:
        who = allowed_now(s, viewer, admin=admin)
        if who is None:
            raise ExportRefused(f"{detail}: the session has ended")
        data = build()
        s.log(who.name, "export", patient_id=patient_id, assessment_id=assessment_id,
              detail=detail)
        return data

    where.download_button(label, make, file_name=file_name, mime=mime, key=key, icon=icon)


# -- patient --------------------------------------------------------------------------

@st.dialog("New patient")
def new_patient_dialog(s, actor: str) -> None:
    with st.form("new_patient", border=False):
        pseudonym = st.text_input("Pseudonym (leave empty for a random one)", max_chars=64)
        name = st.text_input("Name (optional, personal data)", max_chars=200)
        year = st.number_input("Birth year (optional)", min_value=1900,
                               max_value=datetime.now().year, value=None, step=1)
        sex = st.selectbox("Sex (optional)", ["not recorded", *SEXES])
        if st.form_submit_button("Create patient", type="primary"):
            try:
                p = s.add_patient(pseudonym or None, name=name or None,
                                  birth_year=int(year) if year else None,
                                  sex=None if sex == "not recorded" else sex, actor=actor)
            except StoreError as err:
                fail(err)
            else:
                st.session_state[NEXT] = p.id  # selected on the next run, before the box
                st.rerun()  # the whole page: the dialog closes, the new patient is current


def choose_patient(s, actor: str) -> Patient | None:
    """The patient select box (options are ids: labels can never collide)."""
    patients = {p.id: p for p in s.list_patients()}
    c1, c2, _ = st.columns([3, 1, 2], vertical_alignment="bottom")
    if c2.button("New patient", icon="➕"):
        new_patient_dialog(s, actor)
    if not patients:
        c1.info("No patients yet: create the first one.", icon="👤")
        return None
    if st.session_state.get(NEXT) in patients:
        st.session_state["clinic_patient_select"] = st.session_state.pop(NEXT)
    if st.session_state.get("clinic_patient_select") not in patients:
        st.session_state["clinic_patient_select"] = next(iter(patients))
    pid = c1.selectbox("Patient", list(patients), key="clinic_patient_select",
                       format_func=lambda i: patients[i].label)
    return patients[pid]


def patient_header(p: Patient, n: int) -> None:
    details = [f"#{p.id}", f"name: {p.name}" if p.name else None,
               f"birth year {p.birth_year}" if p.birth_year else None, p.sex,
               f"{n} assessment{'s' if n != 1 else ''}"]
    st.markdown(f"### {esc(p.pseudonym)}")
    st.caption(" · ".join(esc(d) for d in details if d))


# -- history ----------------------------------------------------------------------------

def tilt_chart(recs) -> alt.LayerChart | None:
    """Pelvic tilt over time: each estimate with its 90% interval as a bar (visible for a
    single date too) over a shaded band joining them."""
    rows = [r for r in trend_rows(recs) if r["metric"] == METRICS[0].label]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    df["interval"] = [f"{fmt(a)} to {fmt(b)}" if pd.notna(a) else "not estimated"
                      for a, b in zip(df.lo, df.hi, strict=True)]
    x = alt.X("taken_at:T", title=None, scale=alt.Scale(padding=14),  # end bars inside
              axis=alt.Axis(format="%d %b %y", labelAngle=0, labelOverlap=True))
    y = alt.Y("value:Q", title="Pelvic tilt (°, + = anterior)",
              scale=alt.Scale(zero=False, padding=12))
    band = alt.Chart(df).mark_area(opacity=0.3, color="#8fb3d9").encode(
        x=x, y=alt.Y("lo:Q"), y2="hi:Q")
    bars = alt.Chart(df).mark_errorbar(ticks=True, color=ACCENT, thickness=2).encode(
        x=x, y=alt.Y("lo:Q", title="Pelvic tilt (°, + = anterior)"), y2="hi:Q")
    tip = [alt.Tooltip("taken_at:T", format="%d %b %Y", title="date"),
           alt.Tooltip("value:Q", format="+.1f", title="tilt (°)"), "interval:N"]
    line = alt.Chart(df).mark_line(color=ACCENT, strokeWidth=2.5, point=alt.OverlayMarkDef(
        size=70, filled=True)).encode(x=x, y=y, tooltip=tip)
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#999"
                                                         ).encode(y="y:Q")
    return (band + bars + zero + line).properties(height=300)


def metric_chart(rows: list[dict], label: str) -> alt.Chart:
    """One secondary metric over time (its own scale); the page gives it the width."""
    df = pd.DataFrame([r for r in rows if r["metric"] == label])
    return alt.Chart(df).mark_line(color=ACCENT, point=True).encode(
        x=alt.X("taken_at:T", title=None, scale=alt.Scale(padding=8),
                axis=alt.Axis(format="%d %b %y", labelAngle=0, labelOverlap=True)),
        y=alt.Y("value:Q", title="degrees", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("taken_at:T", format="%d %b %Y"),
                 alt.Tooltip("value:Q", format="+.1f")],
    ).properties(title=label, height=150)


def other_metrics(recs) -> None:
    """One small chart per secondary metric, two to a row, each as wide as its column
    (a facet of fixed-width charts ran off the right edge of narrow screens)."""
    rows = [r for r in trend_rows(recs) if r["metric"] != METRICS[0].label]
    labels = list(dict.fromkeys(r["metric"] for r in rows))
    if not labels:
        return
    st.markdown("**Other findings**")
    for i in range(0, len(labels), 2):
        cols = st.columns(2)
        for col, label in zip(cols, labels[i:i + 2], strict=False):
            col.altair_chart(metric_chart(rows, label), width="stretch")


def instrument_label(instrument: str) -> str:
    inst = instruments().get(instrument)
    return inst.label if inst else instrument


def meter_text(rec) -> str:
    """The reference reading entered beside an assessment, or "—"."""
    ref = rec.reference
    return "—" if ref is None else f"{fmt(ref[1])} ({instrument_label(ref[0])})"


def palpation_text(view) -> str:
    """A palpation-equivalent value with its interval, "calibrated" when it is."""
    e = None if view is None else view.estimate
    if e is None:
        return "—"
    lo, hi = e.interval_deg
    return f"{fmt(e.value_deg)} ({fmt(lo)} to {fmt(hi)}" + \
        (", calibrated)" if e.calibrated else ")")


def change_words(ch) -> str:
    """The verdict on a change for the page: the patient words with the MDC used."""
    if ch.change is None:
        return "—"
    if ch.threshold is None:
        return ch.words
    return f"{ch.words} (retakes vary up to ±{ch.threshold:.1f}°)"


def history_table(recs) -> pd.DataFrame:
    out = []
    palp = palpation_by_record(recs)
    for r in reversed(recs):
        iv = r.pelvic_tilt_interval_deg
        out.append({
            "#": r.id, "Date": r.taken_at.strftime("%Y-%m-%d"),
            "Pelvic tilt": fmt(r.pelvic_tilt_deg),
            "Interval": f"{fmt(iv[0])} to {fmt(iv[1])}" if iv else "—",
            "Palpation-equivalent": palpation_text(palp.get(r.id)),
            "Meter reading": meter_text(r),
            "Severity": r.reading.severity_label or ("abstained" if r.abstained else "—"),
            "Lordosis": fmt(r.reading.lumbar_lordosis_deg),
            "Ear–shoulder": fmt(r.reading.head_neck_angle_deg, False),
            "Thomas test": THOMAS_LABEL.get(r.thomas_test, r.thomas_test),
            "Corrected": "yes" if r.corrections else "", "Photo": "yes" if r.has_photo else "",
            "Notes": r.notes,
        })
    return pd.DataFrame(out)


#: Column widths of the history table, pixels: wide enough for "+10.0° to +18.0°" and a
#: date (a too narrow column cut the interval off).
HISTORY_COLUMNS = {"#": st.column_config.NumberColumn(width=50),
                   "Date": st.column_config.TextColumn(width=100),
                   "Pelvic tilt": st.column_config.TextColumn(width=90),
                   "Interval": st.column_config.TextColumn(width=150),
                   "Palpation-equivalent": st.column_config.TextColumn(width=230),
                   "Meter reading": st.column_config.TextColumn(width=190),
                   "Notes": st.column_config.TextColumn(width="large")}


def record_label(r) -> str:
    return f"{r.taken_at:%Y-%m-%d} · #{r.id} · tilt {fmt(r.pelvic_tilt_deg)}"


def pick(label: str, recs, index: int, where, key: str):
    """A select box of assessments (options are ids, the label holds the id too)."""
    by_id = {r.id: r for r in recs}
    if st.session_state.get(key) not in by_id:
        st.session_state.pop(key, None)
    rid = where.selectbox(label, list(by_id), index=index, key=key,
                          format_func=lambda i: record_label(by_id[i]))
    return by_id[rid]


def photo_rgb(s, rec):
    """The record's consented photo as RGB, or None."""
    if not rec.has_photo:
        return None
    from posture.images import load_image

    return load_image(s.photo(rec.id)).rgb


def stored_photo(s, rec):
    """The stored photo with landmarks, plumb line, grid and the pelvis line (or None)."""
    rgb = photo_rgb(s, rec)
    if rgb is None:
        return None
    from posture.present.compare import in_place

    return in_place(rgb, rec.result)


def history_tab(s, p: Patient, recs, viewer: Viewer) -> None:
    if not recs:
        st.info("No saved assessments yet. Analyse a photo under **New assessment**.",
                icon="📷")
        return
    measured = [r for r in recs if r.pelvic_tilt_deg is not None]
    last = recs[-1]
    c = st.columns(4)
    iv = last.pelvic_tilt_interval_deg
    c[0].metric("Latest pelvic tilt (postural)", fmt(last.pelvic_tilt_deg),
                f"90% interval {fmt(iv[0])} to {fmt(iv[1])}" if iv else None,
                delta_color="off", delta_arrow="off",
                help="Degrees; positive = anterior tilt. What the photo shows through the "
                     "skin, and what exercise changes.")
    view = palpation_by_record(recs).get(last.id)
    est = None if view is None else view.estimate
    c[1].metric("Palpation-equivalent" + (" (calibrated)" if est and est.calibrated else ""),
                fmt(est.value_deg) if est else "—",
                f"90% interval {fmt(est.interval_deg[0])} to {fmt(est.interval_deg[1])}"
                if est else None, delta_color="off", delta_arrow="off",
                help="What a palpation meter on the bone would read. " + WHICH_NUMBER)
    c[2].metric("Latest severity band", last.reading.severity_label or "not graded",
                help="This tool's heuristic bands, not a diagnosis")
    if len(measured) >= 2:
        ch = compare(measured[0], measured[-1]).change("pelvic_tilt")
        c[3].metric("Change since first", fmt(ch.change), ch.words,
                    delta_color="normal" if ch.exceeds_uncertainty else "off",
                    delta_arrow="off", help=mdc_sentence("pelvic_tilt"))
    st.caption(WHICH_NUMBER + " " + calibration_note(view))
    st.markdown("**Pelvic tilt over time** (bars and shading: 90% interval of each "
                "estimate)")
    chart = tilt_chart(recs)
    if chart is None:
        st.caption("No assessment has a measured pelvic tilt yet (all abstained).")
    else:
        st.altair_chart(chart, width="stretch")
    other_metrics(recs)
    st.dataframe(history_table(recs), hide_index=True, width="stretch",
                 column_config=HISTORY_COLUMNS)
    st.caption("Severity bands are this tool's heuristic, not a diagnosis; pelvis shape "
               "alone differs by up to 23° between people (Preece et al. 2008).")
    with st.expander("One assessment: photo, report, delete", icon="🗂️"):
        one_assessment(s, p, list(reversed(recs)), viewer)


def calibration_note(view) -> str:
    """Whether the palpation-equivalent is calibrated to the clinic's meter, in words."""
    if view is not None and view.calibration is not None:
        cal = view.calibration
        return (f"Calibrated once to your instrument, {instrument_label(cal.instrument)}: "
                f"its reading {fmt(cal.reference_deg)} beside assessment #{cal.assessment_id} "
                f"(the photo then read {fmt(cal.postural_deg)}) gives this patient's offset "
                f"{fmt(cal.offset_deg)} ± {cal.offset_sem_deg:.1f}° (1 SE), added to later "
                "photos.")
    return ("Not calibrated: enter a palpation-meter or inclinometer reading beside an "
            "assessment (below, under One assessment) and later visits show the "
            "palpation-equivalent calibrated to your instrument, with a narrower interval.")


def reference_form(s, rec, viewer: Viewer, where=st) -> None:
    """Enter, change or remove the reference reading beside one assessment (audited)."""
    ids = list(instruments())
    with where.form(f"clinic_ref_{rec.id}"):
        st.markdown("**Reference reading** (your palpation meter or inclinometer, this visit)")
        c1, c2 = st.columns(2)
        inst = c1.selectbox("Instrument", ids, format_func=instrument_label,
                            index=ids.index(rec.reference_instrument)
                            if rec.reference_instrument in ids else 0,
                            key=f"clinic_ref_inst_{rec.id}")
        value = c2.number_input("Pelvic tilt, ° (+ = anterior)", min_value=-90.0,
                                max_value=90.0, step=0.5, format="%.1f",
                                value=rec.reference_deg, key=f"clinic_ref_val_{rec.id}")
        go = st.form_submit_button("Save reading", icon="📏")
        drop = rec.reference is not None and st.form_submit_button("Remove reading")
    if not (go or drop):
        return
    if go and value is None:
        where.warning("Type the reading in degrees first.")
        return
    try:
        s.set_reference(rec.id, None if drop else inst, None if drop else float(value),
                        actor=viewer.name)
    except StoreError as err:
        fail(err)
        return
    st.rerun()


def frontal_rows(r) -> list[dict]:
    """The front (or back) view's measures of a reading, one row each: value with unit,
    90% interval and sign in words (registry-driven; issue 28)."""
    from posture.measures import measures
    from posture.present.report_pdf import frontal_value

    rows = []
    for m in (m for m in measures() if m.view != "side"):
        v, iv, _ = r.metric(m.name)
        rows.append({"Front view": m.label, "Value": frontal_value(m, v),
                     "Interval": "—" if iv is None or v is None else
                     f"{frontal_value(m, iv[0])} to {frontal_value(m, iv[1])}",
                     "Sign": m.sign})
    return rows


def one_assessment(s, p: Patient, recs, viewer: Viewer) -> None:
    rec = pick("Assessment", recs, 0, st, "clinic_detail")
    col1, col2 = st.columns([1, 2])
    img = stored_photo(s, rec)
    if img is not None:
        col1.image(img, caption="stored photo, landmarks used", width="stretch")
    else:
        col1.caption("No photo stored (no consent given).")
    col2.text(f"Notes: {rec.notes or '—'}")
    if rec.corrections:
        col2.text("Corrected landmarks: " + ", ".join(rec.corrections))
    col2.text(f"Meter reading: {meter_text(rec)}")
    from posture.present.report_pdf import front_kinds, obliquity_flagged

    if front_kinds(rec.reading):
        if obliquity_flagged(rec.reading):
            col2.warning("Pelvic obliquity flagged: see a clinician.", icon="🩺")
        col2.dataframe(pd.DataFrame(frontal_rows(rec.reading)), hide_index=True,
                       width="stretch")
    reference_form(s, rec, viewer, col2)

    def report() -> bytes:
        from posture.present.pdf_plan import plan_or_error
        from posture.present.report_pdf import build_report

        view = palpation_by_record(recs).get(rec.id)  # calibrated where a reading allows
        return build_report(rec.result, patient=p, record=rec, photo=img,
                            plan=plan_or_error(rec.reading, rec.thomas_test),
                            palpation=view.estimate if view else None)

    gated_download(s, viewer, "PDF report", report, where=col2, icon="📄",
                   file_name=f"posture-{p.pseudonym}-{rec.taken_at:%Y%m%d}.pdf",
                   mime="application/pdf", key="clinic_pdf_saved", patient_id=p.id,
                   assessment_id=rec.id, detail="PDF report")
    # the confirmation belongs to one record and is disarmed once used
    confirm = f"clinic_del_{rec.id}"
    if col2.checkbox("Delete this assessment", key=confirm) and col2.button(
            "Delete permanently", type="primary", key=f"clinic_del_go_{rec.id}"):
        try:
            s.delete_assessment(rec.id, actor=viewer.name)
        except StoreError as err:
            fail(err)
            return
        for k in (confirm, "clinic_detail"):
            st.session_state.pop(k, None)
        st.rerun()


# -- compare, export, audit -------------------------------------------------------------

def compare_tab(s, p: Patient, recs, viewer: Viewer) -> None:
    if len(recs) < 2:
        st.info("Two saved assessments are needed for a comparison.", icon="⚖️")
        return
    from posture.present.compare import (
        annotated,
        blend,
        change_interval,
        change_label,
        change_vary,
        method_of,
        with_header,
    )

    c1, c2 = st.columns(2)
    before = pick("Before", recs, 0, c1, "cmp_a")
    after = pick("After", recs, len(recs) - 1, c2, "cmp_b")
    # bare pictures are blended; each shown one gets its own header band (date, tilt)
    bare = [annotated(photo_rgb(s, r), r.result, header=False) for r in (before, after)]
    pics = [with_header(b, f"{r.taken_at:%Y-%m-%d}  #{r.id}", r.pelvic_tilt_deg)
            for b, r in zip(bare, (before, after), strict=True)]
    t = st.slider("Blend: before → after", 0.0, 1.0, 0.5, 0.05, key="cmp_blend",
                  help="0 shows the before picture, 1 the after picture")
    v1, v2, v3 = st.columns(3)
    v1.image(pics[0], caption="before", width="stretch")
    v2.image(pics[1], caption="after", width="stretch")
    v3.image(with_header(blend(*bare, t), f"blend {t:.2f}"),
             caption=f"blend {t:.2f} (0 = before, 1 = after)", width="stretch")
    st.caption("Aligned at the ankle and scaled to stature (from the ear–ankle height); "
               "yellow: plumb line through the ankle; grid every 10% of stature; red: "
               "pelvis line at the recorded tilt. Records without a photo show their "
               "landmarks.")
    c = compare(before, after)
    rows = [{"Metric": change_label(x),
             "Before": _with_interval(f"{fmt(x.before)} ({method_of(before, x.metric)})",
                                      change_interval(x, 0))
             if x.before is not None else "—",
             "After": _with_interval(f"{fmt(x.after)} ({method_of(after, x.metric)})",
                                     change_interval(x, 1))
             if x.after is not None else "—",
             "Change": fmt(x.change),
             "Retakes vary up to": change_vary(x),
             "Real change?": change_words(x) if x.change is not None else "—"}
            for x in c.changes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

    def progress() -> bytes:
        from posture.present.progress_pdf import build_progress_report

        return build_progress_report(p, recs, before, after, pics)

    gated_download(s, viewer, "Progress report (PDF)", progress, icon="📄", key="cmp_pdf",
                   file_name=f"posture-progress-{p.pseudonym}-{after.taken_at:%Y%m%d}.pdf",
                   mime="application/pdf", patient_id=p.id, assessment_id=after.id,
                   detail=f"progress PDF #{before.id} to #{after.id}")
    st.caption(f"{c.days_between:g} days apart. {mdc_sentence('pelvic_tilt')} The other "
               "findings use 5° (photo posture apps; not yet measured on this tool's "
               "retakes). Beside each value: how it was obtained."
               + (" Front-view measures: no retake figure yet, so their change is shown "
                  "and not judged." if any(x.view != "side" for x in c.changes) else ""))


def _with_interval(value: str, interval: str) -> str:
    return f"{value}, {interval}" if interval else value


def export_tab(s, p: Patient, viewer: Viewer) -> None:
    from posture.present.export import export_csv, export_json

    names = st.checkbox("Include names (personal data)", key="clinic_export_names")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    st.caption("Each file is made when you click it, and recorded in the audit trail.")
    for pid, title in ((p.id, esc(p.pseudonym)), (None, "Whole clinic")):
        tag = p.pseudonym if pid else "clinic"
        st.markdown(f"**{title}**")
        c1, c2 = st.columns(2)
        for col, kind, fn, mime in ((c1, "CSV", export_csv, "text/csv"),
                                    (c2, "JSON", export_json, "application/json")):
            def build(fn=fn, pid=pid) -> bytes | str:
                return fn(s, pid, include_names=names) if pid else fn(s, include_names=names)

            gated_download(s, viewer, kind, build, where=col, key=f"exp-{kind}-{pid}",
                           file_name=f"posture-{tag}-{stamp}.{kind.lower()}", mime=mime,
                           patient_id=pid,
                           detail=kind + (" with names" if names else "")
                           + ("" if pid else " (whole clinic)"))


def erase_section(s, p: Patient, viewer: Viewer) -> None:
    with st.expander("Erase this patient", icon="🗑️"):
        typed = st.text_input("Type the pseudonym to confirm", key=f"erase-{p.id}")
        if st.button("Erase patient and all assessments", disabled=typed != p.pseudonym):
            try:
                s.delete_patient(p.id, actor=viewer.name)
            except StoreError as err:
                fail(err)
                return
            st.session_state.pop("clinic_patient_select", None)
            st.rerun()


def audit_section(s, viewer: Viewer) -> None:
    """The audit trail, for admins: the latest entries and a CSV of all of it (made on
    click, audited like every export)."""
    with st.expander("Audit trail (admin)", icon="🧾"):
        rows = s.audit_trail(limit=200)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        from posture.store.audit import audit_csv

        gated_download(s, viewer, "Audit trail (CSV)", lambda: audit_csv(s), key="audit_csv",
                       file_name=f"posture-audit-{datetime.now(UTC):%Y%m%d}.csv",
                       mime="text/csv", detail="audit trail CSV", admin=True)
