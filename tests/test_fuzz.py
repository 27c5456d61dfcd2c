"""Fuzzing every parser of user data beyond the image loader (tests/test_images.py has that).

Each property: for any input, the parser gives a value or raises the project's coded error
(a PostureError, or the ValueError that ``reassess`` documents), never anything else. Bounded:
``max_examples`` per test (deadlines: the conftest profile), the whole file in well under
30 s.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture.errors import InputError, PostureError

# No per-example deadline here: the profile in conftest.py sets it (none under CI, 10 s
# elsewhere), because a wall-clock limit on a loaded 2-core machine measures the load. The
# work is bounded by max_examples and the strategies' sizes instead.
FUZZ = settings(max_examples=150, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

# JSON values as json.loads can return them (NaN and ±inf included: Python's json reads and
# writes them), and some that only arrive from Python callers (tuples, huge ints).
extremes = st.sampled_from([10**400, -10**400, 2**63, float("inf"), float("-inf"),
                            float("nan"), 1e308, -1e308, 5e-324, -0.0])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), extremes, st.floats(),
                    st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)

# A real contract dict, as `posture analyze --json` prints it for a graded photo.
RESULT = {
    "schema_version": 1, "ok": True, "source": "x.jpg", "facing": "left",
    "pelvic_tilt_deg": 14.2, "pelvic_tilt_interval_deg": [9.1, 19.3], "interval_coverage": 0.9,
    "lumbar_lordosis_deg": 41.0, "lumbar_lordosis_interval_deg": None, "severity": "moderate",
    "severity_label": "Moderate anterior tilt", "abstained": False, "abstain_reasons": [],
    "retake_guidance": [], "head_neck_angle_deg": 47.5, "forward_head": True,
    "trunk_lean_deg": 1.5, "knee_angle_deg": 6.0, "knee_hyperextension": True,
    "model": {"pose_variant": "full", "estimator_version": "2025.1"},
    "landmarks_px": [[100.0 + i, 200.0 + i, 0.9] for i in range(33)],
}


@st.composite
def mangled_results(draw) -> object:
    """Mostly the real contract with some keys replaced, removed or added; sometimes any
    JSON value at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    d = dict(RESULT)
    for key in draw(st.lists(st.sampled_from(sorted(RESULT)), max_size=5)):
        if draw(st.integers(0, 3)) == 0:
            d.pop(key, None)
        else:  # extremes first: Hypothesis favours simple values, and they find the most
            d[key] = draw(st.one_of(extremes, scalars, json_values))
    d.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return d


# ------------------------------------------------------------------------- plan input

@FUZZ
@given(mangled_results(), st.sampled_from(["yes", "no", "unsure", None]))
def test_plan_from_any_result(result, thomas):
    from posture.plan import PlanInput, format_plan_text, make_plan, plan_to_dict

    try:
        inp = PlanInput.from_result(result)
    except InputError as err:
        assert err.code == "invalid_result" and err.message
        return
    plan = make_plan(inp, thomas_test=thomas)
    json.dumps(plan_to_dict(plan))  # the --json output
    assert isinstance(format_plan_text(plan), str)


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-plan") / "result.json"


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    from posture.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@st.composite
def plan_file_bytes(draw) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:  # the JSON of a mangled result
        return json.dumps(draw(mangled_results())).encode()
    text = json.dumps(RESULT)
    if kind == 1:  # the real file, cut short or with a byte changed
        cut = draw(st.integers(0, len(text)))
        return text[:cut].encode()
    if kind == 2:
        data = bytearray(text.encode())
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    return draw(st.binary(max_size=200))


@FUZZ
@given(data=plan_file_bytes())
def test_posture_plan_cli_never_fails_internally(plan_file, data):
    plan_file.write_bytes(data)
    rc, out, err = _run_cli(["plan", str(plan_file), "--json"])
    if rc == 0:
        json.loads(out)
        return
    # a coded error on one line: the file's fault, never "internal"
    assert err.startswith(("error [bad_result_json]", "error [invalid_result]")), err
    assert "Traceback" not in err


def test_plan_cli_deeply_nested_json_is_a_coded_error(plan_file):
    # json.loads raises RecursionError (not ValueError) past ~1000 levels of nesting
    plan_file.write_text("[" * 100_000 + "]" * 100_000)
    rc, _, err = _run_cli(["plan", str(plan_file)])
    assert (rc, err.split("]")[0]) == (1, "error [bad_result_json"), err


def test_plan_cli_refuses_devices_fifos_and_huge_files(tmp_path):
    # issue 23: `posture plan /dev/zero` read without end, a FIFO waited for a writer forever.
    # In a child process with a time limit, so the old behaviour fails the test, not the run.
    import subprocess
    import sys

    from posture.plan.source import MAX_RESULT_BYTES

    fifo = tmp_path / "result.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({**RESULT, "pad": "x" * MAX_RESULT_BYTES}))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    cases = {fifo: (2, "not_a_regular_file"), zero: (2, "not_a_regular_file"),
             "/dev/zero": (2, "not_a_regular_file"), tmp_path: (2, "not_a_regular_file"),
             huge: (2, "file_too_large"), empty: (1, "bad_result_json"),
             tmp_path / "missing.json": (2, "file_not_found")}
    for path, (rc, code) in cases.items():
        try:
            r = subprocess.run([sys.executable, "-m", "posture.cli", "plan", str(path)],
                               capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"posture plan {path} did not answer within 60 s")
        assert (r.returncode, r.stderr.split("]")[0]) == (rc, f"error [{code}"), (path, r.stderr)
    # a result just under the limit is read
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({**RESULT, "pad": "x" * (MAX_RESULT_BYTES - 2000)}))
    assert _run_cli(["plan", str(ok), "--json"])[0] == 0


# ------------------------------------------------------------------------- corrections

def _profile_assessment():
    """An assessment of hand-made landmarks (a ~1000 px person facing right), no model."""
    from handmade import make_pose

    from posture.analysis import assess
    from posture.pose import PoseResult

    pose = make_pose()
    return assess(PoseResult((pose,), 1000, 1200), None)


ASSESSMENT = _profile_assessment()
NAMES = ("ear", "shoulder", "hip", "knee", "ankle", "asis", "psis")
coords = st.one_of(st.floats(-2000, 3000), st.floats(), st.integers(-10**6, 10**6))
points = st.one_of(
    st.tuples(coords, coords),  # the usual shape
    st.lists(coords, max_size=3).map(tuple),
    json_values,  # anything a JSON body or session state could hold
)
corrections = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)),
                              points, max_size=4)


@FUZZ
@given(corrections)
def test_reassess_with_any_corrections(corr):
    from posture.analysis import Assessment, reassess
    from posture.contract import assessment_to_dict

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a RuntimeWarning (overflow, nan) is a bug too
            new = reassess(ASSESSMENT, corr)
    except (ValueError, PostureError):
        return
    assert isinstance(new, Assessment)
    d = assessment_to_dict(new)
    json.dumps(d, allow_nan=False)  # what the app shows and the store saves
    tilt = d["pelvic_tilt_deg"]
    assert tilt is None or math.isfinite(tilt)


def test_reassess_accepts_a_sane_correction():
    # the fuzz test above must not pass by refusing everything
    from posture.analysis import reassess

    hip = tuple(ASSESSMENT.pose.xy[23] + (5.0, 0.0))
    new = reassess(ASSESSMENT, {"hip": hip, "asis": (540.0, 600.0), "psis": (430.0, 590.0)})
    assert new.measurements.pelvic_tilt.value == pytest.approx(5.19, abs=0.1)


# ------------------------------------------------------------------------- the clinic store

@pytest.fixture(scope="module")
def store():
    from posture.store import open_store

    s = open_store("sqlite://")  # in memory: nothing on disk
    yield s
    s.close()


@pytest.fixture(scope="module")
def patient(store):
    return store.add_patient("FUZZ-1", name="Fuzz")


# free text, and text made of the characters that break CSV rows and spreadsheets
notes = st.one_of(st.text(max_size=40), st.text(alphabet="=+-@\t\r\n\"',;a ", max_size=12))
store_corrections = st.dictionaries(st.sampled_from(NAMES), points, max_size=2)


@FUZZ
@given(mangled_results(), notes, store_corrections)
def test_store_saves_any_result_or_refuses_it(store, patient, result, note, corr):
    from posture.present.export import export_csv, export_json
    from posture.store import StoreError

    try:
        rec = store.save_assessment(patient.id, result, notes=note, corrections=corr)
    except StoreError as err:
        assert err.code == "invalid_record", err.code
        return
    # what was saved comes back exactly, through every reader the app uses
    again = store.get_assessment(rec.id)
    assert again.result == json.loads(json.dumps(result)) and again.notes == note
    assert again.pelvic_tilt_interval_deg is None or len(again.pelvic_tilt_interval_deg) == 2
    exported = json.loads(export_json(store, patient.id))
    assert exported["patients"][0]["assessments"][-1]["result"] == again.result
    rows = list(csv.DictReader(io.StringIO(export_csv(store, patient.id))))
    # line breaks become LF (a bare CR would split the row), formulas get an apostrophe
    # (and text that starts with an apostrophe gets one more, so it reads back unchanged)
    safe = "'" + note if note.startswith((*FORMULA_START, "'")) else note
    assert rows[-1]["notes"] == safe.replace("\r\n", "\n").replace("\r", "\n")
    for row in rows:  # no cell a spreadsheet would run as a formula; numbers may be negative
        for v in row.values():
            assert not v.startswith(FORMULA_START) or _is_number(v), v
    store.delete_assessment(rec.id)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------- batch resume

def _batch_csv_lines(draw_files):
    from posture.batch import CSV_COLUMNS, csv_row
    from posture.contract import error_to_dict
    from posture.errors import NoPersonError

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for f in draw_files:
        w.writerow(csv_row(f, error_to_dict(NoPersonError("nobody", code="no_person"))))
    return buf.getvalue()


@st.composite
def mangled_batch_output(draw) -> tuple[bytes, bytes]:
    """A CSV and a JSONL as a batch run writes them, then damaged as a kill, a full disk or a
    hand edit can leave them: lines cut, bytes changed, lines added."""
    files = draw(st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s),
                          max_size=4))
    csv_text = _batch_csv_lines(files).encode()
    jsonl = "".join(json.dumps({"batch_csv": "/r/out.csv", "file": f, "schema_version": 1,
                                "ok": False}) + "\n" for f in files).encode()
    out = []
    for data in (csv_text, jsonl):
        data = bytearray(data)
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["cut", "flip", "insert"]))
            pos = draw(st.integers(0, max(len(data) - 1, 0)))
            if op == "cut":
                del data[pos:]
            elif op == "flip" and data:
                data[pos] = draw(st.integers(0, 255))
            else:
                data[pos:pos] = draw(st.one_of(
                    st.binary(max_size=12), st.sampled_from([b"\n", b'"', b",", b"\r"])))
        out.append(bytes(data))
    return out[0], out[1]


@FUZZ
@given(mangled_batch_output())
def test_batch_resume_reader_survives_damaged_output(tmp_path_factory, damaged):
    from posture.batch.files import sync_jsonl
    from posture.batch.rows import done_files

    d = tmp_path_factory.mktemp("resume")
    csv_path, jsonl_path = d / "out.csv", d / "out.jsonl"
    csv_path.write_bytes(damaged[0])
    jsonl_path.write_bytes(damaged[1])
    try:
        done = done_files(csv_path)
    except PostureError as err:
        assert err.code == "output_mismatch"
        return
    assert all(isinstance(f, str) for f in done)
    def lines(data: bytes) -> list[bytes]:  # at newlines only (splitlines cuts at CR too)
        return re.findall(rb"[^\n]*\n|[^\n]+$", data)

    named = set()
    for line in lines(damaged[1]):
        try:
            named.add(os.path.normpath(json.loads(line.decode("utf-8", "surrogateescape"))[
                "file"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    redo = named - done  # files this run would analyse again
    try:
        os.close(sync_jsonl(jsonl_path, "/r/out.csv", redo))
    except PostureError as err:  # not ours: refused, and left as it was
        assert err.code == "output_mismatch"
        assert jsonl_path.read_bytes() == damaged[1]
        return
    before, after = lines(damaged[1]), lines(jsonl_path.read_bytes())
    assert all(line.endswith(b"\n") for line in after)
    # only this CSV's records of files to be analysed again (and a cut last one) may go
    gone = Counter(before) - Counter(after)
    for line in gone:
        if line.endswith(b"\n"):
            rec = json.loads(line.decode("utf-8", "surrogateescape"))
            assert rec["batch_csv"] == "/r/out.csv" and os.path.normpath(rec["file"]) in redo
    rest = iter(before)
    assert all(any(x == y for y in rest) for x in after)  # nothing added, order kept


def test_resume_reader_with_bytes_that_are_not_utf8(tmp_path):
    # the two damages the fuzzer found first, as fixed examples
    from posture.batch.files import sync_jsonl
    from posture.batch.rows import done_files

    csv_path, jsonl_path = tmp_path / "out.csv", tmp_path / "out.jsonl"
    csv_path.write_bytes(b"\x80" + _batch_csv_lines(["a.jpg"]).encode()[1:])
    with pytest.raises(PostureError) as e:
        done_files(csv_path)
    assert e.value.code == "output_mismatch"
    a = b'{"batch_csv": "/r/o.csv", "file": "a.jpg"}\n'
    jsonl_path.write_bytes(a + b'{"batch_csv": "/r/o.csv", "file": "b\xff.jpg"}\n')
    os.close(sync_jsonl(jsonl_path, "/r/o.csv", {"b\udcff.jpg"}))
    assert jsonl_path.read_bytes() == a


# ------------------------------------------------------------------------- JPEG structure

def _jpeg_segments() -> list[bytes]:
    """A small progressive JPEG with EXIF, split into its marker segments (scans whole)."""
    from PIL import Image

    y, x = np.mgrid[0:96, 0:80]
    rgb = np.stack([x * 3, y * 2, (x + y) % 256], axis=2).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", progressive=True, quality=85, exif=exif.tobytes())
    data = buf.getvalue()
    segs, pos = [data[:2]], 2
    while data[pos + 1] != 0xD9:
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if data[pos + 1] == 0xDA:
            while data[end] != 0xFF or data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                end += 1
        segs.append(data[pos:end])
        pos = end
    return [*segs, data[pos:]]


JPEG_SEGMENTS = _jpeg_segments()


@st.composite
def restructured_jpeg(draw) -> bytes:
    """Mutations a byte flipper rarely makes: segments repeated, dropped, swapped or with a
    wrong length, dimensions in the SOF header changed."""
    segs = list(JPEG_SEGMENTS)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(1, len(segs) - 2))  # keep SOI and EOI in place
        op = draw(st.sampled_from(["repeat", "drop", "swap", "length", "dims"]))
        if op == "repeat":
            segs[i:i] = [segs[i]] * draw(st.integers(1, 2000))
        elif op == "drop":
            del segs[i]
        elif op == "swap":
            j = draw(st.integers(1, len(segs) - 2))
            segs[i], segs[j] = segs[j], segs[i]
        elif op == "length" and len(segs[i]) >= 4:
            segs[i] = segs[i][:2] + draw(st.binary(min_size=2, max_size=2)) + segs[i][4:]
        elif op == "dims":
            k = next((n for n, s in enumerate(segs) if s[1] in (0xC0, 0xC1, 0xC2)), None)
            if k is not None:
                hw = draw(st.tuples(st.integers(0, 65535), st.integers(0, 65535)))
                s = segs[k]
                segs[k] = s[:5] + hw[0].to_bytes(2, "big") + hw[1].to_bytes(2, "big") + s[9:]
    return b"".join(segs)


@settings(max_examples=120, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(restructured_jpeg())
def test_load_image_on_restructured_jpegs(data):
    # Bounded work, not a deadline: the loader's scan and pixel limits are what stop a
    # hostile JPEG (tests/test_corpus.py measures the worst ones' memory)
    from posture.images import load_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame = load_image(data)
        except InputError as err:
            assert err.code in {"corrupt_image", "image_too_large", "image_too_small",
                                "not_an_image", "unsupported_image",
                                "too_many_segments"}, err.code
            return
    assert frame.rgb.dtype == np.uint8 and frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
