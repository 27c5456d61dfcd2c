"""The bad-input corpus (tools/make_bad_corpus.py) through the library, the CLI and batch.

Every item must end in its expected outcome (a coded error, a refusal with its reason, or the
same analysis as the picture it was made from) and never in a traceback. The corpus is built
once per run into a temporary folder; nothing binary is committed.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import require_or_skip

from posture.errors import InputError, NoPersonError, PostureError
from posture.images import DEFAULT_MAX_BYTES, load_image

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_bad_corpus",
                                               ROOT / "tools" / "make_bad_corpus.py")
corpus_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus_tool)

# What the corpus must hold: the list, one file each (the EXIF set is eight).
ITEMS = (
    "base.jpg", "empty.jpg", "random.jpg", "text.jpg", "truncated.jpg", "bomb.png",
    "huge_20000.png", "text_bomb.png", "many_scans.jpg", "tiny_32.png", "cmyk.jpg",
    "rgb16.png", "gray.jpg", "rgba.png", "palette.png", "animated.gif",
    *(f"exif_{t}.jpg" for t in range(1, 9)),
    "app2_flood.jpg", "com_flood.jpg", "chunk_flood.png", "bad_exif.jpg",
    *(f"{k}_flood.jpg" for k in corpus_tool.FLOOD_UNITS), *("gray16_50mp.png",
    "float_tiff.jpg", "rgba_50mp.png", "progressive444_50mp.jpg", "webp_50mp.webp"),
    "no_person.jpg", "two_people.jpg", "lying_down.jpg", "cut_at_waist.jpg",
    "cut_at_knees.jpg", "front_view.jpg", "back_view.jpg", "half_turned.jpg",
)
RENDERED = ("front_view.jpg", "back_view.jpg", "half_turned.jpg")  # need tools.synth
# Outcomes the library gets wrong today: reported, not fixed here (see docs/reliability.md).
# strict: when the view gate is fixed these pass, and the mark must go.
KNOWN_WRONG: dict[str, str] = {
    # A three-quarter view passes the side gate: frontal_ratio 0.38-0.39 at 45 degrees, under
    # thresholds.yaml's max_frontal_ratio 0.45 (real side photos: at most 0.12, samples 0.15);
    # it is measured as a side view instead of refused. Found 2026-12-06, not fixed yet:
    # lowering the limit moves the view_kind side limit and the renders' gates with it.
    "half_turned.jpg": "a body turned 45 degrees from profile passes the side gate",
}
# The errors a user's file can cause before any model runs (CLI exit code 2).
INPUT_CODES = {"empty_file", "not_an_image", "corrupt_image", "image_too_large",
               "image_too_small", "unsupported_image", "file_too_large", "too_many_segments",
               "not_a_regular_file"}
# The CLI costs ~2 s per call once it loads the model, <1 s when the file is refused first:
# every item refused before the model runs, plus one of each other outcome kind.
CLI_ITEMS = ("empty.jpg", "random.jpg", "text.jpg", "truncated.jpg", "bomb.png",
             "huge_20000.png", "text_bomb.png", "many_scans.jpg", "tiny_32.png",
             "app2_flood.jpg", "com_flood.jpg", "chunk_flood.png", "bad_exif.jpg",
             *(f"{k}_flood.jpg" for k in corpus_tool.FLOOD_UNITS), "webp_50mp.webp",
             "base.jpg", "exif_6.jpg", "animated.gif", "no_person.jpg", "two_people.jpg",
             "cut_at_knees.jpg", "front_view.jpg", "half_turned.jpg")


def _items(names):
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[n]))
            if n in KNOWN_WRONG else n for n in names]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    manifest = corpus_tool.build(out)
    return out / "items", manifest


def _entry(corpus, name: str) -> dict:
    items_dir, manifest = corpus
    for s in manifest["skipped"]:
        # run-tests.sh installs tools/synth's needs, so under CI a render that failed is a
        # failure (require_or_skip), not a quietly skipped front/back-view case
        require_or_skip(s["name"] != name, f"{name} not in the corpus: {s['why']}")
    return next(i for i in manifest["items"] if i["name"] == name)


def outcome(analyzer, path) -> dict:
    """The contract dict of one file through the library, plus the exception type raised."""
    from posture.contract import assessment_to_dict, error_to_dict

    try:
        d = assessment_to_dict(analyzer.analyze(path), source=str(path))
        d["_raised"] = None
    except PostureError as err:
        d = error_to_dict(err, source=str(path))
        d["_raised"] = type(err).__name__
    return d


def code_of(d: dict) -> str | None:
    return (d.get("error") or {}).get("code")


def families(d: dict) -> set[str]:
    return {r.split(":", 1)[0] for r in d.get("abstain_reasons") or ()}


def median_landmark_shift(a: dict, b: dict) -> float:
    pa, pb = np.asarray(a["landmarks_px"])[:, :2], np.asarray(b["landmarks_px"])[:, :2]
    return float(np.median(np.linalg.norm(pa - pb, axis=1)))


def check_expected(d: dict, expect: dict, base: dict | None) -> None:
    """Assert that a contract dict is the outcome the manifest asks for."""
    if "like" in expect:
        assert base is not None
        assert code_of(d) == code_of(base), (code_of(d), d.get("abstain_reasons"))
        assert (d["ok"], d["facing"]) == (base["ok"], base["facing"])
        height = np.ptp(np.asarray(base["landmarks_px"])[:, 1])
        shift = median_landmark_shift(d, base)
        assert shift <= expect["landmark_tol"] * height, f"landmarks moved {shift:.1f} px"
        tilts = (d["pelvic_tilt_deg"], base["pelvic_tilt_deg"])
        # the base is a measured side view: an estimator that abstained on everything
        # must not pass as "the same as the base"
        assert None not in tilts, (tilts, d.get("abstain_reasons"))
        assert abs(tilts[0] - tilts[1]) <= expect["tilt_tol_deg"], tilts
        return
    if "view" in expect:
        # a front or back photo (issue 28): measured side to side, no sagittal tilt or band
        assert d["ok"] is True and d["view_kind"] == expect["view"], d.get("abstain_reasons")
        assert d["pelvic_tilt_deg"] is None and d["severity"] is None and d["abstained"]
        assert "no_side_view" in families(d), d["abstain_reasons"]
        assert d["pelvic_obliquity_deg"] is not None and d["shoulder_level_deg"] is not None
        return
    if expect.get("partial"):
        # cut off at the shins or knees, pelvis and thighs in view: measured, with a note
        assert d["ok"] is True and d["pelvic_tilt_deg"] is not None, d.get("abstain_reasons")
        assert any(n.startswith("partial_view") for n in d["notes"]), d["notes"]
        assert d["view"]["partial"] is True
        return
    assert d["ok"] is False and d["pelvic_tilt_deg"] is None and d["severity"] is None
    allowed = [expect["code"]] if "code" in expect else expect["refused"]
    assert code_of(d) in allowed, (code_of(d), d.get("abstain_reasons"))
    if code_of(d) == "view_not_usable":
        assert families(d) & set(expect["reasons"]), d["abstain_reasons"]


# ------------------------------------------------------------------------- the corpus itself

def test_corpus_is_complete_and_deterministic(tmp_path):
    # without the renders (covered by the session build): builds in ~3 s
    a = corpus_tool.build(tmp_path / "a", render=False)
    b = corpus_tool.build(tmp_path / "b", render=False)
    assert a == b
    for item in a["items"]:
        data = (tmp_path / "a" / "items" / item["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
    names = [i["name"] for i in a["items"]] + [s["name"] for s in a["skipped"]]
    assert sorted(names) == sorted(ITEMS)
    assert {s["name"] for s in a["skipped"]} == set(RENDERED)


def test_bombs_are_small_valid_pngs_of_huge_size():
    # The generator makes real PNGs: refusing them is the limit's doing, not a parse error.
    from PIL import Image

    small = corpus_tool.solid_png(300, 200, (90, 140, 200))
    px = np.asarray(Image.open(io.BytesIO(small)))
    assert px.shape == (200, 300, 3) and (px == (90, 140, 200)).all()
    big = corpus_tool.solid_png(20_000, 20_000, (90, 140, 200))
    assert len(big) < 2_000_000  # 1.2 GB of pixels in ~1.2 MB
    assert struct.unpack(">II", big[16:24]) == (20_000, 20_000)  # IHDR width, height
    with pytest.raises(InputError) as e:
        load_image(big)
    assert e.value.code == "image_too_large"


# ------------------------------------------------------------------------- bounded work

_WORST = ("bomb.png", "huge_20000.png", "text_bomb.png", "many_scans.jpg", "truncated.jpg",
          "random.jpg", "app2_flood.jpg", "com_flood.jpg", "chunk_flood.png",
          *(f"{k}_flood.jpg" for k in corpus_tool.FLOOD_UNITS), "webp_50mp.webp")
_LOAD_SCRIPT = """
import json, resource, sys, time
from posture.errors import InputError
from posture.images import load_image
out = {}
for path in sys.argv[1:]:
    t = time.perf_counter()
    try:
        load_image(path)
        code = None
    except InputError as e:
        code = e.code
    out[path] = [code, time.perf_counter() - t]
# VmHWM, not ru_maxrss: the latter is inherited from the (large) parent across fork + exec
out["peak_kb"] = int(next(line.split()[1] for line in open("/proc/self/status")
                          if line.startswith("VmHWM:")))
print(json.dumps(out))
"""


def test_worst_items_are_refused_fast_and_small(corpus):
    # In a child process with a wall-clock limit: a stall fails the test, not the suite, and
    # the peak memory is this loader's alone. The bombs would need 1.2-3.6 GB decoded; the
    # many-scans JPEG took ~50 s to decode before the scan limit.
    items_dir, manifest = corpus
    paths = [str(items_dir / n) for n in _WORST]
    r = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT, *paths], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    expect = {i["name"]: i["expect"].get("code") for i in manifest["items"]}
    for p in paths:
        code, seconds = res[p]
        assert code == expect[Path(p).name], p
        # generous (a loaded 2-core machine): the many-scans JPEG took ~50 s before its scan
        # limit; the bounded work itself is the peak-memory check below
        assert seconds < 15.0, f"{p} took {seconds:.1f} s"
    # the floods are 44-47 MB read whole (the byte limit is 50 MB): the rest is the parse
    assert res["peak_kb"] < 300 * 1024, f"peak memory {res['peak_kb'] // 1024} MB"


# Tiny files that decode to 50 MP (issue 23): 16-bit and float levels were converted in
# float64 over the whole frame (1.8 and 2.0 GB in `posture analyze`).
_BIG = ("gray16_50mp.png", "float_tiff.jpg", "rgba_50mp.png", "progressive444_50mp.jpg")
_DECODE_SCRIPT = """
import json, sys
from posture.images import load_image
def hwm():
    return int(next(x.split()[1] for x in open("/proc/self/status") if x.startswith("VmHWM:")))
start = hwm()
frame = load_image(sys.argv[1])
print(json.dumps({"shape": frame.rgb.shape, "dtype": str(frame.rgb.dtype),
                  "start_kb": start, "peak_kb": hwm()}))
"""
# `posture analyze` in a grandchild, its peak read by a small parent: a child's ru_maxrss
# starts at the peak of the process it was forked from (Linux keeps it across exec), and
# this test process holds the whole corpus.
_PEAK_SCRIPT = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(r.stderr)
print(r.stdout.strip())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", _BIG)
def test_tiny_files_of_50_mp_decode_within_the_budget(name, corpus):
    # one process per file, so each peak is its own: the decode needs Pillow's frame, the
    # RGB result and one band (posture.images_convert.decode_bytes), never a float copy
    from posture.images_convert import MAX_DECODE_BYTES

    items_dir, _ = corpus
    r = subprocess.run([sys.executable, "-c", _DECODE_SCRIPT, str(items_dir / name)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["shape"] == [6120, 8160, 3] and res["dtype"] == "uint8"
    grown = (res["peak_kb"] - res["start_kb"]) * 1024
    assert grown <= MAX_DECODE_BYTES, f"{name}: the decode took {grown / 1e6:.0f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gray16_50mp.png", "float_tiff.jpg"])
def test_posture_analyze_on_a_50_mp_16_bit_or_float_file_peaks_under_600_mb(name, corpus):
    # the report's two files: 1.8 GB and 2.0 GB before (docs/reliability.md, bench/hostile.py)
    items_dir, manifest = corpus
    item = next(i for i in manifest["items"] if i["name"] == name)
    r = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, sys.executable, "-m",
                        "posture.cli", "analyze", "--json", str(items_dir / name)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    out, peak_kb = r.stdout.strip().rsplit("\n", 1)
    assert code_of(json.loads(out)) == item["expect"]["code"], r.stderr[-2000:]
    assert int(peak_kb) < item["bound"]["peak_rss_mb"] * 1024, f"peak {int(peak_kb) // 1024} MB"


def test_upload_limit_matches_the_library_byte_limit():
    # One limit, stated once (posture.images.MAX_UPLOAD_MB), in Streamlit's units: its
    # uploader counts 1 MB = 1,000,000 bytes in the browser (1,024 only on Windows), its
    # server allows maxUploadSize * 2**20. The library's byte limit is the browser's, so a
    # file the page accepts is never refused by the library for size on Linux or macOS, and
    # nothing the library would refuse passes silently (it says file_too_large).
    import re

    import streamlit

    from posture.images import MAX_UPLOAD_MB

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert DEFAULT_MAX_BYTES == MAX_UPLOAD_MB * 1_000_000
    ui = (ROOT / "posture_app" / "ui.py").read_text()
    assert re.search(r"^from posture\.images import .*MAX_UPLOAD_MB", ui, re.M), \
        "posture_app.ui must take MAX_UPLOAD_MB from posture.images, not repeat it"
    page = (ROOT / "pages" / "1_Photo_check.py").read_text()
    assert "max_upload_size=MAX_UPLOAD_MB" in page
    # the browser's unit, as shipped: "Windows ? 1024 : 1e3" bytes per kB
    js = Path(streamlit.__file__).parent / "static" / "static" / "js"
    assert any(re.search(r"\?1024:1e3\b", f.read_text(errors="replace"))
               for f in js.glob("*.js")), "Streamlit's uploader changed its MB: recheck"
    # 51.4 MB (the size the browser refused while the library took 50 MiB) is refused by
    # the library as well, and 50,000,000 bytes is accepted by both
    with pytest.raises(InputError) as e:
        load_image(b"\xff\xd8" + bytes(51_400_000))
    assert e.value.code == "file_too_large"
    assert "50.0 MB" in e.value.message


def _peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmHWM:")))


def test_malformed_input_costs_little_memory_in_this_process(corpus):
    # As the app runs it: in a process that already holds a model. Reset the peak-RSS mark
    # (Linux: "5" to clear_refs), load the bombs, and check that the peak hardly moves.
    items_dir, _ = corpus
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        require_or_skip(False, "cannot reset the peak RSS mark here (/proc/self/clear_refs)")
    before = _peak_rss_kb()
    for name in ("bomb.png", "huge_20000.png", "text_bomb.png", "many_scans.jpg"):
        with pytest.raises(InputError):
            load_image(items_dir / name)
    grown_mb = (_peak_rss_kb() - before) / 1024
    assert grown_mb < 150, f"peak memory grew by {grown_mb:.0f} MB"


# ------------------------------------------------------------------------- the library

@pytest.fixture(scope="module")
def library_results(corpus, analyzer) -> dict[str, dict]:
    items_dir, manifest = corpus
    return {i["name"]: outcome(analyzer, items_dir / i["name"]) for i in manifest["items"]}


@pytest.mark.slow
@pytest.mark.parametrize("name", _items(ITEMS))
def test_library(name, corpus, library_results):
    item = _entry(corpus, name)
    d = library_results[name]
    check_expected(d, item["expect"], library_results["base.jpg"])
    # the exception type carries the CLI exit code: bad input 2, no usable person 3
    code = code_of(d)
    if code in INPUT_CODES:
        assert d["_raised"] == InputError.__name__
    elif code == "no_person":
        assert d["_raised"] == NoPersonError.__name__
    else:  # analysed: a result, not an exception (view_not_usable is a verdict)
        assert d["_raised"] is None


@pytest.mark.slow
def test_base_is_a_usable_side_view(library_results):
    # the like-base comparisons mean little if the base itself were refused
    base = library_results["base.jpg"]
    assert base["ok"] and base["facing"] in ("left", "right")
    assert len(base["landmarks_px"]) == 33


# ------------------------------------------------------------------------- the CLI

def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posture.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def assert_clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-2000:]
    assert "Warning" not in stderr, stderr[-2000:]  # e.g. Pillow's corrupt-EXIF warnings


@pytest.mark.slow
@pytest.mark.parametrize("name", _items(CLI_ITEMS))
def test_cli_analyze_json(name, corpus, library_results):
    items_dir, _ = corpus
    item = _entry(corpus, name)
    r = _cli("analyze", "--json", str(items_dir / name))
    assert_clean_stderr(r.stderr)
    d = json.loads(r.stdout)
    check_expected(d, item["expect"], library_results["base.jpg"])
    code = code_of(d)
    want_exit = 0 if code is None else 2 if code in INPUT_CODES else 3
    assert r.returncode == want_exit, (r.returncode, code)
    if code is not None:
        # exit_code is in error dicts from exceptions; view verdicts have code and message only
        assert d["error"].get("exit_code", want_exit) == want_exit and d["error"]["message"]
    # the CLI says what the library says
    lib = library_results[name]
    assert (code, d["facing"]) == (code_of(lib), lib["facing"])


# ------------------------------------------------------------------------- batch

@pytest.fixture(scope="module")
def batch_run(corpus, tmp_path_factory):
    items_dir, _ = corpus
    out = tmp_path_factory.mktemp("corpus-batch")
    # a glob, not the folder: folder mode only takes photo extensions and would leave the GIF
    r = _cli("batch", str(items_dir / "*"), "--out", str(out / "out.csv"),
             "--jsonl", str(out / "out.jsonl"), timeout=900)
    with open(out / "out.csv", newline="", encoding="utf-8") as f:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(f)}
    jsonl = {Path(x["file"]).name: x for x in map(json.loads, (out / "out.jsonl").open())}
    return r, rows, jsonl


@pytest.mark.slow
def test_batch_completes_with_a_row_per_item(corpus, batch_run):
    _, manifest = corpus
    r, rows, jsonl = batch_run
    assert r.returncode == 0, r.stderr[-2000:]
    assert_clean_stderr(r.stderr)
    names = sorted(i["name"] for i in manifest["items"])
    assert sorted(rows) == names and sorted(jsonl) == names
    assert f"{len(names)} images in the output ({len(names)} analysed now" in r.stdout
    assert "internal_error" not in {row["error_code"] for row in rows.values()}


@pytest.mark.slow
@pytest.mark.parametrize("name", _items(ITEMS))
def test_batch_row(name, corpus, batch_run, library_results):
    item = _entry(corpus, name)
    _, rows, jsonl = batch_run
    d = jsonl[name]
    check_expected(d, item["expect"], library_results["base.jpg"])
    row = rows[name]
    assert row["error_code"] == (code_of(d) or "")
    assert row["ok"] == str(d["ok"]) and row["facing"] == (d["facing"] or "")
    lib = library_results[name]
    assert (code_of(d), d["facing"]) == (code_of(lib), lib["facing"])


# ---------------------------------------------------------------------- the app's analyzers

class _NobodyAnalyzer:
    """Stands in for the pose model: every picture holds nobody."""

    def analyze(self, frame):
        raise NoPersonError("nobody", code="no_person")

    def close(self):
        pass


def _counting_decoder(monkeypatch, seconds: float) -> dict:
    """Wrap posture.images.load_image: how many decodes ran at once, at most."""
    import threading
    import time

    import posture.images as images

    real, lock, seen = images.load_image, threading.Lock(), {"now": 0, "most": 0, "calls": 0}

    def load(src, **kw):
        with lock:
            seen["now"] += 1
            seen["calls"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        try:
            time.sleep(seconds)
            return real(src, **kw)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(images, "load_image", load)
    return seen


def test_app_decodes_uploads_within_the_pools_limit(monkeypatch):
    # issue 23: the upload was decoded before an analyzer was taken from the pool, so any
    # number of decodes ran at once (three 16-bit uploads: 267 MB -> 4.8 GB)
    import threading

    from PIL import Image

    from posture_app import analyzers

    pool = analyzers.AnalyzerPool(_NobodyAnalyzer, size=2)
    monkeypatch.setattr(analyzers, "analyzer_pool", lambda: pool)
    seen = _counting_decoder(monkeypatch, 0.3)
    buf = io.BytesIO()
    Image.new("RGB", (120, 200), (90, 140, 200)).save(buf, "PNG")
    data, results = buf.getvalue(), []
    threads = [threading.Thread(target=lambda: results.append(analyzers.analyze_upload(data, "p")))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert seen["calls"] == 6 and [r.code for r in results] == ["no_person"] * 6
    assert seen["most"] <= 2, f"{seen['most']} uploads decoded at once (the pool holds 2)"


def test_app_answers_server_busy_without_decoding(monkeypatch):
    from posture_app import analyzers

    monkeypatch.setattr(analyzers, "POOL_WAIT_S", 0.1)
    pool = analyzers.AnalyzerPool(_NobodyAnalyzer, size=1)
    monkeypatch.setattr(analyzers, "analyzer_pool", lambda: pool)
    seen = _counting_decoder(monkeypatch, 0.0)
    with pool.turn():  # another upload is being decoded or analysed
        out = analyzers.analyze_upload(b"\xff\xd8\xff" + bytes(100), "p.jpg")
    assert out.code == "server_busy" and seen["calls"] == 0
    assert analyzers.analyze_upload(b"not an image", "p.jpg").code == "not_an_image"
