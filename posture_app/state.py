"""The session's latest result, shared between pages (photo or live → exercise plan).

Kept only in this browser session's memory; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

_KEY = "posture_current_result"


@dataclass(frozen=True)
class Current:
    result: dict  # contract dict (``posture analyze --json``)
    overlay: np.ndarray | None  # annotated RGB image
    origin: str  # "photo", "camera", "sample" or "live"


def set_current(result: dict, overlay: np.ndarray | None, origin: str) -> None:
    st.session_state[_KEY] = Current(result, overlay, origin)


def get_current() -> Current | None:
    return st.session_state.get(_KEY)


def clear_current() -> None:
    st.session_state.pop(_KEY, None)
