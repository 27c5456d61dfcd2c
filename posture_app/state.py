"""The session's latest result, shared between pages (photo or live → exercise plan).

Kept only in this browser session's memory; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from posture.contract import from_dict
from posture.result import Reading

_KEY = "posture_current_result"


@dataclass(frozen=True)
class Current:
    result: Reading  # typed once, where it enters the session
    overlay: np.ndarray | None  # annotated RGB image
    origin: str  # "photo", "camera", "sample" or "live"


def set_current(result: dict | Reading, overlay: np.ndarray | None, origin: str) -> None:
    """Keep a result for the other pages, as a typed reading (a contract dict is read once
    here; one that does not parse is kept as its ``invalid_result`` error)."""
    st.session_state[_KEY] = Current(from_dict(result, strict=False), overlay, origin)


def get_current() -> Current | None:
    return st.session_state.get(_KEY)


def clear_current() -> None:
    st.session_state.pop(_KEY, None)
