"""Clinic: patients, assessments with landmark correction, history, comparison, reports.

A thin layer over ``posture.store`` (records, trends, comparison), ``posture.analysis``
(``reassess`` after corrections) and ``posture.present`` (overlay, PDF, export): no
geometry here. Nothing is stored until the clinician presses Save; the photo only with the
patient's consent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, time

import altair as alt
import pandas as pd
import streamlit as st

from posture.errors import PostureError
from posture.store import (
    SEXES,
    THOMAS_ANSWERS,
    Patient,
    StoreError,
    compare,
    default_location,
    encode_jpeg,
    open_store,
    trend,
)
from posture.store.history import METRICS

ACCENT = "#1f4e79"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_THOMAS_LABEL = {None: "not done", "yes": "yes (tight)", "no": "no", "unsure": "unsure"}


def esc(text: object) -> str:
    """User text made inert for Streamlit markdown (names and notes are not markup)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def fmt(v: float | None, signed: bool = True) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}°" if signed else f"{v:.1f}°"


@st.cache_resource(show_spinner=False)
def get_store(location: str):
    return open_store(location)


def store():
    try:
        return get_store(default_location())
    except PostureError as err:
        st.error(f"The clinic database cannot be opened: {err.message} (code: {err.code})")
        st.stop()


# -- patient --------------------------------------------------------------------------

def new_patient_form(s) -> None:
    with st.popover("New patient", icon="➕"):
        with st.form("new_patient", clear_on_submit=True, border=False):
            pseudonym = st.text_input("Pseudonym (leave empty for a random one)", max_chars=64)
            name = st.text_input("Name (optional, personal data)", max_chars=200)
            year = st.number_input("Birth year (optional)", min_value=1900,
                                   max_value=datetime.now().year, value=None, step=1)
            sex = st.selectbox("Sex (optional)", ["not recorded", *SEXES])
            if st.form_submit_button("Create patient", type="primary"):
                try:
                    p = s.add_patient(pseudonym or None, name=name or None,
                                      birth_year=int(year) if year else None,
                                      sex=None if sex == "not recorded" else sex)
                except StoreError as err:
                    st.error(f"{err.message} (code: {err.code})")
                else:
                    st.session_state["clinic_patient"] = p.id
                    st.rerun()


def choose_patient(s) -> Patient | None:
    patients = s.list_patients()
    ids = [p.id for p in patients]
    c1, c2, _ = st.columns([3, 1, 2], vertical_alignment="bottom")
    with c2:
        new_patient_form(s)
    if not patients:
        c1.info("No patients yet: create the first one.", icon="👤")
        return None
    # options are the (unique) labels: plain strings survive reruns and tests alike
    by_label = {p.label: p for p in patients}
    current = st.session_state.get("clinic_patient")
    index = ids.index(current) if current in ids else 0
    with c1:
        label = st.selectbox("Patient", list(by_label), index=index, key="clinic_patient_select")
    pid = by_label[label].id
    st.session_state["clinic_patient"] = pid
    return next(p for p in patients if p.id == pid)


def patient_header(p: Patient, n: int) -> None:
    details = [f"birth year {p.birth_year}" if p.birth_year else None, p.sex,
               f"{n} assessment{'s' if n != 1 else ''}"]
    st.markdown(f"### {esc(p.pseudonym)}" + (f" · {esc(p.name)}" if p.name else ""))
    st.caption(" · ".join(esc(d) for d in details if d))


# -- history ----------------------------------------------------------------------------

def tilt_chart(recs) -> alt.Chart | None:
    pts = [x for x in trend(recs, ["pelvic_tilt"])["pelvic_tilt"] if x.value is not None]
    if not pts:
        return None
    df = pd.DataFrame({"date": [x.taken_at for x in pts], "tilt": [x.value for x in pts],
                       "lo": [x.lo for x in pts], "hi": [x.hi for x in pts]})
    df["interval"] = [f"{fmt(a)} to {fmt(b)}" if a is not None else "not estimated"
                      for a, b in zip(df.lo, df.hi, strict=True)]
    x = alt.X("date:T", title=None,
              axis=alt.Axis(format="%b %Y", tickCount="month", labelAngle=0))
    band = alt.Chart(df).mark_area(opacity=0.18, color=ACCENT).encode(
        x=x, y=alt.Y("lo:Q", title="Pelvic tilt (°, + = anterior)"), y2="hi:Q")
    bars = alt.Chart(df).mark_rule(color=ACCENT, opacity=0.5).encode(x=x, y="lo:Q", y2="hi:Q")
    tip = [alt.Tooltip("date:T", format="%d %b %Y"), alt.Tooltip("tilt:Q", format="+.1f"),
           "interval:N"]
    line = alt.Chart(df).mark_line(color=ACCENT, strokeWidth=2.5,
                                   point=alt.OverlayMarkDef(size=70, filled=True)).encode(
        x=x, y="tilt:Q", tooltip=tip)
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#999"
                                                         ).encode(y="y:Q")
    return (band + bars + zero + line).properties(height=300)


def metric_chart(recs, spec) -> alt.Chart | None:
    """Small trend chart of one secondary metric, with its interval band when it has one."""
    rows = [{"date": x.taken_at, "value": x.value,
             "lo": x.value if x.lo is None else x.lo, "hi": x.value if x.hi is None else x.hi}
            for x in trend(recs, [spec.name])[spec.name] if x.value is not None]
    if not rows:
        return None
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %y", tickCount="month",
                                                    labelAngle=0)))
    band = base.mark_area(opacity=0.15, color=ACCENT).encode(y="lo:Q", y2="hi:Q")
    line = base.mark_line(color=ACCENT, point=True).encode(
        y=alt.Y("value:Q", title="°", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("date:T", format="%d %b %Y"),
                 alt.Tooltip("value:Q", format="+.1f")])
    return (band + line).properties(height=160, title=alt.Title(
        spec.label, subtitle=spec.convention, fontSize=13, subtitleFontSize=11,
        anchor="start"))


def history_table(recs) -> pd.DataFrame:
    out = []
    for r in reversed(recs):
        iv = r.pelvic_tilt_interval_deg
        out.append({
            "Date": r.taken_at.strftime("%Y-%m-%d"),
            "Pelvic tilt": fmt(r.pelvic_tilt_deg),
            "Interval": f"{fmt(iv[0])} to {fmt(iv[1])}" if iv else "—",
            "Severity": r.result.get("severity_label") or ("abstained" if r.abstained else "—"),
            "Lordosis": fmt(r.result.get("lumbar_lordosis_deg")),
            "Ear–shoulder": fmt(r.result.get("head_neck_angle_deg"), False),
            "Thomas test": _THOMAS_LABEL.get(r.thomas_test, r.thomas_test),
            "Corrected": "yes" if r.corrections else "",
            "Photo": "yes" if r.has_photo else "",
            "Notes": r.notes,
        })
    return pd.DataFrame(out)


def stored_photo(s, rec):
    if not rec.has_photo:
        return None
    from posture.images import load_image
    from posture.present.report_pdf import mark_landmarks

    return mark_landmarks(load_image(s.photo(rec.id)).rgb, rec.landmarks_px)


def record_label(r) -> str:
    return f"{r.taken_at:%Y-%m-%d} · #{r.id} · tilt {fmt(r.pelvic_tilt_deg)}"


def pick(label: str, recs, index: int, where, key: str):
    """A select box of assessments (labels are unique: they hold the id)."""
    by_label = {record_label(r): r for r in recs}
    return by_label[where.selectbox(label, list(by_label), index=index, key=key)]


def history_tab(s, p: Patient, recs) -> None:
    if not recs:
        st.info("No saved assessments yet. Analyse a photo under **New assessment**.",
                icon="📷")
        return
    measured = [r for r in recs if r.pelvic_tilt_deg is not None]
    last = recs[-1]
    c = st.columns(4)
    iv = last.pelvic_tilt_interval_deg
    c[0].metric("Latest pelvic tilt", fmt(last.pelvic_tilt_deg),
                f"90% interval {fmt(iv[0])} to {fmt(iv[1])}" if iv else None,
                delta_color="off", delta_arrow="off", help="Degrees; positive = anterior tilt")
    c[1].metric("Latest severity band", last.result.get("severity_label") or "not graded",
                help="This tool's heuristic bands, not a diagnosis")
    if len(measured) >= 2:
        ch = compare(measured[0], measured[-1]).change("pelvic_tilt")
        c[2].metric("Change since first", fmt(ch.change),
                    ("beyond" if ch.exceeds_uncertainty else "within")
                    + f" uncertainty (±{ch.threshold:.1f}°)",
                    delta_color="normal" if ch.exceeds_uncertainty else "off",
                    delta_arrow="off", help=f"Rule: {ch.rule} (see Before / after)")
    else:
        c[2].metric("Change since first", "—")
    abstained = len(recs) - len(measured)
    c[3].metric("Assessments", f"{len(recs)}",
                f"{abstained} without a tilt (abstained)" if abstained else None,
                delta_color="off", delta_arrow="off",
                help=f"{recs[0].taken_at:%d %b %Y} to {last.taken_at:%d %b %Y}")

    st.markdown("**Pelvic tilt over time** (shaded: 90% interval of each estimate)")
    chart = tilt_chart(recs)
    if chart is None:
        st.caption("No assessment has a measured pelvic tilt yet (all abstained).")
    else:
        st.altair_chart(chart, width="stretch")
    charts = [c for c in (metric_chart(recs, spec) for spec in METRICS[1:]) if c is not None]
    if charts:
        st.markdown("**Other findings**")
        for col, chart in zip(st.columns(len(charts)), charts, strict=True):
            col.altair_chart(chart, width="stretch")
    st.dataframe(history_table(recs), hide_index=True, width="stretch")
    st.caption("Severity bands are this tool's heuristic, not a diagnosis; pelvis shape "
               "alone differs by up to 23° between people (Preece et al. 2008).")

    with st.expander("One assessment: photo, report, delete", icon="🗂️"):
        rec = pick("Assessment", list(reversed(recs)), 0, st, "clinic_detail")
        col1, col2 = st.columns([1, 2])
        img = stored_photo(s, rec)
        if img is not None:
            col1.image(img, caption="stored photo, landmarks used", width="stretch")
        else:
            col1.caption("No photo stored (no consent given).")
        col2.text(f"Notes: {rec.notes or '—'}")
        if rec.corrections:
            col2.text("Corrected landmarks: " + ", ".join(rec.corrections))
        col2.download_button("PDF report", report_for(p, rec, img),
                             file_name=f"posture-{p.pseudonym}-{rec.taken_at:%Y%m%d}.pdf",
                             mime="application/pdf", icon="📄", key="clinic_pdf_saved")
        if col2.checkbox("Delete this assessment", key="clinic_del_confirm") and col2.button(
                "Delete permanently", type="primary"):
            s.delete_assessment(rec.id)
            st.rerun()


@st.cache_data(show_spinner="Building the report…", max_entries=8)
def _report_bytes(_p, _rec, _img, key: tuple) -> bytes:
    from posture.present.report_pdf import build_report

    return build_report(_rec.result, patient=_p, record=_rec, photo=_img)


def report_for(p, rec, img) -> bytes:
    return _report_bytes(p, rec, img, (p.id, rec.id, p.name, rec.notes))


# -- new assessment ---------------------------------------------------------------------

def analyse_upload(data: bytes):
    """(frame, assessment) of an upload, or a PostureError; cached per session by hash."""
    from posture.images import load_image
    from posture_app.engine import session_analyzer

    digest = hashlib.sha256(data).hexdigest()
    cache = st.session_state.setdefault("clinic_analysis", {})
    if digest not in cache:
        cache.clear()  # one photo in memory at a time
        try:
            frame = load_image(data)
            analyzer, lock = session_analyzer()
            with lock:
                cache[digest] = (frame, analyzer.analyze(frame))
        except PostureError as err:
            cache[digest] = err
    return digest, cache[digest]


def correction_form(digest: str, a, size: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """Sliders for the key points; returns the points moved from their detected place."""
    from posture.analysis import CORRECTABLE
    from posture.present.overlay import pelvis_line_px

    w, h = size
    detected = {n: tuple(float(v) for v in a.side.points_px[f"{n}_near"])
                for n in CORRECTABLE[:5]}
    ends = pelvis_line_px(a)
    hip = detected["hip"]
    fwd = 1.0 if a.facing == "right" else -1.0
    detected["psis"] = tuple(map(float, ends[0])) if ends is not None else (
        hip[0] - fwd * 0.04 * h, hip[1] - 0.04 * h)
    detected["asis"] = tuple(map(float, ends[1])) if ends is not None else (
        hip[0] + fwd * 0.04 * h, hip[1] - 0.04 * h)
    place_pelvis = st.checkbox("Place ASIS and PSIS by hand (replaces the estimated tilt)",
                               key=f"pelvis-{digest}")
    names = [n for n in CORRECTABLE if place_pelvis or n not in ("asis", "psis")]
    # our own dict: Streamlit forgets the sliders of points not shown in this run
    moved = st.session_state.setdefault("clinic_corrections", {}).setdefault(digest, {})
    point = st.radio("Point", names, horizontal=True, key=f"point-{digest}")
    home = tuple(int(round(v)) for v in detected[point])
    x0, y0 = moved.get(point, home)
    x = st.slider("x (px)", 0, w - 1, int(x0), key=f"x-{digest}-{point}")
    y = st.slider("y (px)", 0, h - 1, int(y0), key=f"y-{digest}-{point}")
    if (x, y) != home:
        moved[point] = (x, y)
    else:
        moved.pop(point, None)
    corr = {n: (float(v[0]), float(v[1])) for n, v in moved.items() if n in names}
    if place_pelvis:  # reassess uses the pelvis points only as a pair
        for n in ("asis", "psis"):
            corr.setdefault(n, detected[n])
    if st.button("Reset corrections", key=f"reset-{digest}"):
        moved.clear()
        stale = [k for k in st.session_state
                 if digest in str(k) and not str(k).startswith("reset-")]
        for k in stale:
            del st.session_state[k]
        st.rerun()
    return corr


def drawable(a):
    """``a`` as draw_overlay can label it: its label expects an interval beside every tilt,
    which a clinician-placed ASIS/PSIS tilt lacks (a zero-width one is drawn instead)."""
    from dataclasses import replace

    t = a.measurements.pelvic_tilt
    if t.value is None or t.interval is not None:
        return a
    tilt = replace(t, interval=(t.value, t.value))
    return replace(a, measurements=replace(a.measurements, pelvic_tilt=tilt))


def mark_points(rgb, corr):
    import cv2

    img = rgb.copy()
    r = max(4, round(max(img.shape[:2]) / 150))
    for name, (x, y) in corr.items():
        cv2.circle(img, (int(x), int(y)), r, (255, 0, 180), 2, cv2.LINE_AA)
        cv2.putText(img, name, (int(x) + r + 2, int(y)), cv2.FONT_HERSHEY_SIMPLEX,
                    r / 10, (255, 0, 180), max(1, r // 4), cv2.LINE_AA)
    return img


def new_assessment_tab(s, p: Patient) -> None:
    from posture.analysis import reassess
    from posture.present.contract import assessment_to_dict
    from posture.present.overlay import draw_overlay

    saved = st.session_state.pop("clinic_saved", None)
    if saved:
        st.success(saved, icon="💾")
    up = st.file_uploader("Side-view photo", type=["jpg", "jpeg", "png", "webp", "heic"],
                          key="clinic_upload")
    if up is None:
        st.caption("The photo is analysed in memory; it is stored only if you tick the "
                   "consent box and save.")
        return
    digest, got = analyse_upload(up.getvalue())
    if isinstance(got, PostureError):
        st.error(f"{got.message} (code: {got.code})")
        return
    frame, a = got
    left, right = st.columns([1, 1], gap="large")
    with right:
        st.markdown("**Landmark correction**")
        corr = correction_form(digest, a, a.frame_size)
        try:
            shown = reassess(a, corr) if corr else a
        except ValueError as exc:
            st.warning(f"Correction not applied: {exc}")
            shown, corr = a, {}
        d = assessment_to_dict(shown, source=up.name)
        show_metrics(d)
    overlay = mark_points(draw_overlay(frame.rgb, drawable(shown)), corr)
    left.image(overlay, width="stretch",
               caption="landmarks used" + (" (corrected: " + ", ".join(corr) + ")"
                                           if corr else ""))
    with st.form("save_assessment"):
        st.markdown(f"**Save to {esc(p.pseudonym)}**")
        c1, c2 = st.columns(2)
        day = c1.date_input("Date of the photo", value=datetime.now(UTC).date())
        thomas = c2.radio("Modified Thomas test", ["not done", *THOMAS_ANSWERS],
                          horizontal=True, format_func=lambda v: _THOMAS_LABEL.get(v, v))
        notes = st.text_area("Notes", max_chars=4000)
        consent = st.checkbox("The patient consented to storing this photo")
        if st.form_submit_button("Save assessment", type="primary", icon="💾"):
            try:
                rec = s.save_assessment(
                    p.id, d, taken_at=datetime.combine(day, time(12), UTC),
                    photo_jpeg=encode_jpeg(frame.rgb) if consent else None,
                    photo_consent=consent, corrections=corr, notes=notes,
                    thomas_test=None if thomas == "not done" else thomas)
            except StoreError as err:
                st.error(f"{err.message} (code: {err.code})")
            else:
                st.session_state["clinic_saved"] = (
                    f"Saved as assessment #{rec.id}"
                    + (" with the photo." if rec.has_photo else " (photo not stored)."))
                st.rerun()  # the header, history and comparison now include it


def show_metrics(d: dict) -> None:
    if d.get("pelvic_tilt_deg") is None:
        st.warning("Pelvic tilt not measured: " + "; ".join(d.get("abstain_reasons") or []))
    else:
        iv = d.get("pelvic_tilt_interval_deg")
        st.metric("Pelvic tilt (+ = anterior)", fmt(d["pelvic_tilt_deg"]),
                  f"interval {fmt(iv[0])} to {fmt(iv[1])}" if iv else "clinician-placed",
                  delta_color="off", delta_arrow="off")
        if d.get("severity_label"):
            st.text(f"Severity: {d['severity_label']}")
    rows = [{"Metric": m.label, "Value": fmt(d.get(m.key)), "Convention": m.convention}
            for m in METRICS[1:]]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# -- compare, export ------------------------------------------------------------------

def compare_tab(s, recs) -> None:
    if len(recs) < 2:
        st.info("Two saved assessments are needed for a comparison.", icon="⚖️")
        return
    c1, c2 = st.columns(2)
    before = pick("Before", recs, 0, c1, "cmp_a")
    after = pick("After", recs, len(recs) - 1, c2, "cmp_b")
    for col, rec in ((c1, before), (c2, after)):
        img = stored_photo(s, rec)
        if img is not None:
            col.image(img, width="stretch")
        else:
            col.caption("No photo stored.")
        col.text(f"Severity: {rec.result.get('severity_label') or '—'}")
    c = compare(before, after)
    rows = [{"Metric": x.label, "Before": fmt(x.before), "After": fmt(x.after),
             "Change": fmt(x.change), "Threshold": "—" if x.threshold is None
             else f"±{x.threshold:.1f}°", "Rule": x.rule or "—",
             "Beyond uncertainty": {True: "yes", False: "no", None: "—"}[x.exceeds_uncertainty]}
            for x in c.changes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"{c.days_between:g} days apart. A change counts as beyond the measurement's "
               "uncertainty when it exceeds √(h₁² + h₂²), the half-widths of the two 90% "
               "intervals combined, or, where an interval is missing, the minimal detectable "
               "change of photo posture measures (5°).")


def export_tab(s, p: Patient) -> None:
    from posture.present.export import export_csv, export_json

    names = st.checkbox("Include names (personal data)", key="clinic_export_names")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    c1, c2 = st.columns(2)
    c1.markdown(f"**{esc(p.pseudonym)}**")
    c1.download_button("CSV", export_csv(s, p.id, include_names=names), icon="⬇️",
                       file_name=f"posture-{p.pseudonym}-{stamp}.csv", mime="text/csv")
    c1.download_button("JSON", export_json(s, p.id, include_names=names), icon="⬇️",
                       file_name=f"posture-{p.pseudonym}-{stamp}.json",
                       mime="application/json")
    c2.markdown("**Whole clinic**")
    c2.download_button("CSV", export_csv(s, include_names=names), icon="⬇️",
                       file_name=f"posture-clinic-{stamp}.csv", mime="text/csv",
                       key="all_csv")
    c2.download_button("JSON", export_json(s, include_names=names), icon="⬇️",
                       file_name=f"posture-clinic-{stamp}.json", mime="application/json",
                       key="all_json")
    with st.expander("Erase this patient", icon="🗑️"):
        typed = st.text_input("Type the pseudonym to confirm")
        if st.button("Erase patient and all assessments", disabled=typed != p.pseudonym):
            s.delete_patient(p.id)
            st.session_state.pop("clinic_patient", None)
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="Clinic · posture", layout="wide")
    st.title("🩺 Clinic")
    s = store()
    p = choose_patient(s)
    if p is None:
        st.caption(f"Database: {s.url}")
        return
    recs = s.list_assessments(p.id)
    patient_header(p, len(recs))
    t_hist, t_new, t_cmp, t_exp = st.tabs(["📈 History", "📷 New assessment",
                                           "⚖️ Before / after", "📤 Export"])
    with t_hist:
        history_tab(s, p, recs)
    with t_new:
        new_assessment_tab(s, p)
    with t_cmp:
        compare_tab(s, recs)
    with t_exp:
        export_tab(s, p)
    st.caption(f"Database: {s.url} · nothing is stored until you save · not a diagnosis")


main()
