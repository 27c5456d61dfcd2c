"""Privacy: analysing a photo writes nothing to disk, logs and errors carry no image data,
and names and notes stay inert text in the app, the PDF report and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posture.errors import InputError
from posture.images import load_image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = next(iter(sorted((ROOT / "samples").glob("*.jpg"))), None)
needs_sample = pytest.mark.skipif(SAMPLE is None, reason="no samples/*.jpg")

# ------------------------------------------------------------------------- nothing on disk

# Runs in a child with HOME, TMPDIR, XDG_* and the working directory pointing at empty
# folders. An audit hook records every attempt by Python code to create, write, rename or
# delete a file; the parent also checks that the folders are still empty afterwards (which
# covers native code, e.g. MediaPipe, writing through its own calls).
_CHILD = r"""
import contextlib, io, json, os, sys, tempfile
events = []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or str(path) == os.devnull:
            return
        if (mode and set(mode) & set("wax+")) or (flags or 0) & WRITE:
            events.append([event, str(path)])
    elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir",
                   "os.symlink", "os.link", "os.truncate", "os.chmod", "shutil.copyfile",
                   "shutil.move", "tempfile.mkstemp", "tempfile.mkdtemp"):
        events.append([event, str(args[0])])

photo, bad = sys.argv[1], sys.argv[2]
from posture.analysis import Analyzer
from posture.cli import main
from posture.errors import PostureError
# Hooked from here on: loading the model and importing MediaPipe are not analysing a photo
# (importing it makes ctypes' find_library create and delete a temporary file, for one).
a = Analyzer()
sys.addaudithook(hook)
with a:
    a.analyze(photo)                               # a path
    a.analyze(open(photo, "rb").read())            # bytes, as the app passes an upload
    try:
        a.analyze(bad)
    except PostureError:
        pass
out = io.StringIO()
with contextlib.redirect_stdout(out):
    codes = [main(["analyze", "--json", photo]), main(["analyze", photo]),
             main(["analyze", "--json", bad])]
json.loads(out.getvalue().splitlines()[0])
print(json.dumps({"events": events, "tempdir": tempfile.gettempdir(), "codes": codes}))
"""


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _child_env() -> dict[str, str]:
    """The environment of a child Python that must import this checkout's ``posture``
    whatever its working directory (a test's own empty folder, not the repository)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_onnxruntime_writes_no_telemetry_files(tmp_path):
    """onnxruntime 1.29-1.32 keep usage telemetry on Linux: a device id and a database
    under ~/.cache/Microsoft and a .ses file in $TMPDIR, unless the estimator turns it off
    before onnxruntime starts (requirements.txt pins 1.28, which has none: there this
    passes either way). A session of the shipped network, in a child whose HOME, caches
    and TMPDIR are empty folders, must leave them empty."""
    dirs = {k: tmp_path / k.lower() for k in ("HOME", "TMPDIR", "XDG_CACHE_HOME",
                                              "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    for d in dirs.values():
        d.mkdir()
    env = {**_child_env(), **{k: str(v) for k, v in dirs.items()}}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the library's own doing, not the caller's
    code = ("import sys\nfrom posture.estimator_runtime import _session\n"
            "_session(sys.argv[1])\n")
    onnx = ROOT / "posture" / "data" / "estimator_patchnet.onnx"
    r = subprocess.run([sys.executable, "-c", code, str(onnx)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    for name, d in dirs.items():
        assert _tree(d) == [], f"{name} got {_tree(d)}"


@pytest.mark.slow
@needs_sample
def test_analysis_writes_no_file(tmp_path):
    from posture.models import resolve_model

    model = resolve_model().path  # the cache stays where it is: the child only reads it
    dirs = {k: tmp_path / k.lower() for k in ("HOME", "TMPDIR", "XDG_CACHE_HOME",
                                              "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                              "XDG_STATE_HOME", "CWD")}
    for d in dirs.values():
        d.mkdir()
    bad = tmp_path / "input" / "truncated.jpg"
    bad.parent.mkdir()
    bad.write_bytes(SAMPLE.read_bytes()[:5000])
    env = {**_child_env(), **{k: str(v) for k, v in dirs.items() if k != "CWD"},
           "POSTURE_MODEL": str(model), "POSTURE_OFFLINE": "1",
           "PYTHONDONTWRITEBYTECODE": "1",  # a first import would write __pycache__
           # importing MediaPipe imports matplotlib, which caches its font list on first use
           "MPLCONFIGDIR": str(tmp_path / "matplotlib")}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(SAMPLE), str(bad)], cwd=dirs["CWD"],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["codes"] == [0, 0, 2]
    assert got["tempdir"] == str(dirs["TMPDIR"])  # so a temporary file would have shown
    assert got["events"] == [], got["events"]
    for name, d in dirs.items():
        assert _tree(d) == [], f"{name} got {_tree(d)}"
    assert _tree(bad.parent) == ["truncated.jpg"]  # not even next to the input
    # the only cache besides the model's: matplotlib's list of system fonts
    assert all(re.fullmatch(r"fontlist-v[\d.]+\.json", n) for n in _tree(tmp_path / "matplotlib"))


# ------------------------------------------------------------------------- logs and errors

def _bad_inputs() -> dict[str, bytes]:
    text = ("Patient: Jane Roe, born 1980; notes: lower back pain since May.\n" * 20).encode()
    png = io.BytesIO()
    Image.fromarray(np.full((80, 80, 3), 200, np.uint8)).save(png, "PNG")
    jpeg = io.BytesIO()
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(jpeg, "JPEG")
    return {
        "text": text,
        "random": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "truncated_jpeg": jpeg.getvalue()[:3000],
        "truncated_png": png.getvalue()[:60],
        "jpeg_header": jpeg.getvalue()[:20],
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    }


def assert_no_data(text: str, data: bytes) -> None:
    """``text`` (a message or log) quotes nothing of ``data``: no 12-byte run of it, in any
    of the ways a message could render bytes, and no byte escapes at all."""
    assert "\\x" not in text and not re.search(r"[^\x20-\x7e\u00a0-\uffff\n]", text), text
    for i in range(0, max(len(data) - 12, 1), 6):
        chunk = data[i:i + 12]
        for shown in (chunk.decode("latin-1"), repr(chunk)[2:-1], chunk.hex()):
            assert shown not in text, (shown, text[:300])


@pytest.mark.parametrize("name", sorted(_bad_inputs()))
def test_errors_and_logs_quote_no_image_data(name, caplog):
    data = _bad_inputs()[name]
    caplog.set_level(logging.DEBUG)  # everything any logger would say
    # the messages, in a fixed format: an earlier import in the same process (Ray's) may
    # have changed the default one to tab-separated fields, which the check below refuses
    caplog.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    with pytest.raises(InputError) as e:
        load_image(data)
    assert len(e.value.message) < 300
    assert_no_data(e.value.message, data)
    assert_no_data(caplog.text, data)


def test_cli_error_output_quotes_no_file_content(tmp_path):
    # the CLI prints messages to the terminal and logs; a text file named .jpg holds data
    data = _bad_inputs()["text"]
    f = tmp_path / "records.jpg"
    f.write_bytes(data)
    r = subprocess.run([sys.executable, "-m", "posture.cli", "analyze", "--json", str(f)],
                       cwd=tmp_path, env=_child_env(), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["code"] == "not_an_image"
    assert_no_data(r.stdout.replace(str(f), ""), data)
    assert_no_data(r.stderr, data)


@pytest.mark.slow
@needs_sample
def test_analysis_logs_no_image_data(analyzer, caplog):
    data = SAMPLE.read_bytes()
    caplog.set_level(logging.DEBUG)
    analyzer.analyze(data)
    assert_no_data(caplog.text, data)
    assert len(caplog.text) < 10_000  # a log line per call at most, not a dump


# ------------------------------------------------------------------------- inert user text

# Text a clinician may type, or paste, that a renderer could take for markup or code.
NAME = "Zoë <script>alert('x')</script> **bold** _it_ [link](javascript:alert(1)) <b>b</b>"
NOTES = ("<img src=x onerror=alert(1)>\n# heading\n- item\n`code` $x$ \\ (paren) "
         "=HYPERLINK(\"http://e.example\",\"click\")")
FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1"]


def _result() -> dict:
    return {"schema_version": 1, "ok": True, "facing": "left", "pelvic_tilt_deg": 12.0,
            "pelvic_tilt_interval_deg": [8.0, 16.0], "interval_coverage": 0.9,
            "severity": "mild", "severity_label": "Mild anterior tilt", "abstained": False,
            "abstain_reasons": [], "retake_guidance": [], "head_neck_angle_deg": 47.0,
            "forward_head": True, "trunk_lean_deg": 1.0, "knee_angle_deg": 2.0,
            "knee_hyperextension": False,
            "model": {"pose_variant": "full", "estimator_version": "2025.1"},
            "landmarks_px": [[50.0 + i, 20.0 + 5 * i, 0.9] for i in range(33)]}


def test_pdf_shows_names_and_notes_as_plain_text():
    pypdf = pytest.importorskip("pypdf")
    from posture.present.report_pdf import build_report
    from posture.store import Patient

    p = Patient(1, "P-<i>1</i>", NAME, 1980, "female", datetime(2024, 1, 1, tzinfo=UTC))
    pdf = build_report(_result(), patient=p, notes=NOTES, plan=None)
    text = " ".join(" ".join(pg.extract_text() for pg in
                             pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    # every character as typed: nothing taken as markup (no bold, no link, no list)
    for expected in (NAME, "P-<i>1</i>", *NOTES.split("\n")):
        assert " ".join(expected.split()) in text, expected
    # and no active content: links, scripts, launch or form actions
    for key in (b"/JavaScript", b"/JS", b"/URI", b"/Launch", b"/SubmitForm", b"/Annots"):
        assert key not in pdf, key


def test_clinic_csv_export_neutralises_formulas_and_keeps_markup_as_text(tmp_path):
    from posture.present.export import export_csv, export_json
    from posture.store import open_store

    with open_store(tmp_path / "c.db") as s:
        for n, f in enumerate(FORMULAS):
            p = s.add_patient(f"{f}-{n}", name=f"{f} {NAME}")
            s.save_assessment(p.id, _result(), notes=f + " " + NOTES)
        rows = list(csv.DictReader(io.StringIO(export_csv(s, include_names=True))))
        exported = json.loads(export_json(s, include_names=True))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for col in ("pseudonym", "name", "notes"):
            v = row[col]
            assert v.startswith("'") and v[1:2] in "=+-@\t\n", (col, v)
            assert "\r" not in v
        assert NAME in row["name"] and "<img src=x onerror=alert(1)>" in row["notes"]
    # the JSON export is data, not a spreadsheet: the text as stored (names are stripped)
    assert sorted(p["name"] for p in exported["patients"]) == sorted(
        f"{f} {NAME}".strip() for f in FORMULAS)


def test_clinic_page_escapes_names_for_markdown(tmp_path, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    from posture.store import open_store

    db = tmp_path / "clinic.db"
    with open_store(db) as s:
        p = s.add_patient("P-*1*", name=NAME)
        s.save_assessment(p.id, _result(), notes=NOTES)
    monkeypatch.setenv("POSTURE_DB", str(db))
    at = testing.AppTest.from_file(str(ROOT / "pages" / "4_Clinic.py"), default_timeout=60)
    from streamlit import config

    # the page opens without accounts only on a loopback address; set it here rather than
    # rely on .streamlit/config.toml, which Streamlit reads from the working directory
    old = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    try:
        at.run()
    finally:
        config.set_option("server.address", old)
    assert not at.exception, at.exception
    header = next(m.value for m in at.markdown if m.value.startswith("### "))
    # every markdown-special character of the name and pseudonym arrives escaped
    specials = set("\\`*_{}[]()#+-.!|<>~$:")
    shown = header.removeprefix("### ")
    i = 0
    while i < len(shown):
        if shown[i] == "\\":
            i += 2
            continue
        assert shown[i] not in specials, (shown, i)
        i += 1
    # notes are shown as text or table cells, never through markdown
    assert not any("onerror" in m.value for m in at.markdown)


# ------------------------------------------------------------------ names in every script (PDF)

WORLD_NAMES = {
    "chinese": "王小明", "japanese": "山田はなこ", "korean": "김민준",
    "thai": "สมชาย ใจดี", "devanagari": "अर्जुन शर्मा", "bengali": "অমিত দাস",
    "tamil": "தமிழ் செல்வி", "arabic": "محمد الأحمد", "persian": "مهسا امینی",
    "hebrew": "דוד כהן", "armenian": "Արամ Պետրոսյան", "georgian": "ნინო ბერიძე",
    "greek": "Γιώργος Παπαδόπουλος", "cyrillic": "Анна Иванова",
    "latin": "Zoë Łukasiewicz-Øberg",
    # emoji (Symbola, outlines): a plain one, a joined one (ZWJ + VS16), a skin tone, a flag
    "emoji": "Zoë 😀 🏃\u200d♀\ufe0f Ana 👍🏽 Bo 🇵🇹 Rui",
}


def _squash(text: str) -> str:
    # pypdf puts spaces (or, for the CFF-based CJK subset's two-byte codes, a NUL before
    # each) between CJK glyphs, gives control codes for shaped Indic glyphs that stand for
    # no character of their own (a mark's repositioned copy), and breaks lines where the
    # layout does: none of these is in a name. (Rendered with poppler, every name of
    # WORLD_NAMES showed in its script, Arabic joined and right to left.)
    return "".join(c for c in "".join(text.split()) if ord(c) >= 0x20)


def test_pdf_keeps_names_in_every_script():
    pypdf = pytest.importorskip("pypdf")
    from posture.present import pdf_base, report_pdf
    from posture.store import Patient

    missing = sorted({f[2] for ch in "".join(WORLD_NAMES.values())
                      if (f := next((s for s in pdf_base.SCRIPT_FONTS if any(
                          lo <= ord(ch) <= hi for lo, hi in s[1])), None))
                      and pdf_base.script_font(ch) is None})
    if missing:
        pytest.skip(f"Noto/Symbola fonts not installed ({', '.join(missing)}): apt-get "
                    "install fonts-noto-core fonts-noto-cjk fonts-symbola (run-tests.sh "
                    "does, as root)")
    assert pdf_base.shaping_available(), "uharfbuzz (requirements.txt) is missing"
    rtl = ("arabic", "persian", "hebrew")  # one report each: a mixed line reorders
    groups = [[s] for s in rtl] + [[s for s in WORLD_NAMES if s not in rtl]]
    for group in groups:
        names = [WORLD_NAMES[s] for s in group]
        p = Patient(1, "P-1", " ".join(names), 1980, "female",
                    datetime(2024, 1, 1, tzinfo=UTC))
        pdf = report_pdf.build_report(_result(), patient=p, notes=" ".join(names), plan=None)
        text = _squash(" ".join(pg.extract_text() for pg in
                                pypdf.PdfReader(io.BytesIO(pdf)).pages))
        # in logical order: right-to-left names are laid out right to left (shaped), so
        # they read back as typed, not reversed
        for script, name in zip(group, names, strict=True):
            assert text.count(_squash(name)) >= 2, (script, name)
        assert "?" not in text, group  # the report itself has no "?"


def test_pdf_without_fallback_fonts_shows_a_question_mark_not_nothing(monkeypatch):
    from posture.present import pdf_base

    monkeypatch.setattr(pdf_base, "_DEBIAN_NOTO", ())
    monkeypatch.delenv(pdf_base.FONT_DIRS_ENV, raising=False)
    doc = pdf_base.Doc("x")
    if not doc.unicode:
        pytest.skip("no Unicode font at all")
    assert doc.t("王 abc") == "? abc"
    assert doc.t("🦄 abc") == "? abc"
