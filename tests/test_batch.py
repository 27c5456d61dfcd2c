"""Batch screening: rows per file, bad files, resume after a kill, parallel workers."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import require_or_skip

from posture.batch import (
    CSV_COLUMNS,
    annotation_names,
    csv_row,
    expand_inputs,
    run_batch,
    summarize,
)
from posture.errors import InputError, NoPersonError

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"
REPO = Path(__file__).resolve().parents[1]


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def jsonl_files(path) -> list[str]:
    return [json.loads(line)["file"] for line in Path(path).read_text().splitlines()]


# ------------------------------------------------------------------------- without the model

class FakeAnalyzer:
    """Stands in for Analyzer: every readable image 'has no person' with a per-file code,
    so every path through the writer runs without the pose model."""

    closed = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        FakeAnalyzer.closed += 1

    def analyze(self, frame):
        raise NoPersonError("nobody here", code="fake_no_person")


def _folder(tmp_path, n=5) -> Path:
    import numpy as np
    from PIL import Image

    d = tmp_path / "in"
    d.mkdir()
    for i in range(n):
        Image.fromarray(np.full((240, 180, 3), 10 * i, np.uint8)).save(d / f"img_{i}.png")
    (d / "broken.jpg").write_text("this is text, not a JPEG")
    (d / "notes.txt").write_text("not an image extension: ignored")
    return d


def test_bad_files_become_rows_and_the_run_completes(tmp_path):
    d = _folder(tmp_path)
    out = tmp_path / "out.csv"
    closed = FakeAnalyzer.closed
    s = run_batch(str(d), out, jsonl=tmp_path / "o.jsonl", progress=False,
                  analyzer_factory=FakeAnalyzer)
    rows = read_rows(out)
    assert list(rows[0]) == list(CSV_COLUMNS)
    by_file = {Path(r["file"]).name: r for r in rows}
    assert sorted(by_file) == ["broken.jpg"] + [f"img_{i}.png" for i in range(5)]
    assert by_file["broken.jpg"]["error_code"] == "not_an_image"
    assert by_file["img_0.png"]["error_code"] == "fake_no_person"
    assert by_file["img_0.png"]["ok"] == "False"
    assert (s.rows, s.processed, s.skipped, s.errors) == (
        6, 6, 0, {"not_an_image": 1, "fake_no_person": 5})
    assert FakeAnalyzer.closed == closed + 1  # one analyzer, closed at the end


def test_rerun_skips_done_files_and_repairs_a_cut_line(tmp_path):
    d = _folder(tmp_path)
    out, jl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    files = expand_inputs(str(d))
    run_batch(files[:3], out, jsonl=jl, progress=False, analyzer_factory=FakeAnalyzer)
    # simulate a kill: the JSONL got file 4's record, the CSV only half of its row
    with open(jl, "a") as f:
        f.write(json.dumps({"batch_csv": os.path.realpath(out), "file": files[3],
                            "schema_version": 1, "ok": False}) + "\n")
    with open(out, "a") as f:
        f.write(files[3] + ",Fal")
    s = run_batch(str(d), out, jsonl=jl, progress=False, analyzer_factory=FakeAnalyzer)
    assert (s.processed, s.skipped, s.rows) == (3, 3, 6)
    rows = read_rows(out)
    assert sorted(r["file"] for r in rows) == files  # every file once, none lost
    assert sorted(jsonl_files(jl)) == files
    again = run_batch(str(d), out, jsonl=jl, progress=False, analyzer_factory=FakeAnalyzer)
    assert (again.processed, again.skipped) == (0, 6)


def test_inputs_from_glob_and_empty_folder(tmp_path):
    d = _folder(tmp_path, 3)
    assert [Path(f).name for f in expand_inputs(str(d / "img_*.png"))] == [
        "img_0.png", "img_1.png", "img_2.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as e:
        expand_inputs(str(tmp_path / "empty"))
    assert e.value.code == "no_inputs"


def test_annotation_names_do_not_clash():
    names = annotation_names(["a/x.jpg", "b/x.jpg", "c/y.png"], "out")
    assert names == {"a/x.jpg": os.path.join("out", "x.png"),
                     "b/x.jpg": os.path.join("out", "x-2.png"),
                     "c/y.png": os.path.join("out", "y.png")}


def test_csv_row_splits_intervals_and_keeps_one_line():
    d = {"ok": True, "pelvic_tilt_deg": 12.3, "pelvic_tilt_interval_deg": [8.3, 16.3],
         "abstained": False, "abstain_reasons": [], "severity": "mild",
         "model": {"pose_variant": "full", "estimator_version": "v3"},
         "image_size": [640, 480], "landmarks_px": [[1, 2, 0.9]]}
    row = csv_row("a.jpg", d)
    assert (row["pelvic_tilt_interval_deg_lo"], row["pelvic_tilt_interval_deg_hi"]) == (
        8.3, 16.3)
    assert (row["image_width"], row["estimator_version"]) == (640, "v3")
    assert "landmarks_px" not in row
    bad = csv_row("b.jpg", {"ok": False, "error": {"code": "x", "message": "two\nlines"}})
    assert bad["error_message"] == "two lines"


def test_summary_counts(tmp_path):
    out = tmp_path / "s.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerow(csv_row("a", {"ok": True, "abstained": False}))
        w.writerow(csv_row("b", {"ok": True, "abstained": True}))
        w.writerow(csv_row("c", {"ok": False, "abstained": True,
                                 "error": {"code": "no_person"}}))
    s = summarize(out)
    assert (s.measured, s.abstained, s.errors) == (1, 1, {"no_person": 1})
    assert "1 measured, 1 abstained, 1 errors (no_person: 1)" in s.text()


# ------------------------------------------------------------------------- with the model

needs_photos = pytest.mark.skipif(not PHOTOS.is_dir(), reason="../shared/photos absent")


def _photo_dir(tmp_path) -> Path:
    d = tmp_path / "photos"
    d.mkdir()
    for p in sorted(PHOTOS.glob("*.jpg")):
        shutil.copy(p, d / p.name)
    (d / "zz_text.jpg").write_text("a text file named .jpg")
    return d


def _cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "posture.cli", "batch", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


#: Seconds after which a CLI batch of the 9 real photos counts as hung.
BATCH_HANG_S = 900


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    require_or_skip(PHOTOS.is_dir(), "../shared/photos absent")
    tmp = tmp_path_factory.mktemp("batch")
    d = _photo_dir(tmp)
    p = _cli(str(d), "--out", str(tmp / "out.csv"), "--jsonl", str(tmp / "out.jsonl"),
             "--annotate", str(tmp / "ann"), "--workers", "2")
    # a bound for a hung batch only: 9 photos and two model loads took over 240 s at
    # load 14 on 2 cores (the fixture timed out in a mutation-test baseline)
    stdout, stderr = p.communicate(timeout=BATCH_HANG_S)
    return d, tmp, p.returncode, stdout, stderr


@pytest.mark.slow
@needs_photos
def test_batch_over_real_photos_with_a_bad_file(clean_run):
    d, tmp, rc, stdout, stderr = clean_run
    assert rc == 0, stderr
    rows = read_rows(tmp / "out.csv")
    names = [Path(r["file"]).name for r in rows]
    assert sorted(names) == sorted(p.name for p in d.iterdir())
    bad = next(r for r in rows if r["file"].endswith("zz_text.jpg"))
    assert bad["error_code"] == "not_an_image" and bad["ok"] == "False"
    good = [r for r in rows if r is not bad]
    assert all(r["facing"] in ("left", "right") for r in good if not r["error_code"])
    assert "9 images in the output" in stdout and "not_an_image: 1" in stdout
    lines = [json.loads(x) for x in (tmp / "out.jsonl").read_text().splitlines()]
    assert len(lines) == 9
    assert all(len(x["landmarks_px"]) == 33 for x in lines if x["ok"])
    n_ok = sum(1 for r in rows if not r["error_code"] and r["ok"] == "True")
    assert len(list((tmp / "ann").glob("*.png"))) >= n_ok > 0


def _session_alive(sid: int) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(p.name))
    return pids


@pytest.mark.slow
@needs_photos
def test_batch_killed_midway_resumes_without_duplicates_or_losses(clean_run, tmp_path):
    d = clean_run[0]
    out, jl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    p = _cli(str(d), "--out", str(out), "--jsonl", str(jl), "--workers", "2",
             start_new_session=True)
    # Wait for the 3rd row however long a loaded machine takes (the bound only stops a
    # hung batch), then freeze the whole session with SIGSTOP: no row can be written
    # between seeing 3 and the kill, so the kill lands midway by construction.
    deadline = time.monotonic() + 900
    while not (out.exists() and len(out.read_text().splitlines()) >= 1 + 3):
        if p.poll() is not None:
            pytest.fail(f"batch ended before it could be killed: {p.stderr.read()}")
        assert time.monotonic() < deadline, "no 3 rows in 15 minutes: the batch hangs"
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGSTOP)
    frozen = read_rows(out)
    p.send_signal(signal.SIGKILL)  # the parent only: its workers must notice and exit
    p.wait()
    os.killpg(p.pid, signal.SIGCONT)  # let the workers run, to find their parent gone
    first = read_rows(out)
    assert first == frozen  # nothing was written after the freeze
    assert 3 <= len(first) < 9, "the kill must land midway for this test to mean anything"
    if sys.platform.startswith("linux"):
        deadline = time.time() + 20
        while _session_alive(p.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert _session_alive(p.pid) == [], "orphaned workers kept running"

    r = _cli(str(d), "--out", str(out), "--jsonl", str(jl), "--workers", "2")
    stdout, stderr = r.communicate(timeout=BATCH_HANG_S)
    assert r.returncode == 0, stderr
    rows = read_rows(out)
    files = [row["file"] for row in rows]
    assert Counter(files).most_common(1)[0][1] == 1  # no duplicates
    assert sorted(Path(f).name for f in files) == sorted(x.name for x in d.iterdir())
    assert sorted(jsonl_files(jl)) == sorted(files)
    assert f"{9 - len(first)} analysed now, {len(first)} already there" in stdout
    # rows written before the kill are kept as they were
    assert rows[: len(first)] == first
    clean = {Path(x["file"]).name: (x["facing"], x["error_code"])
             for x in read_rows(clean_run[1] / "out.csv")}
    assert {Path(x["file"]).name: (x["facing"], x["error_code"]) for x in rows} == clean


# ------------------------------------------------ odd names, locks, globs (output safety:
# ------------------------------------------------ tests/test_output_safety.py, both engines)

def _png(path: Path, value: int = 40) -> Path:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((120, 90, 3), value, np.uint8)).save(path)
    return path


def _refused(code: str, *args, **kw):
    with pytest.raises(Exception) as e:
        run_batch(*args, progress=False, analyzer_factory=FakeAnalyzer, **kw)
    assert getattr(e.value, "code", None) == code, e.value
    return e.value


def test_names_with_newlines_and_double_spaces_resume_exactly(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    names = ["a\nb.png", "two  spaces.png", " lead.png", "tab\there.png", "cr\rx.png",
             "=HYPERLINK(\"x\").png", "@SUM(1+1).png", "'quote.png", "-1.png"]
    for i, n in enumerate(names):
        _png(d / n, 10 + i)
    out, jl = tmp_path / "o.csv", tmp_path / "o.jsonl"
    counts = []
    for _ in range(3):
        s = run_batch(str(d), out, jsonl=jl, progress=False, analyzer_factory=FakeAnalyzer)
        counts.append((s.rows, s.processed))
    assert counts == [(9, 9), (9, 0), (9, 0)]
    from posture.csvcells import formula_unsafe

    rows = read_rows(out)
    assert sorted(formula_unsafe(r["file"]) for r in rows) == sorted(
        str(d / n) for n in names)
    assert sorted(jsonl_files(jl)) == sorted(str(d / n) for n in names)
    for r in rows:  # no cell a spreadsheet would run
        assert not r["file"].startswith(("=", "+", "-", "@", "\t", "\r")), r["file"]


def test_a_record_cut_inside_a_quoted_name_is_rerun(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    _png(d / "x\ny.png")
    _png(d / "z.png")
    out = tmp_path / "o.csv"
    run_batch([str(d / "z.png")], out, progress=False, analyzer_factory=FakeAnalyzer)
    with open(out, "ab") as f:  # a kill after the embedded newline of the next record
        f.write(f'"{d}/x\n'.encode())
    s = run_batch(str(d), out, progress=False, analyzer_factory=FakeAnalyzer)
    assert (s.rows, s.processed, s.skipped) == (2, 1, 1)


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path):
    from posture.batch.files import Outputs

    d = _folder(tmp_path, 3)
    out = tmp_path / "o.csv"
    first = Outputs(out, None, None, expand_inputs(str(d)))
    try:
        _refused("output_locked", str(d), out)
    finally:
        first.close()
    assert run_batch(str(d), out, progress=False, analyzer_factory=FakeAnalyzer).rows == 4


def test_two_concurrent_cli_runs_never_duplicate_rows(tmp_path):
    """Two processes on one output, overlapping for certain (no timing): the first holds
    its analysis until the test has seen the second refused with ``output_locked``."""
    d = _folder(tmp_path, 3)
    out = tmp_path / "o.csv"
    started, go = tmp_path / "started", tmp_path / "go"
    code = ("import sys, time; from pathlib import Path; from posture import batch\n"
            "from posture.errors import NoPersonError\n"
            "started, go, hold = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == '1'\n"
            "class Held:\n"
            "    def __enter__(self): return self\n"
            "    def __exit__(self, *exc): pass\n"
            "    def analyze(self, frame):\n"
            "        started.touch()\n"
            "        end = time.monotonic() + 300\n"
            "        while hold and not go.exists() and time.monotonic() < end:\n"
            "            time.sleep(0.02)\n"
            "        raise NoPersonError('nobody', code='fake_no_person')\n"
            "try:\n"
            f"    batch.run_batch({str(d)!r}, {str(out)!r}, progress=False, "
            "analyzer_factory=Held)\n"
            "except Exception as e:\n"
            "    print(getattr(e, 'code', e)); sys.exit(6)\n")

    def child(hold: bool) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, str(started), str(go),
                                 "1" if hold else "0"], cwd=REPO, text=True,
                                stdout=subprocess.PIPE)

    first = child(hold=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists():  # the first run is analysing: it holds the lock
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never started analysing"
            time.sleep(0.02)
        started.unlink()
        second = child(hold=False)
        out2, _ = second.communicate(timeout=120)
        assert second.returncode == 6 and "output_locked" in out2, out2
        assert not started.exists()  # refused before analysing anything
    finally:
        go.touch()
        out1, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out1
    assert len(read_rows(out)) == 4


def test_symlink_loop_gives_each_real_file_once(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    _png(d / "sub" / "one.png")
    (d / "sub" / "loop").symlink_to(d)  # in/sub/loop -> in
    (d / "sub" / "again").symlink_to(d / "sub")
    (d / "alias.png").symlink_to(d / "sub" / "one.png")
    files = expand_inputs(str(d / "**" / "*.png"))
    assert files == [str(d / "alias.png")]  # one real file, its shallowest path
    s = run_batch(str(d / "**" / "*.png"), tmp_path / "o.csv", progress=False,
                  analyzer_factory=FakeAnalyzer)
    assert s.rows == 1


def test_recursive_glob_matches_what_glob_matches_without_loops(tmp_path):
    import glob as globmod

    d = tmp_path / "in"
    for sub in ("a", "a/b", "c", ".hidden"):
        (d / sub).mkdir(parents=True)
    for rel in ("x.png", "a/y.png", "a/b/z.jpg", "c/w.png", ".hidden/h.png", "a/.dot.png"):
        _png(d / rel)
    for pattern in ("**/*.png", "**", "a/**/*.jpg", "*/*.png", "**/b/*"):
        spec = str(d / pattern)
        want = sorted(os.path.normpath(p) for p in globmod.glob(spec, recursive=True)
                      if os.path.isfile(p))
        assert expand_inputs(spec) == want, pattern


def test_formula_cells_in_the_batch_csv(tmp_path):
    row = csv_row("=HYPERLINK(\"http://evil\")", {"ok": False, "error": {
        "code": "x", "message": "@SUM(1+1)"}})
    from posture.batch.rows import row_text

    text = row_text("=HYPERLINK(\"http://evil\")", {"ok": False, "error": {
        "code": "x", "message": "@SUM(1+1)"}})
    cells = next(csv.reader([text]))
    assert cells[0] == "'=HYPERLINK(\"http://evil\")" and cells[3] == "'@SUM(1+1)"
    assert row["file"] == "=HYPERLINK(\"http://evil\")"  # the key itself stays exact


@pytest.mark.slow
def test_photos_with_the_feet_cut_off_get_their_overlays(tmp_path):
    # issue 22 item 1: `batch --annotate` of photos with the feet cut off wrote internal
    # error rows (the overlay crashed on the points a partial view leaves out)
    from conftest import SAMPLES
    from PIL import Image

    samples = sorted(SAMPLES.glob("*.jpg"))[:2]
    require_or_skip(len(samples) == 2, "samples/ has no renders")
    d, ann, out = tmp_path / "cut", tmp_path / "ann", tmp_path / "out.csv"
    d.mkdir()
    for p in samples:  # the bottom 35% cropped off: feet and shins gone
        im = Image.open(p)
        im.crop((0, 0, im.width, int(im.height * 0.65))).save(d / p.name, quality=92)
    try:
        s = run_batch(str(d), out, annotate_dir=ann, progress=False)
    except Exception as exc:  # no pose model here
        require_or_skip(getattr(exc, "code", None) != "model_unavailable", str(exc))
        raise
    rows = read_rows(out)
    assert len(rows) == 2 and s.errors == {} and s.overlay_errors == {}, s.text()
    assert all(r["error_code"] == "" and r["facing"] for r in rows), rows
    assert sorted(p.name for p in ann.iterdir()) == sorted(f"{p.stem}.png" for p in samples)


#: The CSV header before the front view (issue 28): these columns keep their names and
#: their order; the front view's are appended after them.
SIDE_COLUMNS = (
    "file", "ok", "error_code", "error_message", "facing", "pelvic_tilt_deg",
    "pelvic_tilt_interval_deg_lo", "pelvic_tilt_interval_deg_hi", "interval_coverage",
    "lumbar_lordosis_deg", "lumbar_lordosis_interval_deg_lo",
    "lumbar_lordosis_interval_deg_hi", "severity", "severity_label", "abstained",
    "abstain_reasons", "head_neck_angle_deg", "forward_head", "trunk_lean_deg",
    "knee_angle_deg", "knee_hyperextension", "roll_deg", "roll_source", "image_width",
    "image_height", "pose_variant", "estimator_version", "side_on_score", "schema_version")


def test_front_view_columns_come_after_the_side_columns_in_their_order(monkeypatch):
    from frontal_reading import frontal_registry, with_front
    from test_store import make_result

    from posture.batch import rows
    from posture.contract import flat_columns

    frontal_registry(monkeypatch)
    cols = ("file", *flat_columns())
    assert cols[:len(SIDE_COLUMNS)] == SIDE_COLUMNS
    added = cols[len(SIDE_COLUMNS):]
    assert {"pelvic_obliquity_deg", "pelvic_obliquity_interval_deg_lo",
            "pelvic_obliquity_interval_deg_hi", "shoulder_level_deg"} <= set(added)
    assert rows.CSV_COLUMNS[:len(SIDE_COLUMNS)] == SIDE_COLUMNS
    row = csv_row("f.jpg", with_front(make_result(), obliquity=6.5, shoulder=-2.25))
    assert (row["pelvic_obliquity_deg"], row["pelvic_obliquity_interval_deg_lo"],
            row["pelvic_obliquity_interval_deg_hi"], row["shoulder_level_deg"]) == (
        6.5, 4.7, 8.3, -2.25)
    if "obliquity_flag" in added:  # the registry's flag column keeps the stored flag
        assert row["obliquity_flag"] is True
    side = csv_row("s.jpg", make_result())
    assert side["pelvic_obliquity_deg"] == "" and side["pelvic_tilt_deg"] == 12.3


@pytest.mark.slow
def test_batch_of_a_side_photo_and_a_front_render_writes_the_frontal_columns(tmp_path):
    import importlib.util

    from conftest import SAMPLES

    missing = [m for m in ("torch", "anny") if importlib.util.find_spec(m) is None]
    require_or_skip(not missing, f"tools/synth needs {', '.join(missing)} for a front view")
    from tools.synth.frontal import generate_front

    d, out = tmp_path / "in", tmp_path / "out.csv"
    generate_front(1, 9101, d, "front")  # writes the render and its label
    for extra in d.iterdir():
        if extra.suffix != ".jpg":
            extra.unlink()
    shutil.copy(SAMPLES / "s2024_000023.jpg", d)
    try:
        s = run_batch(str(d), out, progress=False)
    except Exception as exc:  # no pose model here
        require_or_skip(getattr(exc, "code", None) != "model_unavailable", str(exc))
        raise
    with open(out, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header[:len(SIDE_COLUMNS)]) == SIDE_COLUMNS
    rows = {Path(r["file"]).name[0]: r for r in read_rows(out)}
    assert s.errors == {} and sorted(rows) == ["f", "s"], s.text()
    front, side = rows["f"], rows["s"]
    assert front["pelvic_tilt_deg"] == "" and "no_side_view" in front["abstain_reasons"]
    for key in ("pelvic_obliquity_deg", "pelvic_obliquity_interval_deg_lo",
                "pelvic_obliquity_interval_deg_hi", "shoulder_level_deg"):
        assert front[key] != "" and side[key] == "", key
    lo, v, hi = (float(front[k]) for k in ("pelvic_obliquity_interval_deg_lo",
                                            "pelvic_obliquity_deg",
                                            "pelvic_obliquity_interval_deg_hi"))
    assert lo < v < hi
    assert side["pelvic_tilt_deg"] != "" and side["severity"] != ""
