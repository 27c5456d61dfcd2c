"""The live check's pose model is loaded before START, not on the stream's first frame.

Under ``stress-ng --cpu 2`` on the shared 2-core machine, making the VIDEO-mode analyzer on
the first frame took 49–71 s and the browser dropped the WebRTC connection meanwhile
(issue 29, docs/testing.md). The page now warms one (``posture_app.analyzers.live_spare``)
and the stream's :class:`~posture_app.live.LiveSession` takes it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np

from posture_app import analyzers
from posture_app.analyzers import LiveSpare
from posture_app.live import LiveSession

PAGE = Path(__file__).resolve().parents[1] / "pages" / "2_Live_check.py"


class Blank:
    """An analyzer that finds nobody; records which thread made it."""

    def __init__(self, model):
        self.model = model
        self.thread = threading.current_thread().name
        self.frames = 0
        self.closed = False

    def analyze_video_frame(self, rgb, ts, mirrored=False):
        self.frames += 1
        raise RuntimeError("nobody")

    def close(self):
        self.closed = True


def _no_new_analyzer(model):
    raise AssertionError("the stream made its own analyzer on its first frame")


def test_the_first_frame_uses_the_analyzer_warmed_before_start(monkeypatch):
    spare = LiveSpare(Blank)
    monkeypatch.setattr(analyzers, "live_spare", spare)
    monkeypatch.setattr(analyzers, "_video_analyzer", _no_new_analyzer)
    assert spare.warm("model.task") and not spare.warm("model.task")  # one at a time
    s = LiveSession("model.task")  # the stream starts after the page was shown
    s.process(np.full((480, 360, 3), 90, np.uint8), now=s._t0 + 0.1)
    a = s._analyzer
    assert isinstance(a, Blank) and a.frames == 1 and a.model == "model.task"
    assert a.thread == "posture-live-warmup"  # made off the stream's thread, ahead of it
    assert spare.made == 1 and spare.take("model.task") is None  # taken: no second owner
    s.close()
    assert a.closed


def test_without_a_spare_the_stream_makes_its_own(monkeypatch):
    monkeypatch.setattr(analyzers, "live_spare", LiveSpare(_no_new_analyzer))
    monkeypatch.setattr(analyzers, "_video_analyzer", Blank)
    s = LiveSession("model.task")
    s.process(np.full((480, 360, 3), 90, np.uint8), now=s._t0 + 0.1)
    assert isinstance(s._analyzer, Blank) and s._analyzer.thread != "posture-live-warmup"
    s.close()


def test_a_spare_for_another_model_is_closed_not_used():
    spare = LiveSpare(Blank)
    spare.warm("a.task")
    assert spare.take("b.task") is None
    assert spare.take("b.task") is None and spare.warm("b.task")


def test_an_unused_spare_is_closed_by_the_reaper():
    now = [100.0]
    spare = LiveSpare(Blank, clock=lambda: now[0])
    spare.warm("m")
    spare._spare[1].result(timeout=10)
    for _ in range(100):  # the warm-up thread stamps the time just after the result
        if spare._spare[2] is not None:
            break
        threading.Event().wait(0.01)
    made = spare._spare[1].result()
    assert spare.close_idle(idle_s=60) == 0  # just made
    now[0] += 61
    assert spare.close_idle(idle_s=60) == 1 and made.closed
    assert spare.take("m") is None and spare.warm("m")  # the next page makes another


def test_the_live_page_warms_the_analyzer_before_start(monkeypatch):
    from streamlit.testing.v1 import AppTest

    # the WebRTC component needs a real server session; the page only reads its state
    ctx = SimpleNamespace(state=SimpleNamespace(playing=False, signalling=False),
                          video_processor=None)
    fake = ModuleType("streamlit_webrtc")
    fake.WebRtcMode = SimpleNamespace(SENDRECV="sendrecv")
    fake.VideoProcessorBase = object
    fake.webrtc_streamer = lambda **kw: ctx
    monkeypatch.setitem(sys.modules, "streamlit_webrtc", fake)
    calls = []
    monkeypatch.setattr(LiveSpare, "warm", lambda self, model: calls.append(model))
    monkeypatch.setattr(analyzers, "model_path", lambda: "model.task")
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception
    assert calls and calls[0] == analyzers.model_path()
