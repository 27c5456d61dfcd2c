"""posture: the Streamlit app (a thin layer over the library: no geometry here).

Run with ``./run-app.sh`` (sets up .venv and the pose model first).
"""

from __future__ import annotations

import json

import streamlit as st

from posture.errors import PostureError

st.set_page_config(page_title="posture: pelvic tilt from a side photo", layout="wide")


@st.cache_resource(show_spinner="Loading the pose model…")
def _analyzer():
    # one landmarker per server process for photos; analyses are serialised by a lock
    import threading

    from posture.analysis import Analyzer

    return Analyzer(), threading.Lock()


def main() -> None:
    from posture.images import load_image
    from posture.present.contract import assessment_to_dict, error_to_dict
    from posture.present.overlay import draw_overlay

    st.title("Pelvic tilt from a side-view photo")
    st.caption("Images are processed in memory and never stored.")
    upload = st.file_uploader("Side-view photo", type=["jpg", "jpeg", "png", "webp", "heic"])
    if upload is None:
        st.info("Stand side-on, whole body in view, camera at hip height and level.")
        return
    try:
        frame = load_image(upload.getvalue())
        analyzer, lock = _analyzer()
        with lock:
            a = analyzer.analyze(frame)
        d = assessment_to_dict(a, source=upload.name)
        st.image(draw_overlay(frame.rgb, a), use_container_width=True)
    except PostureError as err:
        d = error_to_dict(err, source=upload.name)
        st.error(f"{err.message} (code: {err.code})")
    if d.get("pelvic_tilt_deg") is not None:
        lo, hi = d["pelvic_tilt_interval_deg"]
        st.metric("Pelvic tilt (positive = anterior)", f"{d['pelvic_tilt_deg']:+.1f}°",
                  help=f"90% interval {lo:+.1f}° to {hi:+.1f}°")
        st.write(f"Severity: **{d['severity_label']}**. {d['severity_disclaimer']}")
    elif d.get("abstain_reasons"):
        st.warning("Not measured: " + "; ".join(d["abstain_reasons"]))
        for g in d.get("retake_guidance", []):
            st.write("• " + g)
    st.download_button("Download JSON", json.dumps(d, indent=2), "posture.json",
                       "application/json")


main()
