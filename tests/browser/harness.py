"""Shared by the browser tests and the docs screenshot script: start the app, drive Chromium.

The browser is always the system one (``/usr/bin/chromium`` or ``$POSTURE_CHROMIUM``),
never one that a test tool downloads.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

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


def launch_chromium(pw, extra: list[str] | None = None):
    return pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=CHROMIUM_ARGS + list(extra or []))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(log_path: Path, timeout: float = 90.0):
    """The app, started headless on a free localhost port; yields its URL."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "POSTURE_ICE_SERVERS": ""}  # localhost: host candidates only
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start; see {log_path}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_page(page, app_url: str | None, title: str) -> None:
    """Follow the navigation link to a page, as a user does; with ``app_url``, load the home
    page first (a new session). Without it the session, and its latest result, is kept."""
    if app_url is not None:
        page.goto(app_url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=re.compile(title)).first.wait_for()


def sample_photo() -> Path | None:
    """A side-view picture the view gate accepts: a synthetic sample if the project has
    one, else a shared photo (samples include deliberately bad views, e.g. cut-off legs)."""
    renders = sorted(SAMPLES.glob("*.jpg")) + sorted(SAMPLES.glob("*.png"))
    shared = [SHARED_PHOTOS / "real_01.jpg"]
    candidates = renders + [p for p in shared if p.is_file()]
    if not candidates:
        return None
    from posture.analysis import Analyzer

    with Analyzer() as a:
        for p in candidates:
            if a.analyze(p).side.view.ok:
                return p
    return candidates[0]


def shot(page, name: str, out_dir: Path = ARTIFACTS) -> Path:
    """Save a screenshot of the whole page as a test artefact.

    Streamlit scrolls inside its main container, not the document, so a "full page"
    screenshot would stop at the viewport: grow the viewport to the content first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(500)  # let the layout settle at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def plumb_line_fraction(png: bytes) -> float:
    """Length of the longest vertical run of the overlay's plumb-line yellow (255, 210, 0),
    as a fraction of the picture height (colour tolerances allow for video coding).

    The overlay draws the plumb line from the ankles to above the head, so it spans most of
    the person's height; yellow things in a scene are not tall thin vertical lines.
    """
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].astype(int)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    yellow = (r > 200) & (g > 170) & (g < 235) & (b < 70)
    # a line a pixel or two wide may wander between neighbouring columns
    band = yellow[:, :-2] | yellow[:, 1:-1] | yellow[:, 2:]
    return float(band.sum(axis=0).max()) / img.shape[0] if band.size else 0.0


def radios_settled(page, radios) -> int:
    """How many of ``radios`` there are once the page has stopped streaming them in."""
    radios.first.wait_for()
    n, same = radios.count(), 0
    while same < 3:
        page.wait_for_timeout(250)
        m = radios.count()
        n, same = m, same + 1 if m == n else 0
    return n


def answer_red_flags(page, answer: str = "No") -> None:
    """Answer every safety question of the plan page (they come before the plan); each
    click is checked, since a rerun under load can swallow one."""
    box = page.locator(".st-key-red-flags")
    radios = box.get_by_test_id("stRadio")
    for i in range(radios_settled(page, radios)):
        option = radios.nth(i).locator("label").filter(has_text=answer)
        for _ in range(20):
            if option.locator("input").is_checked():
                break
            option.get_by_text(answer, exact=True).click()
            page.wait_for_timeout(250)
        assert option.locator("input").is_checked(), f"question {i}: {answer} not set"
