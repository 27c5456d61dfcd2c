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

import contextlib
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from . import memory  # tunes malloc on import, before the first analysis

if TYPE_CHECKING:
    from posture.result import Reading

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
#: Analyzers kept ready however long they are unused (the next upload does not wait for a
#: model to load); the others are closed once unused for :data:`POOL_IDLE_S` seconds.
POOL_KEEP = 1
#: Seconds an analyzer beyond :data:`POOL_KEEP` may stay unused before it is closed.
POOL_IDLE_S = 60.0


class AnalyzerPool:
    """Up to ``size`` photo analyzers, made on first need and lent one at a time.

    A second analyzer is made only when two analyses overlap (two visitors, or a script
    run Streamlit has stopped still finishing its analysis while the next one starts);
    :meth:`close_idle` (called by the session reaper, :mod:`posture_app.memory`) closes
    it again once unused, so a quiet server holds ``keep`` of them (issue 15).
    """

    def __init__(self, make, size: int = POOL_SIZE, keep: int = POOL_KEEP):
        self._make, self._size, self._keep = make, size, keep
        self._free: list[tuple[object, float]] = []  # (analyzer, given back at), newest last
        self._made = 0
        self._cond = threading.Condition()
        # Turns: an upload holds one from before its decode to the end of its analysis, so
        # at most `size` photos are decoded or analysed at once. Decoding outside the limit
        # let three 16-bit uploads take the server from 267 MB to 4.8 GB (issue 23).
        self._turns = threading.BoundedSemaphore(size)

    @contextlib.contextmanager
    def turn(self):
        """Hold one of the ``size`` turns (decode and analysis of one upload) while inside;
        waits up to :data:`POOL_WAIT_S`, then raises ``server_busy``."""
        if not self._turns.acquire(timeout=POOL_WAIT_S):
            from posture.errors import PostureError

            raise PostureError("the server is busy analysing other photos; try again in a "
                               "minute", code="server_busy")
        try:
            yield
        finally:
            self._turns.release()

    @property
    def made(self) -> int:
        """Analyzers that exist now, lent or free (never more than ``size``)."""
        return self._made

    def take(self):
        """A free analyzer (made if fewer than ``size`` exist), waiting for one if not."""
        deadline = time.monotonic() + POOL_WAIT_S
        with self._cond:
            while not self._free and self._made >= self._size:
                left = deadline - time.monotonic()
                if left <= 0:
                    from posture.errors import PostureError

                    raise PostureError("the server is busy analysing other photos; try "
                                       "again in a minute", code="server_busy")
                self._cond.wait(left)
            if self._free:
                return self._free.pop()[0]  # the most recently used: the others go idle
            self._made += 1
        try:
            return self._make()
        except BaseException:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise

    def give_back(self, analyzer) -> None:
        with self._cond:
            self._free.append((analyzer, time.monotonic()))
            self._cond.notify()

    def close_idle(self, idle_s: float | None = None) -> int:
        """Close the free analyzers unused for ``idle_s`` seconds (default
        :data:`POOL_IDLE_S`) beyond the ``keep`` most recently used; returns how many."""
        idle_s = POOL_IDLE_S if idle_s is None else idle_s
        now, closing = time.monotonic(), []
        with self._cond:
            while (self._free and self._made > self._keep
                   and now - self._free[0][1] >= idle_s):
                closing.append(self._free.pop(0)[0])  # the oldest first
                self._made -= 1
        for an in closing:
            try:
                an.close()
            except Exception:  # a failed close must not stop the reaper
                log.exception("could not close an idle analyzer")
        return len(closing)

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

    pool = AnalyzerPool(lambda: Analyzer(model_path(), mode="image"))
    memory.add_idle_hook(pool.close_idle)  # the reaper closes analyzers no longer needed
    memory.add_stat("pool_made", lambda: pool.made)  # in the memory snapshots
    return pool


def analyze_upload(data: bytes, source: str | None):
    """A safe analysis of an upload (:func:`posture.safe.analyze_input`) with an analyzer
    lent by the pool: decoded and analysed in one of the pool's turns (at most
    :data:`POOL_SIZE` uploads at once, decoding included); the model is loaded only for a
    readable picture; never raises (a wait past :data:`POOL_WAIT_S` is ``server_busy``)."""
    from posture.errors import PostureError
    from posture.safe import Outcome, analyze_input

    from .memory import start_dump_watch, start_reaper, trim_malloc

    start_reaper()  # once per process: releases what expired sessions held (issue 15)
    start_dump_watch()  # only with POSTURE_MEMORY_DUMP set (diagnosis)
    pool = analyzer_pool()
    try:
        with pool.turn():
            loan = pool.loan()
            try:
                return analyze_input(loan.take, data, name=source, log=log)
            finally:
                loan.release()
    except PostureError as err:  # no turn within POOL_WAIT_S
        return Outcome.failure(err, source)
    finally:
        trim_malloc()  # a photo's decode buffers go back to the system, not to a free list


#: Long side, px, of the annotated photo a session keeps and shows: the PDF report
#: thumbnails it to 1,200 px anyway (``report_pdf._as_pil``) and the page shows it at most
#: ~700 px wide. A 13 MP upload's full-size overlay (39 MB) was kept in each session's state
#: (twice: the result cache and the current result) until the session expired (issue 15).
SHOWN_LONG_SIDE = 1200


def shown_size(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` shrunk so its long side is at most :data:`SHOWN_LONG_SIDE` px (a copy), or
    ``rgb`` itself when it is no larger."""
    h, w = rgb.shape[:2]
    s = SHOWN_LONG_SIDE / max(h, w)
    if s >= 1.0:
        return rgb
    import cv2

    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class PhotoResult:
    """One analysed picture (or a side and a front photo in one result): its typed
    reading (kept typed in the session, never re-parsed) and the annotated image (None on
    errors); with two photos the front (or back) one too, and why a second photo was not
    used (Markdown) when it was not."""

    result: Reading
    overlay: np.ndarray | None
    digest: str
    front_overlay: np.ndarray | None = None
    second_problem: str | None = None


def _picture(outcome) -> np.ndarray | None:
    """The annotated picture of an outcome at the size kept (:func:`shown_size`), None
    on errors."""
    overlay = outcome.overlay(label=False)  # the numbers are page text, not pixels
    return None if overlay is None else shown_size(overlay)


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
    out = PhotoResult(outcome.reading(), _picture(outcome), digest)
    del outcome  # the full-size photo and overlay go now, not with the session
    cache.clear()  # keep one picture's result per session: images are not kept around
    cache[digest] = out
    return out


def _kind(outcome) -> str | None:
    """The view an outcome measured ("side", "front", "back"), None when refused."""
    a = outcome.assessment
    return a.view_kind if a is not None and a.view.gate.ok else None


def second_photo_problem(first, second) -> str | None:
    """Why two outcomes cannot make one assessment (Markdown), None when they can: one
    side view and one front or back view, both measured."""
    from .results import retake_message

    kinds = (_kind(first), _kind(second))
    if kinds[1] is None:
        return retake_message(second.reading()) or "It could not be measured."
    if kinds[0] is None:
        return "The first photo could not be measured."
    if (kinds[0] == "side") != (kinds[1] == "side"):
        return None  # one side view, one front or back view
    want = "a front or back" if kinds[0] == "side" else "a side"
    return f"Both photos are {kinds[1]} views; the second one needs to be {want} view."


def analyze_views(first: tuple[bytes, str | None], second: tuple[bytes, str | None]
                  ) -> PhotoResult:
    """A side photo and a front (or back) photo, in either order, as one assessment
    (:func:`posture.analysis.combine`: the side view's tilt and grade, the front view's
    side-to-side measures); never raises. When the two cannot be combined (a photo not
    measured, two of one view) the result is the first photo's, with
    ``second_problem`` saying why the second was not used. Cached per session like
    :func:`analyze_bytes`."""
    from posture.analysis import combine
    from posture.safe import Outcome

    digest = "+".join(hashlib.sha256(d).hexdigest() for d, _ in (first, second))
    cache = st.session_state.setdefault("_posture_photo_cache", {})
    if digest in cache:
        return cache[digest]
    a, b = analyze_upload(*first), analyze_upload(*second)
    # a first photo not measured is shown as it is (its own message says why)
    problem = second_photo_problem(a, b) if _kind(a) is not None else None
    if _kind(a) is None or problem is not None:
        out = PhotoResult(a.reading(), _picture(a), digest, second_problem=problem)
    else:
        side, front = (a, b) if _kind(a) == "side" else (b, a)
        both = Outcome(side.source, combine(side.assessment, front.assessment),
                       frame=side.frame)
        out = PhotoResult(both.reading(), _picture(both), digest,
                          front_overlay=_picture(front))
        del both, side, front
    del a, b  # the full-size photos go now, not with the session
    cache.clear()
    cache[digest] = out
    return out


#: A warmed live analyzer unused for this long is closed by the reaper, s (it holds a
#: landmarker and the estimator, ~100 MB; the next Live check page makes another).
LIVE_SPARE_IDLE_S = 600.0


class LiveSpare:
    """At most one VIDEO-mode analyzer per server, made before a stream needs it.

    Under load (``stress-ng --cpu 2`` on the shared 2-core machine) making the landmarker
    and estimator on the stream's first frame took 49–71 s and the browser dropped the
    WebRTC connection meanwhile. :meth:`warm` starts making one on a thread of its own
    when the Live check page shows START; the stream's :class:`~posture_app.live.
    LiveSession` takes it (:meth:`take`, waiting for it if still loading), so its first
    frame pays only the analysis. One spare at most: memory does not grow with visitors.
    """

    def __init__(self, make, clock=time.monotonic):
        self._make = make  # model path -> analyzer
        self._clock = clock
        self._lock = threading.Lock()
        self._spare = None  # (model path, Future, when made or None)
        self.made = 0

    def warm(self, model: str | None) -> bool:
        """Start making a spare for ``model`` unless one is ready or loading; True if started."""
        from concurrent.futures import Future

        with self._lock:
            if self._spare is not None:
                return False
            fut: Future = Future()
            self._spare = [model, fut, None]
            self.made += 1
        threading.Thread(target=self._build, args=(model, fut), daemon=True,
                         name="posture-live-warmup").start()
        return True

    def _build(self, model, fut) -> None:
        t0 = time.monotonic()
        try:
            fut.set_result(self._make(model))
            log.warning("live analyzer warmed up in %.1f s (before START)",
                        time.monotonic() - t0)
        except Exception as exc:  # the stream then makes its own (and logs why)
            log.warning("live analyzer warm-up failed: %s", exc)
            fut.set_exception(exc)
        with self._lock:
            if self._spare is not None and self._spare[1] is fut:
                self._spare[2] = self._clock()

    def take(self, model: str | None):
        """The spare for ``model`` (waiting for it to load), else None."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            analyzer = spare[1].result()
        except Exception:
            return None
        if spare[0] != model:
            analyzer.close()
            return None
        return analyzer

    def close_idle(self, idle_s: float = LIVE_SPARE_IDLE_S) -> int:
        """Close a loaded spare nobody took for ``idle_s`` seconds (reaper hook)."""
        with self._lock:
            spare = self._spare
            if spare is None or spare[2] is None or self._clock() - spare[2] < idle_s:
                return 0
            self._spare = None
        try:
            spare[1].result().close()
        except Exception:
            return 0
        return 1


def _video_analyzer(model: str | None):
    from posture.analysis import Analyzer

    return Analyzer(model, mode="video")


live_spare = LiveSpare(_video_analyzer)
memory.add_idle_hook(live_spare.close_idle)


def live_analyzer(model: str | None):
    """A VIDEO-mode analyzer for one stream: the warmed spare if there is one, else new."""
    return live_spare.take(model) or _video_analyzer(model)
