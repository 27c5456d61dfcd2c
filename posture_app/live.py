"""The live check's video processing: one landmarker per stream, overlay, hands-free capture.

:class:`LiveSession` holds everything and knows nothing of WebRTC (so it is testable with
plain arrays); :func:`processor_factory` wraps it in a ``streamlit-webrtc`` video processor.
The capture starts by itself once the person has held a measurable position for a moment,
after a count-down (:class:`posture.autocapture.AutoCapture` decides when); the manual
button still works.

Threads: ``process`` runs on the stream's worker thread, ``close`` on aiortc's event loop
when the stream ends, and the page's script thread reads the status and drives captures.
One lock guards the landmarker (created lazily on the worker thread, closed once), another
the small shared state.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from posture.autocapture import AutoCapture, AutoCaptureConfig
from posture.capture import MIN_FRAMES

log = logging.getLogger("posture_app")

#: Frames are analysed with their long side at most this many pixels: the pose model works
#: at 256 px anyway, and on a small server CPU this keeps ~8-10 analysed frames per second.
MAX_SIDE = 640
CAPTURE_SECONDS = 3.0
#: A capture with too few measured frames goes on for up to this many times its length.
EXTEND = 3.0


@dataclass(frozen=True)
class LiveStatus:
    """What the page shows beside the video (a snapshot; replaced, never mutated)."""

    frames: int = 0  # frames analysed so far
    person: bool = False
    ready: bool = False  # side-on, whole body, alone: a capture can be measured
    guidance: tuple[str, ...] = ("Step into the picture, side-on to the camera.",)
    error: str | None = None
    phase: str = "waiting"  # AutoCapture state: waiting, settling, countdown, capturing, done
    countdown: float | None = None  # seconds left before the capture starts (countdown)


@dataclass
class _Capture:
    seconds: float
    start: float | None = None
    results: list[dict] = field(default_factory=list)
    overlays: list[np.ndarray] = field(default_factory=list)
    empty: int = 0  # frames in which nobody was seen
    usable: int = 0  # frames in a measurable position
    done: bool = False


def fit(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Downscale so the long side is at most ``max_side`` (never upscale)."""
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def _banner(img: np.ndarray, text: str, colour: tuple[int, int, int],
            progress: float | None = None) -> None:
    """A readable text strip at the bottom of the frame (and a progress bar while capturing)."""
    h, w = img.shape[:2]
    scale = max(0.45, w / 1000)
    th = max(1, round(w / 500))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    bar_h = tht + base + 16
    y0 = h - bar_h - (8 if progress is not None else 0)
    cv2.rectangle(img, (0, y0), (w, h), (0, 0, 0), -1)
    cv2.putText(img, text, (10, y0 + tht + 8), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, th,
                cv2.LINE_AA)
    if progress is not None:
        cv2.rectangle(img, (0, h - 8), (int(w * min(max(progress, 0), 1)), h), (80, 220, 120),
                      -1)


def _countdown(img: np.ndarray, seconds_left: float) -> None:
    """The count-down number, big in the middle of the frame (readable from 2–3 m)."""
    h, w = img.shape[:2]
    text = str(max(1, int(np.ceil(seconds_left))))
    scale = min(h, w) / 110
    th = max(2, round(scale * 3))
    (tw, tht), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    org = ((w - tw) // 2, (h + tht) // 2)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th + 6, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), th,
                cv2.LINE_AA)


class LiveSession:
    """Analyses the frames of one stream with its own VIDEO-mode analyzer."""

    def __init__(self, model_path: str | None = None, *, analyzer_factory=None,
                 auto: AutoCaptureConfig | None = None, auto_capture: bool = True,
                 capture_seconds: float = CAPTURE_SECONDS):
        self._model_path = model_path
        self._factory = analyzer_factory
        self._analyzer = None
        self._closed = False
        self._lock = threading.Lock()  # the landmarker: create, use, close
        self._state = threading.Lock()  # status and capture
        self._status = LiveStatus()
        self._capture: _Capture | None = None
        self._mirror_next = False  # alternate plain/mirrored frames while capturing
        self._t0 = time.monotonic()
        self._auto = AutoCapture(auto) if auto_capture else None
        self._capture_seconds = capture_seconds

    # --- worker thread ------------------------------------------------------------------

    def _new_analyzer(self):
        if self._factory is not None:
            return self._factory()
        from posture.analysis import Analyzer

        return Analyzer(self._model_path, mode="video")

    def _get_analyzer(self):
        if self._analyzer is None:
            self._analyzer = self._new_analyzer()
        return self._analyzer

    def process(self, rgb: np.ndarray, now: float | None = None) -> np.ndarray:
        """Analyse one RGB frame; returns it with the overlay and guidance drawn on."""
        from posture.present.contract import assessment_to_dict
        from posture.present.overlay import draw_overlay
        from posture.safe import NOBODY_CODE, analyze_input

        now = time.monotonic() if now is None else now
        rgb = np.ascontiguousarray(fit(rgb))
        a, error = None, None
        with self._lock:
            if self._closed:
                return rgb
            # while capturing, every other frame is measured in its mirror image, so that
            # the captured reading is mirror-balanced as a photo's is (issue 12)
            with self._state:
                capturing = self._capture is not None and not self._capture.done
            self._mirror_next = capturing and not self._mirror_next
            # a bad frame must not kill the stream: a coded outcome, details to the log
            outcome = analyze_input(self._get_analyzer, rgb, name="live", log=log,
                                    timestamp_ms=int((now - self._t0) * 1000),
                                    mirrored=self._mirror_next)
            a = outcome.assessment
            if outcome.failed and outcome.code != NOBODY_CODE:
                error = "The analysis of the video failed; see the server log."
        if a is None:
            out = rgb.copy()
            d = None
            guidance = ("Step into the picture: whole body, side-on to the camera.",)
            ready = False
        else:
            d = assessment_to_dict(a, source="live")
            out = draw_overlay(rgb, a)
            ready = bool(a.side.view.ok)
            guidance = tuple(a.side.view.guidance) or (
                ("Good: side-on and whole. Keep still: the capture starts by itself.",)
            )
        with self._state:
            phase = self._auto.update(ready, now) if self._auto is not None else None
            if phase is not None and phase.event == "start":
                self._capture = _Capture(self._capture_seconds)
            elif phase is not None and phase.event == "abort":
                self._capture = None  # they left: the frames would mix two positions
            cap = self._capture
            progress = None
            if cap is not None and not cap.done:
                if cap.start is None:
                    cap.start = now
                if d is None:
                    cap.empty += 1
                else:
                    cap.results.append(d)
                    cap.overlays.append(out.copy())
                    cap.usable += ready
                progress = (now - cap.start) / cap.seconds
                # a slow server may analyse too few frames in the time: while the person is
                # measured, hold on for more (up to EXTEND times as long) rather than abstain
                if progress >= 1 and (cap.usable == 0 or cap.usable >= MIN_FRAMES
                                      or progress >= EXTEND):
                    cap.done = True
                    if self._auto is not None:
                        self._auto.finish()
            state = self._auto.state if self._auto is not None else "waiting"
            left = phase.seconds_left if phase is not None else None
            self._status = LiveStatus(self._status.frames + 1, a is not None, ready,
                                      guidance, error, state, left)
        if progress is not None and progress < 1:
            _banner(out, f"Hold still... {min(progress, 1):.0%}", (255, 255, 255), progress)
        elif left is not None:
            _countdown(out, left)
            _banner(out, "Stay side-on: capture starts in a moment", (120, 230, 140))
        elif state == "done":
            _banner(out, "Captured: see your result on the page", (120, 230, 140))
        elif ready:
            _banner(out, "Side-on and whole: ready", (120, 230, 140))
        else:
            _banner(out, guidance[0], (255, 210, 90))
        return out

    def close(self) -> None:
        """Release the landmarker (idempotent; called when the stream ends)."""
        with self._lock:
            self._closed = True
            if self._analyzer is not None:
                try:
                    self._analyzer.close()
                finally:
                    self._analyzer = None

    # --- script thread ------------------------------------------------------------------

    @property
    def status(self) -> LiveStatus:
        with self._state:
            return self._status

    @property
    def closed(self) -> bool:
        return self._closed

    def start_capture(self, seconds: float | None = None) -> None:
        """A manual start (the button): capture now, without the count-down."""
        with self._state:
            self._capture = _Capture(seconds or self._capture_seconds)
            if self._auto is not None:
                self._auto.start_now(time.monotonic())

    def check_again(self) -> None:
        """Arm the hands-free capture again (after a result, without leaving the picture)."""
        with self._state:
            self._capture = None
            if self._auto is not None:
                self._auto.reset()

    def capture_progress(self) -> float | None:
        """0-1 while a capture runs (1 when done), None when there is none."""
        with self._state:
            cap = self._capture
            if cap is None:
                return None
            if cap.done:
                return 1.0
            if cap.start is None:
                return 0.0
            return min((time.monotonic() - cap.start) / cap.seconds, 0.99)

    def take_capture(self) -> tuple[list[dict], list[np.ndarray], int] | None:
        """The finished capture's per-frame results, overlays and empty-frame count."""
        with self._state:
            cap = self._capture
            if cap is None or not cap.done:
                return None
            self._capture = None
            return cap.results, cap.overlays, cap.empty


def processor_factory(model_path: str):
    """A ``streamlit-webrtc`` video processor class bound to ``model_path``."""
    import av
    from streamlit_webrtc import VideoProcessorBase

    class PostureVideoProcessor(VideoProcessorBase):
        def __init__(self) -> None:
            self.session = LiveSession(model_path)

        def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
            out = self.session.process(frame.to_ndarray(format="rgb24"))
            return av.VideoFrame.from_ndarray(out, format="rgb24")

        async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
            # analyse only the newest frame: older ones are stale by now
            return [self.recv(frames[-1])]

        def on_ended(self) -> None:
            self.session.close()

    return PostureVideoProcessor
