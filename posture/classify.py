"""Step 5 of the flow: metrics → severity band.

The bands live in ``posture/data/bands.yaml`` with their rationale; they are this tool's
heuristic, not clinical categories. Each band's probability treats the estimate as normal
with the spread implied by its interval, so an estimate near a boundary honestly reads as
"mild or moderate" rather than a confident single band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from .config import read_data_file
from .normal import normal_cdf
from .schemas import BandsFile

BAND_IDS = ("posterior", "neutral", "mild", "moderate", "severe")


@dataclass(frozen=True)
class Band:
    id: str
    label: str
    lower_deg: float  # -inf for the first band
    upper_deg: float  # +inf for the last band
    rationale: str


@dataclass(frozen=True)
class Severity:
    """Band of a pelvic tilt estimate and the probability of each band."""

    band: str
    label: str
    probabilities: dict[str, float]


@cache
def _bands_file() -> BandsFile:
    return read_data_file("bands.yaml", BandsFile, context={"band_ids": BAND_IDS})


@cache
def bands() -> tuple[Band, ...]:
    """The validated bands from ``bands.yaml``, lowest first (:class:`BandsFile`)."""
    out, lower = [], -math.inf
    for b in _bands_file().bands:
        upper = math.inf if b.upper_deg is None else b.upper_deg
        out.append(Band(b.id, b.label or b.id, lower, upper, b.rationale))
        lower = upper
    return tuple(out)


def bands_disclaimer() -> str:
    return _bands_file().disclaimer


def ambiguous_margin() -> float:
    """Probability gap (0–1) under which the two most probable bands are both named."""
    return _bands_file().ambiguous_within


def runner_up(severity: Severity) -> str | None:
    """Another band as likely as the reported one, give or take :func:`ambiguous_margin`.

    The reported band holds the point estimate; near the edge of a narrow band its
    neighbour can be as probable or more, and then both are named.
    """
    probs = severity.probabilities
    others = [(p, b) for b, p in probs.items() if b != severity.band]
    if not others:
        return None
    p_other, other = max(others)
    if p_other < probs.get(severity.band, 0.0) - ambiguous_margin():
        return None
    return other


def band_phrase(severity: Severity) -> str:
    """The band in words, naming both bands when they are too close to call.

    Adjacent bands read as a range in tilt order ("Mild to moderate anterior tilt");
    the JSON keeps ``severity`` (most probable) and ``severity_probabilities``.
    """
    other = runner_up(severity)
    if other is None:
        return severity.label
    by_id = {b.id: b for b in bands()}
    lo, hi = sorted((severity.band, other), key=BAND_IDS.index)
    lo_label, hi_label = by_id[lo].label, by_id[hi].label
    # "Mild anterior tilt" + "Moderate anterior tilt" -> "Mild to moderate anterior tilt"
    lw, hw = lo_label.split(), hi_label.split()
    if len(lw) > 1 and lw[1:] == hw[1:]:
        return f"{lw[0]} to {hw[0].lower()} {' '.join(lw[1:])}"
    return f"{lo_label} or {hi_label.lower()}"


def band_of(tilt_deg: float) -> Band:
    """The band a pelvic tilt value (degrees, + = anterior) falls in."""
    for b in bands():
        if tilt_deg < b.upper_deg:
            return b
    return bands()[-1]


def classify_tilt(tilt_deg: float, sigma_deg: float) -> Severity:
    """Band and band probabilities of a pelvic tilt estimate.

    Parameters
    ----------
    tilt_deg : float
        Point estimate, degrees, positive = anterior.
    sigma_deg : float
        Standard deviation of the estimate's error, degrees (> 0).
    """
    sigma = max(float(sigma_deg), 1e-6)
    probs = {}
    for b in bands():
        hi = 1.0 if b.upper_deg == math.inf else normal_cdf((b.upper_deg - tilt_deg) / sigma)
        lo = 0.0 if b.lower_deg == -math.inf else normal_cdf((b.lower_deg - tilt_deg) / sigma)
        probs[b.id] = round(max(0.0, hi - lo), 4)
    band = band_of(tilt_deg)
    return Severity(band.id, band.label, probs)
