"""The hands-free capture state machine (posture.autocapture), with plain numbers."""

from __future__ import annotations

import pytest

from posture.autocapture import AutoCapture, AutoCaptureConfig

CFG = AutoCaptureConfig(settle_s=1.0, countdown_s=3.0, grace_s=0.45)


def feed(ac, samples, dt=0.1, t0=0.0):
    """Feed ``(in_position)`` samples every ``dt`` s; returns the phases."""
    return [ac.update(ok, t0 + i * dt) for i, ok in enumerate(samples)]


def test_starts_by_itself_after_settle_and_countdown():
    ac = AutoCapture(CFG)
    phases = feed(ac, [True] * 45)
    states = [p.state for p in phases]
    starts = [i for i, p in enumerate(phases) if p.event == "start"]
    assert starts == [40]  # 1 s settle + 3 s count-down at 10 samples a second
    assert states[:10] == ["settling"] * 10
    assert set(states[10:40]) == {"countdown"} and states[41:] == ["capturing"] * 4
    left = [p.seconds_left for p in phases[10:40]]
    assert left[0] == pytest.approx(3.0) and left[-1] == pytest.approx(0.1)
    assert left == sorted(left, reverse=True)  # counts down


def test_leaving_position_restarts_and_a_flicker_does_not():
    ac = AutoCapture(CFG)
    # a single-frame flicker (0.1 s < grace) during the count-down changes nothing
    phases = feed(ac, [True] * 20 + [False] + [True] * 24)
    assert [i for i, p in enumerate(phases) if p.event == "start"] == [40]
    ac = AutoCapture(CFG)
    # out of position for 0.6 s during the count-down: back to waiting, settle again
    phases = feed(ac, [True] * 20 + [False] * 6 + [True] * 45)
    assert phases[25].state == "waiting"
    assert [i for i, p in enumerate(phases) if p.event == "start"] == [26 + 40]


def test_leaving_during_an_auto_capture_aborts_it():
    ac = AutoCapture(CFG)
    phases = feed(ac, [True] * 42 + [False] * 6)
    assert phases[40].event == "start"
    aborts = [i for i, p in enumerate(phases) if p.event == "abort"]
    assert aborts == [47] and ac.state == "waiting"


def test_done_waits_until_the_person_leaves_or_a_reset():
    ac = AutoCapture(CFG)
    feed(ac, [True] * 41)
    ac.finish()
    assert all(p.state == "done" and p.event is None for p in feed(ac, [True] * 60, t0=5))
    ac.update(False, 20.0)
    assert ac.state == "waiting"
    ac.finish()
    ac.reset()
    assert ac.update(True, 30.0).state == "settling"


def test_manual_start_skips_countdown_and_is_not_aborted():
    ac = AutoCapture(CFG)
    p = ac.start_now(0.0)
    assert p.state == "capturing" and p.event == "start"
    assert all(p.state == "capturing" and p.event is None
               for p in feed(ac, [False] * 20, t0=0.1))


def test_config_rejects_negative_times():
    with pytest.raises(ValueError):
        AutoCaptureConfig(settle_s=-1)


def test_a_slow_server_still_shows_the_countdown():
    """Issue 29: frames 5 s apart (a loaded server). The count-down ran from the settle
    time, so the second frame (held 5 s ≥ 1 + 3) started the capture with no count-down
    ever shown; it now runs for countdown_s from the frame that first shows it."""
    ac = AutoCapture(CFG)
    phases = feed(ac, [True] * 4, dt=5.0)
    assert [p.state for p in phases] == ["settling", "countdown", "capturing", "capturing"]
    assert phases[1].seconds_left == pytest.approx(3.0) and phases[2].event == "start"
