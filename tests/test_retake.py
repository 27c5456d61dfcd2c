"""Retake reliability (issue 24): a person photographed again gets the same reading.

The statistics of ``bench/retake.py`` (pooled within-person SD = SEM, MDC95, band changes)
are checked on made-up numbers; the gate analyses a small committed set of re-photographed
renders (``tests/data/retake/``: 8 people x 3 takes made by ``python -m tools.synth retake``)
with the shipped estimator and bounds the test-retest SEM.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RETAKE_SET = ROOT / "tests" / "data" / "retake"


def _bench():
    """bench/retake.py as a module (bench/ is a folder of scripts, not a package)."""
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_retake", ROOT / "bench" / "retake.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _bench()


def _take(bench, person, take, reading, label=10.0, female=False, framing="full"):
    from posture.classify import band_of

    return bench.Take(person=person, take=take, female=female, framing=framing, label=label,
                      palpation=label + 2.0, reading=reading,
                      band=None if reading is None else band_of(reading).id,
                      verdict="measured" if reading is not None else "abstained:x")


def test_pooled_sem_is_the_within_person_sd(bench):
    # person a: 1, 3 (SS 2, 1 dof); b: 2, 2, 2 (SS 0, 2 dof); c: one value (nothing)
    sem, dof = bench.pooled_sem([[1.0, 3.0], [2.0, 2.0, 2.0], [5.0]])
    assert dof == 3
    assert sem == pytest.approx(math.sqrt(2.0 / 3.0))
    assert bench.pooled_sem([[4.0], []]) == (None, 0)


def test_pooled_sem_recovers_a_known_sd():
    rng = np.random.default_rng(0)
    groups = [list(rng.normal(rng.uniform(-10, 30), 1.5, 3)) for _ in range(2000)]
    sem, dof = _bench().pooled_sem(groups)
    assert dof == 4000
    assert sem == pytest.approx(1.5, rel=0.03)


def test_summary_counts_band_changes_and_mdc(bench):
    takes = [
        _take(bench, "a", 0, 9.0), _take(bench, "a", 1, 11.0), _take(bench, "a", 2, 10.0),
        # b crosses from one band to the next between takes
        _take(bench, "b", 0, 14.0, label=15.0, female=True),
        _take(bench, "b", 1, 16.5, label=15.0, female=True),
        _take(bench, "b", 2, None, label=15.0, female=True, framing="shins"),
    ]
    s = bench.summarize(takes)
    from posture.classify import band_of

    assert band_of(14.0).id != band_of(16.5).id  # the made-up readings do cross a band edge
    assert s["people"] == 2 and s["measured"] == 5 and s["abstained"] == 1
    assert s["sem_deg"] == pytest.approx(math.sqrt((2.0 + 3.125) / 3.0))
    assert s["mdc95_deg"] == pytest.approx(1.96 * math.sqrt(2.0) * s["sem_deg"])
    assert s["band_changes"] == 1 and s["band_change_people"] == ["b"]
    assert s["verdict_changes"] == 1
    assert s["spread_max_deg"] == pytest.approx(2.5)
    assert s["mae_deg"] == pytest.approx((1 + 1 + 0 + 1 + 1.5) / 5)
    assert s["mae_palpation_deg"] == pytest.approx(np.mean([3, 1, 2, 3, 0.5]))
    assert s["by_framing"]["shins"] == {"takes": 1, "measured": 0, "mae_deg": None}
    women = bench.summarize([t for t in takes if t.female])
    assert women["people"] == 1 and women["sem_deg"] == pytest.approx(1.25 * math.sqrt(2))


#: Test-retest SEM (degrees) of the shipped estimator on ``tests/data/retake`` (8 people x 3
#: takes, seed 708, 960 px high), measured with ``bench/retake.py tests/data/retake``
#: (commit 3122635; README.md there). The bound adds 25% for another CPU's
#: floating point and MediaPipe build, as the repeatability gate does. For scale: the
#: held-out bench (60 people x 3 takes, seed 707) measured SEM 2.06 deg with the same
#: estimator, and issue 24's target is 0.7 deg; with 8 people (15 degrees of freedom) this
#: set's SEM is known to about +-18% (1/sqrt(2 * 15)), so the gate catches a regression of
#: the retake spread, not a small drift.
SEM_MEASURED = 2.64
SEM_BOUND = 1.25 * SEM_MEASURED


@pytest.mark.slow
def test_retake_sem_on_the_committed_sessions_stays_bounded(analyzer, bench):
    labels = bench.load_labels(RETAKE_SET)
    assert len(labels) == 24, "tests/data/retake should hold 8 people x 3 takes"
    takes = []
    for lab in labels:
        assert (RETAKE_SET / lab["image"]).is_file()
        takes.append(bench.take_of(lab, bench.read_take(analyzer, RETAKE_SET / lab["image"])))
    s = bench.summarize(takes)
    # the set is what it claims: one tilt per person
    assert s["label_sem_deg"] < 0.05
    assert s["people_with_2_readings"] >= 7, s
    assert s["sem_deg"] <= SEM_BOUND, (s["sem_deg"], s["band_change_people"])
