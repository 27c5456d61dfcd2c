"""The live check's cells of the capture matrix (issue 22), in headless Chromium whose fake
camera plays a .y4m clip made from a still picture (tests/browser/make_clip.py).

Cells: a person standing still, whole, in a landscape and in a portrait camera (captured
hands-free, without "You moved", lordosis measured); the feet out of the picture in a
portrait and a landscape camera (step-back guidance within 10 s of the first analysed frame,
no capture); nobody in the picture (guidance, no capture). Every wait is on a condition,
with generous limits: the test machine is shared and slow.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .harness import (
    ARTIFACTS,
    ESTIMATOR,
    FAKE_CAMERA_ARGS,
    SHARED_PHOTOS,
    launch_chromium,
    shot,
)
from .make_clip import clip_from_frame, clip_from_image, empty_scene

pytestmark = pytest.mark.browser

PORTRAIT, LANDSCAPE = (720, 960), (960, 720)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1100}
SIDE = ".st-key-verdict-live-side"
PANEL = ".st-key-result-panel-live"
#: Seconds from the first analysed frame to the step-back guidance (issue 22, done when).
GUIDANCE_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def still_photo(photo) -> Path:
    """The person who stands still: real_01.jpg where the shared photos are present (its
    plain and mirrored frames read 5.6° apart, which the old capture called movement),
    else the sample picture."""
    real = SHARED_PHOTOS / "real_01.jpg"
    return real if real.is_file() else photo


@pytest.fixture(scope="module")
def shins(still_photo) -> float:
    """Where the picture is cut for "feet out of the picture": half-way between the knees
    and the ankles, as a fraction of the picture's height."""
    from posture.analysis import Analyzer

    with Analyzer() as an:
        a = an.analyze(still_photo)
    p = a.side.points_px
    return float((p["knee"][1] + p["ankle"][1]) / 2 / a.frame_size[1])


@pytest.fixture
def camera(playwright, tmp_path):
    """``camera(clip, viewport)`` → a page of a Chromium whose camera plays ``clip``; the
    browser is closed after the test (one fake camera per browser)."""
    browsers = []

    def _open(clip: Path, viewport: dict):
        b = launch_chromium(playwright, [*FAKE_CAMERA_ARGS,
                                         f"--use-file-for-fake-video-capture={clip}"])
        browsers.append(b)
        mobile = viewport["width"] < 500
        ctx = b.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        return page

    yield _open
    for b in browsers:
        b.close()


def start_stream(page, app_url: str):
    """Open the live check, press START; returns the webrtc iframe's frame."""
    page.goto(f"{app_url}/Live_check")
    page.get_by_role("heading", name=re.compile("Live check")).first.wait_for()
    page.locator("iframe[title*='webrtc']").first.wait_for()
    frame = page.frame_locator("iframe[title*='webrtc']").first
    frame.get_by_role("button", name=re.compile("start", re.I)).click()
    return frame


def first_analysed_frame(page, timeout_s: float = 120.0) -> float:
    """Wait until the video the server sends back plays (the processor sends each frame
    back once analysed, so the first one is too); returns time.monotonic() then."""
    iframe = page.locator("iframe[title*='webrtc']").first.element_handle().content_frame()
    iframe.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v && v.readyState >= 2 && v.currentTime > 0 && v.videoWidth > 0; }",
        timeout=timeout_s * 1000, polling=250)
    return time.monotonic()


def video_played(page, seconds: float, timeout_s: float = 120.0) -> None:
    """Wait until the returned video has played for ``seconds`` (a condition on the
    stream, not a sleep: on a slow machine it takes as long as it takes)."""
    iframe = page.locator("iframe[title*='webrtc']").first.element_handle().content_frame()
    iframe.wait_for_function(
        f"() => {{ const v = document.querySelector('video'); return v && v.currentTime > "
        f"{seconds}; }}", timeout=timeout_s * 1000, polling=250)


def no_traceback(page) -> None:
    text = page.get_by_test_id("stMain").inner_text()
    assert "Traceback" not in text and "Exception" not in text, text[:2000]


def returned_size(page) -> tuple[int, int]:
    iframe = page.locator("iframe[title*='webrtc']").first.element_handle().content_frame()
    return tuple(iframe.evaluate(
        "() => { const v = document.querySelector('video'); return [v.videoWidth, "
        "v.videoHeight]; }"))


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_still_person_is_captured_without_you_moved(camera, app_url, still_photo, tmp_path,
                                                    orientation):
    size = LANDSCAPE if orientation == "landscape" else PORTRAIT
    clip = clip_from_image(still_photo, tmp_path / "still.y4m", width=size[0],
                           height=size[1])
    page = camera(clip, DESKTOP if orientation == "landscape" else PHONE)
    start_stream(page, app_url)
    first_analysed_frame(page)
    w, h = returned_size(page)
    # the whole camera frame comes back: a portrait camera is not cropped to a square
    assert (w < h) == (orientation == "portrait"), (w, h)
    side = page.locator(SIDE)
    side.wait_for(timeout=180_000)  # hands-free: settle, count-down, capture
    panel = page.locator(PANEL)
    panel.wait_for(timeout=60_000)
    lordosis = panel.locator(".st-key-finding-lumbar_lordosis_deg")
    lordosis.wait_for(timeout=60_000)
    text = side.inner_text() + "\n" + panel.inner_text()
    shot(page, f"live_{orientation}_still")
    assert "You moved" not in text and "Hold still for the whole" not in text, text[:1500]
    no_traceback(page)
    if not ESTIMATOR.is_file():
        pytest.skip("no fitted estimator: no tilt to show")
    value = side.locator(".pv-value").inner_text().strip()
    assert re.fullmatch(r"[+-]\d+\.\d°", value), value
    # the lower-back curve is measured (it said "needs the pelvic tilt estimator")
    lordosis.get_by_text(re.compile(r"[+-]\d+\.\d°")).first.wait_for(timeout=30_000)
    assert "not measured" not in lordosis.inner_text()


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_feet_out_of_the_picture_gets_step_back_guidance(camera, app_url, still_photo,
                                                         shins, tmp_path, orientation):
    size = PORTRAIT if orientation == "portrait" else LANDSCAPE
    clip = clip_from_image(still_photo, tmp_path / "cut.y4m", width=size[0], height=size[1],
                           keep=shins)
    page = camera(clip, PHONE if orientation == "portrait" else DESKTOP)
    start_stream(page, app_url)
    t0 = first_analysed_frame(page)
    guidance = page.get_by_text(re.compile(r"Step back so your (knees and )?feet"))
    # waited for longer than required, so that a miss reports how long it took
    guidance.first.wait_for(timeout=6 * GUIDANCE_WITHIN_S * 1000)
    took = time.monotonic() - t0
    shot(page, f"live_{orientation}_feet_out")
    print(f"{orientation}: step-back guidance {took:.1f} s after the first analysed frame")
    assert took <= GUIDANCE_WITHIN_S, took
    status = page.get_by_text(re.compile("Adjust your position"))
    assert status.count() >= 1  # not "Looking for you": the person is seen
    # not in position: no hands-free capture, the manual button stays off
    video_played(page, 6.0)  # longer than settle (1 s) + count-down (3 s)
    assert page.get_by_text(re.compile("capture starts in")).count() == 0
    assert page.locator(SIDE).count() == 0
    assert page.get_by_role("button", name=re.compile("Hold still")).is_disabled()
    no_traceback(page)


def test_nobody_in_the_picture_gets_guidance(camera, app_url, tmp_path):
    clip = clip_from_frame(empty_scene(*PORTRAIT), tmp_path / "empty.y4m")
    page = camera(clip, PHONE)
    start_stream(page, app_url)
    first_analysed_frame(page)
    page.get_by_text(re.compile("Step into the picture")).first.wait_for(timeout=30_000)
    video_played(page, 6.0)
    assert page.get_by_text(re.compile("Looking for you")).count() >= 1
    assert page.get_by_text(re.compile("capture starts in")).count() == 0
    assert page.locator(SIDE).count() == 0
    assert page.get_by_role("button", name=re.compile("Hold still")).is_disabled()
    no_traceback(page)
    page.screenshot(path=str(ARTIFACTS / "live_portrait_nobody.png"))
