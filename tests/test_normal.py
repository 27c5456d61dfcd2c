"""The one normal CDF (posture.normal) that the bands, palpation and intervals share."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posture.classify import bands, classify_tilt
from posture.normal import coverage_z, normal_cdf, normal_sigma


def test_known_values_scalar_and_array():
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(1.6448536269514722) == pytest.approx(0.95, abs=1e-15)
    xs = np.array([-3.0, -1.0, 0.0, 2.0])
    assert isinstance(normal_cdf(1.0), float)
    assert np.array_equal(normal_cdf(xs), [normal_cdf(float(x)) for x in xs])
    # the lower tail keeps its relative accuracy (1 + erf(x) would give 0 here)
    assert normal_cdf(-10.0) == pytest.approx(7.619853024160527e-24, rel=1e-12)


def test_coverage_z_and_sigma():
    assert coverage_z(0.9) == pytest.approx(1.6448536269514722, rel=1e-15)
    assert normal_sigma(1.6448536269514722, 0.9) == pytest.approx(1.0, rel=1e-15)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            coverage_z(bad)


def test_band_probabilities_as_with_the_erf_formula():
    # classify.py used 0.5 * (1 + erf(x / sqrt 2)): the shared helper gives the same
    # rounded probabilities (the contract's severity_probabilities unchanged)
    def old(tilt, sigma):
        phi = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
        out = {}
        for b in bands():
            hi = 1.0 if b.upper_deg == math.inf else phi((b.upper_deg - tilt) / sigma)
            lo = 0.0 if b.lower_deg == -math.inf else phi((b.lower_deg - tilt) / sigma)
            out[b.id] = round(max(0.0, hi - lo), 4)
        return out

    for tilt in np.arange(-15.0, 40.0, 0.37):
        for sigma in (1e-6, 0.5, 1.7, 3.1, 6.0):
            assert classify_tilt(float(tilt), sigma).probabilities == old(float(tilt), sigma)
