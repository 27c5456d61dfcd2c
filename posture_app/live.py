"""The live check's video processing: one landmarker per stream, overlay, hands-free capture.

:class:`LiveSession` holds everything and knows nothing of WebRTC (so it is testable with
plain arrays); :func:`posture_app.live_stream.processor_factory` wraps it in a
``streamlit-webrtc`` video processor that runs it on a thread of its own, newest frame first.
The capture starts by itself once the person has held a measurable position for a moment,
after a count-down (:class:`posture.autocapture.AutoCapture` decides when); the manual
button still works.

Threads: ``process`` runs on the stream's analysis thread, ``close`` on that thread after
its last frame when the stream ends, and the page's script thread reads the status and
drives captures. One lock guards the landmarker (warmed when the page shows START, else made
on the first frame; closed once), another the small shared state.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from posture.autocapture import AutoCapture, AutoCaptureConfig
from posture.capture import MIN_FRAMES, MIRRORED_KEY

if TYPE_CHECKING:
    from posture.result import Assessment, Reading

log = logging.getLogger("posture_app")

#: Frames are analysed with their long side at most this many pixels: the pose model works
#: at 256 px anyway, and on a small server CPU this keeps ~8-10 analysed frames per second.
MAX_SIDE = 640
CAPTURE_SECONDS = 3.0
#: A capture with too few measured frames goes on for up to this many times its length,
#: once it has seen 2 × MIN_FRAMES frames (a slow server's frames come seconds apart: a
#: bound in time alone ended its capture with 3 frames, too few to combine) ...
EXTEND = 3.0
#: ... and never longer than this many times its length.
EXTEND_MAX = 10.0
#: After this many frames in a row whose processing failed, the status also says that the
#: analysis keeps failing (a single bad frame is only guidance: the stream goes on).
FAILURES_BEFORE_ERROR = 30

#: Guidance when a frame could not be processed at all. Such failures come from pictures
#: the analysis cannot place a whole body in (partly out of frame, too close), so the
#: advice that helps is the one for a cut-off body.
STEP_BACK = "Step back so your whole body, head to feet, is in the picture, side-on."
NOBODY = "Step into the picture: whole body, side-on to the camera."
READY = "Good: whole body in view. Keep still: the capture starts by itself."
FAILING = ("The analysis keeps failing on this video. Try stepping back, or use "
           "Snapshots above.")


#: Seconds without a processed frame, while the stream plays, before the page says so
#: (longer for the first frame, which waits for the pose model to load).
STALE_S = 8.0
FIRST_FRAME_S = 30.0


def step_back_guidance(knees_seen: bool) -> str:
    """What to say to a person whose feet (and perhaps knees) are out of the picture."""
    if knees_seen:
        return "Step back so your feet are in the picture too."
    return "Step back so your knees and feet are in the picture."


@dataclass(frozen=True)
class LiveStatus:
    """What the page shows beside the video (a snapshot; replaced, never mutated)."""

    frames: int = 0  # frames analysed so far
    person: bool = False
    ready: bool = False  # side-on, whole body, alone, in two frames running: can capture
    guidance: tuple[str, ...] = ("Step into the picture, side-on to the camera.",)
    error: str | None = None
    phase: str = "waiting"  # AutoCapture state: waiting, settling, countdown, capturing, done
    countdown: float | None = None  # seconds left before the capture starts (countdown)
    #: time.monotonic() (s) of the frame this status is from; before the first frame, of
    #: the session's start
    updated: float | None = None


@dataclass
class _Capture:
    seconds: float
    start: float | None = None
    results: list[Reading] = field(default_factory=list)
    frames: list[CapturedFrame] = field(default_factory=list)
    empty: int = 0  # frames in which nobody was seen
    usable: int = 0  # frames in a measurable position
    done: bool = False


@dataclass(frozen=True)
class CapturedFrame:
    """A captured frame as analysed (no overlay yet): the result's overlay is drawn once
    the frames are combined, with the combined reading, so that picture and verdict agree.
    The person mask is kept as 0/1 bytes (the outline is all the overlay draws of it)."""

    rgb: np.ndarray
    assessment: Assessment


class Taken(NamedTuple):
    """A finished capture: per-frame readings, the frames, frames with nobody."""

    results: list[Reading]
    frames: list[CapturedFrame]
    empty: int


@dataclass(frozen=True)
class _Seen:
    """One analysed frame, before the capture and status are updated."""

    out: np.ndarray  # the frame to send back (overlay drawn when there was a person)
    result: Reading | None  # the reading of a frame with a person in it
    person: bool
    ready: bool
    guidance: tuple[str, ...]
    error: str | None = None
    frame: CapturedFrame | None = None


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
        self._t0 = time.monotonic()
        self._status = LiveStatus(updated=self._t0)
        self._capture: _Capture | None = None
        self._mirror_next = False  # alternate plain/mirrored frames while capturing
        self._auto = AutoCapture(auto) if auto_capture else None
        self._capture_seconds = capture_seconds
        self._failures = 0  # frames in a row whose processing failed (worker thread only)
        self._was_ready = False  # the previous frame was in position

    # --- worker thread ------------------------------------------------------------------

    def _new_analyzer(self):
        if self._factory is not None:
            return self._factory()
        from posture_app.analyzers import live_analyzer

        return live_analyzer(self._model_path)  # warmed before START if the page could

    def _get_analyzer(self):
        if self._analyzer is None:
            self._analyzer = self._new_analyzer()
        return self._analyzer

    def process(self, rgb: np.ndarray, now: float | None = None) -> np.ndarray:
        """Analyse one RGB frame; returns it with the overlay and guidance drawn on.

        Never raises: a frame whose analysis or drawing fails becomes step-back guidance
        (status and banner) and the next frame is processed as usual. An exception here
        would end the stream's worker, and the page would say "Looking for you" for ever.
        """
        now = time.monotonic() if now is None else now
        try:
            rgb = np.ascontiguousarray(fit(rgb))
        except Exception:  # not a picture we can even resize: send it back as it came
            log.exception("live frame could not be resized")
            return rgb
        try:
            seen = self._analyse(rgb, now)
            self._failures = 0
        except Exception:
            seen = self._failed(rgb)
        if seen is None:  # closed
            return rgb
        try:
            return self._advance(seen, now)
        except Exception:
            log.exception("live frame could not be drawn on")
            return seen.out

    def _failed(self, rgb: np.ndarray) -> _Seen:
        """A frame that could not be analysed or drawn: guidance, the traceback to the log."""
        self._failures += 1
        if self._failures == 1 or self._failures % 100 == 0:  # not 10 tracebacks a second
            log.exception("live frame processing failed (%d in a row)", self._failures)
        error = FAILING if self._failures >= FAILURES_BEFORE_ERROR else None
        # someone is in front of the camera whom the analysis cannot place: say what helps
        # ("Looking for you" would tell a person standing too close nothing)
        return _Seen(rgb.copy(), None, True, False, (STEP_BACK,), error)

    def _analyse(self, rgb: np.ndarray, now: float) -> _Seen | None:
        """The frame's assessment and overlay (None once closed); raises on a failure."""
        from posture.contract import reading
        from posture.present.overlay import draw_overlay
        from posture.safe import NOBODY_CODE, analyze_input

        with self._lock:
            if self._closed:
                return None
            # while capturing, every other frame is measured in its mirror image, so that
            # the captured reading is mirror-balanced as a photo's is (issue 12)
            with self._state:
                capturing = self._capture is not None and not self._capture.done
            self._mirror_next = capturing and not self._mirror_next
            mirrored = self._mirror_next
            # a coded outcome; an unforeseen failure's traceback is logged by analyze_input
            outcome = analyze_input(self._get_analyzer, rgb, name="live", log=log,
                                    timestamp_ms=int((now - self._t0) * 1000),
                                    mirrored=mirrored)
        a = outcome.assessment
        if outcome.failed and outcome.code != NOBODY_CODE:
            raise RuntimeError(f"live frame analysis failed: {outcome.code}")
        if a is None:
            return _Seen(rgb.copy(), None, False, False, (NOBODY,))
        view = a.view.gate  # the side view's, or a front (back) view's (issue 28)
        # feet out of the picture: a photo is measured as a partial view, but here the
        # person can step back, and a whole body is measured more precisely
        ready = bool(view.ok and not view.partial)
        # a front view's only guidance is "add a side photo": not what to change here
        guidance = tuple(view.guidance) if a.view_kind == "side" else ()
        if view.ok and view.partial:
            guidance = (step_back_guidance(view.knees_seen), *guidance)
        # the capture compares like with like (posture.capture): the frame says which kind
        d = replace(reading(a, source="live"), extra={MIRRORED_KEY: mirrored})
        mask = a.pose.mask  # kept as 0/1 bytes, a quarter of the float mask
        kept = a if mask is None else replace(
            a, pose=replace(a.pose, mask=(mask > 0.5).astype(np.uint8)))
        return _Seen(draw_overlay(rgb, a), d, True, ready, guidance or (READY,),
                     frame=CapturedFrame(rgb, kept))

    def _advance(self, seen: _Seen, now: float) -> np.ndarray:
        """Feed the hands-free capture, update the status, draw the banner."""
        out, d, ready, guidance = seen.out, seen.result, seen.ready, seen.guidance
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
                elif seen.frame is not None:
                    cap.results.append(d)
                    cap.frames.append(seen.frame)
                    cap.usable += ready
                progress = (now - cap.start) / cap.seconds
                # a slow server may analyse too few frames in the time: while the person is
                # measured, hold on for more rather than abstain (EXTEND, EXTEND_MAX)
                seen_enough = len(cap.results) + cap.empty >= 2 * MIN_FRAMES
                if progress >= 1 and (cap.usable == 0 or cap.usable >= MIN_FRAMES
                                      or (progress >= EXTEND and seen_enough)
                                      or progress >= EXTEND_MAX):
                    cap.done = True
                    if self._auto is not None:
                        self._auto.finish()
            state = self._auto.state if self._auto is not None else "waiting"
            left = phase.seconds_left if phase is not None else None
            # the page enables the manual capture on this: not on one frame's verdict (the
            # first frames of a stream, coded at a low bit rate, can look whole)
            steady = ready and self._was_ready
            self._was_ready = ready
            self._status = LiveStatus(self._status.frames + 1, seen.person, steady,
                                      guidance, seen.error, state, left, now)
        if progress is not None and progress < 1:
            _banner(out, f"Hold still... {min(progress, 1):.0%}", (255, 255, 255), progress)
        elif left is not None:
            _countdown(out, left)
            _banner(out, "Stay like this: capture starts in a moment", (120, 230, 140))
        elif state == "done":
            _banner(out, "Captured: see your result on the page", (120, 230, 140))
        elif ready:
            _banner(out, "Whole body in view: ready", (120, 230, 140))
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

    def take_capture(self) -> Taken | None:
        """The finished capture's per-frame results, frames and empty-frame count."""
        with self._state:
            cap = self._capture
            if cap is None or not cap.done:
                return None
            self._capture = None
            return Taken(cap.results, cap.frames, cap.empty)


def combined_overlay(frame: CapturedFrame, combined: Reading) -> np.ndarray:
    """The frame's overlay showing the capture's combined pelvic tilt, interval and band
    (the frame's own, drawn while capturing, may be a few degrees and a band apart)."""
    from posture.classify import Severity
    from posture.present.overlay import draw_overlay

    a = frame.assessment
    if a.view_kind != "side":  # a front or back view draws no tilt: its own drawing
        return draw_overlay(frame.rgb, a)
    m = a.measurements
    tilt = replace(m.pelvic_tilt, value=combined.pelvic_tilt_deg,
                   interval=combined.pelvic_tilt_interval_deg,
                   coverage=combined.interval_coverage)
    lordosis = replace(m.lumbar_lordosis, value=combined.lumbar_lordosis_deg)
    sev = (Severity(combined.severity, combined.severity_label or combined.severity,
                    dict(combined.severity_probabilities or {}))
           if combined.severity else None)
    shown = replace(a, measurements=m.replaced(tilt, lordosis), severity=sev)
    return draw_overlay(frame.rgb, shown)


def capture_result(taken: Taken) -> tuple[Reading, np.ndarray | None]:
    """A finished capture as one result: the combined reading and the overlay of its
    representative frame, drawn with it (None without frames)."""
    from posture.capture import aggregate

    agg, rep = aggregate(taken.results)
    if rep is None:
        return agg, None
    return agg, combined_overlay(taken.frames[rep], agg)


def status_markdown(s: LiveStatus, now: float | None = None) -> str:
    """What the page shows beside the video for a status (Markdown).

    ``now`` (``time.monotonic()``, s): with it, a status older than :data:`STALE_S` (before
    the first frame :data:`FIRST_FRAME_S`) says that the video is not reaching the
    analysis, rather than repeating its last guidance for ever.
    """
    limit = STALE_S if s.frames else FIRST_FRAME_S
    if now is not None and s.updated is not None and now - s.updated > limit:
        return ("⚠️ **The video is not reaching the analysis.** Press **STOP**, then "
                "**START**; if it happens again, use **Snapshots** above.")
    if s.error:
        return f"⚠️ {s.error} " + " ".join(s.guidance)
    if s.phase == "countdown" and s.countdown is not None:
        return f"✅ **Whole body in view.** Keep still: capture starts in\n\n" \
               f"# ⏱️ {max(1, math.ceil(s.countdown))}"
    if s.phase == "capturing":
        return "📸 **Hold still…** combining a few seconds of frames."
    if s.phase == "done":
        return "✅ **Captured.** Step out of the picture, or press **Check again**, for " \
               "another capture."
    if not s.person:
        return "🔍 **Looking for you…** " + " ".join(s.guidance)
    if s.ready:
        return "✅ **Whole body in view.** Keep still: the capture starts by itself."
    return "↪️ **Adjust your position:** " + " ".join(s.guidance)

