"""Exercise plan: red-flag questions first, then the routine matched to the latest result and
the Thomas self-check; printable (print-friendly page, HTML and text downloads that keep the
answers)."""

from __future__ import annotations

import json

import streamlit as st

from posture.contract import from_dict
from posture.errors import PostureError
from posture.plan import (
    PlanInput,
    make_plan,
    thomas_test_guide,
)
from posture_app.plan_view import (
    clinician_advice,
    plan_html,
    plan_text,
    red_flag_questions,
    screening_outcome,
)
from posture_app.results import overlay_alt
from posture_app.state import get_current
from posture_app.text import error_text, reason_code, reason_text

# When printed from the browser, drop the app chrome and the controls; keep the plan.
st.markdown(
    """<style>@media print {
    [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
    .st-key-plan-controls, .stDownloadButton, .stRadio, .stExpander {display: none !important;}
    .stMain .block-container {padding-top: 0 !important;}
    }</style>""",
    unsafe_allow_html=True,
)
st.title("🏋️ Exercise plan")

current = get_current()
result = current.result if current else None
with st.expander("Use a result you saved earlier (JSON)", expanded=result is None):
    saved = st.file_uploader("posture-result.json", type=["json"], key="plan_json")
    if saved is not None:
        try:
            result = json.loads(saved.getvalue().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            st.error("That file is not a saved posture result (invalid JSON).", icon="🚫")

if result is None:
    st.info("No result yet. Do a **photo check** or a **live check** first, and your plan "
            "appears here.", icon="👈")
    c1, c2 = st.columns(2)
    c1.page_link("pages/1_Photo_check.py", label="Photo check", icon="📷")
    c2.page_link("pages/2_Live_check.py", label="Live check", icon="🎥")
    st.stop()

try:
    inp = PlanInput.from_result(result)
except PostureError as err:
    st.error(f"This result cannot be used for a plan. {error_text(err.code, err.message)}"
             f"\n\nError code: `{err.code}`", icon="🚫")
    st.stop()

def refer(plan) -> None:  # measured signs for a clinician (a pelvis not level): first
    for n, note in enumerate(plan.clinician_notes):
        st.container(key=f"clinician-note-{n}").warning(f"**{note.title}**\n\n{note.why}",
                                                         icon="🩺")


if not inp.usable:
    # no tilt, no plan: say why in plain words (retake only helps when the view was bad)
    plan = make_plan(inp)
    st.markdown("### No exercise plan yet")
    refer(plan)
    reasons = inp.abstain_reasons or ("the analysis did not produce a measurement",)
    st.info("\n".join(f"- {reason_text(r)}" for r in reasons), icon="ℹ️")
    if not all(reason_code(r) == "estimator_unavailable" for r in reasons):
        st.warning("**How to retake the picture:**\n" +
                   "\n".join(f"- {g}" for g in plan.retake_guidance), icon="📷")
        live = current is not None and current.origin == "live"
        if st.button("📷 Retake the picture", type="primary", key="plan_retake",
                     width="stretch"):
            st.session_state["photo_retake"] = True  # the photo page empties its picture
            st.switch_page("pages/2_Live_check.py" if live else "pages/1_Photo_check.py")
    st.error(f"**{plan.red_flags_intro}**\n" + "\n".join(f"- {r}" for r in plan.red_flags),
             icon="🚩")
    st.caption(plan.disclaimer)
    st.stop()

# Red flags first: the plan is not shown until every question has a yes or no, and a yes
# replaces it with advice to see a clinician. "None of these apply" answers all at once.
QUESTIONS = red_flag_questions()
ANSWER = {"No": False, "Yes": True}


def none_apply() -> None:
    for i in range(len(QUESTIONS)):
        st.session_state[f"redflag_{i}"] = "No"


answers = {q.flag: ANSWER.get(st.session_state.get(f"redflag_{i}"))
           for i, q in enumerate(QUESTIONS)}
outcome = screening_outcome(answers, QUESTIONS)
with st.container(key="red-flags"), st.expander(
        "🚩 Safety questions" + (": all answered no" if outcome == "clear" else ""),
        expanded=outcome != "clear"):
    st.markdown("**Before your plan: a few questions about your health.** Answer each one, "
                "or press *None of these apply* below; a yes means a clinician should see "
                "you before you start exercising.")
    for i, q in enumerate(QUESTIONS):
        st.radio(q.question, list(ANSWER), index=None, horizontal=True, key=f"redflag_{i}")
    st.button("✅ None of these apply to me", key="redflag_none", on_click=none_apply,
              width="stretch")
if outcome == "unanswered":
    left = sum(v is None for v in answers.values())
    st.info(f"Answer the safety questions above to see your plan ({left} of "
            f"{len(QUESTIONS)} still open).", icon="🚩")
    st.stop()
if outcome == "see_clinician":
    yes = [q for q in QUESTIONS if answers[q.flag]]
    with st.container(key="see-clinician"):
        st.error("**Please see a clinician before starting an exercise plan.**\n\n" +
                 clinician_advice() + "\n\n**You answered yes to:**\n" +
                 "\n".join(f"- {q.question} *{q.why}*" for q in yes), icon="🩺")
        st.download_button("Your answers (text)", "\n".join(
            f"{'YES' if answers[q.flag] else 'no'}: {q.question}" for q in QUESTIONS) +
            "\n\n" + clinician_advice() + "\n", file_name="safety-answers.txt",
            mime="text/plain", icon="📄", key="answers_txt")
    st.caption("The exercise plan is not shown after a yes. If an answer was a mistake, "
               "change it above.")
    st.stop()

THOMAS = {"Not done yet": None, "Yes: a thigh lifted or a knee straightened": "yes",
          "No: thigh stayed down, knee bent": "no", "Unsure": "unsure"}
with st.container(key="plan-controls"):
    st.markdown("#### Hip-flexor self-check (modified Thomas test)")
    guide = thomas_test_guide()
    with st.expander("How to do it (2 minutes, with a helper)", icon="🛏️"):
        st.markdown(f"*{guide.needs}*")
        st.markdown("\n".join(f"{i}. {s}" for i, s in enumerate(guide.steps, 1)))
        st.markdown("\n".join(f"- {s}" for s in guide.interpret))
        st.caption(guide.caveat)
    answer = st.radio("Did either side look tight?", list(THOMAS), horizontal=True,
                      key="thomas_answer")
try:
    plan = make_plan(inp, thomas_test=THOMAS[answer])
except PostureError as err:  # e.g. a damaged exercise catalogue on the server
    st.error(f"The exercise plan could not be made. (Error code: `{err.code}`)", icon="🚫")
    st.stop()

st.divider()
# The headline first (on a phone the columns stack: a picture first filled 1.5 screens),
# the picture beside it on a wide screen, never taller than half the screen.
head, thumb = st.columns([5, 1])
shown = from_dict(result, strict=False)  # typed (posture.result.Reading)
with head, st.container(key="plan-head"):
    tilt = shown.pelvic_tilt_deg
    if tilt is not None:
        st.caption(f"Based on pelvic tilt {tilt:+.1f}° ({shown.band_text}), "
                   f"from your {current.origin if current else 'saved'} check.")
    st.markdown(f"### {plan.headline}")
    refer(plan)
if current is not None and current.overlay is not None and result is current.result:
    st.html("<style>.st-key-plan-photo{padding-top:2rem}"
            ".st-key-plan-photo img{max-height:50vh;width:auto!important;"
            "max-width:100%;object-fit:contain}</style>")
    with thumb, st.container(key="plan-photo"):
        st.image(current.overlay, width="stretch", alt=overlay_alt(shown))
if plan.retake_guidance:
    st.warning("**How to retake the picture:**\n" +
               "\n".join(f"- {g}" for g in plan.retake_guidance), icon="📷")

for n, it in enumerate(plan.items, 1):
    with st.container(border=True, key=f"plan-item-{n}"):
        pic, body = st.columns([2, 5], gap="medium")
        pic.image(it.image_path, width="stretch")
        with body:
            st.markdown(f"**{n}. {it.name}** &nbsp; :gray-badge[{it.kind}]")
            st.markdown(f"⏱️ **{it.dose_text}**")
            st.caption(it.why[0].upper() + it.why[1:])
            st.markdown("\n".join(f"{i}. {s}" for i, s in enumerate(it.steps, 1)))
            st.caption(f"**Easier:** {it.easier}  \n**Harder:** {it.harder}")
            for c in it.cautions:
                st.caption(f"⚠️ {c}")

if plan.notes:
    st.markdown("#### Notes")
    st.markdown("\n".join(f"- {n}" for n in plan.notes))
st.error(f"**{plan.red_flags_intro}**\n" + "\n".join(f"- {r}" for r in plan.red_flags),
         icon="🚩")
st.caption(plan.disclaimer)

d1, d2, _ = st.columns([1, 1, 2])
d1.download_button("Printable plan (HTML)", plan_html(plan, result, answers),
                   file_name="exercise-plan.html", mime="text/html", icon="🖨️",
                   key="plan_html")
d2.download_button("Plan as text", plan_text(plan, result, answers),
                   file_name="exercise-plan.txt", mime="text/plain", icon="📄", key="plan_txt")
st.caption("Tip: your browser's Print (Ctrl/⌘+P) prints this page without the controls.")
