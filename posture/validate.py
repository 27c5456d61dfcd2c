"""Validate the photo reading against a clinic's own instrument (``posture validate``).

A clinic photographs people whose pelvic tilt it also measured with its palpation meter or
inclinometer and lists both in a CSV. This module reads that file, analyses every photo and
reports how the two agree (:mod:`posture.agreement`): Bland–Altman bias and limits, ICC(2,1),
SEM and MDC95. Nothing is stored; the plot is written only where the user asks.

CSV columns (header row required; other columns are ignored):

``photo``
    Path of the side-view photo, absolute or relative to the CSV's folder.
``reference_deg``
    The instrument's pelvic tilt for that person, degrees, positive = anterior (ASIS lower
    than PSIS), the convention of ``pelvic_tilt_deg``.
``subject`` (optional)
    An id shown in the per-row listing.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .agreement import Agreement, agreement
from .errors import InputError, PostureError

#: A readings file is a small table: refuse anything larger before reading it.
MAX_CSV_BYTES = 10 * 1024 * 1024
REQUIRED_COLUMNS = ("photo", "reference_deg")


@dataclass(frozen=True)
class ReferenceRow:
    """One line of the readings file."""

    line: int
    photo: Path
    reference_deg: float
    subject: str = ""


@dataclass(frozen=True)
class RowOutcome:
    """A row after analysis: the photo's tilt (degrees) or why there is none."""

    row: ReferenceRow
    estimate_deg: float | None
    why_not: str = ""


@dataclass(frozen=True)
class Validation:
    """Every row's outcome and, over the rows measured both ways, their agreement."""

    outcomes: tuple[RowOutcome, ...]
    stats: Agreement

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(estimates, references) of the measured rows, degrees."""
        done = [o for o in self.outcomes if o.estimate_deg is not None]
        return (np.array([o.estimate_deg for o in done]),
                np.array([o.row.reference_deg for o in done]))


def read_readings(path: str | os.PathLike) -> list[ReferenceRow]:
    """Parse a readings CSV (see the module docstring).

    Raises
    ------
    InputError
        ``not_a_regular_file``, ``file_too_large``, or ``invalid_readings`` naming the line
        and what is wrong with it.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"cannot read {os.fspath(p)!r}: {exc.strerror}",
                         code="file_not_found") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{os.fspath(p)!r} is not a regular file", code="not_a_regular_file")
    if st.st_size > MAX_CSV_BYTES:
        raise InputError(f"{os.fspath(p)!r} is over {MAX_CSV_BYTES // 2**20} MB; a readings "
                         "file is a small table", code="file_too_large")
    with p.open("rb") as f:
        raw = f.read(MAX_CSV_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{os.fspath(p)!r} is not UTF-8 text", code="invalid_readings") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"{os.fspath(p)!r}: missing column(s) {', '.join(missing)} (needs "
                         f"{', '.join(REQUIRED_COLUMNS)})", code="invalid_readings")
    rows = []
    for rec in reader:
        line = reader.line_num
        photo = (rec.get("photo") or "").strip()
        if not photo:
            raise InputError(f"line {line}: no photo", code="invalid_readings")
        try:
            ref = float((rec.get("reference_deg") or "").strip())
        except ValueError:
            raise InputError(f"line {line}: reference_deg {rec.get('reference_deg')!r} is not a "
                             "number of degrees", code="invalid_readings") from None
        if not math.isfinite(ref) or abs(ref) > 90:
            raise InputError(f"line {line}: reference_deg {ref} is not a tilt in degrees",
                             code="invalid_readings")
        ph = Path(photo)
        rows.append(ReferenceRow(line, ph if ph.is_absolute() else p.parent / ph, ref,
                                 (rec.get("subject") or "").strip()))
    if not rows:
        raise InputError(f"{os.fspath(p)!r} has no readings", code="invalid_readings")
    return rows


def validate(rows: list[ReferenceRow], measure: Callable[[Path], float | None], *,
             progress: Callable[[int, int], None] | None = None) -> Validation:
    """Measure every row's photo with ``measure`` (a photo path → tilt in degrees, or None
    when it abstains; a :class:`PostureError` it raises is recorded for that row) and
    compare with the references.

    Raises
    ------
    PostureError
        ``too_few_pairs`` when fewer than 3 rows were measured both ways.
    """
    out = []
    for i, row in enumerate(rows):
        try:
            est = measure(row.photo)
            out.append(RowOutcome(row, est, "" if est is not None else "abstained"))
        except PostureError as err:
            out.append(RowOutcome(row, None, err.code))
        if progress:
            progress(i + 1, len(rows))
    done = [o for o in out if o.estimate_deg is not None]
    if len(done) < 3:
        raise PostureError(f"only {len(done)} of {len(rows)} photos were measured; agreement "
                           "needs at least 3", code="too_few_pairs")
    stats = agreement(np.array([o.estimate_deg for o in done]),
                      np.array([o.row.reference_deg for o in done]))
    return Validation(tuple(out), stats)


def summary_lines(v: Validation) -> list[str]:
    """The agreement in words and numbers, each with its unit."""
    s = v.stats
    skipped = [o for o in v.outcomes if o.estimate_deg is None]
    lines = [
        f"Photos measured: {s.n} of {len(v.outcomes)}"
        + (f" ({len(skipped)} not: " + ", ".join(
            f"line {o.row.line} {o.why_not}" for o in skipped[:10])
           + (" ..." if len(skipped) > 10 else "") + ")" if skipped else ""),
        "Photo minus reference, pelvic tilt (degrees, positive = anterior):",
        f"  bias {s.bias:+.2f}°, SD {s.sd_diff:.2f}°, 95% limits of agreement "
        f"{s.loa_low:+.2f}° to {s.loa_high:+.2f}°, mean |difference| {s.mae:.2f}°",
        f"  ICC(2,1) {s.icc:.3f} (two-way random, absolute agreement, single measurement)",
        f"  SEM {s.sem:.2f}°, MDC95 {s.mdc95:.2f}° (1.96·√2·SEM)",
    ]
    if s.n < 30:
        lines.append(f"  Note: {s.n} people give wide confidence limits on these figures; "
                     "Bland and Altman suggest at least 30–40.")
    return lines


def to_dict(v: Validation) -> dict:
    """JSON-ready figures and rows."""
    s = v.stats
    return {
        "n_rows": len(v.outcomes), "n_measured": s.n, "unit": "deg",
        "convention": "photo minus reference; pelvic tilt positive = anterior",
        "bias_deg": round(s.bias, 3), "sd_diff_deg": round(s.sd_diff, 3),
        "loa_deg": [round(s.loa_low, 3), round(s.loa_high, 3)], "mae_deg": round(s.mae, 3),
        "icc_2_1": round(s.icc, 4), "sem_deg": round(s.sem, 3), "mdc95_deg": round(s.mdc95, 3),
        "rows": [{"line": o.row.line, "photo": str(o.row.photo), "subject": o.row.subject,
                  "reference_deg": o.row.reference_deg,
                  "estimate_deg": None if o.estimate_deg is None else round(o.estimate_deg, 2),
                  "not_measured": o.why_not or None} for o in v.outcomes],
    }
