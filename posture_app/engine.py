"""Running the library for the app: the model, one landmarker per session, safe analysis.

MediaPipe landmarkers are not thread-safe, and Streamlit runs each browser session in its
own thread, so each session gets its own photo :class:`~posture.analysis.Analyzer` (kept in
``st.session_state``); the live page's stream makes its own (see :mod:`posture_app.live`).
The model file is resolved (downloaded or built if needed) once per server process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

log = logging.getLogger("posture_app")

_SESSION_KEY = "_posture_photo_analyzer"
_LOCK_KEY = "_posture_photo_lock"


@st.cache_resource(show_spinner="Loading the pose model…")
def model_path() -> str:
    """The pose model bundle's path, found once per server process."""
    from posture.models import resolve_model

    return str(resolve_model().path)


def session_lock() -> threading.Lock:
    """This session's landmarker lock: a rerun of the same session may overlap the previous
    one for a moment, and the lock keeps two script threads from using it at once."""
    return st.session_state.setdefault(_LOCK_KEY, threading.Lock())


def session_analyzer():
    """This session's photo analyzer and its lock (created on first use)."""
    from posture.analysis import Analyzer

    entry = st.session_state.get(_SESSION_KEY)
    if entry is None:
        entry = (Analyzer(model_path(), mode="image"), session_lock())
        st.session_state[_SESSION_KEY] = entry
    return entry


def analyse_upload(data: bytes, source: str | None):
    """This session's safe analysis of an upload (:func:`posture.safe.analyse_input`): the
    model is loaded only for a readable picture; never raises."""
    from posture.safe import analyse_input

    return analyse_input(lambda: session_analyzer()[0], data, name=source,
                         lock=session_lock(), log=log)


@dataclass(frozen=True)
class PhotoResult:
    """One analysed picture: the contract dict and the annotated image (None on errors)."""

    result: dict
    overlay: np.ndarray | None
    digest: str


def analyze_bytes(data: bytes, source: str | None) -> PhotoResult:
    """Analyse an uploaded picture; never raises (errors become an error result).

    Results are remembered per session by content hash, so reruns (any widget click)
    do not run the model again.
    """
    digest = hashlib.sha256(data).hexdigest()
    cache = st.session_state.setdefault("_posture_photo_cache", {})
    if digest in cache:
        return cache[digest]
    outcome = analyse_upload(data, source)
    out = PhotoResult(outcome.to_dict(), outcome.overlay(), digest)
    cache.clear()  # keep one picture's result per session: images are not kept around
    cache[digest] = out
    return out
