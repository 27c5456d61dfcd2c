"""Per-patient trends and before/after comparison of saved assessments.

The comparison rule
-------------------
A change ``after − before`` of a metric counts as exceeding the measurement's uncertainty
when ``|change| > threshold``, where the threshold is

* ``sqrt(h_before² + h_after²)`` when both assessments carry an interval for the metric
  (``h`` = the interval's half-width, at the interval's coverage, 90% by default). That
  is the half-width of the same-coverage interval of the difference of two independent,
  normally distributed estimates: a change beyond it is unlikely to be measurement noise
  alone. (Errors of two photos of one person are probably positively correlated, which
  would make the true threshold smaller; treating them as independent errs on the side of
  calling fewer changes real.)
* otherwise the metric's minimal detectable change (:data:`MDC_DEG`), e.g. for a pelvic tilt
  from clinician-placed ASIS/PSIS, which carries no interval.

When either value is missing (an abstention), the change is None and so is the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import InputError
from .records import AssessmentRecord


@dataclass(frozen=True)
class MetricSpec:
    """A metric of the contract that is tracked over time (unit: degrees)."""

    name: str  # as in the contract's ``measurements[].name``
    label: str
    key: str  # top-level contract key of the value
    convention: str
    mdc_deg: float
    mdc_source: str


_PHOTO_MDC = "photo posture apps, minimal detectable change ≈ 5° (clinical-notes.md)"
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("pelvic_tilt", "Pelvic tilt", "pelvic_tilt_deg", "positive = anterior", 5.0,
               _PHOTO_MDC + "; the palpation meter's SEM 1.1° gives 3.0°, a photo cannot "
               "beat it"),
    MetricSpec("lumbar_lordosis", "Lumbar lordosis (surface)", "lumbar_lordosis_deg",
               "positive = lordotic", 5.0, _PHOTO_MDC + "; assumed, none published"),
    MetricSpec("head_neck_angle", "Ear–shoulder angle", "head_neck_angle_deg",
               "smaller = head further forward", 5.0, _PHOTO_MDC),
    MetricSpec("trunk_lean", "Trunk lean", "trunk_lean_deg", "positive = leaning forward",
               5.0, _PHOTO_MDC + "; assumed, none published"),
    MetricSpec("knee_angle", "Knee angle", "knee_angle_deg", "positive = hyperextension",
               5.0, _PHOTO_MDC + "; assumed, none published"),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
#: Minimal detectable change per metric (degrees), used where no interval is available.
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
    from ..present.contract import from_dict

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


@dataclass(frozen=True)
class MetricChange:
    """The change of one metric between two assessments (degrees)."""

    metric: str
    label: str
    before: float | None
    after: float | None
    change: float | None  # after − before
    threshold: float | None
    rule: str | None  # "intervals" or "mdc"
    exceeds_uncertainty: bool | None


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


def change_threshold(iv_a: tuple | None, iv_b: tuple | None, metric: str
                     ) -> tuple[float, str]:
    """(threshold in degrees, rule) for a change of ``metric`` (see the module docstring)."""
    if iv_a is not None and iv_b is not None:
        ha, hb = (iv_a[1] - iv_a[0]) / 2.0, (iv_b[1] - iv_b[0]) / 2.0
        return math.hypot(ha, hb), "intervals"
    return MDC_DEG[metric], "mdc"


def compare(before: AssessmentRecord, after: AssessmentRecord) -> Comparison:
    """Differences ``after − before`` for every tracked metric, with the verdict whether
    each exceeds the measurement's uncertainty (rule in the module docstring)."""
    changes = []
    for spec in METRICS:
        va, iva, _ = before.reading.metric(spec.name)
        vb, ivb, _ = after.reading.metric(spec.name)
        if va is None or vb is None:
            changes.append(MetricChange(spec.name, spec.label, va, vb, None, None, None, None))
            continue
        thr, rule = change_threshold(iva, ivb, spec.name)
        diff = round(float(vb) - float(va), 2)
        changes.append(MetricChange(spec.name, spec.label, va, vb, diff, round(thr, 2), rule,
                                    abs(diff) > thr))
    days = (after.taken_at - before.taken_at).total_seconds() / 86400.0
    return Comparison(before.id, after.id, round(days, 1), before.severity, after.severity,
                      tuple(changes))
