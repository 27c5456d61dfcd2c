"""Agreement between two ways of measuring the same people (method comparison).

Pure functions on arrays of degrees: Bland–Altman bias and 95% limits of agreement
(Bland & Altman 1986, Lancet 327:307–310), the intraclass correlation ICC(2,1) (two-way
random effects, absolute agreement, single measurement; Shrout & Fleiss 1979, Psychol Bull
86:420–428; McGraw & Wong 1996 call it ICC(A,1)), the standard error of measurement
SEM = √(error mean square) and the minimal detectable change MDC95 = 1.96·√2·SEM
(Weir 2005, J Strength Cond Res 19:231–240).

Used by ``posture validate`` (the photo against a clinic's palpation meter or inclinometer)
and by the benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: z for two-sided 95% limits.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class TwoWayAnova:
    """Mean squares of a subjects × methods table (no replication).

    Attributes
    ----------
    n, k : int
        Subjects (rows) and methods or raters (columns).
    ms_rows, ms_cols, ms_error : float
        Between-subjects, between-methods and residual mean squares, degrees².
    """

    n: int
    k: int
    ms_rows: float
    ms_cols: float
    ms_error: float


@dataclass(frozen=True)
class Agreement:
    """How a method (``estimate``) agrees with a reference on the same subjects.

    All values in degrees except ``n`` and ``icc``. ``bias`` is the mean of
    estimate − reference; the limits are bias ± 1.96 SD of those differences.
    """

    n: int
    bias: float
    sd_diff: float
    loa_low: float
    loa_high: float
    mae: float
    icc: float
    sem: float
    mdc95: float


def two_way_anova(table: np.ndarray) -> TwoWayAnova:
    """Mean squares of an ``(n subjects, k methods)`` table of measurements.

    Parameters
    ----------
    table : (n, k) array
        One row per subject, one column per method; n ≥ 2, k ≥ 2, no missing values.
    """
    x = np.asarray(table, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError("need a table of at least 2 subjects × 2 methods")
    if not np.all(np.isfinite(x)):
        raise ValueError("the table has missing or non-finite values")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    return TwoWayAnova(n, k, ss_rows / (n - 1), ss_cols / (k - 1),
                       ss_error / ((n - 1) * (k - 1)))


def icc_2_1(table: np.ndarray) -> float:
    """ICC(2,1): two-way random effects, absolute agreement, single measurement.

    ``(MSR − MSE) / (MSR + (k−1)·MSE + k·(MSC − MSE)/n)`` (Shrout & Fleiss 1979, case 2).
    A constant offset between methods lowers it (absolute agreement), unlike Pearson's r.
    """
    a = two_way_anova(table)
    den = a.ms_rows + (a.k - 1) * a.ms_error + a.k * (a.ms_cols - a.ms_error) / a.n
    return float((a.ms_rows - a.ms_error) / den) if den > 0 else float("nan")


def sem_from_table(table: np.ndarray) -> float:
    """Standard error of measurement, √MSE of the two-way table, degrees (Weir 2005)."""
    return math.sqrt(max(two_way_anova(table).ms_error, 0.0))


def mdc95(sem: float) -> float:
    """Minimal detectable change at 95% confidence between two measurements, degrees."""
    return Z95 * math.sqrt(2.0) * sem


def sem_from_repeats(groups: list[np.ndarray]) -> float:
    """Test–retest SEM from repeated measurements of each subject (e.g. retaken photos):
    the within-subject SD pooled over subjects (each group needs ≥ 2 values), degrees."""
    ss, dof = 0.0, 0
    for g in groups:
        g = np.asarray(g, dtype=np.float64)
        g = g[np.isfinite(g)]
        if len(g) >= 2:
            ss += float(((g - g.mean()) ** 2).sum())
            dof += len(g) - 1
    if dof == 0:
        raise ValueError("no subject has two or more measurements")
    return math.sqrt(ss / dof)


def agreement(estimate: np.ndarray, reference: np.ndarray) -> Agreement:
    """Bland–Altman statistics, ICC(2,1), SEM and MDC95 of ``estimate`` against
    ``reference`` (same subjects, same order, degrees; at least 3 pairs)."""
    e = np.asarray(estimate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if e.shape != r.shape or e.ndim != 1:
        raise ValueError("estimate and reference must be 1-D arrays of the same length")
    if len(e) < 3:
        raise ValueError("need at least 3 subjects measured both ways")
    d = e - r
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    table = np.column_stack([e, r])
    sem = sem_from_table(table)
    return Agreement(n=len(d), bias=bias, sd_diff=sd, loa_low=bias - Z95 * sd,
                     loa_high=bias + Z95 * sd, mae=float(np.abs(d).mean()),
                     icc=icc_2_1(table), sem=sem, mdc95=mdc95(sem))
