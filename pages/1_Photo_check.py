"""Photo check: upload, take or pick a side-view photo (and, optionally, a front or back
photo) and see its results, answer first."""

from __future__ import annotations

import streamlit as st

from posture.images import UPLOAD_TYPES
from posture_app.analyzers import analyze_bytes, analyze_views
from posture_app.results import refused, retake_message, scroll_into_view, show_results
from posture_app.state import clear_current, get_current, set_current
from posture_app.timer import decode, timer_camera
from posture_app.ui import MAX_UPLOAD_MB, capture_tips, privacy_note, samples

st.title("📷 Photo check")

# A retake gives the picture widgets new keys, which empties them (Streamlit cannot clear
# an uploader or camera otherwise); the exercise plan page asks for it with this flag too.
# What was wrong with the last picture stays on screen until the next one ("keep").
if st.session_state.pop("photo_retake", False):
    st.session_state["photo_nonce"] = st.session_state.get("photo_nonce", 0) + 1
    last = get_current()
    st.session_state["photo_keep"] = retake_message(last.result) if last else None
nonce = st.session_state.setdefault("photo_nonce", 0)
UPLOAD_KEY, CAMERA_KEY = f"photo_upload_{nonce}", f"photo_camera_{nonce}"
FRONT_KEY = f"photo_front_{nonce}"  # the optional front (or back) photo (issue 28)


def retake() -> None:
    st.session_state["photo_nonce"] = st.session_state.get("photo_nonce", 0) + 1
    st.session_state["photo_keep"] = st.session_state.get("photo_guidance")
    clear_current()


SOURCES = ["Upload a photo", "Take a photo", "Try a sample"]
sample_files = samples()
if not sample_files:
    SOURCES.remove("Try a sample")
source = st.session_state.get("photo_source", SOURCES[0])
chosen = {"Upload a photo": UPLOAD_KEY, "Take a photo": CAMERA_KEY,
          "Try a sample": "photo_sample"}.get(source)
had_picture = st.session_state.get(chosen) is not None

# The results go above the picture controls (the answer first, on a phone too); they are
# written into this container after the controls below have given us the picture.
top = st.container(key="photo-top")


def picker():
    """The picture source and its widget; returns ``(bytes, name, origin)`` or Nones."""
    src = st.radio("Picture", SOURCES, horizontal=True, label_visibility="collapsed",
                   key="photo_source")
    if src == "Upload a photo":
        up = st.file_uploader(
            "Side-view photo (JPEG, PNG, WebP or HEIC)",
            type=list(UPLOAD_TYPES),
            max_upload_size=MAX_UPLOAD_MB, key=UPLOAD_KEY,
        )
        return (up.getvalue(), up.name, "photo") if up is not None else (None, None, None)
    if src == "Take a photo":
        st.caption("Prop the phone at hip height, start the self-timer and step back 2–3 m "
                   "(or ask someone to take it).")
        shot = timer_camera(key=CAMERA_KEY)
        return (shot[0], "camera snapshot", "camera") if shot is not None else \
            (None, None, None)
    choice = st.selectbox("Sample (synthetic renders, not real people)", sample_files,
                          format_func=lambda p: p.stem.replace("_", " "), key="photo_sample")
    return (choice.read_bytes(), choice.name, "sample") if choice is not None else \
        (None, None, None)


def show(data: bytes, name: str, origin: str, second=None) -> bool:
    """Analyse and show the picture (with the optional ``(bytes, name)`` of a second view)
    at the top; True when it was refused."""
    with top:
        with st.spinner("Analysing…"):
            res = analyze_views((data, name), second) if second else analyze_bytes(data, name)
        if res.overlay is not None:
            set_current(res.result, res.overlay, origin)  # the plan page reads it
        st.session_state.pop("photo_keep", None)  # a new picture: its own guidance now
        st.session_state["photo_guidance"] = retake_message(res.result)
        show_results(res.result, res.overlay, key="photo", retake=retake,
                     front_overlay=res.front_overlay)
        if res.second_problem:
            st.warning(f"**Your second photo was not used.** {res.second_problem}", icon="📷")
        elif not second and res.result.views == ("side",) and not refused(res.result):
            st.caption("➕ Add a photo from the front (or back) under **Your photo** below "
                       "for the side-to-side measures, such as whether your pelvis is level.")
        # the verdict (or the message) at the top of the screen, with keyboard focus
        scroll_into_view(".st-key-verdict-photo" if res.overlay is not None
                         else ".st-key-photo-top", res.digest)
    return refused(res.result)


def chosen_picture():
    """The picture already chosen (read before its widget is drawn, so the result can come
    first and decide whether the controls fold away)."""
    v = st.session_state.get(chosen)
    if source == "Upload a photo":
        return v.getvalue(), v.name, "photo"
    if source == "Take a photo":
        shot = decode(v)
        return (shot[0], "camera snapshot", "camera") if shot else (None, None, None)
    return v.read_bytes(), v.name, "sample"


# The controls keep one place on the page (an expander under the results), so the picture
# widgets are never re-created between runs; only whether they are folded changes.
picture = chosen_picture() if had_picture else (None, None, None)
up2 = st.session_state.get(FRONT_KEY)
second = (up2.getvalue(), up2.name) if up2 is not None else None
if picture[0] is None and second is not None:  # a front (or back) photo alone
    picture, second = (*second, "photo"), None
was_refused = show(*picture, second) if picture[0] is not None else False
if picture[0] is None:
    with top:
        kept = st.session_state.get("photo_keep")
        if kept:  # after "Retake": what to change, until the next picture
            with st.container(key="photo-keep"):
                st.warning(f"**Your last picture could not be measured.**\n\n{kept}",
                           icon="📷")
        st.markdown("One photo of you standing **side-on**, head to feet; add one from the "
                    "**front** (or back) for the side-to-side measures. Your result "
                    "appears at the top.")
        capture_tips(expanded=not kept)
with st.expander("📷 Your photo: upload, take or pick one",
                 expanded=picture[0] is None or was_refused):
    data, name, origin = picker()
    st.file_uploader("Front or back photo (optional): adds the side-to-side measures, such "
                     "as whether your pelvis is level", type=list(UPLOAD_TYPES),
                     max_upload_size=MAX_UPLOAD_MB, key=FRONT_KEY)
if picture[0] is None:
    if data is None:
        st.info("Choose a picture above to see your results.", icon="👆")
    else:  # a picture chosen in this run (e.g. the default sample): lay out result-first
        st.rerun()
privacy_note()
