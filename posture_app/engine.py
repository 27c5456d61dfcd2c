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


@st.cache_resource(show_spinner="Loading the pose model…")
def model_path() -> str:
    """The pose model bundle's path, found once per server process."""
    from posture.models import resolve_model

    return str(resolve_model().path)


def session_analyzer():
    """This session's photo analyzer and its lock (created on first use)."""
    from posture.analysis import Analyzer

    entry = st.session_state.get(_SESSION_KEY)
    if entry is None:
        # a rerun of the same session may overlap the previous one for a moment: the lock
        # keeps two script threads from using the landmarker at once
        entry = (Analyzer(model_path(), mode="image"), threading.Lock())
        st.session_state[_SESSION_KEY] = entry
    return entry


@dataclass(frozen=True)
class PhotoResult:
    """One analysed picture: the contract dict and the annotated image (None on errors)."""

    result: dict
    overlay: np.ndarray | None
    digest: str


def _error(code: str, message: str, source: str | None) -> dict:
    from posture.errors import PostureError
    from posture.present.contract import error_to_dict

    return error_to_dict(PostureError(message, code=code), source=source)


def analyze_bytes(data: bytes, source: str | None) -> PhotoResult:
    """Analyse an uploaded picture; never raises (errors become an error result).

    Results are remembered per session by content hash, so reruns (any widget click)
    do not run the model again.
    """
    from posture.errors import PostureError
    from posture.images import load_image
    from posture.present.contract import assessment_to_dict, error_to_dict
    from posture.present.overlay import draw_overlay

    digest = hashlib.sha256(data).hexdigest()
    cache = st.session_state.setdefault("_posture_photo_cache", {})
    if digest in cache:
        return cache[digest]
    overlay = None
    try:
        frame = load_image(data)
        analyzer, lock = session_analyzer()
        with lock:
            a = analyzer.analyze(frame)
        result = assessment_to_dict(a, source=source)
        overlay = draw_overlay(frame.rgb, a)
    except PostureError as err:
        result = error_to_dict(err, source=source)
    except Exception:  # never show a traceback to a user; keep it in the server log
        log.exception("analysis failed for %s", source)
        result = _error("internal_error", "the analysis failed unexpectedly", source)
    out = PhotoResult(result, overlay, digest)
    cache.clear()  # keep one picture's result per session: images are not kept around
    cache[digest] = out
    return out
