"""Typical ranges of the secondary findings (``posture/data/typical_ranges.yaml``).

"Typical" is where most adults without symptoms stand, with the source of each range in the
data file; it is context for a number, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .config import read_data_file
from .schemas import TypicalRangesFile


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


@cache
def _ranges_file() -> TypicalRangesFile:
    return read_data_file("typical_ranges.yaml", TypicalRangesFile)


@cache
def typical_ranges() -> dict[str, TypicalRange]:
    """The validated ranges, by contract key (:class:`TypicalRangesFile`)."""
    return {key: TypicalRange(key, r.label or key, r.range[0], r.range[1],
                              " ".join(r.how.split()), tuple(r.sources))
            for key, r in _ranges_file().ranges.items()}


def typical_note() -> str:
    return " ".join(_ranges_file().note.split())


def judge(key: str, value: float | None) -> tuple[bool, TypicalRange] | None:
    """``(inside, range)`` for a finding's value; None without a value or a range."""
    r = typical_ranges().get(key)
    if r is None or value is None:
        return None
    return r.contains(float(value)), r
