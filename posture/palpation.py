"""The palpation-equivalent pelvic tilt and its calibration to the clinic's meter.

Two numbers describe one pelvis:

* the **postural tilt** (``pelvic_tilt_deg``): the ASIS–PSIS line as the skin shows it, what
  the photo measures and what exercise changes;
* the **palpation-equivalent tilt** (``pelvic_tilt_palpation_deg``): what a palpation meter
  or inclinometer on the bony ASIS and PSIS would read. It adds a bony offset, where the
  person's ASIS and PSIS sit on the bone (SD 5°, Preece et al. 2008), that no photo shows.

Without a reference reading the offset is unknown with mean 0: the value equals the
postural estimate and its interval is wider (:func:`palpation_halfwidth`, derived from the
postural interval and the offset's spread; figures in ``posture/data/palpation.yaml``).

With one reference reading of the clinic's own meter beside an assessment, the patient's
offset is ``reference − postural estimate`` (:func:`calibrate`); later visits add it to
their postural estimate (:func:`calibrated`). The error of that value is the difference of
two photos' errors within one person plus the meter's own error, so its 90% half-width is
``z × √(meter SEM² + 2 × retake SEM²)`` (the retake SEM from ``posture/data/change.yaml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from .config import read_data_file
from .errors import InputError
from .normal import coverage_z, normal_cdf
from .schemas import PalpationFile

#: Method text of the uncalibrated palpation-equivalent value (contract key
#: ``pelvic_tilt_palpation_method``).
PALPATION_METHOD = (
    "palpation-equivalent: the postural tilt plus the bony offset of where this person's "
    "ASIS and PSIS sit on the bone, which a photo cannot see (mean 0°, SD 5°, Preece et al. "
    "2008); the interval combines the postural interval with that spread (derived, not "
    "conformal)")
CALIBRATED_METHOD = "palpation-equivalent, calibrated to the clinic's {instrument} reading"
#: Plain-language summary of the two numbers, for the app and the PDFs.
WHICH_NUMBER = (
    "The main number is the postural tilt: what the photo shows through the skin, and what "
    "exercise changes. A palpation meter on the bone would read the palpation-equivalent "
    "tilt, which has a wider interval because the shape of the pelvis itself differs "
    "between people (SD 5°, Preece et al. 2008).")


@dataclass(frozen=True)
class Instrument:
    """A reference instrument a clinic may enter a reading of."""

    id: str
    label: str
    sem_deg: float
    source: str


@dataclass(frozen=True)
class PalpationEstimate:
    """A palpation-equivalent pelvic tilt, degrees, positive = anterior.

    Attributes
    ----------
    value_deg : float
    interval_deg : (low, high)
        At ``coverage``.
    coverage : float
    method : str
        How it was obtained, in words.
    calibrated : bool
        True when it uses a reference reading of the clinic's instrument.
    """

    value_deg: float
    interval_deg: tuple[float, float]
    coverage: float
    method: str
    calibrated: bool = False

    @property
    def halfwidth_deg(self) -> float:
        return (self.interval_deg[1] - self.interval_deg[0]) / 2.0


@dataclass(frozen=True)
class MeterCalibration:
    """One patient's offset between the clinic's instrument and the photo's postural tilt.

    Attributes
    ----------
    instrument : str
        Id of the :class:`Instrument`.
    reference_deg : float
        The instrument's reading, degrees, positive = anterior.
    postural_deg : float
        The photo's postural estimate at the same assessment, degrees.
    offset_deg : float
        ``reference − postural``: the bony offset plus this photo method's steady error for
        this person (both cancel from later visits' values).
    offset_sem_deg : float
        Standard error of the offset: √(meter SEM² + retake SEM²), degrees.
    assessment_id : int or None
        The assessment the reading was entered beside.
    """

    instrument: str
    reference_deg: float
    postural_deg: float
    offset_deg: float
    offset_sem_deg: float
    assessment_id: int | None = None


@cache
def _data() -> PalpationFile:
    return read_data_file("palpation.yaml", PalpationFile)


@cache
def bone_offset_law() -> tuple[float, float]:
    """(SD, clip) of the bony offset, degrees (Normal(0, SD) clipped to ±clip)."""
    b = _data().bone_offset
    return b.sd_deg, b.clip_deg


@cache
def instruments() -> dict[str, Instrument]:
    """The reference instruments a clinic may enter, by id (:class:`PalpationFile`)."""
    return {key: Instrument(key, m.label or key, m.sem_deg, " ".join(m.source.split()))
            for key, m in _data().instruments.items()}


def _offset_points(sd: float, clip: float, n: int = 401) -> tuple[np.ndarray, np.ndarray]:
    """Support points and probabilities of Normal(0, sd) clipped to ±clip (the clipped
    tails become point masses at ±clip)."""
    edges = np.linspace(-clip, clip, n + 1)
    cdf = normal_cdf(edges / sd)
    mid = (edges[:-1] + edges[1:]) / 2.0
    tail = float(normal_cdf(np.array([-clip / sd]))[0])
    return np.concatenate([[-clip], mid, [clip]]), np.concatenate([[tail], np.diff(cdf),
                                                                   [tail]])


def coverage_of(h: float, postural_halfwidth: float, coverage: float = 0.9) -> float:
    """P(|E + D| <= h) for the photo error E ~ Normal(0, postural_halfwidth / z) and the
    bony offset D of :func:`bone_offset_law` (degrees in, probability out)."""
    sd, clip = bone_offset_law()
    s = postural_halfwidth / coverage_z(coverage)
    d, p = _offset_points(sd, clip)
    if s <= 0:
        return float(p[np.abs(d) <= h].sum())
    return float(np.sum(p * (normal_cdf((h - d) / s) - normal_cdf((-h - d) / s))))


@cache
def _halfwidth(postural_halfwidth: float, coverage: float) -> float:
    lo, hi = postural_halfwidth, postural_halfwidth + 10.0 * bone_offset_law()[0]
    for _ in range(60):  # bisection: coverage_of grows with h
        mid = (lo + hi) / 2.0
        if coverage_of(mid, postural_halfwidth, coverage) < coverage:
            lo = mid
        else:
            hi = mid
    return hi


def palpation_halfwidth(postural_halfwidth: float, coverage: float = 0.9) -> float:
    """Half-width (degrees) of the palpation-equivalent interval at ``coverage``, given the
    postural interval's half-width at the same coverage (derived: see the module
    docstring and ``palpation.yaml``)."""
    if not math.isfinite(postural_halfwidth) or postural_halfwidth < 0:
        raise ValueError(f"postural half-width must be >= 0, got {postural_halfwidth}")
    return _halfwidth(round(float(postural_halfwidth), 3), float(coverage))


def palpation_equivalent(tilt_deg: float | None, interval: tuple[float, float] | None,
                         coverage: float | None) -> PalpationEstimate | None:
    """The uncalibrated palpation-equivalent tilt of a postural estimate.

    None without a value or without a postural interval (e.g. a tilt from clinician-placed
    points, whose uncertainty is not estimated).
    """
    if tilt_deg is None or interval is None or not math.isfinite(tilt_deg):
        return None
    cov = coverage or 0.9
    h = palpation_halfwidth((interval[1] - interval[0]) / 2.0, cov)
    return PalpationEstimate(round(tilt_deg, 2), (round(tilt_deg - h, 2),
                                                  round(tilt_deg + h, 2)), cov,
                             PALPATION_METHOD)


def calibrate(reference_deg: float, postural_deg: float, instrument: str, *,
              assessment_id: int | None = None) -> MeterCalibration:
    """The patient's offset from one reference reading beside a postural estimate.

    Raises
    ------
    InputError
        ``invalid_reference`` for an unknown instrument or a reading that is not a finite
        number of degrees within ±90.
    """
    from .change import retake_sem

    inst = instruments().get(instrument)
    if inst is None:
        raise InputError(f"unknown instrument {instrument!r}; one of "
                         f"{sorted(instruments())}", code="invalid_reference")
    check_reference_deg(reference_deg)
    offset = float(reference_deg) - float(postural_deg)
    return MeterCalibration(instrument, float(reference_deg), float(postural_deg),
                            round(offset, 2), math.hypot(inst.sem_deg, retake_sem()),
                            assessment_id)


def check_reference_deg(value) -> float:
    """A reference reading as a float, or ``invalid_reference``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or abs(value) > 90:
        raise InputError(f"a reference reading must be a number of degrees within ±90, got "
                         f"{value!r:.40}", code="invalid_reference")
    return float(value)


def calibrated(postural_deg: float, cal: MeterCalibration,
               coverage: float = 0.9) -> PalpationEstimate:
    """The palpation-equivalent tilt of a later visit, calibrated with ``cal``.

    Value: postural estimate + offset. Half-width: z × √(offset SEM² + retake SEM²) =
    z × √(meter SEM² + 2 × retake SEM²), the photo's error at both visits within one person
    and the meter's own error (the person's steady part of the photo error cancels).
    """
    from .change import retake_sem

    h = coverage_z(coverage) * math.hypot(cal.offset_sem_deg, retake_sem())
    v = float(postural_deg) + cal.offset_deg
    label = cal.instrument.replace("_", " ")
    return PalpationEstimate(round(v, 2), (round(v - h, 2), round(v + h, 2)), coverage,
                             CALIBRATED_METHOD.format(instrument=label), calibrated=True)
