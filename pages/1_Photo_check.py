"""Photo check: upload, take or pick a side-view photo and see its results."""

from __future__ import annotations

import streamlit as st

from posture_app.engine import analyze_bytes
from posture_app.results import show_results
from posture_app.state import set_current
from posture_app.ui import MAX_UPLOAD_MB, capture_tips, privacy_note, samples

st.title("📷 Photo check")
st.markdown("One photo of you standing **side-on**, head to feet. Results appear below.")
# the tips matter before the first picture; afterwards they would push results down
capture_tips(expanded=st.session_state.get("photo_upload") is None
             and st.session_state.get("photo_camera") is None)

SOURCES = ["Upload a photo", "Take a photo", "Try a sample"]
sample_files = samples()
if not sample_files:
    SOURCES.remove("Try a sample")
source = st.radio("Picture", SOURCES, horizontal=True, label_visibility="collapsed",
                  key="photo_source")

data, name, origin = None, None, None
if source == "Upload a photo":
    up = st.file_uploader(
        "Side-view photo (JPEG, PNG, WebP or HEIC)",
        type=["jpg", "jpeg", "png", "webp", "heic", "heif"], max_upload_size=MAX_UPLOAD_MB,
        key="photo_upload",
    )
    if up is not None:
        data, name, origin = up.getvalue(), up.name, "photo"
elif source == "Take a photo":
    st.caption("Ask someone to take it, or prop the device at hip height and step back.")
    shot = st.camera_input("Take a side-view photo", key="photo_camera")
    if shot is not None:
        data, name, origin = shot.getvalue(), "camera snapshot", "camera"
else:
    choice = st.selectbox("Sample (synthetic renders, not real people)", sample_files,
                          format_func=lambda p: p.stem.replace("_", " "), key="photo_sample")
    if choice is not None:
        data, name, origin = choice.read_bytes(), choice.name, "sample"

if data is None:
    st.info("Choose a picture above to see your results.", icon="👆")
else:
    with st.spinner("Analysing…"):
        res = analyze_bytes(data, name)
    if res.overlay is not None:
        set_current(res.result, res.overlay, origin)  # the plan page reads it
    st.divider()
    show_results(res.result, res.overlay, key="photo")
privacy_note()
