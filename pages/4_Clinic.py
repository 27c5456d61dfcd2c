"""Clinic: patients, assessments with landmark correction, history, comparison, reports.

A thin page over ``posture_app.clinic_*`` (login, views, new assessment), ``posture.store``
(records, accounts, audit trail) and ``posture.present``. Nothing of a patient is shown
before the viewer is let in (``clinic_auth.gate``); nothing is stored until the clinician
presses Save, the photo only with the patient's consent; every view, save, export and
deletion is written to the audit trail.
"""

from __future__ import annotations

import streamlit as st

from posture.store import StoreError
from posture_app.clinic_auth import gate, get_store
from posture_app.clinic_new import new_assessment_tab
from posture_app.clinic_views import (
    audit_section,
    choose_patient,
    compare_tab,
    export_tab,
    fail,
    history_tab,
    patient_header,
)


def log_view(s, actor: str, pid: int) -> None:
    """One "view" entry each time a viewer opens a patient (not at every rerun)."""
    if st.session_state.get("clinic_viewed") != pid:
        s.log(actor, "view", patient_id=pid)
        st.session_state["clinic_viewed"] = pid


def main() -> None:
    st.set_page_config(page_title="Clinic · posture", layout="wide")
    st.title("🩺 Clinic")
    s = get_store()
    viewer = gate(s)  # stops here (login form or refusal) unless let in
    try:
        p = choose_patient(s, viewer.name)
        if p is None:
            st.caption(f"Database: {s.url}")
            return
        log_view(s, viewer.name, p.id)
        recs = s.list_assessments(p.id)
        patient_header(p, len(recs))
        t_hist, t_new, t_cmp, t_exp = st.tabs(["📈 History", "📷 New assessment",
                                               "⚖️ Before / after", "📤 Export"])
        with t_hist:
            history_tab(s, p, recs, viewer.name)
        with t_new:
            new_assessment_tab(s, p, viewer.name)
        with t_cmp:
            compare_tab(s, p, recs, viewer.name)
        with t_exp:
            export_tab(s, p, viewer.name)
        if viewer.is_admin:
            audit_section(s)
    except StoreError as err:
        fail(err)
    st.caption(f"Database: {s.url} · nothing is stored until you save · not a diagnosis")


main()
