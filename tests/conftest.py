"""Shared fixtures: the owners' real photos, one pose model, and the CI rules.

Under CI (the environment variable ``CI`` set, as ``.ci/run`` runs) a missing prerequisite
fails the run instead of skipping it: a green CI run must have run every test
(:func:`require_or_skip`). Hypothesis is derandomised there, with no per-example deadline.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from posture.result import Reading
from posture.safe import Outcome, analyze_input

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
SAMPLES = ROOT / "samples"

#: True where a missing prerequisite must fail the run (``.ci/run`` is run with CI=true).
IN_CI = bool(os.environ.get("CI"))

# Per-example deadlines measure the machine's load, not the code: none in CI, a generous
# one elsewhere. Bounded work is set per test with max_examples. Tests that set their own
# ``deadline`` override these, so the fuzz tests leave it to the profile.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=10_000)
settings.load_profile("ci" if IN_CI else "dev")


def require_or_skip(cond: object, reason: str) -> None:
    """Skip the test when ``cond`` is false, or fail it under CI.

    For prerequisites that a developer's checkout may lack (the owners' photos, Chromium, a
    Unicode font, the offline mediapipe wheel) but that ``.ci/run`` provisions: in CI their
    absence is a broken set-up, and skipping would pass the run without running the test.
    """
    if cond:
        return
    if IN_CI:
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI no test may skip, whoever wrote the skip (a ``skipif`` mark, an
    ``importorskip``, a ``pytest.skip`` in a fixture): each becomes a failure that names the
    skip's reason, so a green run ran every test. Expected failures (xfail) are untouched."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"CI is set, so this skip is a failure: {reason}"


def _manifest() -> list[dict]:
    path = SHARED_PHOTOS / "manifest.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


REAL_PHOTOS = _manifest()


@pytest.fixture(scope="session")
def shared_photos() -> Path:
    require_or_skip(SHARED_PHOTOS.is_dir(),
                    "../shared/photos is absent (a clone outside the project workspace)")
    return SHARED_PHOTOS


@pytest.fixture(scope="session")
def analyzer():
    """One Analyzer (full model) for the whole run; skipped when no model can be had
    (failed under CI, whose set-up provisions the model)."""
    from posture.analysis import Analyzer
    from posture.errors import ModelError

    try:
        a = Analyzer("full")
    except ModelError as exc:
        require_or_skip(False, f"no pose model: {exc.message}")
    yield a
    a.close()


@dataclass(frozen=True)
class SampleReading:
    """One shipped sample as the analyzer read it: the typed reading, its contract dict
    (through JSON, as stored and exported) and the outcome (assessment and decoded frame)."""

    reading: Reading
    contract: dict
    outcome: Outcome


@pytest.fixture(scope="session")
def sample_readings(analyzer) -> dict[str, SampleReading]:
    """The 12 shipped samples (``samples/*.jpg``) analysed once for the whole run, keyed by
    file name, so that consumer tests (store, plan, PDF, export) read real analyzer output.
    Uses the pose model: tests that take it are marked ``slow``."""
    paths = sorted(SAMPLES.glob("*.jpg"))
    assert len(paths) == 12, [p.name for p in paths]
    out = {}
    for path in paths:
        o = analyze_input(analyzer, path, name=path.name)
        assert not o.failed, (path.name, o.code)
        out[path.name] = SampleReading(o.reading(), json.loads(json.dumps(o.to_dict())), o)
    return out


def pytest_collection_modifyitems(config, items):
    """A test fed the samples' real readings runs the pose model: it must be ``slow``, or
    the fast group would load the model."""
    unmarked = [i.nodeid for i in items if "sample_readings" in getattr(i, "fixturenames", ())
                and i.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("tests using sample_readings must be marked slow: "
                                + ", ".join(unmarked))
