"""Scripted load on the Streamlit app: memory of the server process over many sessions.

Usage::

    python tools/app_memory_load.py [--sessions 20] [--uploads 5] [--idle 150] [--out f.json]

Starts the app (``streamlit run app.py``, headless, localhost), then runs ``--sessions``
browser sessions one after another in headless Chromium (the system one, as the browser
tests use), each uploading ``--uploads`` photos through the Photo check page's uploader and
waiting for a result panel, then closing. (From a session's second upload on, the last
result's panel is still on the page, so the next photo may go while the last is still being
analysed: Streamlit stops that run and the server analyses two photos at once, as when a
visitor picks another photo mid-analysis. The figures so far were all measured this way.)
After the last session it waits ``--idle`` seconds
(Streamlit keeps a closed session for reconnection for 2 minutes) and opens one more session
that analyses nothing. The server's resident memory (``VmRSS``) is sampled after the first
analysis, after every session, and at the end; its peak is ``VmHWM``. Prints and writes
JSON figures; docs/reliability.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.harness import (  # noqa: E402
    SAMPLES,
    SHARED_PHOTOS,
    _free_port,
    launch_chromium,
    open_page,
)

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
PHOTO_PANEL = ".st-key-result-panel-photo"
ERROR = '[data-testid="stAlertContentError"]'


def _status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) // 1024  # MiB
    return out


def _metrics(url: str) -> dict[str, float]:
    """Streamlit's own memory accounting (``/_stcore/metrics``): bytes per cache type
    (uploaded files, media files, session state, ...) and session counts."""
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        family = name.split("{")[0]
        label = ""
        if "cache_type=" in name:
            label = name.split('cache_type="')[1].split('"')[0]
        try:
            out[f"{family}:{label}" if label else name] = out.get(
                f"{family}:{label}" if label else name, 0) + float(value)
        except ValueError:
            continue
    return out


def _dump(folder: Path | None, tag: str, timeout_s: float = 120) -> dict | None:
    """Ask the server for a memory snapshot (``posture_app.memory.snapshot``) when run with
    ``--dump``; None without."""
    if folder is None:
        return None
    (folder / f"request-{tag}").touch()
    out = folder / f"{tag}.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if out.exists():
            return json.loads(out.read_text())
        time.sleep(0.3)
    return None


def _photos() -> list[Path]:
    found = sorted(SHARED_PHOTOS.glob("*.jpg")) + sorted(SAMPLES.glob("*.jpg"))
    # different pictures each time: the app remembers the last picture per session
    return [p for p in found if p.stat().st_size > 50_000]


def _wait_idle(page, timeout_s: float = 120) -> None:
    # the script run has ended when Streamlit's "running" indicator is gone
    deadline = time.monotonic() + timeout_s
    time.sleep(0.3)
    while time.monotonic() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return
        time.sleep(0.2)
    raise TimeoutError("the app did not finish its run")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--uploads", type=int, default=5)
    ap.add_argument("--idle", type=float, default=150.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--dump", type=Path, default=None,
                    help="folder for the server's memory snapshots (diagnosis; with "
                         "--trace also tracemalloc's, which slows the server)")
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    photos = _photos()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.environ.get("POSTURE_LOAD_LOG", "/tmp/posture-app-load.log"), "w")
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "POSTURE_ICE_SERVERS": ""}
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        env["POSTURE_MEMORY_DUMP"] = str(args.dump)
        if args.trace:
            env["PYTHONTRACEMALLOC"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    fig: dict = {"sessions": args.sessions, "uploads_per_session": args.uploads,
                 "photos": [p.name for p in photos], "after_session_mib": []}
    try:
        for _ in range(180):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        fig["idle_start_mib"] = _status(proc.pid)["VmRSS"]
        n = errors = crashed = 0
        t0 = time.monotonic()
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for s in range(args.sessions):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                open_page(page, url, "Photo check")
                for _u in range(args.uploads):
                    try:
                        page.locator(UPLOAD).wait_for(state="attached", timeout=20_000)
                    except Exception:  # the app failed on the last one: reload (a session)
                        crashed += 1
                        open_page(page, url, "Photo check")
                    page.set_input_files(UPLOAD, str(photos[n % len(photos)]))
                    n += 1
                    page.locator(f"{PHOTO_PANEL}, {ERROR}").first.wait_for(timeout=120_000)
                    _wait_idle(page)
                    errors += page.locator(ERROR).count() > 0
                    if n == 1:
                        fig["first_analysis_mib"] = _status(proc.pid)["VmRSS"]
                        _dump(args.dump, "first")
                ctx.close()
                fig["after_session_mib"].append(_status(proc.pid)["VmRSS"])
                if s == args.sessions - 1:
                    _dump(args.dump, "after_load")
                print(f"session {s + 1}: {n} uploads, rss {fig['after_session_mib'][-1]} MiB",
                      flush=True)
            fig["uploads"] = n
            fig["uploads_with_error"] = errors  # a coded error, or an app exception
            fig["reloads_after_app_exception"] = crashed
            fig["load_seconds"] = round(time.monotonic() - t0, 1)
            fig["after_load_mib"] = _status(proc.pid)["VmRSS"]
            fig["after_load_streamlit"] = _metrics(url)
            time.sleep(args.idle)
            fig["after_idle_mib"] = _status(proc.pid)["VmRSS"]
            _dump(args.dump, "idle")
            # one more visitor, who analyses nothing: Streamlit drops expired sessions
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(url)
            page.get_by_test_id("stSidebarNav").wait_for()
            ctx.close()
            time.sleep(5)
            browser.close()
        fig["settled_streamlit"] = _metrics(url)
        st = _status(proc.pid)
        fig["settled_mib"] = st["VmRSS"]
        fig["peak_mib"] = st["VmHWM"]
        fig["settled_over_first"] = round(fig["settled_mib"] / fig["first_analysis_mib"], 3)
        _dump(args.dump, "settled")  # after the figures: it collects and trims
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    print(json.dumps(fig, indent=1))
    if args.out:
        args.out.write_text(json.dumps(fig, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
