"""The resumable output files of a batch: the CSV and JSONL, locked for the run, opened
after their content is found ours and a record cut by a kill is taken out; the annotation
folder checked before anything is written."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..csvcells import formula_unsafe
from ..errors import OutputError, PostureError
from ..outputs import (
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
from .inputs import resume_key
from .jsonl import JSONL_TAG, check_jsonl_is_ours, jsonl_mismatch, jsonl_repair, scan_jsonl
from .rows import CSV_COLUMNS, ENC, header_text, parse_csv, row_text

# Ours or not is decided from the content, read-only, before anything is written; only then
# is a cut last record (a kill mid-write) trimmed. The CSV is locked for the whole run.


def sync_jsonl(path: Path, tag: str, redo: set[str], *, overwrite: bool = False) -> int:
    """Open ``path`` for appending, locked for the run, after taking out what
    :func:`jsonl_repair` allows. Returns the file descriptor (the lock lives with it).

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
            data = read_fd(fd)
            scan = scan_jsonl(data)
            if scan is None:
                if not overwrite:
                    raise jsonl_mismatch(path)
                new = _replace_locked(path, b"", fd, "--jsonl")
            else:
                fix = jsonl_repair(data, scan, tag, redo)
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
        write_all(fd, data, path, what)
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


def write_all(fd: int, data: bytes, path: Path, what: str) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise not_writable(path, exc, what) from None


class Outputs:
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
            check_jsonl_is_ours(jsonl_path)  # refused before the CSV is created
        self._open_csv(overwrite)
        self.tag = os.path.realpath(csv_path)
        try:
            if jsonl_path is not None:
                redo = {resume_key(f) for f in inputs} - self.done
                self._jsonl_fd = sync_jsonl(jsonl_path, self.tag, redo, overwrite=overwrite)
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
                    write_atomic(path, header_text().encode(), replace=False, what="--out")
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
            data = read_fd(fd)
            try:
                records, keep = parse_csv(data, path) if data else ([], 0)
            except PostureError:
                os.close(fd)
                if not overwrite:
                    raise
                write_atomic(path, header_text().encode(), replace=True, what="--out")
                continue
            if not records:  # empty, or a header cut short: ours, start it again
                os.ftruncate(fd, 0)
                write_all(fd, header_text().encode(), path, "--out")
            elif keep < len(data):
                os.ftruncate(fd, keep)  # a record cut by a kill: that image runs again
            self._fd = fd
            rows = [(resume_key(formula_unsafe(r[0])), r) for r in records[1:] if r]
            self.done = {k for k, _ in rows}
            error_code = CSV_COLUMNS.index("error_code")
            self.analysed = {k for k, r in rows if len(r) > error_code and not r[error_code]}
            return
        raise OutputError(f"{path} keeps changing under us", code="output_locked")

    def write(self, file: str, d: dict[str, Any]) -> None:
        if self._jsonl_fd >= 0:  # JSONL first: the CSV row is what marks a file done
            line = json.dumps({JSONL_TAG: self.tag, "file": file, **d},
                              ensure_ascii=False) + "\n"
            write_all(self._jsonl_fd, line.encode(**ENC), self.jsonl_path, "--jsonl")
        # one write() per row: a kill cannot leave half of it
        write_all(self._fd, row_text(file, d).encode(**ENC), self.csv_path, "--out")

    def close(self) -> None:
        for fd in (self._jsonl_fd, self._fd):
            if fd >= 0:
                os.close(fd)  # closing releases the lock
        self._fd = self._jsonl_fd = -1


def read_fd(fd: int) -> bytes:
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
