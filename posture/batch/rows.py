"""The rows of a batch CSV: its columns, one row per result, reading a CSV back (for the
resume and the summary) and the run's summary."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import ABSTAINED_KEY, flat_columns, flat_row, from_dict
from ..csvcells import formula_safe, formula_unsafe
from ..errors import PostureError
from ..result import Reading
from .inputs import resume_key

#: Columns of the CSV, in order: the file, then the contract's one-row form
#: (:func:`posture.contract.flat_columns`; two-number intervals split into ``_lo``/``_hi``).
CSV_COLUMNS = ("file", *flat_columns())

ENC = {"encoding": "utf-8", "errors": "surrogateescape"}  # file names need not be UTF-8


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

def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, str):
        return " ".join(v.split())  # one record per line: the resume logic relies on it
    return v


def csv_row(file: str, d: dict[str, Any] | Reading) -> dict[str, Any]:
    """The CSV row of one result (a contract dict or its typed :class:`Reading`)."""
    row = flat_row(from_dict(d, strict=False))
    # the file exactly, not through _cell: it is the resume key (names may hold newlines,
    # two spaces)
    return {"file": file, **{k: _cell(v) for k, v in row.items()}}


def header_text() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(CSV_COLUMNS)
    return buf.getvalue()


def row_text(file: str, d: dict[str, Any]) -> str:
    # every cell quoted: a CR in a file name would otherwise go out bare and split the row
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(
        [formula_safe(v) for v in csv_row(file, d).values()])
    return buf.getvalue()


def parse_csv(data: bytes, where: Path) -> tuple[list[list[str]], int]:
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
            yield line.decode(**ENC)

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
        if len(records) == 1 and not data.endswith(b"\n") and header_text().startswith(
                data.decode(**ENC)):
            return [], 0
        raise mismatch
    if b"\0" in data:
        raise PostureError(f"{where} holds NUL bytes: damaged; choose another --out",
                           code="output_mismatch")
    last_complete = data.endswith(b"\n") and len(records[-1]) == len(CSV_COLUMNS)
    if not last_complete and len(records) > 1:
        return records[:-1], ends[-2]
    return records, ends[-1]



def done_files(csv_path: Path) -> set[str]:
    """The files already in a batch CSV (read only; ``output_mismatch`` if not ours)."""
    csv_path = Path(csv_path)
    if not csv_path.exists():
        return set()
    records, _ = parse_csv(csv_path.read_bytes(), csv_path) if csv_path.stat().st_size else (
        [], 0)
    return {resume_key(formula_unsafe(r[0])) for r in records[1:] if r}


def summarize(csv_path: str | os.PathLike, *, processed: int = 0,
              skipped: int = 0) -> BatchSummary:
    """Counts over every row of a batch CSV."""
    measured = abstained = 0
    errors: Counter[str] = Counter()
    rows = 0
    with open(csv_path, newline="", **ENC) as f:
        for r in csv.DictReader(f):
            rows += 1
            if r["error_code"]:
                errors[r["error_code"]] += 1
            elif r[ABSTAINED_KEY] == "True":
                abstained += 1
            else:
                measured += 1
    return BatchSummary(rows, measured, abstained, dict(errors), processed, skipped)
