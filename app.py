"""posture: the Streamlit app (a thin layer over the library: no geometry here).

Run with ``./run-app.sh``. The pages are listed explicitly in :mod:`posture_app.nav`
(a new page is added there; ``tests/test_app_layout.py`` checks the list against
``pages/``).
"""

from __future__ import annotations

import streamlit as st

from posture_app.nav import PAGES, PAGES_DIR


def home() -> None:
    from posture_app.ui import privacy_note

    st.title("Pelvic tilt from a side-view photo")
    st.markdown(
        "Stand side-on to a camera and this tool estimates the **tilt of your pelvis** "
        "(how far its front is tipped down), the curve of your lower back and a few other "
        "posture findings, each with how sure it is, and suggests exercises that match."
    )
    c1, c2, c3 = st.columns(3, border=True)
    with c1:
        st.markdown("#### 📷 Photo check")
        st.caption("Upload or take one side-view photo, or try a sample.")
        st.page_link("pages/1_Photo_check.py", label="Check a photo", icon="➡️")
    with c2:
        st.markdown("#### 🎥 Live check")
        st.caption("Use your webcam: get guidance until you are in position, then hold "
                   "still for a few seconds.")
        st.page_link("pages/2_Live_check.py", label="Start the camera", icon="➡️")
    with c3:
        st.markdown("#### 🏋️ Exercise plan")
        st.caption("Exercises matched to your result, with doses, a hip-flexor "
                   "self-check and when to see a professional.")
        st.page_link("pages/3_Exercise_plan.py", label="See the plan", icon="➡️")
    st.info(
        "This is an estimate from a single picture, not a diagnosis. The severity bands are "
        "this tool's own heuristic; pelvis shape alone differs by up to 23° between people "
        "(Preece et al. 2008). See **About** for how it works and how accurate it is.",
        icon="ℹ️",
    )
    privacy_note()


#: On every page (issue 22 item 15): captions at WCAG AA contrast (Streamlit draws them at
#: 60% opacity, 3.89:1 on white; #55575f is 7:1) and a visible ring on a link reached with
#: the keyboard (Streamlit's links showed none).
A11Y_CSS = """<style>
[data-testid="stCaptionContainer"]{opacity:1!important;color:#55575f!important}
a:focus-visible,[data-testid="stPageLink-NavLink"]:focus-visible{
outline:3px solid #2f6f8f!important;outline-offset:2px!important;border-radius:4px}
</style>"""


def main() -> None:
    st.set_page_config(page_title="posture: pelvic tilt from a side photo", page_icon="🧍",
                       layout="wide")
    st.html(A11Y_CSS)
    pages = [st.Page(home, title="Home", icon="🏠", default=True)]
    pages += [st.Page(PAGES_DIR / name, title=title, icon=icon) for name, title, icon in PAGES]
    st.navigation(pages).run()


main()
