"""Typical ranges of the secondary findings (``posture/data/typical_ranges.yaml``).

"Typical" is where most adults without symptoms stand, with the source of each range in the
data file; it is context for a number, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .config import load_data_file
from .errors import DataFileError


@dataclass(frozen=True)
class TypicalRange:
    """One finding's typical range, in its own unit and sign convention.

    ``low``/``high`` are degrees for the angles here; None = unbounded on that side.
    """

    key: str  # contract key, e.g. "lumbar_lordosis_deg"
    label: str
    low: float | None
    high: float | None
    how: str  # how the range was obtained, in words
    sources: tuple[str, ...]

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and \
            (self.high is None or value <= self.high)

    def text(self, unit: str = "°") -> str:
        """The range in words: "20° to 45°", "50° or more", "5° or less"."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}{unit} to {self.high:g}{unit}"
        if self.low is not None:
            return f"{self.low:g}{unit} or more"
        return f"{self.high:g}{unit} or less"


def _bound(v, where: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DataFileError(f"typical_ranges.yaml: {where} must be a number or null")
    return float(v)


@cache
def typical_ranges() -> dict[str, TypicalRange]:
    """The validated ranges, by contract key."""
    data = load_data_file("typical_ranges.yaml")
    raw = data.get("ranges")
    if not isinstance(raw, dict) or not raw:
        raise DataFileError("typical_ranges.yaml: 'ranges' must be a non-empty mapping")
    out = {}
    for key, r in raw.items():
        if not isinstance(r, dict):
            raise DataFileError(f"typical_ranges.yaml: {key} must be a mapping")
        rng = r.get("range")
        if not isinstance(rng, list) or len(rng) != 2:
            raise DataFileError(f"typical_ranges.yaml: {key}.range must be [low, high]")
        low, high = _bound(rng[0], f"{key}.range[0]"), _bound(rng[1], f"{key}.range[1]")
        if low is None and high is None or (low is not None and high is not None
                                            and low >= high):
            raise DataFileError(f"typical_ranges.yaml: {key}.range is empty or unbounded")
        sources = r.get("sources")
        if not isinstance(sources, list) or not sources or \
                not all(isinstance(s, str) and s.strip() for s in sources):
            raise DataFileError(f"typical_ranges.yaml: {key} needs a list of sources")
        out[str(key)] = TypicalRange(str(key), str(r.get("label", key)), low, high,
                                     " ".join(str(r.get("how", "")).split()), tuple(sources))
    return out


def typical_note() -> str:
    return " ".join(str(load_data_file("typical_ranges.yaml").get("note", "")).split())


def judge(key: str, value: float | None) -> tuple[bool, TypicalRange] | None:
    """``(inside, range)`` for a finding's value; None without a value or a range."""
    r = typical_ranges().get(key)
    if r is None or value is None:
        return None
    return r.contains(float(value)), r
