"""The live check's video path: frames from ``streamlit-webrtc`` to the analysis, newest first.

Why a thread of our own: streamlit-webrtc runs the processor's ``recv_queued`` on its
worker thread and ends that thread for good when one call takes more than 10 s
(``streamlit_webrtc/process.py``, 0.79); every later frame then raises and the video
stops. On a loaded server the first frame (loading the pose model) or any frame can take
that long, and the page said "The video is not reaching the analysis" for the rest of the
stream. Here ``recv_queued`` only hands the newest frame to :class:`LatestFrameAnalysis`
and returns the last analysed picture at once; a frame not yet begun is replaced by a
newer one, never queued, so a slow analysis works on the present, not on a backlog.

:func:`flow_problem` says when the video really is not reaching the analysis (no frames
arrive, or the analysis is stuck), with a time bound that grows with the measured time
per frame, so a slow but working analysis is not reported as broken.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from posture_app.live import FIRST_FRAME_S, STALE_S, LiveSession, LiveStatus, status_markdown

log = logging.getLogger("posture_app")

#: The analysis counts as stuck when the frame in hand has taken this many times the
#: recent time per frame (and at least STALE_S; before a time per frame is known, at least
#: FIRST_FRAME_S).
STUCK_FACTOR = 5.0
#: The first frame loads the pose model: 1 s on a quiet server, 49 s measured under
#: stress-ng --cpu 2 on a loaded 2-core machine (2026-12-06). Past FIRST_FRAME_S the page
#: says the analysis is starting; only past this many times FIRST_FRAME_S that it is stuck.
FIRST_FRAME_STUCK = 4.0
#: Weight of the newest frame in the running mean of the time per frame.
EWMA = 0.3
#: A frame slower than this is logged (the stream goes on regardless).
SLOW_FRAME_S = 5.0

NOT_REACHING = ("⚠️ **The video is not reaching the analysis.** Press **STOP**, then "
                "**START**; if it happens again, use **Snapshots** above.")
STARTING = ("⏳ **The analysis is starting on a busy server** ({s:.0f} s so far). Stay "
            "side-on in the picture: it goes on by itself.")
STUCK = ("⚠️ **The analysis has stopped answering** ({s:.0f} s on one frame). Press "
         "**STOP**, then **START**; if it happens again, use **Snapshots** above.")


@dataclass(frozen=True)
class Flow:
    """Frames in and out of the analysis (a snapshot); times are ``time.monotonic()``, s."""

    started: float  # when the stream's processor was made
    received: int = 0  # frames handed in
    analysed: int = 0  # frames whose analysis finished
    dropped: int = 0  # frames replaced by a newer one before their analysis began
    last_received: float | None = None
    last_analysed: float | None = None
    busy_since: float | None = None  # the frame in hand's analysis began then (None: idle)
    #: running mean of the time per analysed frame after the first (which loads the model)
    per_frame_s: float | None = None
    alive: bool = True  # the analysis thread runs (False once closed, or if it died)


class LatestFrameAnalysis:
    """Analyses the newest frame handed in, on a thread of its own.

    ``process`` takes an RGB frame and returns the picture to show (the live session's
    overlay). :meth:`submit` never waits for the analysis; :meth:`latest` gives the last
    picture analysed. ``on_close`` runs once, on the analysis thread after its last frame
    (or at once if it never started), so a close never waits for a frame in hand.
    """

    def __init__(self, process: Callable[[Any], np.ndarray], *,
                 on_close: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._process = process
        self._on_close = on_close
        self._clock = clock
        self._cv = threading.Condition()
        self._pending: Any = None  # the newest frame, not yet begun (None: none)
        self._out: np.ndarray | None = None
        self._version = 0  # bumped with each analysed picture
        self._flow = Flow(started=clock())
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, frame: Any) -> None:
        """Hand in the newest frame (whatever ``process`` takes: the stream hands in its
        undecoded ``av.VideoFrame``, converted only if analysed); one waiting since the
        last hand-in is dropped."""
        with self._cv:
            if self._closed:
                return
            f = self._flow
            dropped = f.dropped + (self._pending is not None)
            self._pending = frame
            self._flow = replace(f, received=f.received + 1, dropped=dropped,
                                  last_received=self._clock())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="posture-live-analysis")
                self._thread.start()
            self._cv.notify()

    def latest(self) -> tuple[int, np.ndarray | None]:
        """(version, picture) of the last analysed frame; (0, None) before the first."""
        with self._cv:
            return self._version, self._out

    def flow(self) -> Flow:
        with self._cv:
            alive = not self._closed and (self._thread is None or self._thread.is_alive())
            return replace(self._flow, alive=alive)

    def close(self) -> None:
        """Stop after the frame in hand (idempotent); never waits for it."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            self._pending = None
            started = self._thread is not None
            self._cv.notify()
        if not started:
            self._closing()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the analysis thread to end (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _closing(self) -> None:
        if self._on_close is not None:
            try:
                self._on_close()
            except Exception:
                log.exception("live analysis could not be closed")

    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while self._pending is None and not self._closed:
                        self._cv.wait()
                    if self._closed:
                        return
                    frame, self._pending = self._pending, None
                    t0 = self._clock()
                    self._flow = replace(self._flow, busy_since=t0)
                try:
                    out = self._process(frame)
                except Exception:  # LiveSession.process does not raise; keep going if it did
                    log.exception("live frame analysis raised")
                    out = None  # the last picture stays
                t1 = self._clock()
                if t1 - t0 > SLOW_FRAME_S:
                    log.warning("live frame took %.1f s to analyse (newer frames replace "
                                "waiting ones)", t1 - t0)
                with self._cv:
                    f = self._flow
                    dt = t1 - t0
                    mean = (None if f.analysed == 0 else dt if f.per_frame_s is None
                            else (1 - EWMA) * f.per_frame_s + EWMA * dt)
                    if out is not None:
                        self._out, self._version = out, self._version + 1
                    self._flow = replace(f, analysed=f.analysed + 1, last_analysed=t1,
                                         busy_since=None, per_frame_s=mean)
        finally:
            f = self._flow
            if f.per_frame_s is not None and f.per_frame_s > 1.0:  # a slow server: say so
                log.warning("live stream ended: %d frames received, %d analysed, %.1f s a "
                            "frame", f.received, f.analysed, f.per_frame_s)
            self._closing()


def flow_problem(flow: Flow, now: float) -> str | None:
    """What to tell the person when the analysis is not getting the video, else None.

    No frame arrives for :data:`STALE_S` (:data:`FIRST_FRAME_S` before the first): the
    video is not reaching the analysis. Frames arrive but the frame in hand has taken
    :data:`STUCK_FACTOR` times the recent time per frame (at least STALE_S; before that is
    known, FIRST_FRAME_S): the analysis is stuck, but the first frame, which loads the
    model, is only "starting" up to FIRST_FRAME_STUCK × FIRST_FRAME_S. A slow analysis
    (say 3 s a frame on a loaded server) that still finishes frames is not a problem.
    """
    if not flow.alive:
        return NOT_REACHING
    if flow.received == 0:
        return NOT_REACHING if now - flow.started > FIRST_FRAME_S else None
    if now - flow.last_received > STALE_S:
        return NOT_REACHING
    if flow.busy_since is not None:
        busy = now - flow.busy_since
        if flow.analysed == 0:
            if busy > FIRST_FRAME_STUCK * FIRST_FRAME_S:
                return STUCK.format(s=busy)
            return STARTING.format(s=busy) if busy > FIRST_FRAME_S else None
        bound = (FIRST_FRAME_S if flow.per_frame_s is None
                 else max(STALE_S, STUCK_FACTOR * flow.per_frame_s))
        if busy > bound:
            return STUCK.format(s=busy)
    return None


def live_markdown(status: LiveStatus, flow: Flow, now: float) -> str:
    """The page's text beside the video: a transport problem first, else the position.

    The count-down's seconds run on between frames (a slow server's frames may be seconds
    apart, and the number would stand still until the next one)."""
    problem = flow_problem(flow, now)
    if problem:
        return problem
    if status.countdown is not None and status.updated is not None:
        status = replace(status, countdown=max(0.0, status.countdown - (now - status.updated)))
    return status_markdown(status)


def processor_factory(model_path: str | None):
    """A ``streamlit-webrtc`` video processor class bound to ``model_path``."""
    import av
    from streamlit_webrtc import VideoProcessorBase

    class PostureVideoProcessor(VideoProcessorBase):
        def __init__(self) -> None:
            self.session = LiveSession(model_path)
            # converted to RGB on the analysis thread, and only the frames analysed: the
            # stream's own thread does no per-frame work (it keeps up on a loaded server)
            self.analysis = LatestFrameAnalysis(
                lambda f: self.session.process(f.to_ndarray(format="rgb24")),
                on_close=self.session.close)
            self._sent: tuple[int, av.VideoFrame | None] = (0, None)

        def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
            """Hand the frame to the analysis; return the last analysed picture at once
            (the frame itself until the first is ready)."""
            try:
                self.analysis.submit(frame)
                version, out = self.analysis.latest()
                if out is None:
                    return frame
                if version != self._sent[0]:  # convert each analysed picture once
                    self._sent = (version, av.VideoFrame.from_ndarray(out, format="rgb24"))
                return self._sent[1]
            except Exception:  # the stream goes on: the frame goes back as it came
                log.exception("live frame could not be converted")
                return frame

        async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
            # only the newest frame matters: older ones are stale by now
            return [self.recv(frames[-1])]

        def on_ended(self) -> None:
            self.analysis.close()

    return PostureVideoProcessor
