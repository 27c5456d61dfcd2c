"""Clinic: patients, assessments with landmark correction, history, comparison, reports.

A thin page over ``posture_app.clinic_*`` (login, views, new assessment), ``posture.store``
(records, accounts, audit trail) and ``posture.present``. Nothing of a patient is shown
before the viewer is let in (``clinic_auth.gate``), nor after the session ends; nothing is
stored until the clinician presses Save, the photo only with the patient's consent; every
view, save, export and deletion is written to the audit trail, and every file is made only
when its button is clicked by someone still logged in. Each tab is a section of its own: an
error in one leaves the others (and erasing the patient) working.
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
    erase_section,
    export_tab,
    fail,
    history_tab,
    patient_header,
    section,
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
        if p is not None:
            log_view(s, viewer.name, p.id)  # no view of a patient without its audit row
            recs = s.list_assessments(p.id)
    except StoreError as err:
        fail(err)
        p = None
    if p is not None:
        patient_header(p, len(recs))
        t_hist, t_new, t_cmp, t_exp = st.tabs(["📈 History", "📷 New assessment",
                                               "⚖️ Before / after", "📤 Export"])
        with t_hist, section("History"):
            history_tab(s, p, recs, viewer)
        with t_new, section("New assessment"):
            new_assessment_tab(s, p, viewer.name)
        with t_cmp, section("Before / after"):
            compare_tab(s, p, recs, viewer)
        with t_exp:
            with section("Export"):
                export_tab(s, p, viewer)
            with section("Erase"):
                erase_section(s, p, viewer)
    if viewer.is_admin:
        with section("Audit trail"):
            audit_section(s, viewer)
    st.caption(f"Database: {s.url} · nothing is stored until you save · not a diagnosis")


main()
