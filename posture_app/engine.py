"""Running the library for the app: the model, a shared pool of landmarkers, safe analysis.

MediaPipe landmarkers are not thread-safe, and Streamlit runs each browser session in its
own thread. Photo analyzers are lent from one pool per server process
(:func:`analyzer_pool`, at most :data:`POOL_SIZE` of them), one analysis at a time, so the
server's memory does not grow with the number of sessions: an analyzer kept in each
session's state was never closed and held ~100 MB per visitor until the process ended
(issue 15: 1.5 GB after 16 short sessions had expired). The live page's stream makes its
own (see :mod:`posture_app.live`). The model file is resolved (downloaded or built if
needed) once per server process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

from . import memory  # noqa: F401  (tunes malloc before the first analysis)

log = logging.getLogger("posture_app")



@st.cache_resource(show_spinner="Loading the pose model…")
def model_path() -> str:
    """The pose model bundle's path, found once per server process."""
    from posture.models import resolve_model

    return str(resolve_model().path)


#: Photo analyzers per server process (``POSTURE_APP_ANALYZERS``): analyses beyond it wait
#: their turn. Each holds a landmarker and the tilt estimator (~100 MB).
POOL_SIZE = max(1, int(os.environ.get("POSTURE_APP_ANALYZERS", "2")))
#: How long an upload waits for a free analyzer before it is answered ``server_busy``, s.
POOL_WAIT_S = 120.0


class AnalyzerPool:
    """Up to ``size`` photo analyzers, made on first need and lent one at a time."""

    def __init__(self, make, size: int = POOL_SIZE):
        self._make, self._size = make, size
        self._free: queue.LifoQueue = queue.LifoQueue()
        self._made = 0
        self._lock = threading.Lock()

    @property
    def made(self) -> int:
        """Analyzers made so far (never more than ``size``)."""
        return self._made

    def take(self):
        """A free analyzer (made if fewer than ``size`` exist), waiting for one if not."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            make = self._made < self._size
            if make:
                self._made += 1
        if make:
            try:
                return self._make()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        try:
            return self._free.get(timeout=POOL_WAIT_S)
        except queue.Empty:
            from posture.errors import PostureError

            raise PostureError("the server is busy analysing other photos; try again in a "
                               "minute", code="server_busy") from None

    def give_back(self, analyzer) -> None:
        self._free.put(analyzer)

    def loan(self) -> _Loan:
        return _Loan(self)


class _Loan:
    """One analysis' use of the pool: :meth:`take` borrows (once), :meth:`release` returns."""

    def __init__(self, pool: AnalyzerPool):
        self._pool, self._analyzer = pool, None

    def take(self):
        if self._analyzer is None:
            self._analyzer = self._pool.take()
        return self._analyzer

    def release(self) -> None:
        if self._analyzer is not None:
            self._pool.give_back(self._analyzer)
            self._analyzer = None


@st.cache_resource(show_spinner=False)
def analyzer_pool() -> AnalyzerPool:
    """The server process' photo analyzers (made on first need, kept for its life)."""
    from posture.analysis import Analyzer

    return AnalyzerPool(lambda: Analyzer(model_path(), mode="image"))


def analyze_upload(data: bytes, source: str | None):
    """A safe analysis of an upload (:func:`posture.safe.analyze_input`) with an analyzer
    lent by the pool: the model is loaded only for a readable picture; never raises."""
    from posture.safe import analyze_input

    from .memory import start_reaper, trim_malloc

    start_reaper()  # once per process: releases what expired sessions held (issue 15)
    loan = analyzer_pool().loan()
    try:
        return analyze_input(loan.take, data, name=source, log=log)
    finally:
        loan.release()
        trim_malloc()  # a photo's decode buffers go back to the system, not to a free list


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
    outcome = analyze_upload(data, source)
    out = PhotoResult(outcome.to_dict(), outcome.overlay(), digest)
    cache.clear()  # keep one picture's result per session: images are not kept around
    cache[digest] = out
    return out
