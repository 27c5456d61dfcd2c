"""The measure registry (``posture/data/measures.yaml``): every number the tool reports,
declared once with its unit, sign convention, interval kind, typical range, the view that
measures it, its contract keys and its explanation for people.

Whatever lists measures (the contract codec, the CSV/JSON exports, the clinic's history
charts, the app's panel, the live capture) iterates over :func:`measures` instead of naming
them, so a new measure or view adds entries here and code where it is measured
(``docs/measures.md``).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import load_data_file
from .errors import DataFileError

FILE = "measures.yaml"


class MeasureSpec(BaseModel):
    """One measure as ``measures.yaml`` declares it (the file's comment explains each
    field). ``unit`` is "deg" or "stature"; ``interval`` says how the interval is obtained
    ("learned": the estimator's half-width at the tilt; "typical_error": the estimator
    file's typical landmark error; "bench": the 90% half-width measured on labelled renders,
    ``frontal_intervals.yaml``; "none")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    view: str
    unit: Literal["deg", "stature"]
    key: str
    interval_key: str | None = None
    interval: Literal["learned", "typical_error", "bench", "none"]
    convention: str
    sign: str
    label: str
    title: str
    panel: Literal["headline", "finding"]
    flag: str | None = None
    flag_label: str | None = None
    on_error: tuple[Literal["key", "interval_key"], ...] = ()
    typical: str | None = None
    no_typical: str | None = None
    explain: str
    sources: tuple[str, ...] = ()


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    measures: dict[str, dict]


@cache
def measures() -> tuple[MeasureSpec, ...]:
    """Every measure, in the file's order (the order outputs list them)."""
    raw = load_data_file(FILE)
    try:
        f = _File.model_validate(raw)
        out = tuple(MeasureSpec.model_validate({"name": n, **m})
                    for n, m in f.measures.items())
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        raise DataFileError(f"{FILE}: {where}: {e['msg']}") from None
    if not out:
        raise DataFileError(f"{FILE}: 'measures' must not be empty")
    keys = [k for m in out for k in (m.key, m.interval_key) if k]
    if len(keys) != len(set(keys)):
        raise DataFileError(f"{FILE}: a contract key is declared twice")
    return out


def spec(name: str) -> MeasureSpec:
    """The measure called ``name`` (KeyError for one the registry does not declare)."""
    for m in measures():
        if m.name == name:
            return m
    raise KeyError(name)


def names(view: str | None = None) -> tuple[str, ...]:
    """The measures' names, of one view (``side``, ...) or all."""
    return tuple(m.name for m in measures() if view is None or m.view == view)


def by_key(key: str) -> MeasureSpec | None:
    """The measure whose top-level contract key is ``key``, or None."""
    return next((m for m in measures() if m.key == key), None)


def findings() -> tuple[MeasureSpec, ...]:
    """The measures the app's panel shows as "other findings", in order."""
    return tuple(m for m in measures() if m.panel == "finding")
