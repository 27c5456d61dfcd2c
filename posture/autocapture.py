"""Hands-free capture for a live check: when to start "hold still" without a click.

A person standing 2–3 m from the camera cannot reach a button, so the capture starts by
itself once they have been in a measurable position (side-on, whole, alone) for a moment,
after a visible count-down. Leaving the position restarts everything.

:class:`AutoCapture` is a pure state machine over ``(in_position, time)`` samples: no
threads, no clocks, no camera, so it is tested with plain numbers. The live video
processor feeds it one sample per analysed frame and acts on the returned :class:`Phase`.

Phases::

    waiting ──in position──▶ settling ──settle_s──▶ countdown ──countdown_s──▶ capturing
       ▲                        │                      │                          │
       └──── out of position for longer than grace_s ──┴──────────────────────────┘
    capturing ──finish()──▶ done ──out of position, or reset()──▶ waiting

A manual start (:meth:`AutoCapture.start_now`, the button) goes straight to ``capturing``
and is not aborted when the person leaves: they chose to capture, and the frames' own
checks say what could be measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["waiting", "settling", "countdown", "capturing", "done"]
Event = Literal["start", "abort"] | None


@dataclass(frozen=True)
class AutoCaptureConfig:
    """Timings, seconds.

    ``settle_s``: how long the person must hold a measurable position before the count-down
    (about 1 s: long enough that walking through the picture does not trigger it).
    ``countdown_s``: the visible count-down before frames are collected.
    ``grace_s``: how long the position may be lost before it counts as left (the view gate
    flickers on single frames when an arm swings).
    """

    settle_s: float = 1.0
    countdown_s: float = 3.0
    grace_s: float = 0.4

    def __post_init__(self) -> None:
        if min(self.settle_s, self.countdown_s, self.grace_s) < 0:
            raise ValueError("AutoCaptureConfig: times must be >= 0 s")


@dataclass(frozen=True)
class Phase:
    """What to show and do after one sample.

    ``seconds_left``: count-down seconds remaining (``countdown`` only, else None).
    ``event``: ``"start"`` on the sample where the capture must begin, ``"abort"`` where a
    running capture must be thrown away (the person left); otherwise None.
    """

    state: State
    seconds_left: float | None = None
    event: Event = None


class AutoCapture:
    """The hands-free capture state machine (one per video stream; not thread-safe)."""

    def __init__(self, config: AutoCaptureConfig | None = None) -> None:
        self.config = config or AutoCaptureConfig()
        self.reset()

    def reset(self) -> None:
        """Back to ``waiting`` (e.g. the person asked to check again)."""
        self._state: State = "waiting"
        self._since: float | None = None  # when the current in-position stretch began
        self._counting: float | None = None  # when the count-down was first shown
        self._lost: float | None = None  # when the position was last lost (grace timer)
        self._manual = False  # the running capture was started by hand

    @property
    def state(self) -> State:
        return self._state

    def update(self, in_position: bool, now: float) -> Phase:
        """Feed one sample: whether the frame is measurable, and its time (s, monotonic)."""
        c = self.config
        if self._state == "done":
            if not in_position:
                self.reset()
            return Phase(self._state)
        if self._state == "capturing" and self._manual:
            return Phase("capturing")
        if not in_position:
            if self._state == "waiting":
                return Phase("waiting")
            if self._lost is None:
                self._lost = now
            if now - self._lost > c.grace_s:  # really left: start over
                was_capturing = self._state == "capturing"
                self.reset()
                return Phase("waiting", event="abort" if was_capturing else None)
            return self._current(now)
        self._lost = None
        if self._state == "waiting":
            self._state, self._since = "settling", now
        return self._advance(now)

    def start_now(self, now: float) -> Phase:
        """A manual start (the button): skip the settle time and the count-down."""
        self._state, self._since, self._lost, self._manual = "capturing", now, None, True
        self._counting = None
        return Phase("capturing", event="start")

    def finish(self) -> None:
        """The capture has its frames: wait for the person to leave or a reset."""
        self._state, self._lost = "done", None

    def _advance(self, now: float) -> Phase:
        c = self.config
        held = now - (self._since if self._since is not None else now)
        if self._state == "settling" and held >= c.settle_s:
            # the count-down runs from the frame that first shows it: on a slow server
            # (frames seconds apart) counting from the settle time skipped it altogether
            self._state, self._counting = "countdown", now
        if self._state == "countdown" and now - self._counting >= c.countdown_s:
            self._state = "capturing"
            return Phase("capturing", event="start")
        return self._current(now)

    def _current(self, now: float) -> Phase:
        if self._state != "countdown" or self._counting is None:
            return Phase(self._state)
        left = self.config.countdown_s - (now - self._counting)
        return Phase("countdown", seconds_left=max(0.0, left))
