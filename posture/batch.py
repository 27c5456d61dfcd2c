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
* The JSONL is locked like the CSV, and each record starts with ``batch_csv``, the real
  path of the CSV whose run wrote it: several runs (different ``--out``) may share one
  JSONL, and a run only ever takes out records of its own CSV for files it is about to
  analyse again (a kill between the two writes) and a record cut short; a file holding
  anything else is not ours (``output_mismatch`` unless ``--overwrite``).
* ``--annotate``: the folder is tried for writing before the run. An overlay that cannot
  be written mid-run (a full disk) does not cost its photo the measurement: the row is
  written as analysed, the summary counts the overlay as not written, and the next run
  draws the missing overlays of analysed rows again (re-analysing those photos, writing
  no second row).

Resume keys are the paths as enumerated (normalised), so resume from the same working
directory with the same DIR_OR_GLOB.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import fnmatch
import glob
import io
import json
import multiprocessing as mp
import os
import queue
import stat
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engines.task import OVERLAY_ERROR, analyze_file
from .errors import InputError, OutputError, PostureError
from .images import IMAGE_EXTENSIONS  # one list of readable formats
from .outputs import (
    InputIndex,
    check_distinct,
    check_not_input,
    check_regular_or_absent,
    check_writable_dir,
    input_within,
    not_writable,
    prepare_image_output,
    same_file,
    write_atomic,
)
from .present.cells import formula_safe, formula_unsafe
from .result import Reading

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
    earlier runs' alike; ``processed`` and ``skipped`` are this run's, as are the overlay
    counts: ``overlays_redrawn`` annotated images drawn again for rows already there, and
    ``overlay_errors`` (code → count) annotated images that could not be written (their
    rows keep the measurement; the next run draws them again)."""

    rows: int
    measured: int  # analysed and pelvic tilt given
    abstained: int  # analysed, pelvic tilt withheld
    errors: dict[str, int] = field(default_factory=dict)  # error code → count
    processed: int = 0
    skipped: int = 0
    overlays_redrawn: int = 0
    overlay_errors: dict[str, int] = field(default_factory=dict)
    first_overlay_error: str | None = None

    def text(self) -> str:
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        out = (f"{self.rows} images in the output ({self.processed} analysed now, "
               f"{self.skipped} already there): {self.measured} measured, {self.abstained} "
               f"abstained, {sum(self.errors.values())} errors ({errs})")
        if self.overlays_redrawn:
            out += (f"; {self.overlays_redrawn} missing annotated images drawn again for "
                    "rows already there")
        if self.overlay_errors:
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.overlay_errors.items()))
            out += (f"; {sum(self.overlay_errors.values())} annotated images NOT written "
                    f"({codes}; first: {self.first_overlay_error}): their rows keep the "
                    "measurement, run again to draw them")
        return out


# -- inputs ------------------------------------------------------------------------------

def expand_inputs(spec: str) -> list[str]:
    """Image paths of a folder (its files with image extensions, not recursive) or a glob
    pattern (``**`` recurses, following links to folders but never into a folder already
    seen, so a symlink loop ends), sorted, each real file once."""
    if os.path.isdir(spec):
        found = [os.path.join(spec, n) for n in os.listdir(spec)
                 if n.lower().endswith(IMAGE_EXTENSIONS)]
    elif "**" in spec:
        found = list(_walk_glob(spec))
    else:
        found = glob.glob(spec)
    files = _unique_files(found, keep_missing=False)
    if not files:
        raise InputError(f"no image files found for {spec!r}", code="no_inputs")
    return files


def _unique_files(paths: Iterable[str], *, keep_missing: bool) -> list[str]:
    """Normalised paths, sorted, one per real file (links and hard links to a file already
    listed are dropped; the shallowest path is kept). Non-regular files are dropped; paths
    that do not exist are kept only with ``keep_missing`` (they become error rows)."""
    norm = sorted({os.path.normpath(p) for p in paths},
                  key=lambda p: (p.count(os.sep), p))
    seen: set = set()
    out = []
    for p in norm:
        try:
            st = os.stat(p)
        except (OSError, ValueError):
            if keep_missing:
                out.append(p)
            continue
        if not keep_missing and not stat.S_ISREG(st.st_mode):
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return sorted(out)


def _walk_glob(spec: str) -> Iterable[str]:
    """``glob.glob(spec, recursive=True)`` for files, without running round a symlink loop
    (which the standard glob follows until the OS refuses: one photo became 81 paths)."""
    parts = spec.split(os.sep)
    i = next(k for k, part in enumerate(parts) if glob.has_magic(part))
    prefix = os.sep.join(parts[:i])
    if i == 1 and parts[0] == "":
        prefix = os.sep
    root = prefix or os.curdir
    segments = [seg for seg in parts[i:] if seg]
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # reached again through a link: a loop
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # as glob
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.startswith("."):
                continue
            relpath = name if rel == os.curdir else os.path.join(rel, name)
            if _glob_match(segments, relpath.split(os.sep)):
                yield os.path.join(prefix, relpath) if prefix else relpath


def _glob_match(segments: list[str], parts: list[str]) -> bool:
    """Whether path components match glob segments (``**`` = any number of folders)."""
    if not segments:
        return not parts
    if segments[0] == "**":
        return any(_glob_match(segments[1:], parts[k:]) for k in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], segments[0]) and _glob_match(
        segments[1:], parts[1:])


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


def csv_row(file: str, d: dict[str, Any] | Reading) -> dict[str, Any]:
    """The CSV row of one result (a contract dict or its typed :class:`Reading`)."""
    from .contract import from_dict

    r = from_dict(d, strict=False)
    size = r.image_size or (None, None)
    row = {k: getattr(r, k, None) for k in CSV_COLUMNS}  # columns named as Reading fields
    for key in ("pelvic_tilt_interval_deg", "lumbar_lordosis_interval_deg"):
        iv = getattr(r, key) or (None, None)
        row[f"{key}_lo"], row[f"{key}_hi"] = iv[0], iv[1]
    row.update(file=file, error_code=r.error.code if r.error else None,
               error_message=r.error.message if r.error else None,
               abstain_reasons=" | ".join(str(x) for x in r.reasons),
               image_width=size[0], image_height=size[1],
               side_on_score=r.view.side_on_score if r.view else None)
    out = {k: _cell(row[k]) for k in CSV_COLUMNS}
    out["file"] = file  # exactly: it is the resume key (names may hold newlines, two spaces)
    return out


# -- output files ------------------------------------------------------------------------
# Ours or not is decided from the content, read-only, before anything is written; only then
# is a cut last record (a kill mid-write) trimmed. The CSV is locked for the whole run.

_ENC = {"encoding": "utf-8", "errors": "surrogateescape"}  # file names need not be UTF-8
_JSONL_TAG = "batch_csv"  # the first key of every JSONL record: its CSV's real path
_JSONL_MARK = b'{"batch_csv": '  # so every JSONL record we write starts
_LEGACY_MARK = b'{"file": '  # as records of versions before the tag started


def _header_text() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(CSV_COLUMNS)
    return buf.getvalue()


def _row_text(file: str, d: dict[str, Any]) -> str:
    # every cell quoted: a CR in a file name would otherwise go out bare and split the row
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(
        [formula_safe(v) for v in csv_row(file, d).values()])
    return buf.getvalue()


def _parse_csv(data: bytes, where: Path) -> tuple[list[list[str]], int]:
    """The complete records of a batch CSV and the byte length they span (a record cut
    short by a kill is left out). Raises ``output_mismatch`` for a file that is not ours."""
    mismatch = PostureError(f"{where} is not a batch output of this version (its columns "
                            "differ); choose another --out, or --overwrite to replace it",
                            code="output_mismatch")
    pos = 0
    ends: list[int] = []

    def lines():
        nonlocal pos
        while pos < len(data):
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl + 1
            line = data[pos:end]
            pos = end
            yield line.decode(**_ENC)

    records: list[list[str]] = []
    try:
        for rec in csv.reader(lines(), strict=True):
            records.append(rec)
            ends.append(pos)
    except csv.Error:
        if pos < len(data) or not records:  # damage before the end: not a cut last record
            raise mismatch from None
        return records, ends[-1]  # a quoted field cut by a kill: drop that record
    except UnicodeDecodeError:  # pragma: no cover - surrogateescape decodes every byte
        raise mismatch from None
    if not records or tuple(records[0]) != CSV_COLUMNS:
        # a header cut short by a kill is still ours
        if len(records) == 1 and not data.endswith(b"\n") and _header_text().startswith(
                data.decode(**_ENC)):
            return [], 0
        raise mismatch
    if b"\0" in data:
        raise PostureError(f"{where} holds NUL bytes: damaged; choose another --out",
                           code="output_mismatch")
    last_complete = data.endswith(b"\n") and len(records[-1]) == len(CSV_COLUMNS)
    if not last_complete and len(records) > 1:
        return records[:-1], ends[-2]
    return records, ends[-1]


def _key(file: str) -> str:
    """The resume key of a path: normalised as inputs are (``a//b`` = ``a/b``), nothing
    else (spaces, newlines and case are kept); URIs as they are."""
    return file if "://" in file else os.path.normpath(file)


def _done_files(csv_path: Path) -> set[str]:
    """The files already in a batch CSV (read only; ``output_mismatch`` if not ours)."""
    csv_path = Path(csv_path)
    if not csv_path.exists():
        return set()
    records, _ = _parse_csv(csv_path.read_bytes(), csv_path) if csv_path.stat().st_size else (
        [], 0)
    return {_key(formula_unsafe(r[0])) for r in records[1:] if r}


# A JSONL record starts with the real path of its CSV (``{"batch_csv": "/r/a.csv", "file":
# ...``): that is how a run knows the records its CSV's runs wrote from those of other runs
# (another --out appending to the same JSONL) and from the user's own lines. A run drops
# only records of its own CSV for files it is about to analyse again (a kill between the
# JSONL line and the CSV row), and a record cut short by a kill; nothing else, ever.

def _jsonl_record(line: bytes) -> tuple[bool, str | None, str]:
    """(ours, the CSV it names or None, its resume key) of one complete JSONL line. Records
    of versions before the tag (``file`` plus the contract's ``ok`` and ``schema_version``)
    are ours to append after, never to drop."""
    try:
        obj = json.loads(line.decode(**_ENC))
    except (ValueError, RecursionError):
        return False, None, ""
    if not isinstance(obj, dict) or not isinstance(obj.get("file"), str):
        return False, None, ""
    tag = obj.get(_JSONL_TAG)
    if isinstance(tag, str):
        return True, tag, _key(obj["file"])
    return {"ok", "schema_version"} <= obj.keys(), None, _key(obj["file"])


@dataclass(frozen=True)
class _JsonlScan:
    """A JSONL read as ours: its complete records (start, end, tag, key) and where the
    complete records end (a record cut short by a kill may follow)."""

    records: list[tuple[int, int, str | None, str]]
    end: int


def _scan_jsonl(data: bytes) -> _JsonlScan | None:
    """The records of a JSONL we may write to, or None when it holds anything that is not
    a posture batch record (the user's own file, whatever its first bytes)."""
    records, pos = [], 0
    while (nl := data.find(b"\n", pos)) >= 0:
        ours, tag, key = _jsonl_record(data[pos:nl + 1])
        if not ours:
            return None
        records.append((pos, nl + 1, tag, key))
        pos = nl + 1
    tail = data[pos:]
    if tail:  # no newline at the end: a record cut by a kill (or a full disk), or not ours
        try:
            json.loads(tail.decode(**_ENC))
            whole = True
        except (ValueError, RecursionError):
            whole = False
        if whole:  # all but its newline written: ours or not, as any record
            ours = _jsonl_record(tail)[0]
        else:  # cut: ours when it starts as ours do (an untagged one only after records)
            ours = any(m.startswith(tail) or tail.startswith(m) for m in (_JSONL_MARK,) + (
                (_LEGACY_MARK,) if records else ()))
        if not ours:
            return None
    return _JsonlScan(records, pos)


def _check_jsonl_is_ours(path: Path) -> bool:
    """True when ``path`` exists; ``output_mismatch`` when it holds something not ours.
    Read only: the run checks again under its lock before it writes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise not_writable(path, exc, "--jsonl") from None
    if _scan_jsonl(data) is None:
        raise _jsonl_mismatch(path)
    return True


def _jsonl_mismatch(path: Path) -> PostureError:
    return PostureError(f"{path} exists and is not a JSONL written by posture batch; "
                        "choose another --jsonl, or --overwrite to replace it",
                        code="output_mismatch")


def _jsonl_repair(data: bytes, scan: _JsonlScan, tag: str, redo: set[str]) -> bytes | int:
    """What a run may take out of a JSONL: its own CSV's records of the files in ``redo``
    (to be written again) and a cut last record. Returns the length to truncate to when
    only the end goes, else the new content."""
    drop = [(s, e) for s, e, t, k in scan.records if t == tag and k in redo]
    if all(e == (drop[i + 1][0] if i + 1 < len(drop) else scan.end)
           for i, (_, e) in enumerate(drop)):
        return drop[0][0] if drop else scan.end  # a tail: truncate in place
    keep, pos = [], 0
    for s, e in drop:
        keep.append(data[pos:s])
        pos = e
    keep.append(data[pos:scan.end])
    return b"".join(keep)


def _sync_jsonl(path: Path, tag: str, redo: set[str], *, overwrite: bool = False) -> int:
    """Open ``path`` for appending, locked for the run, after taking out what
    :func:`_jsonl_repair` allows. Returns the file descriptor (the lock lives with it).

    Raises
    ------
    OutputError / PostureError
        ``output_locked`` when another run holds it, ``output_mismatch`` when it is not
        ours (unless ``overwrite``: then it is replaced by an empty file), ``output_not_writable``.
    """
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise not_writable(path, exc, "--jsonl") from None
        try:
            _lock(fd, path, "--jsonl")
            if not _still_linked(fd, path):  # replaced while we waited: open the new one
                os.close(fd)
                continue
            data = _read_fd(fd)
            scan = _scan_jsonl(data)
            if scan is None:
                if not overwrite:
                    raise _jsonl_mismatch(path)
                new = _replace_locked(path, b"", fd, "--jsonl")
            else:
                fix = _jsonl_repair(data, scan, tag, redo)
                if isinstance(fix, int):
                    if fix < len(data):
                        os.ftruncate(fd, fix)
                    return fd
                new = _replace_locked(path, fix, fd, "--jsonl")
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return new
    raise OutputError(f"{path} keeps changing under us", code="output_locked")


def _lock(fd: int, path: Path, what: str) -> None:
    """Lock an output for this run, or ``output_locked`` if another run holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise OutputError(f"another posture batch is writing {path} now; wait for it or "
                          f"choose another {what}", code="output_locked") from None


def _still_linked(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not unlinked or replaced by a rename)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and a.st_nlink > 0


def _replace_locked(path: Path, data: bytes, old_fd: int, what: str) -> int:
    """Replace ``path`` by a new file holding ``data``, locked before it is renamed into
    place (no other run can take it in between), with the old file's permissions. Returns
    its descriptor, open for appending."""
    mode = os.fstat(old_fd).st_mode & 0o777
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise not_writable(path, exc, what) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file: nobody else can hold it
        _write_all(fd, data, path, what)
        try:
            os.fsync(fd)
            os.fchmod(fd, mode)
            os.replace(tmp, path)
        except OSError as exc:
            raise not_writable(path, exc, what) from None
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd


def _write_all(fd: int, data: bytes, path: Path, what: str) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise not_writable(path, exc, what) from None


class _Outputs:
    """The run's CSV and JSONL (both locked for the run) and annotation folder, checked
    before anything is written. ``done`` holds the files already in the CSV, ``analysed``
    those of them that were analysed (no error code: they have an overlay to draw)."""

    def __init__(self, csv_path: Path, jsonl_path: Path | None, annotate_dir: Path | None,
                 inputs: list[str], *, overwrite: bool = False):
        self.csv_path, self.jsonl_path = csv_path, jsonl_path
        self._fd = self._jsonl_fd = -1
        self.done: set[str] = set()
        self.analysed: set[str] = set()
        check_distinct({"--out": csv_path, "--jsonl": jsonl_path})
        if annotate_dir is not None:
            for p, what in ((csv_path, "--out"), (jsonl_path, "--jsonl")):
                if p is not None and os.path.realpath(p) == os.path.realpath(annotate_dir):
                    raise OutputError(f"{what} and --annotate are the same path",
                                      code="output_conflict")
        index = InputIndex(inputs)
        for p, what in ((csv_path, "--out"), (jsonl_path, "--jsonl")):
            if p is not None:
                check_regular_or_absent(p, what)
                check_not_input(p, index, what)
        if jsonl_path is not None and not overwrite:
            _check_jsonl_is_ours(jsonl_path)  # refused before the CSV is created
        self._open_csv(overwrite)
        self.tag = os.path.realpath(csv_path)
        try:
            if jsonl_path is not None:
                redo = {_key(f) for f in inputs} - self.done
                self._jsonl_fd = _sync_jsonl(jsonl_path, self.tag, redo, overwrite=overwrite)
        except BaseException:
            self.close()
            raise

    def _open_csv(self, overwrite: bool) -> None:
        path = self.csv_path
        for _attempt in range(3):
            if not path.exists():
                if not path.parent.is_dir():
                    try:
                        path.parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise not_writable(path, exc, "--out") from None
                try:
                    write_atomic(path, _header_text().encode(), replace=False, what="--out")
                except OutputError as err:
                    if err.code != "output_exists":  # another run created it just now
                        raise
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise not_writable(path, exc, "--out") from None
            try:
                _lock(fd, path, "--out")
            except OutputError:
                os.close(fd)
                raise
            if not _still_linked(fd, path):  # replaced while we waited: open the new one
                os.close(fd)
                continue
            data = _read_fd(fd)
            try:
                records, keep = _parse_csv(data, path) if data else ([], 0)
            except PostureError:
                os.close(fd)
                if not overwrite:
                    raise
                write_atomic(path, _header_text().encode(), replace=True, what="--out")
                continue
            if not records:  # empty, or a header cut short: ours, start it again
                os.ftruncate(fd, 0)
                _write_all(fd, _header_text().encode(), path, "--out")
            elif keep < len(data):
                os.ftruncate(fd, keep)  # a record cut by a kill: that image runs again
            self._fd = fd
            rows = [(_key(formula_unsafe(r[0])), r) for r in records[1:] if r]
            self.done = {k for k, _ in rows}
            error_code = CSV_COLUMNS.index("error_code")
            self.analysed = {k for k, r in rows if len(r) > error_code and not r[error_code]}
            return
        raise OutputError(f"{path} keeps changing under us", code="output_locked")

    def write(self, file: str, d: dict[str, Any]) -> None:
        if self._jsonl_fd >= 0:  # JSONL first: the CSV row is what marks a file done
            line = json.dumps({_JSONL_TAG: self.tag, "file": file, **d},
                              ensure_ascii=False) + "\n"
            _write_all(self._jsonl_fd, line.encode(**_ENC), self.jsonl_path, "--jsonl")
        # one write() per row: a kill cannot leave half of it
        _write_all(self._fd, _row_text(file, d).encode(**_ENC), self.csv_path, "--out")

    def close(self) -> None:
        for fd in (self._jsonl_fd, self._fd):
            if fd >= 0:
                os.close(fd)  # closing releases the lock
        self._fd = self._jsonl_fd = -1


def _read_fd(fd: int) -> bytes:
    chunks, off = [], 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        off += len(b)


def check_annotations(annots: dict[str, str], annotate_dir: Path, inputs: list[str],
                      others: list[Path | None], *, overwrite: bool = False,
                      create: bool = False) -> None:
    """Refuse an annotation folder that holds inputs (overlays would be analysed as photos
    on the next run, or replace them; inputs given as ``file://`` URIs included), a folder
    that is a file, annotation paths that exist without being ours, and (with ``create``,
    once the folder exists) a folder that cannot be written to: read-only or full."""
    if annotate_dir.exists() and not annotate_dir.is_dir():
        raise OutputError(f"--annotate {annotate_dir} is not a folder",
                          code="output_not_writable")
    index = InputIndex(inputs)
    inside = input_within(annotate_dir, index)
    if inside is not None:
        raise OutputError(f"--annotate {annotate_dir} holds an input ({inside}); write the "
                          "annotated images to a folder of their own",
                          code="output_conflict")
    if create:
        try:
            annotate_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise not_writable(annotate_dir, exc, "--annotate folder") from None
        check_writable_dir(annotate_dir, "--annotate folder")
    for f, target in annots.items():
        prepare_image_output(target, index, overwrite=overwrite, what="annotated image",
                             probe=False)
        for o in others:
            if o is not None and same_file(o, target):
                raise OutputError(f"the annotated image of {f} would be {o}",
                                  code="output_conflict")


def summarize(csv_path: str | os.PathLike, *, processed: int = 0,
              skipped: int = 0) -> BatchSummary:
    """Counts over every row of a batch CSV."""
    measured = abstained = 0
    errors: Counter[str] = Counter()
    rows = 0
    with open(csv_path, newline="", **_ENC) as f:
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
    from .threads import limit_worker_threads

    limit_worker_threads()  # one BLAS/OpenCV thread each: workers must not fight for cores

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
            results.put(("done", os.getpid(), file, analyze_file(analyzer, file, annotate_to)))


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
        from .contract import error_to_dict

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
    workers: int | str = 1,
    model: str | None = None,
    progress: bool = True,
    analyzer_factory: Callable[[], Any] | None = None,
    overwrite: bool = False,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """Analyse every image of ``inputs`` (folder, glob or list of paths) into ``out_csv``.

    Parameters
    ----------
    jsonl
        Also write one JSON object per image (``file`` plus the full contract).
    annotate_dir
        Write an annotated PNG per analysed image here.
    workers
        Processes in parallel; 1 analyses in this process; ``"auto"`` from the cores
        (:func:`posture.threads.auto_workers`; with ``engine="ray"``, the cluster's).
    model
        Pose model variant or .task path (default: the full model).
    analyzer_factory
        For ``workers == 1`` only: makes the analyzer (a context manager with
        ``.analyze(frame)``); tests use it to run without the pose model.
    overwrite
        Replace an existing ``out_csv`` / ``jsonl`` / annotated image that was not written
        by posture (otherwise refused with ``output_mismatch`` / ``output_exists``). Inputs
        are never written to, whatever this says.
    engine
        ``"local"`` (processes here) or ``"ray"`` (Ray Data, :mod:`posture.engines.ray_engine`,
        which also reads URIs); ``engine_options`` go to its ``run_ray`` (``address``, ...).

    Raises
    ------
    OutputError
        Before anything is written, for an output that is an input, not ours, not a
        regular file, or locked by another run (see :mod:`posture.outputs`).
    """
    if workers == "auto" and engine != "ray":
        from .threads import auto_workers

        workers = auto_workers()
    if workers != "auto" and workers < 1:
        raise PostureError("--workers must be at least 1", code="bad_argument")
    if engine == "ray" and isinstance(inputs, str) and "://" in inputs:
        from .engines.uris import expand_uri

        files = expand_uri(inputs)  # URIs as listed: a path's normalisation would break them
    else:
        files = expand_inputs(inputs) if isinstance(inputs, str) else _unique_files(
            inputs, keep_missing=True)
    out_csv, jsonl_path = Path(out_csv), Path(jsonl) if jsonl else None
    # a glob such as 'dir/*' also matches our own CSV/JSONL in dir: they are not photos
    files = [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS) or not any(
        o is not None and same_file(f, o) for o in (out_csv, jsonl_path))]
    if annotate_dir is not None:  # the folder, before any output is created
        check_annotations({}, Path(annotate_dir), files, [], overwrite=overwrite)
    writer = _Outputs(out_csv, jsonl_path, Path(annotate_dir) if annotate_dir else None,
                      files, overwrite=overwrite)
    try:
        todo_files = [f for f in files if _key(f) not in writer.done]
        annots, redraw = {}, set()
        if annotate_dir is not None:
            annots = annotation_names(files, annotate_dir)
            # rows already there whose overlay is missing (a full disk, a read-only folder,
            # or --annotate added on a rerun): analysed again for the overlay only
            redraw = {f for f in files if _key(f) in writer.analysed
                      and not os.path.lexists(annots[f])}
            check_annotations({f: annots[f] for f in todo_files + sorted(redraw)},
                              Path(annotate_dir), files, [out_csv, jsonl_path],
                              overwrite=overwrite, create=True)
    except BaseException:
        writer.close()
        raise
    todo = deque((f, annots.get(f)) for f in todo_files + sorted(redraw))
    skipped = len(files) - len(todo_files)

    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="img", disable=not progress, file=sys.stderr,
               desc="analysing")
    processed = redrawn = 0
    overlay_errors: Counter[str] = Counter()
    first_overlay_error: list[str] = []

    def on_result(file: str, d: dict) -> None:
        nonlocal processed, redrawn
        failed = d.pop(OVERLAY_ERROR, None)
        if file in redraw:  # its row is there already: only the overlay was wanted
            if failed is None and d.get("error"):
                failed = d["error"]
            redrawn += failed is None
        else:
            writer.write(file, d)  # the measurement, whatever became of its overlay
            processed += 1
        if failed is not None:
            overlay_errors[failed.get("code") or "internal_error"] += 1
            if not first_overlay_error:
                first_overlay_error.append(f"{file}: {failed.get('message')}")
        bar.update(1)

    try:
        if not todo:
            pass
        elif engine == "ray":
            from .engines.ray_engine import run_ray

            run_ray(todo, on_result, model=model, workers=workers,
                    analyzer_factory=analyzer_factory, **(engine_options or {}))
        elif workers == 1:
            from .analysis import Analyzer
            from .threads import worker_threads

            with worker_threads(), (analyzer_factory or (lambda: Analyzer(model)))() as analyzer:
                while todo:
                    file, annot = todo.popleft()
                    on_result(file, analyze_file(analyzer, file, annot))
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
    return dataclasses.replace(
        summarize(out_csv, processed=processed, skipped=skipped), overlays_redrawn=redrawn,
        overlay_errors=dict(overlay_errors),
        first_overlay_error=first_overlay_error[0] if first_overlay_error else None)
