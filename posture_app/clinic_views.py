"""Clinic page views of saved records: patient choice, history, before/after, export, audit.

Every view of a patient's records, export and deletion is written to the audit trail with
the viewer's name (``posture.store``); no geometry or drawing here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from posture.plan import THOMAS_LABELS
from posture.store import SEXES, Patient, StoreError, compare, trend_rows
from posture.store.history import METRICS

ACCENT = "#1f4e79"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
THOMAS_LABEL = THOMAS_LABELS  # one definition (posture.plan)
NEXT = "clinic_select_next"  # patient to select on the next run (a new one)


def esc(text: object) -> str:
    """User text made inert for Streamlit markdown (names and notes are not markup)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def fmt(v: float | None, signed: bool = True) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}°" if signed else f"{v:.1f}°"


def fail(err: StoreError) -> None:
    st.error(f"{err.message} (code: {err.code})")


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

def tilt_chart(recs) -> alt.Chart | None:
    rows = [r for r in trend_rows(recs) if r["metric"] == METRICS[0].label]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    df["interval"] = [f"{fmt(a)} to {fmt(b)}" if pd.notna(a) else "not estimated"
                      for a, b in zip(df.lo, df.hi, strict=True)]
    x = alt.X("taken_at:T", title=None,
              axis=alt.Axis(format="%b %Y", tickCount="month", labelAngle=0))
    band = alt.Chart(df).mark_area(opacity=0.18, color=ACCENT).encode(
        x=x, y=alt.Y("lo:Q", title="Pelvic tilt (°, + = anterior)"), y2="hi:Q")
    tip = [alt.Tooltip("taken_at:T", format="%d %b %Y"),
           alt.Tooltip("value:Q", format="+.1f"), "interval:N"]
    line = alt.Chart(df).mark_line(color=ACCENT, strokeWidth=2.5, point=alt.OverlayMarkDef(
        size=70, filled=True)).encode(x=x, y="value:Q", tooltip=tip)
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#999"
                                                         ).encode(y="y:Q")
    return (band + zero + line).properties(height=300)


def other_metrics_chart(recs) -> alt.FacetChart | None:
    """One small trend chart per secondary metric (own y scale), from the long-form rows."""
    rows = [r for r in trend_rows(recs) if r["metric"] != METRICS[0].label]
    if not rows:
        return None
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("taken_at:T", title=None, axis=alt.Axis(format="%b %y", labelAngle=0)),
        y=alt.Y("value:Q", title="°", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("taken_at:T", format="%d %b %Y"), "metric:N",
                 alt.Tooltip("value:Q", format="+.1f")])
    return base.mark_line(color=ACCENT, point=True).properties(width=200, height=130).facet(
        facet=alt.Facet("metric:N", title=None), columns=4).resolve_scale(y="independent")


def history_table(recs) -> pd.DataFrame:
    out = []
    for r in reversed(recs):
        iv = r.pelvic_tilt_interval_deg
        out.append({
            "#": r.id, "Date": r.taken_at.strftime("%Y-%m-%d"),
            "Pelvic tilt": fmt(r.pelvic_tilt_deg),
            "Interval": f"{fmt(iv[0])} to {fmt(iv[1])}" if iv else "—",
            "Severity": r.reading.severity_label or ("abstained" if r.abstained else "—"),
            "Lordosis": fmt(r.reading.lumbar_lordosis_deg),
            "Ear–shoulder": fmt(r.reading.head_neck_angle_deg, False),
            "Thomas test": THOMAS_LABEL.get(r.thomas_test, r.thomas_test),
            "Corrected": "yes" if r.corrections else "", "Photo": "yes" if r.has_photo else "",
            "Notes": r.notes,
        })
    return pd.DataFrame(out)


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


def history_tab(s, p: Patient, recs, actor: str) -> None:
    if not recs:
        st.info("No saved assessments yet. Analyse a photo under **New assessment**.",
                icon="📷")
        return
    measured = [r for r in recs if r.pelvic_tilt_deg is not None]
    last = recs[-1]
    c = st.columns(3)
    iv = last.pelvic_tilt_interval_deg
    c[0].metric("Latest pelvic tilt", fmt(last.pelvic_tilt_deg),
                f"90% interval {fmt(iv[0])} to {fmt(iv[1])}" if iv else None,
                delta_color="off", delta_arrow="off", help="Degrees; positive = anterior tilt")
    c[1].metric("Latest severity band", last.reading.severity_label or "not graded",
                help="This tool's heuristic bands, not a diagnosis")
    if len(measured) >= 2:
        ch = compare(measured[0], measured[-1]).change("pelvic_tilt")
        c[2].metric("Change since first", fmt(ch.change),
                    ("beyond" if ch.exceeds_uncertainty else "within")
                    + f" uncertainty (±{ch.threshold:.1f}°)",
                    delta_color="normal" if ch.exceeds_uncertainty else "off",
                    delta_arrow="off", help=f"Rule: {ch.rule} (see Before / after)")
    st.markdown("**Pelvic tilt over time** (shaded: 90% interval of each estimate)")
    chart = tilt_chart(recs)
    if chart is None:
        st.caption("No assessment has a measured pelvic tilt yet (all abstained).")
    else:
        st.altair_chart(chart, width="stretch")
    others = other_metrics_chart(recs)
    if others is not None:
        st.markdown("**Other findings**")
        st.altair_chart(others)
    st.dataframe(history_table(recs), hide_index=True, width="stretch")
    st.caption("Severity bands are this tool's heuristic, not a diagnosis; pelvis shape "
               "alone differs by up to 23° between people (Preece et al. 2008).")
    with st.expander("One assessment: photo, report, delete", icon="🗂️"):
        one_assessment(s, p, list(reversed(recs)), actor)


def one_assessment(s, p: Patient, recs, actor: str) -> None:
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
    col2.download_button("PDF report", report_for(p, rec, img), icon="📄",
                         file_name=f"posture-{p.pseudonym}-{rec.taken_at:%Y%m%d}.pdf",
                         mime="application/pdf", key="clinic_pdf_saved", on_click=s.log,
                         args=(actor, "export"), kwargs={"patient_id": p.id,
                                                         "assessment_id": rec.id,
                                                         "detail": "PDF report"})
    # the confirmation belongs to one record and is disarmed once used
    confirm = f"clinic_del_{rec.id}"
    if col2.checkbox("Delete this assessment", key=confirm) and col2.button(
            "Delete permanently", type="primary", key=f"clinic_del_go_{rec.id}"):
        try:
            s.delete_assessment(rec.id, actor=actor)
        except StoreError as err:
            fail(err)
            return
        for k in (confirm, "clinic_detail"):
            st.session_state.pop(k, None)
        st.rerun()


@st.cache_data(show_spinner="Building the report…", max_entries=8)
def _report_bytes(_p, _rec, _img, key: tuple) -> bytes:
    from posture.present.report_pdf import build_report

    return build_report(_rec.result, patient=_p, record=_rec, photo=_img)


def report_for(p, rec, img) -> bytes:
    return _report_bytes(p, rec, img, (p.id, rec.id, p.name, rec.notes))


# -- compare, export, audit -------------------------------------------------------------

def compare_tab(s, p: Patient, recs, actor: str) -> None:
    if len(recs) < 2:
        st.info("Two saved assessments are needed for a comparison.", icon="⚖️")
        return
    from posture.present.compare import annotated, blend

    c1, c2 = st.columns(2)
    before = pick("Before", recs, 0, c1, "cmp_a")
    after = pick("After", recs, len(recs) - 1, c2, "cmp_b")
    pics = [annotated(photo_rgb(s, r), r.result, f"{r.taken_at:%Y-%m-%d}  #{r.id}")
            for r in (before, after)]
    t = st.slider("Blend: before → after", 0.0, 1.0, 0.0, 0.05, key="cmp_blend",
                  help="0 shows the before picture, 1 the after picture")
    v1, v2, v3 = st.columns(3)
    v1.image(pics[0], caption="before", width="stretch")
    v2.image(pics[1], caption="after", width="stretch")
    v3.image(blend(*pics, t), caption=f"blend {t:.2f}", width="stretch")
    st.caption("Aligned at the ankle and scaled to stature (from the ear–ankle height); "
               "yellow: plumb line through the ankle; grid every 10% of stature; red: "
               "pelvis line at the recorded tilt. Records without a photo show their "
               "landmarks.")
    c = compare(before, after)
    rows = [{"Metric": x.label, "Before": fmt(x.before), "After": fmt(x.after),
             "Change": fmt(x.change), "Threshold": "—" if x.threshold is None
             else f"±{x.threshold:.1f}°",
             "Beyond uncertainty": {True: "yes", False: "no", None: "—"}[x.exceeds_uncertainty]}
            for x in c.changes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    progress_button(s, p, recs, before, after, pics, actor)
    st.caption(f"{c.days_between:g} days apart. A change counts as beyond the measurement's "
               "uncertainty when it exceeds √(h₁² + h₂²), the half-widths of the two 90% "
               "intervals combined, or, where an interval is missing, the minimal detectable "
               "change of photo posture measures (5°).")


@st.cache_data(show_spinner="Building the progress report…", max_entries=4)
def _progress_bytes(_p, _recs, _before, _after, _pics, key: tuple) -> bytes:
    from posture.present.progress_pdf import build_progress_report

    return build_progress_report(_p, _recs, _before, _after, _pics)


def progress_button(s, p: Patient, recs, before, after, pics, actor: str) -> None:
    key = (p.id, p.name, tuple((r.id, r.thomas_test) for r in recs), before.id, after.id)
    data = _progress_bytes(p, recs, before, after, pics, key)
    st.download_button("Progress report (PDF)", data, icon="📄", key="cmp_pdf",
                       file_name=f"posture-progress-{p.pseudonym}-{after.taken_at:%Y%m%d}.pdf",
                       mime="application/pdf", on_click=s.log, args=(actor, "export"),
                       kwargs={"patient_id": p.id, "assessment_id": after.id,
                               "detail": f"progress PDF #{before.id} to #{after.id}"})


def export_tab(s, p: Patient, actor: str) -> None:
    from posture.present.export import export_csv, export_json

    names = st.checkbox("Include names (personal data)", key="clinic_export_names")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    for pid, title in ((p.id, esc(p.pseudonym)), (None, "Whole clinic")):
        tag = p.pseudonym if pid else "clinic"
        st.markdown(f"**{title}**")
        c1, c2 = st.columns(2)
        for col, kind, fn, mime in ((c1, "CSV", export_csv, "text/csv"),
                                    (c2, "JSON", export_json, "application/json")):
            data = fn(s, pid, include_names=names) if pid else fn(s, include_names=names)
            col.download_button(kind, data, icon="⬇️", key=f"exp-{kind}-{pid}",
                                file_name=f"posture-{tag}-{stamp}.{kind.lower()}", mime=mime,
                                on_click=s.log, args=(actor, "export"),
                                kwargs={"patient_id": pid, "detail": kind + (
                                    " with names" if names else "")})
    with st.expander("Erase this patient", icon="🗑️"):
        typed = st.text_input("Type the pseudonym to confirm", key=f"erase-{p.id}")
        if st.button("Erase patient and all assessments", disabled=typed != p.pseudonym):
            try:
                s.delete_patient(p.id, actor=actor)
            except StoreError as err:
                fail(err)
                return
            st.session_state.pop("clinic_patient_select", None)
            st.rerun()


def audit_section(s) -> None:
    """The audit trail, for admins: the latest entries and a CSV of all of it."""
    with st.expander("Audit trail (admin)", icon="🧾"):
        rows = s.audit_trail(limit=200)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        from posture.store.audit import audit_csv

        st.download_button("Audit trail (CSV)", audit_csv(s), icon="⬇️", key="audit_csv",
                           file_name=f"posture-audit-{datetime.now(UTC):%Y%m%d}.csv",
                           mime="text/csv")
