"""Fixtures for the browser tests: the app on a free port, Debian's Chromium via Playwright.

Where Playwright or Chromium is missing these tests skip with the reason, unless
``POSTURE_REQUIRE_BROWSER=1`` (set by CI): then a missing browser is a failure. The browser is
always the system one (``/usr/bin/chromium`` or ``$POSTURE_CHROMIUM``), never one that a test
tool downloads.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SAMPLES = ROOT / "samples"
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
ESTIMATOR = ROOT / "posture" / "data" / "estimator.json"
CHROMIUM = Path(os.environ.get("POSTURE_CHROMIUM", "/usr/bin/chromium"))
# quiet, deterministic Chromium: no update checks, sync or first-run pages
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


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
        b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                       args=CHROMIUM_ARGS + list(extra or []))
        browsers.append(b)
        return b

    yield _launch
    for b in browsers:
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(playwright):
    """The app, started headless on a free localhost port; its log in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    log = open(ARTIFACTS / "streamlit.log", "w")  # noqa: SIM115 (closed at teardown)
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "POSTURE_ICE_SERVERS": ""}  # localhost: host candidates only
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"streamlit did not start; see {ARTIFACTS / 'streamlit.log'}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def page(launch, app_url):
    browser = launch()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def sample_photo() -> Path | None:
    """A side-view picture: a synthetic sample if the project has one, else a shared photo."""
    renders = sorted(SAMPLES.glob("*.jpg")) + sorted(SAMPLES.glob("*.png"))
    if renders:
        return renders[0]
    shared = SHARED_PHOTOS / "real_01.jpg"
    return shared if shared.is_file() else None


@pytest.fixture(scope="session")
def photo() -> Path:
    p = sample_photo()
    if p is None:
        pytest.skip("no samples/*.jpg and ../shared/photos is absent")
    return p


def shot(page, name: str) -> Path:
    """Save a screenshot of the whole page as a test artefact.

    Streamlit scrolls inside its main container, not the document, so a "full page"
    screenshot would stop at the viewport: grow the viewport to the content first.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(500)  # let the layout settle at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path
