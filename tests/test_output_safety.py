"""Never harm the user's files: the output-safety rules of ``posture batch`` (and
``posture analyze --annotate``), run over BOTH engines.

The local engine takes the input folder as a path; the Ray engine as a ``file://`` URI, the
way a cluster user names it (issue 23 item 1: every check compared the URI string with real
paths, so ``--out``/``--annotate`` could land on an input photo). Refusals happen before
any work, so most Ray cases never start Ray; the few that run start one local instance for
the module. Also here: the JSONL's ownership and lock (item 9), the ``--annotate`` folder
that cannot be written (item 10), WebP overlays (item 12) and ``analyze`` checking its
output folder before the analysis (item 12).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

import handmade
import numpy as np
import pytest
from conftest import IN_CI, require_or_skip
from handmade import make_pose
from PIL import Image

from posture.batch import CSV_COLUMNS, expand_inputs, run_batch
from posture.batch.files import Outputs
from posture.errors import NoPersonError, OutputError

try:
    import ray
    from ray import cloudpickle
except ImportError:  # the optional extra posture[cluster]; run-tests.sh installs it
    ray = None
else:
    # the Ray actors unpickle the fakes below: ship them by value, not as modules to import
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cloudpickle.register_pickle_by_value(handmade)


# ----------------------------------------------------------------------------- fakes

class NoPerson:
    """An analyzer factory (picklable): every readable image 'has no person'."""

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def analyze(self, frame):
        raise NoPersonError("nobody here", code="fake_no_person")


class HandMade:
    """An analyzer factory (picklable) whose analysis is a real assessment of the hand-made
    person of ``tests/handmade.py`` (no pose model), so that overlays are drawn. An image
    whose first pixel is ``block_value`` has its overlay path turned into a folder first:
    the overlay write then fails mid-run, as on a full disk."""

    def __init__(self, block_value: int | None = None, block_path: str | None = None):
        self.block_value, self.block_path = block_value, block_path

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def analyze(self, frame):
        from posture.analysis import assess
        from posture.pose import PoseResult

        if self.block_value is not None and int(frame.rgb[0, 0, 0]) == self.block_value:
            os.makedirs(self.block_path, exist_ok=True)
        return assess(PoseResult((make_pose(),), 1000, 1200), None)


# --------------------------------------------------------------------------- engines

@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance of 2 CPUs, started on first use and stopped after the module."""
    state: dict = {}

    def start():
        if not state:
            from posture.engines.ray_engine import start_ray

            state["started"] = start_ray(num_cpus=2)

    yield start
    if state.get("started"):
        from posture.engines.ray_engine import stop_ray

        stop_ray(ray)


class Engine:
    """How a test runs the batch on one engine: the input folder as a path (local) or as a
    ``file://`` URI (ray)."""

    def __init__(self, name: str, start_ray):
        self.name, self._start_ray = name, start_ray

    def spec(self, d: Path) -> str:
        return f"file://{quote(str(d))}" if self.name == "ray" else str(d)

    def run(self, d: Path, out, *, factory=None, **kw):
        if self.name == "ray":
            self._start_ray()
        return run_batch(self.spec(d), out, progress=False, engine=self.name,
                         analyzer_factory=factory or NoPerson(), **kw)

    def refused(self, code: str, d: Path, out, **kw) -> OutputError:
        with pytest.raises(Exception) as e:
            run_batch(self.spec(d), out, progress=False, engine=self.name,
                      analyzer_factory=NoPerson(), **kw)
        assert getattr(e.value, "code", None) == code, e.value
        return e.value

    def cli(self) -> list[str]:
        return ["--engine", self.name]


@pytest.fixture(params=["local", "ray"])
def engine(request, ray_instance) -> Engine:
    if request.param == "ray":
        require_or_skip(ray is not None or IN_CI, "ray is not installed (posture[cluster])")
        if ray is None:
            pytest.fail("CI is set but ray is not installed")
    return Engine(request.param, ray_instance)


# --------------------------------------------------------------------------- helpers

def _png(path: Path, value: int = 40, size: tuple[int, int] = (120, 90)) -> Path:
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def _folder(tmp_path: Path, n: int = 2) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for i in range(n):
        _png(d / f"img_{i}.png", 10 * i)
    (d / "broken.jpg").write_text("this is text, not a JPEG")
    return d


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links not followed) and its bytes."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath, n)
            out[str(p.relative_to(root))] = b"<link>" if p.is_symlink() else p.read_bytes()
    return out


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def jsonl_files(path) -> list[str]:
    return [json.loads(line)["file"] for line in Path(path).read_text().splitlines()]


def _cli_main(capsys, *argv) -> tuple[int, str]:
    from posture.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr().err


# A read-only folder. Root writes into one anyway (CAP_DAC_OVERRIDE), so as root the
# capability is dropped from this thread's effective set for the block (and given back).
_CAP_DAC_OVERRIDE = 1


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def read_only(folder: Path):
    folder.chmod(0o500)
    libc = ctypes.CDLL(None, use_errno=True)
    header, data, saved = _CapHeader(0x20080522, 0), (_CapData * 2)(), None
    try:
        if os.geteuid() == 0:
            assert libc.capget(ctypes.byref(header), data) == 0, ctypes.get_errno()
            saved = data[0].effective
            data[0].effective &= ~(1 << _CAP_DAC_OVERRIDE)
            assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()
        try:
            Path(folder, ".try").touch()
        except PermissionError:
            pass
        else:
            Path(folder, ".try").unlink()
            require_or_skip(False, "this process can write into a read-only folder")
        yield folder
    finally:
        if saved is not None:
            data[0].effective = saved
            libc.capset(ctypes.byref(header), data)
        folder.chmod(0o700)


# ------------------------------------------------------------- outputs onto the inputs

def test_output_on_an_input_photo_is_refused_and_the_photo_untouched(engine, tmp_path):
    d = _folder(tmp_path, 2)
    photo = d / "keep.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)  # no trailing newline
    before = _tree(d)
    engine.refused("output_is_input", d, d / "keep.jpg")
    # --overwrite replaces files that are not ours, never an input
    engine.refused("output_is_input", d, d / "keep.jpg", overwrite=True)
    engine.refused("output_is_input", d, tmp_path / "o.csv", jsonl=d / "img_0.png",
                   overwrite=True)
    # a hard link to an input is the input too, and so is a symbolic link
    os.link(d / "img_1.png", tmp_path / "hard.csv")
    engine.refused("output_is_input", d, tmp_path / "hard.csv", overwrite=True)
    (tmp_path / "soft.csv").symlink_to(d / "img_1.png")
    engine.refused("output_is_input", d, tmp_path / "soft.csv", overwrite=True)
    assert _tree(d) == before


def test_cli_refuses_out_onto_an_input_with_overwrite(engine, tmp_path, capsys):
    # issue 23: `posture batch file://$PWD/d --engine ray --out d/keep.jpg --overwrite`
    d = _folder(tmp_path, 1)
    keep = d / "keep.jpg"
    Image.fromarray(np.full((120, 90, 3), 77, np.uint8)).save(keep)
    before = keep.read_bytes()
    rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out", str(keep),
                        "--overwrite")
    assert rc == 6 and "[output_is_input]" in err, err
    assert keep.read_bytes() == before


def test_annotate_into_the_input_folder_is_refused_before_any_write(engine, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    _png(d / "photo.png", 10)
    Image.open(d / "photo.png").convert("RGB").save(d / "photo.jpg")
    before = _tree(d)
    engine.refused("output_conflict", d, tmp_path / "o.csv", annotate_dir=d)
    engine.refused("output_conflict", d, tmp_path / "o.csv", annotate_dir=d, overwrite=True)
    # a folder above the inputs holds them too
    engine.refused("output_conflict", d, tmp_path / "o.csv", annotate_dir=tmp_path)
    assert _tree(d) == before and not (tmp_path / "o.csv").exists()


def test_an_annotated_image_that_links_to_an_input_is_refused(engine, tmp_path):
    d = _folder(tmp_path, 1)
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "img_0.png").symlink_to(d / "img_0.png")  # where img_0's overlay would go
    before = _tree(d)
    engine.refused("output_is_input", d, tmp_path / "o.csv", annotate_dir=ann,
                   overwrite=True)
    assert _tree(d) == before


def test_a_url_escaped_name_is_checked_as_the_file_it_names(tmp_path):
    # pyarrow decodes %-escapes: file:///d/a%20b.png is the file "a b.png"
    from posture.outputs import local_path, same_file

    d = tmp_path / "in"
    d.mkdir()
    photo = _png(d / "a b.png")
    uri = f"file://{quote(str(photo))}"
    assert local_path(uri) == str(photo)
    assert same_file(uri, photo) and same_file(photo, uri)
    assert local_path("s3://bucket/a.png") is None and local_path(str(photo)) is None


# ---------------------------------------------------------------- files that are not ours

def test_foreign_csv_is_not_appended_to(engine, tmp_path):
    d = _folder(tmp_path, 1)
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    engine.refused("output_mismatch", d, out)
    assert out.read_text() == "a,b\n1,2\n"


def test_foreign_csv_without_final_newline_keeps_its_last_row(engine, tmp_path):
    d = _folder(tmp_path, 1)
    out = tmp_path / "mine.csv"
    out.write_bytes(b"name,score\nann,1\nbob,2")  # the user's file, no newline at the end
    engine.refused("output_mismatch", d, out)
    assert out.read_bytes() == b"name,score\nann,1\nbob,2"
    # a file that starts like our header but is not one is not ours either
    out.write_bytes(b"file,ok\nx,1")
    engine.refused("output_mismatch", d, out)
    assert out.read_bytes() == b"file,ok\nx,1"


def test_foreign_jsonl_is_refused_not_replaced(engine, tmp_path):
    d = _folder(tmp_path, 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nsecond line")
    engine.refused("output_mismatch", d, tmp_path / "o.csv", jsonl=notes)
    assert notes.read_text() == "my notes\nsecond line"
    assert not (tmp_path / "o.csv").exists()  # refused before anything was created
    # --overwrite replaces it, through a temporary file
    s = engine.run(d, tmp_path / "o.csv", jsonl=notes, overwrite=True)
    assert s.rows == 3 and len(jsonl_files(notes)) == 3


def test_a_users_jsonl_of_records_with_a_file_key_is_not_emptied(engine, tmp_path):
    # issue 23 item 9: any file whose lines start with {"file": counted as ours, and the
    # run kept only the files of its own CSV
    d = _folder(tmp_path, 1)
    mine = tmp_path / "scores.jsonl"
    text = '{"file": "x.png", "score": 3}\n{"file": "y.png", "score": 4}\n'
    mine.write_text(text)
    engine.refused("output_mismatch", d, tmp_path / "o.csv", jsonl=mine)
    assert mine.read_text() == text and not (tmp_path / "o.csv").exists()
    mine.write_text('{"file": "x.png"}')  # one record, no newline: not a cut record of ours
    engine.refused("output_mismatch", d, tmp_path / "o.csv", jsonl=mine)
    assert mine.read_text() == '{"file": "x.png"}'


def test_overwrite_replaces_a_foreign_csv(engine, tmp_path):
    d = _folder(tmp_path, 2)
    out = tmp_path / "mine.csv"
    out.write_text("a,b\n1,2\n")
    s = engine.run(d, out, overwrite=True)
    assert s.rows == 3 and list(read_rows(out)[0]) == list(CSV_COLUMNS)


def test_annotations_are_ours_and_are_replaced_only_when_ours(engine, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(2):
        _png(d / f"img_{i}.png", 10 + i, size=(1200, 1000))
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "img_0.png").write_bytes(b"the user's own picture")
    engine.refused("output_exists", d, tmp_path / "o.csv", annotate_dir=ann)
    assert (ann / "img_0.png").read_bytes() == b"the user's own picture"
    (ann / "img_0.png").unlink()
    s = engine.run(d, tmp_path / "o.csv", annotate_dir=ann, factory=HandMade())
    assert s.processed == 2 and sorted(p.name for p in ann.iterdir()) == [
        "img_0.png", "img_1.png"]
    # rerun over the same inputs after a lost CSV: our own overlays may be replaced
    (tmp_path / "o.csv").unlink()
    s = engine.run(d, tmp_path / "o.csv", annotate_dir=ann, factory=HandMade())
    assert s.processed == 2 and s.overlay_errors == {}


# ----------------------------------------------------------------- odd and failing outputs

def test_output_folder_device_and_same_file_twice_are_coded(engine, tmp_path, capsys):
    d = _folder(tmp_path, 1)
    (tmp_path / "adir").mkdir()
    rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out",
                        str(tmp_path / "adir"))
    assert (rc, "error [output_not_writable]") == (6, err[:27]), err
    if os.path.exists("/dev/full"):
        rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out",
                            "/dev/full")
        assert rc == 6 and "[output_not_writable]" in err, err
    f = tmp_path / "f.csv"
    for _ in range(2):  # the second run used to end in KeyError: 'error_code'
        rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out", str(f),
                            "--jsonl", str(f))
        assert rc == 6 and "[output_conflict]" in err, err
    assert not f.exists()


def test_output_not_writable_is_coded(engine, tmp_path, capsys):
    d = _folder(tmp_path, 1)
    (tmp_path / "plain").write_text("a file, not a folder")
    rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out",
                        str(tmp_path / "plain" / "o.csv"))
    assert rc == 6 and "[output_not_writable]" in err, err
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro):
        rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out",
                            str(ro / "o.csv"))
    assert rc == 6 and "[output_not_writable]" in err, err


def test_a_read_only_annotate_folder_is_refused_before_the_run(engine, tmp_path, capsys):
    # issue 23 item 10: every photo became an output_not_writable row, its measurement lost
    d = _folder(tmp_path, 2)
    ann = tmp_path / "ann"
    ann.mkdir()
    out = tmp_path / "o.csv"
    with read_only(ann):
        engine.refused("output_not_writable", d, out, annotate_dir=ann)
        rc, err = _cli_main(capsys, "batch", engine.spec(d), *engine.cli(), "--out",
                            str(tmp_path / "o2.csv"), "--annotate", str(ann))
    assert rc == 6 and "[output_not_writable]" in err and str(ann) in err, err
    assert not out.exists() or read_rows(out) == []  # no row was written


def test_the_folder_probe_names_a_full_disk(tmp_path, monkeypatch):
    from posture import outputs

    real_write = os.write

    def full(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(outputs.os, "write", full)
    with pytest.raises(OutputError) as e:
        outputs.check_writable_dir(tmp_path, "--annotate folder")
    assert e.value.code == "output_not_writable" and "the disk is full" in e.value.message
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_an_overlay_that_fails_mid_run_keeps_the_row_and_is_redrawn_on_rerun(engine,
                                                                            tmp_path):
    # issue 23 item 10: the row became output_not_writable without its measurement, and a
    # rerun skipped it as done
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        _png(d / f"img_{i}.png", 20 + i, size=(1200, 1000))
    ann, out, jl = tmp_path / "ann", tmp_path / "o.csv", tmp_path / "o.jsonl"
    blocked = ann / "img_1.png"
    s = engine.run(d, out, jsonl=jl, annotate_dir=ann,
                   factory=HandMade(block_value=21, block_path=str(blocked)))
    rows = {Path(r["file"]).name: r for r in read_rows(out)}
    assert sorted(rows) == ["img_0.png", "img_1.png", "img_2.png"]
    assert {r["error_code"] for r in rows.values()} == {""}  # the measurement is kept
    assert {r["facing"] for r in rows.values()} == {"right"}
    assert s.overlay_errors == {"output_not_writable": 1} and s.errors == {}
    assert "img_1.png" in (s.first_overlay_error or "") and "NOT written" in s.text()
    assert sorted(p.name for p in ann.iterdir() if p.is_file()) == ["img_0.png", "img_2.png"]
    blocked.rmdir()  # the disk has room again
    before_rows, before_jsonl = out.read_bytes(), jl.read_bytes()
    s = engine.run(d, out, jsonl=jl, annotate_dir=ann, factory=HandMade())
    assert (s.processed, s.skipped, s.overlays_redrawn, s.overlay_errors) == (0, 3, 1, {})
    assert blocked.is_file() and out.read_bytes() == before_rows
    assert jl.read_bytes() == before_jsonl  # no row or record twice
    s = engine.run(d, out, jsonl=jl, annotate_dir=ann, factory=HandMade())
    assert (s.processed, s.overlays_redrawn) == (0, 0)  # nothing left to redo


# ------------------------------------------------------------------------- the JSONL

def test_jsonl_shared_by_two_csvs_loses_no_record(engine, tmp_path):
    # issue 23 item 9: batch A --out a.csv --jsonl j; batch B --out b.csv --jsonl j;
    # batch A ... left j.jsonl empty
    a, b = tmp_path / "A", tmp_path / "B"
    for folder, base in ((a, 0), (b, 100)):
        folder.mkdir()
        for i in range(2):
            _png(folder / f"{folder.name}{i}.png", base + i)
    j = tmp_path / "j.jsonl"
    engine.run(a, tmp_path / "a.csv", jsonl=j)
    engine.run(b, tmp_path / "b.csv", jsonl=j)
    s = engine.run(a, tmp_path / "a.csv", jsonl=j)
    assert (s.processed, s.skipped) == (0, 2)
    assert sorted(Path(f).name for f in jsonl_files(j)) == ["A0.png", "A1.png", "B0.png",
                                                           "B1.png"]


def test_jsonl_held_by_one_run_is_refused_to_another(tmp_path):
    # overlapping runs used to rewrite the JSONL under each other (the first then appended
    # to an unlinked file)
    d = _folder(tmp_path, 2)
    j = tmp_path / "j.jsonl"
    first = Outputs(tmp_path / "a.csv", j, None, expand_inputs(str(d)))
    try:
        with pytest.raises(OutputError) as e:
            run_batch(str(d), tmp_path / "b.csv", jsonl=j, progress=False,
                      analyzer_factory=NoPerson())
        assert e.value.code == "output_locked"
        first.write(str(d / "img_0.png"), {"ok": False, "schema_version": 1})
    finally:
        first.close()
    assert jsonl_files(j) == [str(d / "img_0.png")]  # the first run's record, in the file
    assert not (tmp_path / "b.csv").exists() or read_rows(tmp_path / "b.csv") == []


def test_jsonl_drops_only_its_own_records_of_files_it_analyses_again(tmp_path):
    d = _folder(tmp_path, 2)
    out, j = tmp_path / "o.csv", tmp_path / "j.jsonl"
    files = expand_inputs(str(d))
    run_batch(files[:1], out, jsonl=j, progress=False, analyzer_factory=NoPerson())
    other = {"batch_csv": "/elsewhere/x.csv", "file": files[1], "schema_version": 1,
             "ok": False}
    legacy = {"file": files[2], "schema_version": 1, "ok": False}  # an older version's
    orphan = {"batch_csv": os.path.realpath(out), "file": files[1], "schema_version": 1,
              "ok": False}  # this CSV's, killed before its row: written again below
    with open(j, "a") as f:
        for rec in (other, legacy, orphan):
            f.write(json.dumps(rec) + "\n")
        f.write('{"batch_csv": "/r/o.csv", "fi')  # a record cut by a kill
    s = run_batch(str(d), out, jsonl=j, progress=False, analyzer_factory=NoPerson())
    assert s.processed == 2
    recs = [json.loads(x) for x in j.read_text().splitlines()]
    assert other in recs and legacy in recs and orphan not in recs
    mine = [r["file"] for r in recs if r.get("batch_csv") == os.path.realpath(out)]
    assert sorted(mine) == sorted(files)  # each of this CSV's files once


# ------------------------------------------------------------------ posture analyze

def test_analyze_annotate_onto_the_photo_is_refused(tmp_path, capsys):
    photo = _png(tmp_path / "x.png")
    before = photo.read_bytes()
    rc, err = _cli_main(capsys, "analyze", str(photo), "--annotate", str(photo))
    assert rc == 6 and "[output_is_input]" in err, err
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    rc, err = _cli_main(capsys, "analyze", str(photo), "--annotate", str(link))
    assert rc == 6 and "[output_is_input]" in err, err
    other = tmp_path / "holiday.png"
    other.write_bytes(b"someone's picture")
    rc, err = _cli_main(capsys, "analyze", str(photo), "--annotate", str(other))
    assert rc == 6 and "[output_exists]" in err, err
    assert photo.read_bytes() == before and other.read_bytes() == b"someone's picture"


def test_analyze_checks_a_read_only_folder_before_the_analysis(tmp_path, capsys,
                                                              monkeypatch):
    import posture.analysis

    made = []

    class Refuse:
        def __init__(self, *a, **kw):
            made.append(1)
            raise AssertionError("the analysis ran before the output folder was checked")

    monkeypatch.setattr(posture.analysis, "Analyzer", Refuse)
    photo = _png(tmp_path / "x.png", size=(400, 300))
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro):
        rc, err = _cli_main(capsys, "analyze", str(photo), "--annotate", str(ro / "a.png"))
    assert (rc, made) == (6, []) and "[output_not_writable]" in err, err


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif", ".gif"])
def test_an_overlay_we_wrote_is_ours_on_a_rerun(tmp_path, ext):
    # issue 23 item 12: a `--annotate x.webp` rerun was refused as not ours (WebP carried
    # no mark; WebP keeps metadata after the image data, beyond the first 64 KiB)
    from posture.outputs import has_overlay_mark, prepare_image_output, save_overlay

    rgb = np.random.default_rng(0).integers(0, 255, (400, 300, 3), dtype=np.uint8)
    target = tmp_path / f"x{ext}"
    save_overlay(rgb, target, replace=False)
    assert target.stat().st_size > 65536 or ext == ".gif"
    assert has_overlay_mark(target)
    assert prepare_image_output(target, [], overwrite=False) is True  # ours: replaceable
    save_overlay(rgb, target, replace=True)
    other = _png(tmp_path / f"mine{ext}".replace(ext, ".png"))
    if ext != ".png":
        Image.open(other).save(tmp_path / f"mine{ext}")
        other = tmp_path / f"mine{ext}"
    assert not has_overlay_mark(other)
    with pytest.raises(OutputError) as e:
        prepare_image_output(other, [], overwrite=False)
    assert e.value.code == "output_exists"


def test_checking_every_overlay_against_every_input_is_linear(tmp_path, monkeypatch):
    # one annotated image per photo was checked against every photo: a stat per pair,
    # 10^8 for 10,000 photos, before the first one was analysed
    from posture import batch, outputs

    d = tmp_path / "in"
    d.mkdir()
    for i in range(300):
        (d / f"p{i:03d}.png").write_bytes(b"x")
    files = expand_inputs(str(d))
    ann = tmp_path / "ann"
    annots = batch.annotation_names(files, ann)
    calls = []
    real_key, realpath = outputs.file_key, os.path.realpath
    monkeypatch.setattr(outputs, "file_key", lambda p: calls.append(p) or real_key(p))
    monkeypatch.setattr(os.path, "realpath", lambda p, **kw: calls.append(p) or realpath(
        p, **kw))
    batch.check_annotations(annots, ann, files, [tmp_path / "o.csv"], create=True)
    monkeypatch.undo()
    assert len(calls) < 10 * len(files), len(calls)
