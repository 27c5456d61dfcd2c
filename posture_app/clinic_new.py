"""The Clinic page's new assessment: upload, landmark correction, save.

Every widget of a draft is keyed by the patient and the photo (its SHA-256), so a draft
can never follow the clinician to another patient or into the next photo: a new patient or
a new photo starts with empty notes, no consent, Thomas test "not done" and today's date.
A saved draft stays on screen with Save disabled ("Saved as #N") so it cannot be saved
twice.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from posture.contract import from_dict
from posture.errors import PostureError
from posture.front_view import FRONTAL_KINDS
from posture.images import UPLOAD_TYPES
from posture.palpation import instruments, palpation_equivalent
from posture.result import Reading
from posture.store import THOMAS_ANSWERS, Patient, StoreError, encode_jpeg
from posture.store.history import METRICS

from .clinic_views import THOMAS_LABEL, esc, fail, fmt, frontal_rows

DRAFT = "clinic_draft"  # session-state prefix of everything that belongs to a draft
SAVED = "clinic_saved"  # {(patient id, photo digest): assessment id}


def forget_drafts(pid: int) -> None:
    """Drop every draft that is not the current patient's (photo, fields, corrections)."""
    if st.session_state.get(f"{DRAFT}_pid") == pid:
        return
    for k in [k for k in st.session_state if str(k).startswith(DRAFT)]:
        del st.session_state[k]
    st.session_state[f"{DRAFT}_pid"] = pid


def analyze_upload(data: bytes, name: str | None, slot: str = "side"):
    """(digest, (frame, assessment) or PostureError); one photo per ``slot`` (the side
    photo, the optional front photo) in memory at a time."""
    from posture_app.analyzers import analyze_upload as safe_analysis

    digest = hashlib.sha256(data).hexdigest()
    cache = st.session_state.setdefault(f"{DRAFT}_analysis" + ("" if slot == "side" else
                                                               f"_{slot}"), {})
    if digest not in cache:
        cache.clear()
        out = safe_analysis(data, name)
        cache[digest] = out.error if out.failed else (out.frame, out.assessment)
    return digest, cache[digest]


def correction_form(k: str, a) -> tuple[dict[str, tuple[float, float]], str]:
    """Choose a point and whether ASIS/PSIS are placed by hand; apply the latest click on
    the photo or the pelvis inset to it. Returns (points moved, the point being placed)."""
    from posture.analysis import CORRECTABLE
    from posture.correction import click_to_image, key_points, pelvis_window, with_pelvis

    start = key_points(a)
    by_hand = st.checkbox("Place ASIS and PSIS by hand (replaces the estimated tilt)",
                          key=f"{DRAFT}-pelvis-{k}")
    names = [n for n in CORRECTABLE if by_hand or n not in ("asis", "psis")]
    point = st.radio("Point to place (click it on the photo or the pelvis inset)", names,
                     horizontal=True, key=f"{DRAFT}-point-{k}")
    moved = st.session_state.setdefault(f"{DRAFT}_moved_{k}", {})
    seen = st.session_state.setdefault(f"{DRAFT}_clicks_{k}", {})
    w, h = a.frame_size
    for where, box in (("photo", (0, 0, w, h)), ("inset", pelvis_window(a))):
        click = st.session_state.get(f"{DRAFT}-click-{where}-{k}")
        if click and click.get("unix_time") != seen.get(where):  # a new click only
            seen[where] = click.get("unix_time")
            moved[point] = click_to_image(click, box)
    corr = {n: (float(v[0]), float(v[1])) for n, v in moved.items() if n in names}
    if by_hand:
        corr = with_pelvis({**{n: start[n] for n in ("asis", "psis")}, **corr}, a)
    if st.button("Reset corrections", key=f"{DRAFT}-reset-{k}"):
        for key in [key for key in st.session_state if k in str(key)]:
            del st.session_state[key]
        st.rerun()
    return corr, point


def clickable_pictures(k: str, a, overlay, corr: dict[str, tuple[float, float]]) -> None:
    """The annotated photo and a magnified pelvis inset, each with the placed points
    marked at its own scale; a click on either places the chosen point
    (streamlit-image-coordinates)."""
    from streamlit_image_coordinates import streamlit_image_coordinates as clickable

    from posture.correction import image_to_inset, pelvis_window
    from posture.present.compare import inset, mark_points

    clickable(mark_points(overlay, corr), key=f"{DRAFT}-click-photo-{k}", width="stretch",
              cursor="crosshair")
    st.caption("Click to place the chosen point. Pelvis, magnified:")
    box = pelvis_window(a)
    pic = inset(overlay, box)
    size = (pic.shape[1], pic.shape[0])
    inside = {n: q for n, q in ((n, image_to_inset(p, box, size)) for n, p in corr.items())
              if 0 <= q[0] < size[0] and 0 <= q[1] < size[1]}
    clickable(mark_points(pic, inside), key=f"{DRAFT}-click-inset-{k}", width="stretch",
              cursor="crosshair")


def new_assessment_tab(s, p: Patient, actor: str) -> None:
    from posture.analysis import reassess
    from posture.contract import assessment_to_dict
    from posture.correction import drawable
    from posture.present.overlay import draw_overlay

    forget_drafts(p.id)
    up = st.file_uploader("Side-view photo", type=list(UPLOAD_TYPES),
                          key=f"{DRAFT}-upload-{p.id}")
    if up is None:
        st.caption("The photo is analysed in memory; it is stored only if you tick the "
                   "consent box and save.")
        return
    digest, got = analyze_upload(up.getvalue(), up.name)
    if isinstance(got, PostureError):
        st.error(f"{got.message} (code: {got.code})")
        return
    frame, a = got
    k = f"{p.id}-{digest[:16]}"
    left, right = st.columns([1, 1], gap="large")
    with right:
        st.markdown("**Landmark correction**")
        corr, _ = correction_form(k, a)
        try:
            shown = reassess(a, corr) if corr else a
        except ValueError as exc:
            st.warning(f"Correction not applied: {exc}")
            shown, corr = a, {}
        front, fk = front_upload(p)
        if front is not None and shown.view_kind != "side":
            st.warning("The first photo is not a side view: the front or back photo is "
                       "left out (upload a side photo first).")
            front, fk = None, ""
        d = assessment_to_dict(shown if front is None else combine(shown, front),
                               source=up.name)
        show_metrics(d)
    with left:
        clickable_pictures(k, a, draw_overlay(frame.rgb, drawable(shown, corr)), corr)
        st.caption("landmarks used" + (" (corrected: " + ", ".join(corr) + ")"
                                       if corr else ""))
    # a new front photo is a new draft to save (the side photo's corrections stay)
    save_form(s, p, k + fk, frame, d, corr, actor)


def front_upload(p: Patient):
    """The optional front (or back) photo of the same visit: (its assessment or None, a
    key part naming it). It is measured and saved in the same assessment as the side
    photo; only the side photo is kept as the stored photo."""
    up = st.file_uploader("Front or back photo (optional: pelvis and shoulder level)",
                          type=list(UPLOAD_TYPES), key=f"{DRAFT}-front-{p.id}")
    if up is None:
        return None, ""
    digest, got = analyze_upload(up.getvalue(), up.name, slot="front")
    if isinstance(got, PostureError):
        st.error(f"Front photo: {got.message} (code: {got.code})")
        return None, ""
    a = got[1]
    if a.view_kind not in FRONTAL_KINDS:
        st.warning("The second photo shows the person from the side: upload a photo "
                   "taken from the front or the back, or remove it.")
        return None, ""
    st.caption(f"{a.view_kind.capitalize()} photo measured: saved in this assessment "
               "beside the side view (the photo itself is not stored).")
    return a, f"-{a.view_kind}-{digest[:8]}"


def combine(side, frontal):
    """One assessment of both views (:func:`posture.analysis.combine`)."""
    from posture.analysis import combine as both

    return both(side, frontal)


def save_form(s, p: Patient, k: str, frame, d: dict, corr: dict, actor: str) -> None:
    saved = st.session_state.setdefault(SAVED, {})
    done = saved.get(k)
    with st.form(f"{DRAFT}-form-{k}"):
        st.markdown(f"**Save to {esc(p.pseudonym)}** (#{p.id})")
        c1, c2 = st.columns(2)
        day = c1.date_input("Date of the photo", value=datetime.now(UTC).date(),
                            key=f"{DRAFT}-day-{k}")
        thomas = c2.radio("Modified Thomas test", ["not done", *THOMAS_ANSWERS],
                          horizontal=True, format_func=lambda v: THOMAS_LABEL.get(v, v),
                          key=f"{DRAFT}-thomas-{k}")
        r1, r2 = st.columns(2)
        inst = r1.selectbox("Reference reading (optional)", ["none", *instruments()],
                            format_func=lambda i: "none" if i == "none"
                            else instruments()[i].label, key=f"{DRAFT}-refinst-{k}",
                            help="Your palpation meter's or inclinometer's pelvic tilt at "
                                 "this visit: it calibrates the palpation-equivalent of "
                                 "later visits to your instrument.")
        ref = r2.number_input("Its pelvic tilt, ° (+ = anterior)", min_value=-90.0,
                              max_value=90.0, step=0.5, format="%.1f", value=None,
                              key=f"{DRAFT}-refval-{k}")
        notes = st.text_area("Notes", max_chars=4000, key=f"{DRAFT}-notes-{k}")
        consent = st.checkbox("The patient consented to storing this photo",
                              key=f"{DRAFT}-consent-{k}")
        go = st.form_submit_button("Save assessment" if done is None else f"Saved as #{done}",
                                   type="primary", icon="💾", disabled=done is not None)
    if done is not None:
        st.success(f"Saved as #{done}. Upload the next photo for a new assessment.",
                   icon="💾")
        return
    if not go:
        return
    if inst != "none" and ref is None:
        st.warning("Type the reference reading in degrees, or choose 'none'.")
        return
    try:
        rec = s.save_assessment(
            p.id, d, taken_at=datetime.combine(day, time(12), UTC),
            photo_jpeg=encode_jpeg(frame.rgb) if consent else None, photo_consent=consent,
            corrections=corr, notes=notes, actor=actor,
            thomas_test=None if thomas == "not done" else thomas,
            reference=None if inst == "none" else (inst, float(ref)))
    except StoreError as err:
        fail(err)
        return
    saved[k] = rec.id  # at once: a second click in flight finds it and saves nothing
    st.rerun()  # the header, history and comparison now include it


def show_metrics(d: dict | Reading) -> None:
    r = from_dict(d, strict=False)  # typed (posture.result.Reading)
    if r.pelvic_tilt_deg is None:
        st.warning("Pelvic tilt not measured: " + "; ".join(str(x) for x in r.reasons))
    else:
        iv = r.pelvic_tilt_interval_deg
        st.metric("Pelvic tilt (+ = anterior)", fmt(r.pelvic_tilt_deg),
                  f"interval {fmt(iv[0])} to {fmt(iv[1])}" if iv else "clinician-placed",
                  delta_color="off", delta_arrow="off")
        if r.severity_label:
            st.text(f"Severity: {r.severity_label}")
        pe = palpation_equivalent(r.pelvic_tilt_deg, iv, r.interval_coverage)
        if pe is not None:
            st.caption(f"Palpation-equivalent (what a meter on the bone would read): "
                       f"{fmt(pe.value_deg)}, 90% interval {fmt(pe.interval_deg[0])} to "
                       f"{fmt(pe.interval_deg[1])}, wider because pelvis shape differs "
                       "between people (SD 5°).")
    rows = [{"Metric": m.label, "Value": fmt(r.metric(m.name)[0]), "Convention": m.convention}
            for m in METRICS[1:] if m.view == "side"]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    from posture.present.report_pdf import front_kinds

    if front_kinds(r):
        show_frontal(r)


def show_frontal(r: Reading) -> None:
    """The front view's measures with unit, interval and sign; the "see a clinician" note
    when the pelvic obliquity is flagged."""
    from posture.present.report_pdf import obliquity_flagged

    if obliquity_flagged(r):
        st.warning("Pelvic obliquity beyond the flag: see a clinician (a leg-length "
                   "difference, a hip hike or a sideways curve cannot be told apart on a "
                   "photo).", icon="🩺")
    st.dataframe(pd.DataFrame(frontal_rows(r)), hide_index=True, width="stretch")
