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
