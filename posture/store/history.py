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
    """A metric of the contract that is tracked over time (unit: degrees).

    ``convention`` is the registry's sign in a few words (``sign``); ``view`` the view
    that measures it (side, front). A metric without retake figures in ``change.yaml``
    (``judged`` False) is charted and compared, but its change is not judged."""

    name: str  # as in the contract's ``measurements[].name``
    label: str
    key: str  # top-level contract key of the value
    convention: str
    view: str = "side"

    @property
    def judged(self) -> bool:
        """Whether a retake figure exists to judge a change by."""
        return self.name in retake_figures()

    @property
    def mdc_deg(self) -> float | None:
        """Minimal detectable change, degrees (``posture/data/change.yaml``); None where
        no retake figure exists yet."""
        fig = retake_figures().get(self.name)
        return None if fig is None else fig.mdc95_deg

    @property
    def mdc_source(self) -> str:
        fig = retake_figures().get(self.name)
        return NO_RETAKE_FIGURE if fig is None else fig.source


#: What a change of a metric without retake figures says instead of a verdict.
NO_RETAKE_FIGURE = "no retake figure yet: the change is not judged"


def tracked() -> tuple[MetricSpec, ...]:
    """The tracked metrics: the registry's measures in degrees
    (``posture/data/measures.yaml``), in its order; those without retake figures in
    ``change.yaml`` too (their changes are shown, not judged)."""
    return tuple(MetricSpec(s.name, s.label, s.key, s.sign, s.view) for s in measures()
                 if s.unit == "deg")


def _by_name() -> dict[str, MetricSpec]:
    return {m.name: m for m in tracked()}


#: The tracked metrics when the package was loaded (:func:`tracked`).
METRICS: tuple[MetricSpec, ...] = tracked()
METRIC_BY_NAME = {m.name: m for m in METRICS}
#: Minimal detectable change (MDC95) per judged metric, degrees (``change.yaml``).
MDC_DEG = {m.name: m.mdc_deg for m in METRICS if m.judged}


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

    _by_name()[name]  # KeyError for a metric that is not tracked
    try:
        return from_dict(result).metric(name)
    except InputError:
        return None, None, None


def trend(records: Iterable[AssessmentRecord],
          metrics: Sequence[str] | None = None) -> dict[str, tuple[TrendPoint, ...]]:
    """Time series per metric (default: every tracked one), oldest first; abstentions
    appear with value None."""
    recs = sorted(records, key=lambda r: (r.taken_at, r.id))
    out: dict[str, tuple[TrendPoint, ...]] = {}
    for name in (tuple(_by_name()) if metrics is None else metrics):
        pts = []
        for r in recs:
            v, iv, cov = r.reading.metric(name)
            pts.append(TrendPoint(r.id, r.taken_at, name, v, iv[0] if iv else None,
                                  iv[1] if iv else None, cov))
        out[name] = tuple(pts)
    return out


def trend_rows(records: Iterable[AssessmentRecord]) -> list[dict[str, Any]]:
    """Long-form rows (one per assessment and metric with a value) for charts: a metric
    no record holds (a front-view measure of side-only records) has none."""
    rows, by_name = [], _by_name()
    for name, pts in trend(records).items():
        for p in pts:
            if p.value is not None:
                rows.append({"assessment_id": p.assessment_id, "taken_at": p.taken_at,
                             "metric": by_name[name].label, "value": p.value,
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
    ``rule`` is "mdc", "not applicable" (two methods) or "no retake figure" (the metric
    has none in ``change.yaml`` yet; not judged), None without a change;
    ``exceeds_uncertainty`` is True when the change is larger than the MDC95 (a likely
    real change), False when within it, None when it cannot be said; ``words`` say so
    for a patient. ``sign`` is the registry's sign convention in words, ``view`` the
    view that measures the metric and ``intervals`` the two values' intervals (degrees,
    None where there is none).
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
    sign: str = ""
    view: str = "side"
    intervals: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None)


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
    metric's MDC95 (rule in the module docstring). A metric of another view than the side
    (front) is listed only when either assessment holds it; one without retake figures
    gets its change and no verdict (rule "no retake figure")."""
    changes = []
    for spec in tracked():
        va, iva, _ = before.reading.metric(spec.name)
        vb, ivb, _ = after.reading.metric(spec.name)
        if spec.view != "side" and va is None and vb is None:
            continue  # side-only records compare as before
        how = (record_method(before, spec.name), record_method(after, spec.name))
        extra = {"sign": spec.convention, "view": spec.view, "intervals": (iva, ivb)}
        if not spec.judged:
            change = None if va is None or vb is None else round(float(vb) - float(va), 2)
            changes.append(MetricChange(
                spec.name, spec.label, va, vb, change, None,
                None if change is None else "no retake figure", None,
                "" if change is None else NO_RETAKE_FIGURE, how, **extra))
            continue
        v = judge_change(spec.name, va, vb, *how)
        rule = None if v.change_deg is None else ("mdc" if v.applies else "not applicable")
        changes.append(MetricChange(spec.name, spec.label, va, vb, v.change_deg,
                                    v.mdc95_deg, rule, v.real, v.words, how, **extra))
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
