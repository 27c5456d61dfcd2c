"""``posture batch --engine ray`` (issue 17): the same rows as the local engine, resume after
a kill, a crashing file as a coded row. One local Ray instance of 2 CPUs serves the
in-process tests (started once: it takes seconds); the kill test runs the CLI, which starts
and stops its own."""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import IN_CI, require_or_skip

from posture.batch import CSV_COLUMNS, run_batch
from posture.errors import NoPersonError

# Ray is the optional extra posture[cluster]: run-tests.sh installs it, so CI must have it
ray = importlib.import_module("ray") if IN_CI else pytest.importorskip("ray")
from ray import cloudpickle  # noqa: E402  (Ray pickles with its own copy)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples").glob("*.jpg"))


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance of 2 CPUs for this module (run_ray then joins it)."""
    from posture.engines.ray_engine import start_ray

    started = start_ray(num_cpus=2)
    yield
    if started:
        ray.shutdown()


# -------------------------------------------------------------- without the pose model

class CountingFake:
    """A picklable analyzer factory: every image 'has no person', except that an image
    whose file name holds ``crash`` kills the process (a native crash). Each construction
    (one model load) leaves a file in ``log_dir``."""

    def __init__(self, log_dir: Path):
        self.log_dir = str(log_dir)

    def __call__(self):
        Path(self.log_dir, f"load-{os.getpid()}-{time.monotonic_ns()}").touch()
        return _Fake()


class _Fake:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def analyze(self, frame):
        if "crash" in Path(frame.source).name:
            os._exit(3)  # as a segfault would: no exception, no clean-up
        raise NoPersonError("nobody here", code="fake_no_person")


# the actors unpickle these classes: ship them by value, not as a test module to import
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _pngs(d: Path, n: int, prefix: str = "img") -> list[Path]:
    import numpy as np
    from PIL import Image

    d.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = d / f"{prefix}_{i:02d}.png"
        Image.fromarray(np.full((240, 180, 3), 7 * i, np.uint8)).save(p)
        out.append(p)
    return out


def test_a_file_that_kills_its_actor_is_a_coded_row_and_the_run_completes(local_ray,
                                                                           tmp_path):
    d = tmp_path / "in"
    _pngs(d, 10)
    shutil.copy(d / "img_00.png", d / "img_05_crash.png")
    (d / "broken.jpg").write_text("not a JPEG")
    logs = tmp_path / "loads"
    logs.mkdir()
    s = run_batch(str(d), tmp_path / "out.csv", jsonl=tmp_path / "out.jsonl", workers=2,
                  progress=False, engine="ray", analyzer_factory=CountingFake(logs))
    rows = {Path(r["file"]).name: r for r in read_rows(tmp_path / "out.csv")}
    assert len(rows) == 12 and s.rows == 12
    assert rows["img_05_crash.png"]["error_code"] == "worker_crashed"
    assert rows["broken.jpg"]["error_code"] == "not_an_image"
    assert {r["error_code"] for n, r in rows.items()
            if n.startswith("img_") and "crash" not in n} == {"fake_no_person"}
    assert s.errors == {"fake_no_person": 10, "not_an_image": 1, "worker_crashed": 1}
    # two actors, one model load each, plus one for the actor Ray restarted after the crash
    assert len(list(logs.iterdir())) == 3
    jl = [json.loads(x)["file"] for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(jl) == sorted(r["file"] for r in rows.values())


def test_model_loaded_once_per_actor_and_resume_skips_done_rows(local_ray, tmp_path):
    d = tmp_path / "in"
    _pngs(d, 16)
    logs = tmp_path / "loads"
    logs.mkdir()
    out = tmp_path / "out.csv"
    s = run_batch(str(d), out, workers=2, progress=False, engine="ray",
                  analyzer_factory=CountingFake(logs))
    # 16 images, one model load per actor: at most 2 loads (an actor that Ray gave no
    # batch on a busy machine loads nothing), never two in one process
    pids = [p.name.split("-")[1] for p in logs.iterdir()]
    assert s.processed == 16 and 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)
    _pngs(d, 3, prefix="new")
    s = run_batch(str(d), out, workers=2, progress=False, engine="ray",
                  analyzer_factory=CountingFake(logs))
    assert (s.processed, s.skipped, s.rows) == (3, 16, 19)
    assert Counter(r["file"] for r in read_rows(out)).most_common(1)[0][1] == 1


def test_file_uris_are_read_through_pyarrow(local_ray, tmp_path):
    d = tmp_path / "in"
    _pngs(d, 3)
    (d / "empty.jpg").write_bytes(b"")
    (d / "broken.jpg").write_text("not a JPEG")
    out = tmp_path / "out.csv"
    run_batch(f"file://{d}", out, workers=1, progress=False, engine="ray",
              analyzer_factory=CountingFake(tmp_path))
    rows = {r["file"]: r["error_code"] for r in read_rows(out)}
    assert rows == {f"file://{d}/img_00.png": "fake_no_person",
                    f"file://{d}/img_01.png": "fake_no_person",
                    f"file://{d}/img_02.png": "fake_no_person",
                    f"file://{d}/empty.jpg": "empty_file",
                    f"file://{d}/broken.jpg": "not_an_image"}


class NoModel:
    """A factory that fails as an actor on a node without the pose model would."""

    def __call__(self):
        from posture.errors import ModelError

        raise ModelError("no pose model on this node", code="model_unavailable")


def test_an_actor_without_the_model_stops_the_run_with_its_code(local_ray, tmp_path):
    d = tmp_path / "in"
    _pngs(d, 4)
    with pytest.raises(Exception) as e:
        run_batch(str(d), tmp_path / "out.csv", workers=2, progress=False, engine="ray",
                  analyzer_factory=NoModel())
    assert (getattr(e.value, "code", None), getattr(e.value, "exit_code", None)) == (
        "model_unavailable", 4)
    assert read_rows(tmp_path / "out.csv") == []  # nothing half-done; the lock is released
    s = run_batch(str(d), tmp_path / "out.csv", workers=2, progress=False, engine="ray",
                  analyzer_factory=CountingFake(tmp_path))
    assert s.rows == 4


def test_without_ray_the_engine_is_a_coded_error(tmp_path, monkeypatch):
    d = tmp_path / "in"
    _pngs(d, 2)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if posture[cluster] were not installed
    with pytest.raises(Exception) as e:
        run_batch(str(d), tmp_path / "out.csv", progress=False, engine="ray",
                  analyzer_factory=CountingFake(tmp_path))
    assert getattr(e.value, "code", None) == "engine_unavailable"
    assert "posture[cluster]" in str(e.value)


def test_plan_leaves_a_cpu_for_ray_datas_own_tasks():
    from posture.engines.ray_engine import plan_actors

    assert plan_actors(2, 2, 100) == (2, 0.5)  # not two 1-CPU actors on 2 CPUs
    assert plan_actors(2, "auto", 100)[0] == 2
    assert plan_actors(16, "auto", 100) == (16, 0.938)
    assert plan_actors(16, "auto", 5)[0] == 5  # never more actors than images
    assert plan_actors(1, 1, 10) == (1, 0.1)


# ----------------------------------------------------------------- with the pose model

def _photo_folder(d: Path) -> Path:
    """The sample renders plus files that fail in known ways."""
    import numpy as np
    from PIL import Image

    d.mkdir()
    for p in SAMPLES[:6]:
        shutil.copy(p, d / p.name)
    (d / "zz_text.jpg").write_text("a text file named .jpg")
    (d / "zz_empty.png").write_bytes(b"")
    Image.fromarray(np.full((400, 300, 3), 200, np.uint8)).save(d / "zz_blank.png")
    return d


def _model_or_skip():
    from posture.errors import ModelError
    from posture.models import resolve_model

    try:
        resolve_model("full", progress=False)
    except ModelError as exc:
        require_or_skip(False, f"no pose model: {exc.message}")


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-6)
    except ValueError:
        return False


@pytest.mark.slow
def test_ray_and_local_engines_write_the_same_rows(local_ray, tmp_path):
    _model_or_skip()
    d = _photo_folder(tmp_path / "photos")
    local = run_batch(str(d), tmp_path / "local.csv", jsonl=tmp_path / "local.jsonl",
                      workers=1, progress=False)
    on_ray = run_batch(str(d), tmp_path / "ray.csv", jsonl=tmp_path / "ray.jsonl",
                       workers=2, progress=False, engine="ray")
    assert local.rows == on_ray.rows == 9
    assert local.errors == on_ray.errors and local.measured == on_ray.measured >= 5
    a = {r["file"]: r for r in read_rows(tmp_path / "local.csv")}
    b = {r["file"]: r for r in read_rows(tmp_path / "ray.csv")}
    assert a.keys() == b.keys()
    for f in a:
        diff = [c for c in CSV_COLUMNS if not _same(a[f][c], b[f][c])]
        assert not diff, (f, {c: (a[f][c], b[f][c]) for c in diff})
    assert {a[f]["error_code"] for f in a if "zz_" in f} == {"not_an_image", "empty_file",
                                                             "no_person"}
    ja = {json.loads(x)["file"]: json.loads(x) for x in
          (tmp_path / "local.jsonl").read_text().splitlines()}
    jb = {json.loads(x)["file"]: json.loads(x) for x in
          (tmp_path / "ray.jsonl").read_text().splitlines()}
    assert ja.keys() == jb.keys()
    for f in ja:
        assert ja[f].keys() == jb[f].keys()
        if ja[f]["ok"]:
            import numpy as np

            assert np.allclose(ja[f]["landmarks_px"], jb[f]["landmarks_px"], atol=1e-6)


def _cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "posture.cli", "batch", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


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


def _workers(sid: int) -> list[str]:
    """Processes of the session other than Ray's dashboard and runtime-env agents."""
    out = []
    for pid in _session_alive(sid):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if not name.startswith(("ray::DashboardA", "ray::RuntimeEnv")):
            out.append(f"{pid} {name}")
    return out


@pytest.mark.slow
def test_ray_run_killed_midway_resumes_without_loss_or_duplicates(local_ray, tmp_path):
    _model_or_skip()
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(24):
        shutil.copy(SAMPLES[i % len(SAMPLES)], d / f"img_{i:02d}.jpg")
    out, jl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    p = _cli(str(d), "--out", str(out), "--jsonl", str(jl), "--engine", "ray", "--workers",
             "2", start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 1 + 3:
            break
        if p.poll() is not None:
            pytest.fail(f"batch ended before it could be killed: {p.stderr.read()}")
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)  # the driver only; the Ray it started must go with it
    p.wait()
    first = read_rows(out)
    assert 3 <= len(first) < 24, "the kill must land midway for this test to mean anything"
    # Ray's head processes and workers die with the driver that started them; its two
    # agents notice a minute or so later (they try to report to the dead GCS first)
    deadline = time.time() + 30
    while _workers(p.pid) and time.time() < deadline:
        time.sleep(0.5)
    left = _workers(p.pid)
    for pid in _session_alive(p.pid):  # do not leave the agents to the rest of the suite
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert left == [], "the local Ray instance outlived its killed driver"

    s = run_batch(str(d), out, jsonl=jl, workers=2, progress=False, engine="ray")
    rows = read_rows(out)
    files = [r["file"] for r in rows]
    assert Counter(files).most_common(1)[0][1] == 1  # no duplicates
    assert sorted(Path(f).name for f in files) == sorted(x.name for x in d.iterdir())
    assert (s.processed, s.skipped) == (24 - len(first), len(first))
    assert rows[: len(first)] == first  # rows written before the kill are kept as they were
    assert sorted(json.loads(x)["file"] for x in jl.read_text().splitlines()) == sorted(files)
    assert s.errors == {} and s.measured == 24


# ------------------------------------------------------- no Ray process outlives a batch

_DRIVER = '''
"""A batch on a local Ray instance of its own, with a fake analyzer; MODE is "success",
"error" (no model in the actors) or "interrupt" (Ctrl-C while the actors analyse)."""
import os, sys, time
from pathlib import Path

import numpy as np
from PIL import Image
from ray import cloudpickle

from posture.batch import run_batch
from posture.errors import ModelError, NoPersonError

mode, d, out, logs = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]


class Fake:
    def __init__(self, mode, logs):
        self.mode, self.logs = mode, logs

    def __call__(self):
        if self.mode == "error":
            raise ModelError("no pose model on this node", code="model_unavailable")
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def analyze(self, frame):
        Path(self.logs, f"busy-{os.getpid()}").touch()
        if self.mode == "interrupt":
            time.sleep(60)  # still busy when the driver is interrupted
        raise NoPersonError("nobody", code="fake_no_person")


cloudpickle.register_pickle_by_value(sys.modules[__name__])
d.mkdir(exist_ok=True)
for i in range(4):
    Image.fromarray(np.full((100, 80, 3), i, np.uint8)).save(d / f"i{i}.png")
try:
    print(run_batch(str(d), out, engine="ray", workers=2, progress=False,
                    analyzer_factory=Fake(mode, logs)).text())
except KeyboardInterrupt:
    print("interrupted")
    sys.exit(130)
except Exception as e:
    print("error", getattr(e, "code", e))
    sys.exit(6)
'''


def _ray_processes(sid: int) -> list[str]:
    """Live processes of session ``sid`` whose command line starts with ``ray::``."""
    out = []
    for pid in _session_alive(sid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::"):
            name = cmd.split(b"\0")[0].decode(errors="replace")
            out.append(f"{pid} {name}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode,sig,rc", [
    ("success", None, 0), ("error", None, 6), ("interrupt", signal.SIGINT, 130),
    ("interrupt", signal.SIGTERM, 128 + signal.SIGTERM),  # Ray's native handler aborted
    ("interrupt", signal.SIGHUP, 128 + signal.SIGHUP)])  # the terminal closed
def test_no_ray_process_outlives_a_batch(tmp_path, mode, sig, rc):
    # issue 23 item 15: a ray::MapWorker was found running, parent 1, after batch runs; a
    # hang-up (SIGHUP: the terminal or SSH session closed) left the whole instance running
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    script, logs = tmp_path / "driver.py", tmp_path / "logs"
    script.write_text(_DRIVER)
    logs.mkdir()
    p = subprocess.Popen([sys.executable, str(script), mode, str(tmp_path / "in"),
                          str(tmp_path / "out.csv"), str(logs)], cwd=REPO, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        if mode == "interrupt":
            deadline = time.time() + 300
            while not list(logs.iterdir()) and p.poll() is None:
                assert time.time() < deadline, "no actor started analysing in 5 minutes"
                time.sleep(0.2)
            p.send_signal(sig)  # Ctrl-C (or the end of the session) while an actor is busy
        out, _ = p.communicate(timeout=300)
        left = _ray_processes(p.pid)  # at once: the batch has returned
    finally:
        for pid in _session_alive(p.pid):  # leave nothing to the rest of the suite
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    assert p.returncode == rc, out
    assert left == [], f"Ray processes outlived the batch ({mode}): {left}"


def test_folder_uris_with_spaces_and_percent_signs_name_the_right_files(tmp_path):
    # pyarrow decodes %-escapes when it reads a URI: a listed name must be escaped, or
    # "a b/x y.png" cannot be read back and "p%20q.png" reads "p q.png"
    from urllib.parse import quote

    from posture.engines.uris import expand_uri, read_uri

    d = tmp_path / "a b"
    d.mkdir()
    (d / "x y.png").write_bytes(b"first")
    (d / "p%20q.png").write_bytes(b"second")
    (d / "p q.png").write_bytes(b"third")
    uris = expand_uri(f"file://{quote(str(d))}")
    assert len(uris) == 3
    assert sorted(read_uri(u, 100) for u in uris) == [b"first", b"second", b"third"]
