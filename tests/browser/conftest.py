"""Fixtures for the browser tests: the app on a free port, Debian's Chromium via Playwright.

Where Playwright or Chromium is missing these tests skip with the reason, unless
``POSTURE_REQUIRE_BROWSER=1`` (set by CI): then a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .harness import (
    ACTION_TIMEOUT_MS,
    ARTIFACTS,
    CHROMIUM,
    FAKE_CAMERA_ARGS,
    launch_chromium,
    running_app,
    sample_photo,
)


def missing(reason: str):
    """Skip, or fail where CI requires the browser tests to run."""
    if os.environ.get("POSTURE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"POSTURE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (Python package) is not installed")
    if not CHROMIUM.is_file():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def launch(playwright):
    """``launch(extra_args)`` → a headless system Chromium; all closed at session end."""
    browsers = []

    def _launch(extra: list[str] | None = None):
        b = launch_chromium(playwright, extra)
        browsers.append(b)
        return b

    yield _launch
    for b in browsers:
        b.close()


@pytest.fixture(scope="session")
def app_url(playwright):
    """The app on a localhost port of its own choosing; its log in
    test-artifacts/streamlit.log."""
    with running_app(ARTIFACTS / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(launch, app_url):
    browser = launch()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(ACTION_TIMEOUT_MS)
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def photo() -> Path:
    p = sample_photo()
    if p is None:
        pytest.skip("no samples/*.jpg and ../shared/photos is absent")
    return p


@pytest.fixture(scope="session")
def camera_browser(launch, photo, tmp_path_factory):
    """Chromium whose (fake) camera shows a clip made from the sample picture."""
    from .make_clip import clip_from_image

    clip = clip_from_image(photo, tmp_path_factory.mktemp("clip") / "side.y4m")
    return launch([*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={clip}"])


@pytest.fixture
def camera_page(camera_browser, app_url):
    ctx = camera_browser.new_context(viewport={"width": 1400, "height": 1100})
    pg = ctx.new_page()
    pg.set_default_timeout(ACTION_TIMEOUT_MS)
    yield pg
    ctx.close()
