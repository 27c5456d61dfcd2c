"""Per-patient trends and before/after comparison of saved assessments.

The comparison rule
-------------------
A change ``after − before`` of a metric is called real only when it is larger than the
metric's minimal detectable change, MDC95 = 1.96 × √2 × SEM, where SEM is how much the
reading of one unchanged person varies between retaken photos (this tool's retake bench,
``bench/results/retake.md``; figures and sources in ``posture/data/change.yaml``). The rule
itself lives in :mod:`posture.change` (:func:`~posture.change.judge_change`); this module
applies it to saved records.

The MDC belongs to one method: when the two values were obtained differently (a tilt from
clinician-placed ASIS/PSIS against an estimated one), the verdict is None and the words say
the MDC does not apply. When either value is missing (an abstention), the change is None
and so is the verdict.

(Until issue 25 the threshold was √(h₁² + h₂²) of the two single-photo 90% interval
half-widths, about ±8°: a bound on each photo's error against the truth, not a measured
retake variation, and one that called real changes noise.)

Palpation-equivalent tilt
-------------------------
:func:`palpation_by_record` gives every assessment's palpation-equivalent pelvic tilt: the
clinic's own reference reading where one was entered beside it, calibrated to the latest
earlier reference reading where there is one (:func:`posture.palpation.calibrated`), and
the uncalibrated value with its wider interval otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..change import judge_change, method_kind, retake_figures
from ..errors import InputError
from ..measures import measures
from ..palpation import (
    MeterCalibration,
    PalpationEstimate,
    calibrate,
    calibrated,
    instruments,
    palpation_equivalent,
)
from .records import AssessmentRecord


@dataclass(frozen=True)
class MetricSpec:
    """A metric of the contract that is tracked over time (unit: degrees)."""

    name: str  # as in the contract's ``measurements[].name``
    label: str
    key: str  # top-level contract key of the value
    convention: str

    @property
    def mdc_deg(self) -> float:
        """Minimal detectable change, degrees (``posture/data/change.yaml``)."""
        return retake_figures()[self.name].mdc95_deg

    @property
    def mdc_source(self) -> str:
        return retake_figures()[self.name].source


#: The tracked metrics: the registry's measures in degrees (``posture/data/measures.yaml``)
#: that have retake figures (``change.yaml``) to judge a change by.
METRICS: tuple[MetricSpec, ...] = tuple(
    MetricSpec(s.name, s.label, s.key, s.sign) for s in measures()
    if s.unit == "deg" and s.name in retake_figures())
METRIC_BY_NAME = {m.name: m for m in METRICS}
#: Minimal detectable change (MDC95) per metric, degrees (``posture/data/change.yaml``).
MDC_DEG = {m.name: m.mdc_deg for m in METRICS}


@dataclass(frozen=True)
class TrendPoint:
    """One metric of one assessment: value and interval in degrees (None when missing)."""

    assessment_id: int
    taken_at: datetime
    metric: str
    value: float | None
    lo: float | None
    hi: float | None
    coverage: float | None


def metric_value(result: dict[str, Any], name: str) -> tuple[float | None, tuple | None,
                                                              float | None]:
    """(value, interval, coverage) of metric ``name`` in a contract dict
    (:meth:`posture.result.Reading.metric`)."""
    from ..contract import from_dict

    METRIC_BY_NAME[name]  # KeyError for a metric that is not tracked
    try:
        return from_dict(result).metric(name)
    except InputError:
        return None, None, None


def trend(records: Iterable[AssessmentRecord],
          metrics: Sequence[str] = tuple(METRIC_BY_NAME)) -> dict[str, tuple[TrendPoint, ...]]:
    """Time series per metric, oldest first; abstentions appear with value None."""
    recs = sorted(records, key=lambda r: (r.taken_at, r.id))
    out: dict[str, tuple[TrendPoint, ...]] = {}
    for name in metrics:
        pts = []
        for r in recs:
            v, iv, cov = r.reading.metric(name)
            pts.append(TrendPoint(r.id, r.taken_at, name, v, iv[0] if iv else None,
                                  iv[1] if iv else None, cov))
        out[name] = tuple(pts)
    return out


def trend_rows(records: Iterable[AssessmentRecord]) -> list[dict[str, Any]]:
    """Long-form rows (one per assessment and metric with a value) for charts."""
    rows = []
    for name, pts in trend(records).items():
        for p in pts:
            if p.value is not None:
                rows.append({"assessment_id": p.assessment_id, "taken_at": p.taken_at,
                             "metric": METRIC_BY_NAME[name].label, "value": p.value,
                             "lo": p.lo, "hi": p.hi})
    return rows


def record_method(record: AssessmentRecord, metric: str) -> str:
    """How ``record``'s value of ``metric`` was obtained (:func:`posture.change.method_kind`)."""
    m = record.reading.measurement(metric)
    return method_kind(m.method if m is not None else None, metric, record.corrections)


@dataclass(frozen=True)
class MetricChange:
    """The change of one metric between two assessments (degrees).

    ``threshold`` is the MDC95 used (None where it does not apply or a value is missing);
    ``rule`` is "mdc" or "not applicable" (None without a change); ``exceeds_uncertainty``
    is True when the change is larger than the MDC95 (a likely real change), False when
    within it, None when it cannot be said; ``words`` say so for a patient.
    """

    metric: str
    label: str
    before: float | None
    after: float | None
    change: float | None  # after − before
    threshold: float | None
    rule: str | None  # "mdc" or "not applicable"
    exceeds_uncertainty: bool | None
    words: str = ""
    methods: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class Comparison:
    """Before/after comparison of two assessments of one patient."""

    before_id: int
    after_id: int
    days_between: float
    severity_before: str | None
    severity_after: str | None
    changes: tuple[MetricChange, ...]

    def change(self, metric: str) -> MetricChange:
        return next(c for c in self.changes if c.metric == metric)


def compare(before: AssessmentRecord, after: AssessmentRecord) -> Comparison:
    """Differences ``after − before`` for every tracked metric, each judged against the
    metric's MDC95 (rule in the module docstring)."""
    changes = []
    for spec in METRICS:
        va, _, _ = before.reading.metric(spec.name)
        vb, _, _ = after.reading.metric(spec.name)
        how = (record_method(before, spec.name), record_method(after, spec.name))
        v = judge_change(spec.name, va, vb, *how)
        rule = None if v.change_deg is None else ("mdc" if v.applies else "not applicable")
        changes.append(MetricChange(spec.name, spec.label, va, vb, v.change_deg,
                                    v.mdc95_deg, rule, v.real, v.words, how))
    days = (after.taken_at - before.taken_at).total_seconds() / 86400.0
    return Comparison(before.id, after.id, round(days, 1), before.severity, after.severity,
                      tuple(changes))


# -- palpation-equivalent tilt ------------------------------------------------------------

@dataclass(frozen=True)
class PalpationView:
    """The palpation-equivalent pelvic tilt of one assessment, as the clinic shows it.

    Attributes
    ----------
    estimate : PalpationEstimate or None
        Calibrated (``estimate.calibrated``) or not; None without an estimated tilt.
    reference : (instrument, degrees) or None
        The reference reading entered beside this very assessment.
    calibration : MeterCalibration or None
        The earlier reading ``estimate`` is calibrated with.
    """

    estimate: PalpationEstimate | None
    reference: tuple[str, float] | None
    calibration: MeterCalibration | None


def _estimated_tilt(rec: AssessmentRecord) -> bool:
    """Whether the record's pelvic tilt is the estimator's (an older result that does not
    record its method counts when it carries an interval; a clinician-placed tilt has
    none)."""
    how = record_method(rec, "pelvic_tilt")
    return how == "estimated" or (how == "not recorded"
                                  and rec.pelvic_tilt_interval_deg is not None)


def _calibration_of(rec: AssessmentRecord) -> MeterCalibration | None:
    """The calibration a record's reference reading gives: needs an estimated tilt beside
    it (a clinician-placed tilt is another method) and a known instrument."""
    ref = rec.reference
    if ref is None or ref[0] not in instruments() or rec.pelvic_tilt_deg is None or \
            not _estimated_tilt(rec):
        return None
    try:
        return calibrate(ref[1], rec.pelvic_tilt_deg, ref[0], assessment_id=rec.id)
    except InputError:
        return None


def palpation_by_record(records: Iterable[AssessmentRecord]
                        ) -> dict[int, PalpationView]:
    """Every record's palpation-equivalent tilt, by record id (see the module docstring).

    A record is calibrated with the latest reference reading of an EARLIER record (taken
    before it); its own reading, if any, is shown as the reference and calibrates the
    records after it. Only estimated tilts are calibrated (the offset is the difference
    between the meter and the estimator).
    """
    out: dict[int, PalpationView] = {}
    cal: MeterCalibration | None = None
    for r in sorted(records, key=lambda r: (r.taken_at, r.id)):
        v, iv, cov = r.reading.metric("pelvic_tilt")
        est = None
        if v is not None and _estimated_tilt(r):
            est = calibrated(v, cal, cov or 0.9) if cal is not None else \
                palpation_equivalent(v, iv, cov)
        out[r.id] = PalpationView(est, r.reference, cal if est is not None and
                                  est.calibrated else None)
        cal = _calibration_of(r) or cal
    return out
