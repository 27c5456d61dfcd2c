"""Small shared widgets: capture tips, the sample picker, the footer note."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Largest upload the app accepts, MB: the library's one limit, in Streamlit's units, so
# the browser and the library never disagree (see posture.images).
from posture.images import MAX_UPLOAD_MB  # noqa: F401

from .text import CAPTURE_TIPS

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "samples"


def capture_tips(*, expanded: bool = True) -> None:
    """The four rules for a measurable picture, as a compact row."""
    with st.expander("How to take a good picture", expanded=expanded, icon="📐"):
        cols = st.columns(len(CAPTURE_TIPS))
        for col, (title, tip) in zip(cols, CAPTURE_TIPS, strict=True):
            col.markdown(f"**{title}**")
            col.caption(tip)


def samples() -> list[Path]:
    """Synthetic sample renders shipped with the project (may be none)."""
    exts = {".jpg", ".jpeg", ".png"}
    return sorted(p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in exts)


def privacy_note() -> None:
    st.caption("🔒 Pictures are processed in memory on this server and are not stored. "
               "Nothing is saved unless you download it. Not a medical diagnosis.")
