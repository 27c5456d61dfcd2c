"""Hostile files: peak memory of ``posture analyze``, refusal time of floods, app memory.

Builds the bad-input corpus (``tools/make_bad_corpus.py``, no renders) unless ``--corpus``
names one, then, for the items with a ``bound`` in its manifest (issue 23):

* ``peak_rss_mb`` items (tiny files that decode to 50 MP, plus ``--extra`` files): runs
  ``posture analyze --json FILE`` in a grandchild and reports its peak resident size
  (``ru_maxrss`` of ``RUSAGE_CHILDREN``, read by a small parent: a child's ``ru_maxrss``
  starts at the peak of the process it was forked from), its error code and wall time;
* ``refused_within_s`` items (45 MB marker/chunk floods): times ``load_image(path)`` from
  disk, ``--repeat`` times in one fresh process (the best and the worst), and its code;
* with ``--app``: starts the Streamlit app, analyses one normal photo on the Photo check
  page (the first-analysis level of ``VmRSS``), uploads ``--uploads`` hostile files in
  turn, and reports the server's ``VmRSS`` after them, after the visitor left and
  ``--idle`` seconds passed, settled after one more visit, and its peak ``VmHWM``
  (Chromium and playwright, as ``tools/app_memory_load.py``).

Usage::

    python bench/hostile.py [--corpus DIR] [--extra big.jpg ...] [--app] \\
        [--out bench/results/hostile.json]

Prints a table and writes JSON and Markdown (``--out``; the ``.md`` beside it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run by a small parent: the peak of its child is the child's own.
_PEAK = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
try:
    code = (json.loads(r.stdout).get("error") or {}).get("code")
except ValueError:
    code = "unparsed: " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
print(json.dumps({"rc": r.returncode, "code": code, "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""
_REFUSE = """
import json, sys, time
from posture.errors import InputError
from posture.images import load_image
load_image  # imported before the clock starts
times, code = [], None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    try:
        load_image(sys.argv[1])
        code = None
    except InputError as e:
        code = e.code
    times.append(time.perf_counter() - t)
print(json.dumps({"code": code, "best_s": min(times), "worst_s": max(times)}))
"""


def peak_of_analyze(path: Path) -> dict:
    """``posture analyze --json path`` in a grandchild: rc, code, seconds, peak MB."""
    r = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "posture.cli",
                        "analyze", "--json", str(path)], capture_output=True, text=True,
                       cwd=ROOT, timeout=900)
    return json.loads(r.stdout)


def refusal_time(path: Path, repeat: int) -> dict:
    """``load_image(path)`` from disk, ``repeat`` times in one fresh process."""
    r = subprocess.run([sys.executable, "-c", _REFUSE, str(path), str(repeat)],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout)


def build_corpus(out: Path) -> dict:
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_bad_corpus.py"), str(out),
                    "--no-render"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads((out / "manifest.json").read_text())


def app_memory(files: list[Path], first: Path, idle_s: float) -> dict:
    """The app's server memory: after one normal analysis, after ``files`` uploaded one
    after another on the Photo check page, after ``idle_s`` seconds of idling."""
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import _free_port, launch_chromium, open_page
    from tools.app_memory_load import PHOTO_PANEL, UPLOAD, _status, _wait_idle

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "POSTURE_ICE_SERVERS": ""}
    log = tempfile.NamedTemporaryFile("w", prefix="hostile-app-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    fig: dict = {"uploads": [f.name for f in files], "first": first.name}
    try:
        import urllib.request

        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        fig["idle_start_mib"] = _status(proc.pid)["VmRSS"]
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            open_page(page, url, "Photo check")
            t0 = time.monotonic()
            fig["reloads"] = 0
            short = Path(tempfile.mkdtemp(prefix="hostile-uploads-"))
            for i, f in enumerate([first, *files]):
                # a short name of its own (the uploader shortens long ones), same suffix
                link = short / f"u{i:02d}{f.suffix}"
                link.symlink_to(f.resolve())
                try:
                    page.locator(UPLOAD).wait_for(state="attached", timeout=20_000)
                except Exception:  # the page has no uploader now: a fresh visit
                    fig["reloads"] += 1
                    open_page(page, url, "Photo check")
                    page.locator(UPLOAD).wait_for(state="attached", timeout=60_000)
                page.set_input_files(UPLOAD, str(link))
                # this file is in the uploader, its run started
                # (a refusal may end before the running indicator shows) and ended
                page.locator('[data-testid="stFileChipName"], [data-testid="stFileName"]') \
                    .filter(has_text=link.name).first.wait_for(timeout=120_000)
                try:
                    page.get_by_test_id("stStatusWidget").wait_for(timeout=5_000)
                except Exception:  # already over
                    pass
                _wait_idle(page, timeout_s=300)
                if i == 0:
                    page.locator(PHOTO_PANEL).wait_for(timeout=120_000)
                    fig["first_analysis_mib"] = _status(proc.pid)["VmRSS"]
                fig.setdefault("after_each_mib", []).append(_status(proc.pid)["VmRSS"])
                print(f"  upload {i}: {f.name}, server {fig['after_each_mib'][-1]} MiB",
                      flush=True)
            shutil.rmtree(short, ignore_errors=True)
            fig["upload_seconds"] = round(time.monotonic() - t0, 1)
            fig["after_uploads_mib"] = _status(proc.pid)["VmRSS"]
            page.context.close()  # the visitor leaves; Streamlit keeps the session 2 min
            time.sleep(idle_s)
            fig["after_idle_mib"] = _status(proc.pid)["VmRSS"]
            # one more visitor, who analyses nothing: expired sessions are dropped
            page = browser.new_context().new_page()
            open_page(page, url, "Photo check")
            page.context.close()
            time.sleep(5)
            browser.close()
        st = _status(proc.pid)
        fig["settled_mib"], fig["peak_mib"] = st["VmRSS"], st["VmHWM"]
        fig["idle_s"] = idle_s
        for key in ("after_uploads_mib", "after_idle_mib", "settled_mib"):
            fig[key.replace("_mib", "_over_first")] = round(fig[key] / fig["first_analysis_mib"],
                                                            3)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return fig


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def markdown(res: dict) -> str:
    lines = [f"# Hostile files ({res['date']}, commit {res['commit']})", "",
             "| file | bytes | `posture analyze` peak MB | code | s |", "|---|---|---|---|---|"]
    for r in res["memory"]:
        lines.append(f"| {r['name']} | {r['bytes']:,} | {r['peak_mb']:.0f} | "
                     f"{r['code'] or 'analysed'} | {r['seconds']:.1f} |")
    lines += ["", "| flood | MB | refused in s (best / worst) | code |", "|---|---|---|---|"]
    for r in res["floods"]:
        lines.append(f"| {r['name']} | {r['bytes'] / 1e6:.0f} | {r['best_s']:.3f} / "
                     f"{r['worst_s']:.3f} | {r['code']} |")
    if res.get("app"):
        a = res["app"]
        each = f" (after each: {a['after_each_mib']})" if "after_each_mib" in a else ""
        lines += ["", f"App server `VmRSS` (MiB): idle {a['idle_start_mib']}, after the first "
                  f"analysis {a['first_analysis_mib']}, after {len(a['uploads'])} hostile "
                  f"uploads {a['after_uploads_mib']} ({a['after_uploads_over_first']}x){each}, "
                  f"after {a['idle_s']:.0f} s "
                  f"idle {a['after_idle_mib']} ({a['after_idle_over_first']}x), settled "
                  f"after one more visit {a['settled_mib']} ({a['settled_over_first']}x); "
                  f"peak `VmHWM` {a['peak_mib']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=None,
                    help="a corpus built by tools/make_bad_corpus.py (default: build one)")
    ap.add_argument("--extra", type=Path, nargs="*", default=[],
                    help="more files for the peak-memory table (e.g. a 50 MP photo)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per flood")
    ap.add_argument("--app", action="store_true", help="also the app server's memory")
    ap.add_argument("--uploads", type=int, default=10, help="hostile uploads with --app")
    ap.add_argument("--idle", type=float, default=150.0,
                    help="seconds idle after them (Streamlit keeps a closed session 2 min)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    tmp = None
    if args.corpus is None:
        tmp = tempfile.TemporaryDirectory(prefix="hostile-corpus-")
        args.corpus = Path(tmp.name)
        manifest = build_corpus(args.corpus)
    else:
        manifest = json.loads((args.corpus / "manifest.json").read_text())
    items = args.corpus / "items"
    res: dict = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "commit": _commit(), "cpus": os.cpu_count(), "memory": [], "floods": []}
    try:
        big = [i for i in manifest["items"] if "peak_rss_mb" in i.get("bound", {})]
        for path, item in [(items / i["name"], i) for i in big] + [(p, None) for p in args.extra]:
            r = {"name": path.name, "bytes": path.stat().st_size, **peak_of_analyze(path),
                 "bound_mb": (item or {}).get("bound", {}).get("peak_rss_mb", 600)}
            res["memory"].append(r)
            print(f"{r['name']:28s} {r['bytes']:>11,} B  peak {r['peak_mb']:6.0f} MB  "
                  f"{r['code'] or 'analysed':18s} {r['seconds']:5.1f} s", flush=True)
        floods = [i for i in manifest["items"] if "refused_within_s" in i.get("bound", {})]
        for item in floods:
            r = {"name": item["name"], "bytes": item["bytes"],
                 **refusal_time(items / item["name"], args.repeat)}
            res["floods"].append(r)
            print(f"{r['name']:28s} {r['bytes'] / 1e6:5.1f} MB  refused in {r['best_s']:.3f}"
                  f"-{r['worst_s']:.3f} s  {r['code']}", flush=True)
        if args.app:
            hostile = [items / i["name"] for i in big + floods]
            files = [hostile[k % len(hostile)] for k in range(args.uploads)]
            first = ROOT / "samples" / sorted(p.name for p in (ROOT / "samples").glob("*.jpg"))[0]
            res["app"] = app_memory(files, first, args.idle)
            print(json.dumps(res["app"], indent=1), flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    res["worst_peak_mb"] = max((r["peak_mb"] for r in res["memory"]), default=None)
    res["worst_refusal_s"] = max((r["worst_s"] for r in res["floods"]), default=None)
    print(markdown(res))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
