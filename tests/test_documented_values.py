"""The values the README documents are the values the code uses.

The severity band edges are a heuristic a clinician reads in the README; a change in
``bands.yaml`` or in the classifier that moves an edge must change the README too, so this
test reads the README's table as its oracle and probes the classifier 0.1° either side.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from posture.classify import band_of

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_bands() -> list[tuple[str, float | None, float | None]]:
    """(band, lower, upper) from the README's severity table, degrees (None: open)."""
    text = README.read_text(encoding="utf-8")
    start = text.index("**Severity bands**")
    rows = []
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"\|\s*([a-z]+)\s*\|\s*(.+?)\s*\|\s*$", line)
        if not m:
            if rows:
                break
            continue
        band, rng = m.groups()
        nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", rng)]
        if rng.startswith("below"):
            rows.append((band, None, nums[0]))
        elif "above" in rng:
            rows.append((band, nums[0], None))
        elif len(nums) == 2:
            rows.append((band, nums[0], nums[1]))
    return rows


def test_the_readme_documents_five_contiguous_bands():
    rows = documented_bands()
    assert [r[0] for r in rows] == ["posterior", "neutral", "mild", "moderate", "severe"]
    for (_, _, hi), (_, lo, _) in zip(rows, rows[1:], strict=False):
        assert hi == lo


@pytest.mark.parametrize("band,lower,upper", documented_bands())
def test_band_edges_are_the_documented_ones(band, lower, upper):
    if lower is not None:
        assert band_of(lower + 0.1).id == band
        assert band_of(lower - 0.1).id != band
    if upper is not None:
        assert band_of(upper - 0.1).id == band
        assert band_of(upper + 0.1).id != band
