"""The live check's frame processing (posture_app.live.LiveSession), without a browser.

Issue 22 item 2: an exception anywhere in a frame's processing (analysis, overlay, drawing)
becomes guidance and the stream goes on; a person whose feet are out of the picture is told
to step back. Item 4: a person standing still (a still picture as the camera) is captured
without "You moved", with the lumbar lordosis measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posture_app.live import (
    FAILURES_BEFORE_ERROR,
    FIRST_FRAME_S,
    STALE_S,
    STEP_BACK,
    CapturedFrame,
    LiveSession,
    LiveStatus,
    capture_result,
    combined_overlay,
    fit,
    status_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared" / "photos"


class Broken:
    """An analyzer whose every frame fails inside the analysis."""

    def __init__(self):
        self.calls = 0

    def analyze_video_frame(self, rgb, ts, mirrored=False):
        self.calls += 1
        raise RuntimeError("boom")

    def close(self):
        pass


def test_a_failing_frame_becomes_step_back_guidance_and_the_stream_goes_on():
    fake = Broken()
    s = LiveSession(analyzer_factory=lambda: fake)
    img = np.full((480, 360, 3), 90, np.uint8)
    out = s.process(img, now=s._t0 + 0.1)
    assert out.shape == img.shape and not np.array_equal(out, img)  # the banner is drawn
    st = s.status
    # guidance, not an error, and not "Looking for you" (person False) for ever
    assert st.guidance == (STEP_BACK,) and st.error is None
    assert st.person and not st.ready and st.frames == 1
    assert "Step back" in status_markdown(st) and "Looking for you" not in status_markdown(st)
    assert st.updated == pytest.approx(s._t0 + 0.1)
    for k in range(3):  # the next frames are analysed as usual
        s.process(img, now=s._t0 + 0.2 + k / 10)
    assert fake.calls == 4 and s.status.frames == 4
    s.close()


def test_an_overlay_that_raises_is_guidance_too(monkeypatch):
    """The crash of issue 22 item 2: the overlay raised on NaN points of a partial view in
    the stream's worker, which then died silently (``process`` raised)."""
    import posture.present.overlay as overlay

    def nan_overlay(rgb, a, **kw):
        raise ValueError("cannot convert float NaN to integer")

    monkeypatch.setattr(overlay, "draw_overlay", nan_overlay)

    class Seen(Broken):
        def analyze_video_frame(self, rgb, ts, mirrored=False):
            self.calls += 1
            return _assessment()

    s = LiveSession(analyzer_factory=Seen)
    img = np.full((480, 360, 3), 90, np.uint8)
    out = s.process(img, now=s._t0 + 0.1)  # the old code raised here
    assert out.shape == img.shape
    assert s.status.guidance == (STEP_BACK,) and s.status.person and not s.status.ready
    s.close()


def test_failures_that_go_on_also_say_so_and_a_good_frame_clears_it():
    class Flaky(Broken):
        fail = True

        def analyze_video_frame(self, rgb, ts, mirrored=False):
            if self.fail:
                raise RuntimeError("boom")
            return None  # nobody

    fake = Flaky()
    s = LiveSession(analyzer_factory=lambda: fake)
    img = np.zeros((100, 100, 3), np.uint8)
    for k in range(FAILURES_BEFORE_ERROR):
        s.process(img, now=s._t0 + k / 10)
    assert s.status.error and "boom" not in s.status.error  # no internals to the user
    assert s.status.guidance == (STEP_BACK,)
    fake.fail = False
    s.process(img, now=s._t0 + 10)
    assert s.status.error is None and not s.status.person
    s.close()


def test_a_stale_status_says_the_video_is_not_reaching_the_analysis():
    st = LiveStatus(frames=3, person=True, guidance=("Turn side-on.",), updated=100.0)
    assert "Turn side-on" in status_markdown(st, now=100.0 + STALE_S - 1)
    assert "not reaching" in status_markdown(st, now=100.0 + STALE_S + 1)
    # before the first frame the pose model is loading: wait longer
    first = LiveStatus(updated=100.0)
    assert "Looking for you" in status_markdown(first, now=100.0 + STALE_S + 1)
    assert "not reaching" in status_markdown(first, now=100.0 + FIRST_FRAME_S + 1)


_CACHE: dict = {}


def _assessment():
    """A real assessment of a synthetic sample (computed once)."""
    if "a" not in _CACHE:
        from posture.analysis import Analyzer

        sample = sorted(SAMPLES.glob("*.jpg"))
        if not sample:
            pytest.skip("no samples/*.jpg")
        with Analyzer() as an:
            _CACHE["a"] = an.analyze(sample[0])
    return _CACHE["a"]


def _photo(name: str = "real_01.jpg") -> np.ndarray:
    path = SHARED / name
    if not path.is_file():
        pytest.skip("../shared/photos is absent")
    from posture.images import load_image

    return fit(load_image(path).rgb)


@pytest.mark.slow
def test_feet_out_of_the_picture_is_told_to_step_back():
    rgb = _photo()
    cut = np.ascontiguousarray(rgb[: int(rgb.shape[0] * 0.8)])  # cut at the shins
    s = LiveSession()
    try:
        for k in range(3):
            s.process(cut, now=s._t0 + k / 10)
    finally:
        s.close()
    st = s.status
    assert st.person and not st.ready  # no capture until they step back
    assert st.guidance[0].startswith("Step back so your")
    assert "feet" in st.guidance[0] and "Adjust your position" in status_markdown(st)


@pytest.mark.slow
def test_a_still_person_is_captured_without_you_moved_and_with_the_lordosis():
    """real_01.jpg as the camera: the plain and mirrored frames read -2.2° and +3.4°; the
    old aggregate called that 5.6° of movement and withheld tilt and lordosis."""
    rgb = _photo()
    s = LiveSession()
    try:
        for k in range(80):  # 5 frames a second
            s.process(rgb, now=s._t0 + k * 0.2)
            if s.capture_progress() == 1.0:
                break
        taken = s.take_capture()
    finally:
        s.close()
    assert taken is not None
    frames = taken.results
    agg, overlay = capture_result(taken)
    assert not agg.abstained, agg.reasons
    assert {f.extra.get("mirrored") for f in frames} == {True, False}  # both kinds measured
    assert agg.value("pelvic_tilt") is not None and agg.value("lumbar_lordosis") is not None
    assert agg.severity is not None and overlay is not None
    assert agg.extra["motion_stature"] < 0.01
    # heading and sentence of the verdict card come from the same band words
    from posture_app.results import _band_words

    assert _band_words(agg)[0] == agg.severity_phrase


def test_the_result_overlay_shows_the_combined_reading_not_its_frames_own(monkeypatch):
    """The representative frame read -2.2° (posterior) while the capture combined to
    +0.6° (neutral): its overlay, drawn while capturing, said "posterior" under a Neutral
    verdict. The result's overlay is drawn with the combined reading."""
    import posture.present.overlay as overlay
    from posture.contract import from_dict

    a = _assessment()
    frame = CapturedFrame(np.zeros((a.frame_size[1], a.frame_size[0], 3), np.uint8), a)
    drawn = []
    monkeypatch.setattr(overlay, "draw_overlay", lambda rgb, x, **kw: drawn.append(x) or rgb)
    combined = from_dict({"ok": True, "abstained": False, "pelvic_tilt_deg": -14.0,
                          "pelvic_tilt_interval_deg": [-18.0, -10.0],
                          "interval_coverage": 0.9, "lumbar_lordosis_deg": 21.0,
                          "severity": "posterior", "severity_label": "Posterior tilt",
                          "severity_probabilities": {"posterior": 1.0}})
    combined_overlay(frame, combined)
    shown = drawn[0]
    assert shown.measurements.pelvic_tilt.value == -14.0
    assert shown.measurements.pelvic_tilt.interval == (-18.0, -10.0)
    assert shown.measurements.lumbar_lordosis.value == 21.0
    assert shown.severity.band == "posterior" and shown.pose is a.pose


def test_one_frame_in_position_does_not_enable_the_manual_capture():
    """A stream's first frames, coded at a low bit rate, were once judged whole between
    partial ones: the page enabled "Hold still" for a moment. The status is ready only
    after two frames in position running."""
    from dataclasses import replace

    whole = _assessment()
    partial = whole.with_view("side", replace(whole.side, gate=replace(whole.side.gate,
                                                                      partial=True)))
    views = iter([partial, whole, partial, whole, whole])

    class Scripted(Broken):
        def analyze_video_frame(self, rgb, ts, mirrored=False):
            return next(views)

    s = LiveSession(analyzer_factory=Scripted)
    img = np.zeros((whole.frame_size[1], whole.frame_size[0], 3), np.uint8)
    ready = []
    for k in range(5):
        s.process(img, now=s._t0 + k / 10)
        ready.append(s.status.ready)
    s.close()
    assert ready == [False, False, False, False, True]
