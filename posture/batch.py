"""Batch screening: analyse many photos into one CSV (and optionally JSONL) file.

Guarantees
----------
* One row per input image: ``file`` plus the fields of ``posture analyze --json``
  (:data:`CSV_COLUMNS`; the JSONL form has the whole contract, landmarks included). A file
  that cannot be analysed becomes a row with its error code; it never ends the run.
* Resumable: files already in the CSV are skipped. Each row is written and flushed as soon
  as its image is done, so killing the run loses at most the images in flight; a line cut
  short by the kill is removed on the next run, and that image is analysed again.
* Parallel: ``workers`` processes, each holding one :class:`~posture.analysis.Analyzer`
  for its whole life and closing it when told to stop.

Resume keys are the paths as enumerated (normalised), so resume from the same working
directory with the same DIR_OR_GLOB.
"""

from __future__ import annotations

import csv
import glob
import json
import multiprocessing as mp
import os
import queue
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, PostureError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif")
#: Columns of the CSV, in order. Two-number intervals are split into ``_lo``/``_hi``.
CSV_COLUMNS = (
    "file", "ok", "error_code", "error_message", "facing",
    "pelvic_tilt_deg", "pelvic_tilt_interval_deg_lo", "pelvic_tilt_interval_deg_hi",
    "interval_coverage", "lumbar_lordosis_deg", "lumbar_lordosis_interval_deg_lo",
    "lumbar_lordosis_interval_deg_hi", "severity", "severity_label", "abstained",
    "abstain_reasons", "head_neck_angle_deg", "forward_head", "trunk_lean_deg",
    "knee_angle_deg", "knee_hyperextension", "roll_deg", "roll_source", "image_width",
    "image_height", "pose_variant", "estimator_version", "side_on_score", "schema_version",
)


@dataclass(frozen=True)
class BatchSummary:
    """Outcome of a batch run. Counts cover every row of the output file, this run's and
    earlier runs' alike; ``processed`` and ``skipped`` are this run's."""

    rows: int
    measured: int  # analysed and pelvic tilt given
    abstained: int  # analysed, pelvic tilt withheld
    errors: dict[str, int] = field(default_factory=dict)  # error code → count
    processed: int = 0
    skipped: int = 0

    def text(self) -> str:
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (f"{self.rows} images in the output ({self.processed} analysed now, "
                f"{self.skipped} already there): {self.measured} measured, {self.abstained} "
                f"abstained, {sum(self.errors.values())} errors ({errs})")


# -- inputs ------------------------------------------------------------------------------

def expand_inputs(spec: str) -> list[str]:
    """Image paths of a folder (its files with image extensions, not recursive) or a glob
    pattern (``**`` recurses), sorted and without duplicates."""
    if os.path.isdir(spec):
        found = [os.path.join(spec, n) for n in os.listdir(spec)
                 if n.lower().endswith(IMAGE_EXTENSIONS)]
    else:
        found = glob.glob(spec, recursive=True)
    files = sorted({os.path.normpath(p) for p in found if os.path.isfile(p)})
    if not files:
        raise InputError(f"no image files found for {spec!r}", code="no_inputs")
    return files


def annotation_names(files: Iterable[str], out_dir: str | os.PathLike) -> dict[str, str]:
    """A distinct ``OUT_DIR/<stem>.png`` per input (``<stem>-2.png`` on a name clash)."""
    taken: set[str] = set()
    out = {}
    for f in files:
        stem, n = Path(f).stem, 1
        name = f"{stem}.png"
        while name in taken:
            n += 1
            name = f"{stem}-{n}.png"
        taken.add(name)
        out[f] = os.path.join(os.fspath(out_dir), name)
    return out


# -- rows --------------------------------------------------------------------------------

def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, str):
        return " ".join(v.split())  # one record per line: the resume logic relies on it
    return v


def csv_row(file: str, d: dict[str, Any]) -> dict[str, Any]:
    """The CSV row of one contract dict."""
    err = d.get("error") or {}
    model = d.get("model") or {}
    size = d.get("image_size") or (None, None)
    row = {k: d.get(k) for k in CSV_COLUMNS}
    for key in ("pelvic_tilt_interval_deg", "lumbar_lordosis_interval_deg"):
        iv = d.get(key) or (None, None)
        row[f"{key}_lo"], row[f"{key}_hi"] = iv[0], iv[1]
    row.update(file=file, error_code=err.get("code"), error_message=err.get("message"),
               abstain_reasons=" | ".join(d.get("abstain_reasons") or ()),
               image_width=size[0], image_height=size[1],
               pose_variant=model.get("pose_variant"),
               estimator_version=model.get("estimator_version"),
               side_on_score=(d.get("view") or {}).get("side_on_score"))
    return {k: _cell(row[k]) for k in CSV_COLUMNS}


def analyse_file(analyzer, file: str, annotate_to: str | None = None) -> dict[str, Any]:
    """The contract dict of one file; any failure becomes an error dict, never an
    exception (a batch must survive every bad file)."""
    from .images import load_image
    from .present.contract import assessment_to_dict, error_to_dict

    try:
        frame = load_image(file)
        a = analyzer.analyze(frame)
        d = assessment_to_dict(a, source=file)
        if annotate_to:
            from .present.overlay import draw_overlay, save_image

            save_image(draw_overlay(frame.rgb, a), annotate_to)
        return d
    except PostureError as err:
        return error_to_dict(err, source=file)
    except Exception as exc:  # a native or unforeseen failure on one image
        return error_to_dict(PostureError(f"{type(exc).__name__}: {exc}", code="internal"),
                             source=file)


# -- output files ------------------------------------------------------------------------

def _drop_partial_last_line(path: Path) -> None:
    # a kill mid-write leaves a line without its newline: drop it, that image reruns
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def _done_files(csv_path: Path) -> set[str]:
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return set()
    _drop_partial_last_line(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return set()
            if tuple(header) != CSV_COLUMNS:
                raise PostureError(f"{csv_path} is not a batch output of this version (its "
                                   "columns differ); choose another --out",
                                   code="output_mismatch")
            return {os.path.normpath(r[0]) for r in reader if r}
    except (UnicodeDecodeError, csv.Error) as exc:  # damaged on disk or by hand
        raise PostureError(f"{csv_path} cannot be read as a batch output ({exc}); choose "
                           "another --out", code="output_mismatch") from None


def _sync_jsonl(path: Path, done: set[str]) -> None:
    """Keep only JSONL lines of files the CSV has (a kill between the two writes)."""
    if not path.exists():
        return
    _drop_partial_last_line(path)
    keep, seen, changed = [], set(), False
    with open(path, "rb") as f:
        for raw in f:
            try:  # a line that is not UTF-8 (UnicodeDecodeError is a ValueError) is dropped
                line = raw.decode("utf-8")
                file = os.path.normpath(json.loads(line)["file"])
            except (ValueError, KeyError, TypeError):
                changed = True
                continue
            if file in done and file not in seen:
                keep.append(line)
                seen.add(file)
            else:
                changed = True
    if changed:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(keep), encoding="utf-8")
        os.replace(tmp, path)


class _Writer:
    """Appends one CSV row (and JSONL line) per image, flushed at once."""

    def __init__(self, csv_path: Path, jsonl_path: Path | None):
        new = not csv_path.exists() or csv_path.stat().st_size == 0
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        self._csv = open(csv_path, "a", newline="", encoding="utf-8")
        self._w = csv.DictWriter(self._csv, fieldnames=CSV_COLUMNS, lineterminator="\n")
        if new:
            self._w.writeheader()
            self._csv.flush()
        self._jsonl = None
        if jsonl_path is not None:
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(jsonl_path, "a", encoding="utf-8")

    def write(self, file: str, d: dict[str, Any]) -> None:
        if self._jsonl is not None:  # JSONL first: the CSV row is what marks a file done
            self._jsonl.write(json.dumps({"file": file, **d}, ensure_ascii=False) + "\n")
            self._jsonl.flush()
        self._w.writerow(csv_row(file, d))
        self._csv.flush()

    def close(self) -> None:
        self._csv.close()
        if self._jsonl is not None:
            self._jsonl.close()


def summarise(csv_path: str | os.PathLike, *, processed: int = 0,
              skipped: int = 0) -> BatchSummary:
    """Counts over every row of a batch CSV."""
    measured = abstained = 0
    errors: Counter[str] = Counter()
    rows = 0
    with open(csv_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows += 1
            if r["error_code"]:
                errors[r["error_code"]] += 1
            elif r["abstained"] == "True":
                abstained += 1
            else:
                measured += 1
    return BatchSummary(rows, measured, abstained, dict(errors), processed, skipped)


# -- workers -----------------------------------------------------------------------------

def _worker(tasks, results, model: str | None) -> None:
    """A worker process: one Analyzer for its life, closed when the parent says stop."""
    from .analysis import Analyzer

    try:
        analyzer = Analyzer(model)
    except PostureError as err:
        results.put(("fatal", os.getpid(), err.code, err.message, err.exit_code))
        return
    parent = mp.parent_process()
    with analyzer:
        while True:
            try:
                job = tasks.get(timeout=2.0)
            except queue.Empty:
                # the parent was killed (SIGKILL leaves no time to stop us): do not linger
                if parent is not None and not parent.is_alive():
                    return
                continue
            if job is None:
                return
            file, annotate_to = job
            results.put(("done", os.getpid(), file, analyse_file(analyzer, file, annotate_to)))


class _Pool:
    """Worker processes fed one file at a time, so the parent always knows which file a
    worker holds (and can record it as failed if the worker dies)."""

    def __init__(self, n: int, model: str | None):
        self.ctx = mp.get_context("spawn")  # no fork of a process with native threads
        self.results = self.ctx.Queue()
        self.model = model
        self.procs: dict[int, tuple[Any, Any]] = {}  # pid → (process, its task queue)
        for _ in range(n):
            self._start()

    def _start(self) -> int:
        tasks = self.ctx.Queue()
        p = self.ctx.Process(target=_worker, args=(tasks, self.results, self.model),
                             daemon=True)
        p.start()
        self.procs[p.pid] = (p, tasks)
        return p.pid

    def run(self, jobs: deque, on_result: Callable[[str, dict], None]) -> None:
        inflight: dict[int, str] = {}

        def feed(pid: int) -> None:
            if jobs:
                file, annot = jobs.popleft()
                inflight[pid] = file
                self.procs[pid][1].put((file, annot))

        for pid in list(self.procs):
            feed(pid)
        while inflight:
            try:
                msg = self.results.get(timeout=1.0)
            except queue.Empty:
                self._reap(inflight, on_result, feed, jobs)
                continue
            if msg[0] == "fatal":
                _, _, code, message, exit_code = msg
                err = PostureError(message, code=code)
                err.exit_code = exit_code
                raise err
            _, pid, file, d = msg
            inflight.pop(pid, None)
            on_result(file, d)
            feed(pid)

    def _reap(self, inflight, on_result, feed, jobs) -> None:
        from .present.contract import error_to_dict

        for pid, (p, _) in list(self.procs.items()):
            if p.is_alive() or pid not in inflight:
                continue
            file = inflight.pop(pid)
            del self.procs[pid]
            msg = f"the worker analysing this file died (exit code {p.exitcode})"
            on_result(file, error_to_dict(PostureError(msg, code="worker_crashed"),
                                          source=file))
            if jobs:
                feed(self._start())

    def close(self) -> None:
        for p, tasks in self.procs.values():
            if p.is_alive():
                tasks.put(None)
        for p, _ in self.procs.values():
            p.join(30)
            if p.is_alive():  # stuck: do not hang the command line
                p.terminate()
                p.join(5)

    def kill(self) -> None:
        for p, _ in self.procs.values():
            if p.is_alive():
                p.terminate()
        for p, _ in self.procs.values():
            p.join(5)


# -- the run -----------------------------------------------------------------------------

def run_batch(
    inputs: str | Iterable[str],
    out_csv: str | os.PathLike,
    *,
    jsonl: str | os.PathLike | None = None,
    annotate_dir: str | os.PathLike | None = None,
    workers: int = 1,
    model: str | None = None,
    progress: bool = True,
    analyzer_factory: Callable[[], Any] | None = None,
) -> BatchSummary:
    """Analyse every image of ``inputs`` (folder, glob or list of paths) into ``out_csv``.

    Parameters
    ----------
    jsonl
        Also write one JSON object per image (``file`` plus the full contract).
    annotate_dir
        Write an annotated PNG per analysed image here.
    workers
        Processes in parallel; 1 analyses in this process.
    model
        Pose model variant or .task path (default: the full model).
    analyzer_factory
        For ``workers == 1`` only: makes the analyzer (a context manager with
        ``.analyze(frame)``); tests use it to run without the pose model.
    """
    if workers < 1:
        raise PostureError("--workers must be at least 1", code="bad_argument")
    files = expand_inputs(inputs) if isinstance(inputs, str) else sorted(
        {os.path.normpath(f) for f in inputs})
    out_csv, jsonl_path = Path(out_csv), Path(jsonl) if jsonl else None
    done = _done_files(out_csv)
    if jsonl_path is not None:
        _sync_jsonl(jsonl_path, done)
    annots = {}
    if annotate_dir is not None:
        Path(annotate_dir).mkdir(parents=True, exist_ok=True)
        annots = annotation_names(files, annotate_dir)
    todo = deque((f, annots.get(f)) for f in files if f not in done)
    skipped = len(files) - len(todo)

    from tqdm import tqdm

    writer = _Writer(out_csv, jsonl_path)
    bar = tqdm(total=len(todo), unit="img", disable=not progress, file=sys.stderr,
               desc="analysing")
    processed = 0

    def on_result(file: str, d: dict) -> None:
        nonlocal processed
        writer.write(file, d)
        processed += 1
        bar.update(1)

    try:
        if not todo:
            pass
        elif workers == 1:
            from .analysis import Analyzer

            with (analyzer_factory or (lambda: Analyzer(model)))() as analyzer:
                while todo:
                    file, annot = todo.popleft()
                    on_result(file, analyse_file(analyzer, file, annot))
        else:
            pool = _Pool(min(workers, len(todo)), model)
            try:
                pool.run(todo, on_result)
            except BaseException:
                pool.kill()
                raise
            pool.close()
    finally:
        bar.close()
        writer.close()
    return summarise(out_csv, processed=processed, skipped=skipped)
