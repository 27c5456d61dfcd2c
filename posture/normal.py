"""The standard normal distribution, written once: its CDF and the z of a central interval.

The band probabilities (:mod:`posture.classify`), the palpation-equivalent interval
(:mod:`posture.palpation`) and the standard deviation behind a reading's interval
(:mod:`posture.analysis`, :mod:`posture.capture`) all use it.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# erfc keeps its relative accuracy far into the lower tail, where 1 + erf(x) cancels
_ERFC = np.vectorize(math.erfc, otypes=[float])


def normal_cdf(x: float | np.ndarray) -> float | np.ndarray:
    """Standard normal CDF, Φ(x) = erfc(−x/√2) / 2.

    Parameters
    ----------
    x : float or array
        Standard scores (dimensionless).

    Returns
    -------
    float or array
        P(Z ≤ x), a float for a scalar ``x``, an array of the same shape otherwise.
    """
    if np.ndim(x) == 0:
        return 0.5 * math.erfc(-float(x) / math.sqrt(2.0))
    return 0.5 * _ERFC(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def coverage_z(coverage: float) -> float:
    """The z of a central interval holding ``coverage`` (0–1) of a normal distribution
    (1.645 for 0.9).

    Raises
    ------
    ValueError
        When ``coverage`` is not strictly between 0 and 1.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
    return NormalDist().inv_cdf(0.5 + coverage / 2.0)


def normal_sigma(halfwidth: float, coverage: float) -> float:
    """One normal SD from a symmetric interval's half-width (any unit; the SD comes out in
    the same) at ``coverage`` (0–1)."""
    return halfwidth / coverage_z(coverage)
