"""Is a change between two visits real? The minimal-detectable-change rule.

A reading of the same, unchanged person differs from photo to photo (camera height,
distance, framing, stance). The retake bench (``bench/retake.py``) photographs synthetic
people several times and measures the within-person SD of the reading, the SEM; a change
``after − before`` is called real only when

    |change| > MDC95 = 1.96 × √2 × SEM,

the change two photos of an unchanged person stay within 95% of the time. The figures, with
their sources, are in ``posture/data/change.yaml`` (the pelvic tilt's from
``bench/results/retake.md``).

The figure belongs to one method: it says nothing about a change between two values
obtained differently (a tilt from clinician-placed ASIS/PSIS against an estimated one, a
palpation meter against a photo), and then the verdict is "does not apply" (None).

The clinic's history, before/after table, progress PDF and the live check all call
:func:`judge_change`; :mod:`posture.store.history` applies it to saved records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from .config import read_data_file
from .errors import DataFileError
from .schemas import ChangeFile

#: How a value was obtained, as printed beside it: the measurement's ``method`` text of the
#: analysis contract starts with the key.
METHOD_WORDS = {"clinician": "clinician-placed", "learned": "estimated",
                "landmarks": "from landmarks"}
#: The method of an older saved result that does not record one.
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class RetakeFigure:
    """How much a metric varies when the same person is photographed again.

    Attributes
    ----------
    metric : str
        Name as in the contract's ``measurements[].name``.
    sem_deg : float or None
        Within-person SD of the reading over retakes, degrees (None where not measured).
    mdc95_deg : float
        Minimal detectable change at 95%, degrees: 1.96 × √2 × SEM where measured.
    method : str
        The method the figure was measured for ("estimated", "from landmarks").
    measured : bool
        True when the figure comes from this tool's own retake bench; False when it is
        borrowed from the literature or assumed (``source`` says which).
    source : str
        Where the figure comes from.
    """

    metric: str
    sem_deg: float | None
    mdc95_deg: float
    method: str
    measured: bool
    source: str


@dataclass(frozen=True)
class ChangeVerdict:
    """The verdict on one change between two visits.

    Attributes
    ----------
    change_deg : float or None
        ``after − before``, degrees (None when either value is missing).
    mdc95_deg : float or None
        The minimal detectable change used, degrees (None when it does not apply).
    real : bool or None
        True: larger than the MDC95; False: within it; None: no change (a value missing)
        or the MDC does not apply (the two values were obtained by different methods).
    applies : bool
        Whether the MDC applies to this pair of values.
    words : str
        The verdict in words a patient understands ("" when a value is missing).
    """

    change_deg: float | None
    mdc95_deg: float | None
    real: bool | None
    applies: bool
    words: str


@cache
def _data() -> ChangeFile:
    return read_data_file("change.yaml", ChangeFile,
                          context={"methods": tuple(METHOD_WORDS.values())})


@cache
def retake_figures() -> dict[str, RetakeFigure]:
    """The validated figures of ``change.yaml``, by metric name (:class:`ChangeFile`)."""
    return {name: RetakeFigure(name, m.sem_deg, m.mdc95_deg, m.method, m.measured,
                               " ".join(m.source.split()))
            for name, m in _data().metrics.items()}


def retake_sem(metric: str = "pelvic_tilt") -> float:
    """The retake SEM of ``metric``, degrees (``DataFileError`` where none was measured)."""
    sem = retake_figures()[metric].sem_deg
    if sem is None:
        raise DataFileError(f"change.yaml: no retake SEM measured for {metric}")
    return sem


def _words(key: str) -> str:
    return " ".join(getattr(_data().words, key).split())


def method_kind(method_text: str | None, metric: str,
                corrections: Mapping[str, object] | None = None) -> str:
    """How a value was obtained, in two words or fewer.

    "estimated" (the learned estimator), "clinician-placed" (ASIS and PSIS placed by
    hand), "from landmarks" (pose key points), or "not recorded" (an older result without
    its method; a pelvic tilt whose ASIS and PSIS were both moved is clinician-placed).
    """
    text = method_text or ""
    for key, words in METHOD_WORDS.items():
        if text.startswith(key):
            return words
    if metric == "pelvic_tilt" and {"asis", "psis"} <= set(corrections or {}):
        return METHOD_WORDS["clinician"]
    return NOT_RECORDED


def judge_change(metric: str, before: float | None, after: float | None,
                 method_before: str = NOT_RECORDED,
                 method_after: str = NOT_RECORDED) -> ChangeVerdict:
    """Whether ``after − before`` (degrees) of ``metric`` is more than retakes vary.

    Parameters
    ----------
    metric
        A metric of ``change.yaml`` (KeyError otherwise).
    before, after
        The two values, degrees; None for a value that is missing (an abstention).
    method_before, method_after
        How each value was obtained (:func:`method_kind`). The MDC applies only when both
        are the method it was measured for; "not recorded" (an older saved result) counts
        as that method.
    """
    fig = retake_figures()[metric]
    if before is None or after is None:
        return ChangeVerdict(None, None, None, False, "")
    change = round(float(after) - float(before), 2)
    kinds = [fig.method if m == NOT_RECORDED else m for m in (method_before, method_after)]
    if any(k != fig.method for k in kinds):
        words = _words("not_applicable").format(before=method_before, after=method_after)
        return ChangeVerdict(change, None, None, False, words)
    real = abs(change) > fig.mdc95_deg
    return ChangeVerdict(change, fig.mdc95_deg, real, True,
                         _words("real" if real else "noise"))


def mdc_sentence(metric: str = "pelvic_tilt") -> str:
    """One sentence saying where the MDC of ``metric`` comes from (for pages and PDFs)."""
    fig = retake_figures()[metric]
    if fig.measured and fig.sem_deg is not None:
        return (f"A change counts as real only beyond {fig.mdc95_deg:.1f}°, the most two "
                f"retaken photos of an unchanged person differ 95% of the time (this tool's "
                f"retake bench: SEM {fig.sem_deg:.2f}°, MDC95 = 1.96 × √2 × SEM); between "
                "values measured two different ways it does not apply.")
    return (f"A change counts as real only beyond {fig.mdc95_deg:.1f}° (minimal detectable "
            "change; not measured on this tool's retakes: "
            f"{fig.source}); between values measured two different ways it does not apply.")
