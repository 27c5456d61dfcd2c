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
    """A port free now (for tools that start their own server; another process may take it
    before the server binds it: :func:`running_app` lets the server choose instead)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Default wait of a browser action (ms): an upload's first analysis took 20-40 s at
#: load 12-16 on 2 cores, so 60 s left too little room (issue 29).
ACTION_TIMEOUT_MS = 120_000
#: Seconds the server may take to answer its health check. Importing Streamlit, MediaPipe
#: and the app took 10-20 s on a quiet 2-core machine and over a minute at load 12-16.
START_TIMEOUT = 300.0
#: The line Streamlit prints once its socket is bound (``URL: http://127.0.0.1:PORT``).
_BOUND_URL = re.compile(r"URL: (http://127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def running_app(log_path: Path, timeout: float = START_TIMEOUT):
    """The app, started headless on 127.0.0.1; yields its URL.

    The server binds port 0 itself, so the system gives it a free port with no window in
    which another process could take it (choosing a port here and passing it on had one).
    The URL comes from the line the server prints once bound, and the health check must
    answer while the server is still running, so the answer is this server's.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "PYTHONUNBUFFERED": "1",  # the URL line reaches the log at once
           "POSTURE_ICE_SERVERS": ""}  # localhost: host candidates only
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.headless", "true", "--server.port", "0",
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        try:
            yield _wait_until_serving(proc, log_path, timeout)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait_until_serving(proc: subprocess.Popen, log_path: Path, timeout: float) -> str:
    """The URL of ``proc``'s server once it answers its health check; RuntimeError if the
    server exits or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    url = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {log_path}")
        if url is None:
            m = _BOUND_URL.search(log_path.read_text(errors="replace"))
            url = m.group(1) if m else None
        if url is not None:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
                    if r.status == 200 and proc.poll() is None:
                        return url
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s; "
                               f"see {log_path}")
        time.sleep(0.25)


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
            if a.analyze(p).side.gate.ok:
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
    next_frames(page)  # laid out at the new size
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


#: True once no script run has been in flight (no running icon, no stale element) for
#: 400 ms in a row: a rerun triggered just before is then over and its elements drawn.
_QUIET = """() => {
  const busy = !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"],'
    + ' [data-testid="stStatusWidgetRunningManIcon"], [data-stale="true"]');
  const now = performance.now();
  if (busy || window.__postureBusyAt === undefined) window.__postureBusyAt = now;
  if (busy) return false;
  return now - window.__postureBusyAt > 400;
}"""


def settle(page, timeout: float = 120_000) -> None:
    """Wait for the script run to end and every element to be redrawn by it, so that a
    check that something is absent looks at this run's page, not one half drawn: the page
    must stay idle for 400 ms, measured from this call (a condition, not a fixed wait)."""
    page.evaluate("() => { delete window.__postureBusyAt; }")
    page.wait_for_function(_QUIET, timeout=timeout, polling=100)


def next_frames(page) -> None:
    """Wait until the browser has laid out and painted twice (after a resize or scroll)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                  "requestAnimationFrame(() => r())))")


def radios_settled(page, radios) -> int:
    """How many of ``radios`` there are once the page has stopped streaming them in."""
    radios.first.wait_for()
    settle(page)
    return radios.count()


def answer_red_flags(page, answer: str = "No") -> None:
    """Answer every safety question of the plan page (they come before the plan); each
    click is checked, since a rerun under load can swallow one."""
    from playwright.sync_api import expect

    box = page.locator(".st-key-red-flags")
    radios = box.get_by_test_id("stRadio")
    for i in range(radios_settled(page, radios)):
        option = radios.nth(i).locator("label").filter(has_text=answer)
        chosen = option.locator("input")
        for _ in range(5):
            if chosen.is_checked():
                break
            option.get_by_text(answer, exact=True).click()
            try:
                expect(chosen).to_be_checked(timeout=20_000)
            except AssertionError:
                continue  # the click was lost to a rerun: click again
        assert chosen.is_checked(), f"question {i}: {answer} not set"
