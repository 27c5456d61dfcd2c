"""The app's pages, in navigation order: one explicit list (``app.py`` builds
``st.navigation`` from it; a test checks it matches ``pages/``).

Titles and file names fix the page URLs (``/Photo_check`` ...) that links and the browser
tests use: change them together.
"""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"

#: (file in pages/, title, icon)
PAGES: tuple[tuple[str, str, str], ...] = (
    ("1_Photo_check.py", "Photo check", "📷"),
    ("2_Live_check.py", "Live check", "🎥"),
    ("3_Exercise_plan.py", "Exercise plan", "🏋️"),
    ("4_Clinic.py", "Clinic", "🩺"),
    ("5_About.py", "About", "ℹ️"),
)


def use_explicit_navigation() -> None:
    """Make the first script run of a fresh server use ``app.py``'s page list.

    Streamlit keeps its old multipage mode (every file in ``pages/`` a page, the main script
    listed as "app", no icons) for a folder named ``pages`` until some run calls
    ``st.navigation``. After a restart, a visitor entering by a deep link (``/Clinic``) ran
    that page alone in the old mode, and everyone kept seeing "app" until someone opened
    Home (issue 22 item 9). Called when this package is first imported, which every page
    does: in the old mode it switches to the explicit list and reruns, so ``app.py`` runs
    and ``st.navigation`` resolves the same URL (page hashes come from the URL path).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # another Streamlit: nothing to do
        return
    if not getattr(PagesManager, "uses_pages_directory", False):
        return
    if get_script_run_ctx() is None:  # imported outside a script run (tests, threads)
        return
    PagesManager.uses_pages_directory = False  # what st.navigation itself sets
    import streamlit as st

    st.rerun()
