"""The records of a batch JSONL: which are ours (and of which CSV), which a run may take
out again, and the check, read only, that a JSONL is ours before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PostureError
from ..outputs import not_writable
from .inputs import resume_key
from .rows import ENC

JSONL_TAG = "batch_csv"  # the first key of every JSONL record: its CSV's real path
_JSONL_MARK = b'{"batch_csv": '  # so every JSONL record we write starts
_LEGACY_MARK = b'{"file": '  # as records of versions before the tag started


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
        obj = json.loads(line.decode(**ENC))
    except (ValueError, RecursionError):
        return False, None, ""
    if not isinstance(obj, dict) or not isinstance(obj.get("file"), str):
        return False, None, ""
    tag = obj.get(JSONL_TAG)
    if isinstance(tag, str):
        return True, tag, resume_key(obj["file"])
    return {"ok", "schema_version"} <= obj.keys(), None, resume_key(obj["file"])


@dataclass(frozen=True)
class JsonlScan:
    """A JSONL read as ours: its complete records (start, end, tag, key) and where the
    complete records end (a record cut short by a kill may follow)."""

    records: list[tuple[int, int, str | None, str]]
    end: int


def scan_jsonl(data: bytes) -> JsonlScan | None:
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
            json.loads(tail.decode(**ENC))
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
    return JsonlScan(records, pos)


def check_jsonl_is_ours(path: Path) -> bool:
    """True when ``path`` exists; ``output_mismatch`` when it holds something not ours.
    Read only: the run checks again under its lock before it writes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise not_writable(path, exc, "--jsonl") from None
    if scan_jsonl(data) is None:
        raise jsonl_mismatch(path)
    return True


def jsonl_mismatch(path: Path) -> PostureError:
    return PostureError(f"{path} exists and is not a JSONL written by posture batch; "
                        "choose another --jsonl, or --overwrite to replace it",
                        code="output_mismatch")


def jsonl_repair(data: bytes, scan: JsonlScan, tag: str, redo: set[str]) -> bytes | int:
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
