"""The typed result of one analysis: what every consumer (plan, store, report, app) reads.

:class:`Assessment` is built by :func:`posture.analysis.assess`; the JSON contract
(:mod:`posture.contract`) is only its serialised form at the edge. The findings
that follow from the measurements and ``thresholds.yaml`` (forward head, knee
hyperextension) are computed here, once, so no reader re-derives them.

This module imports no other part of the pipeline at run time (only for type checking),
so every step, :mod:`posture.sagittal` included, can create :class:`Reason` values
(defined in :mod:`posture.reasons`, with the words for each code; imported here for
the readers of this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from .config import load_data_file, thresholds
from .errors import DataFileError
from .reasons import Reason as Reason  # re-exported: readers of the result import it here

if TYPE_CHECKING:
    import numpy as np

    from .classify import Severity
    from .front_view import FrontView
    from .metrics import Measurement, Measurements
    from .pose import Pose
    from .sagittal import SideView


def forward_head(head_neck_angle_deg: float | None) -> bool | None:
    """Forward head posture: the head–neck angle (deg) below ``thresholds.yaml``'s
    ``head.forward_head_below_deg``; None when the angle was not measured."""
    if head_neck_angle_deg is None:
        return None
    return bool(head_neck_angle_deg < thresholds()["head"]["forward_head_below_deg"])


def knee_hyperextension(knee_angle_deg: float | None) -> bool | None:
    """Knee hyperextension: the knee angle (deg, positive = extended past straight) above
    ``thresholds.yaml``'s ``knee.hyperextension_above_deg``; None when not measured."""
    if knee_angle_deg is None:
        return None
    return bool(knee_angle_deg > thresholds()["knee"]["hyperextension_above_deg"])


@cache
def obliquity_flag_deg() -> float:
    """``thresholds.yaml`` ``frontal.obliquity_flag_deg``: |obliquity| beyond it is flagged."""
    try:
        v = float(load_data_file("thresholds.yaml")["frontal"]["obliquity_flag_deg"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError("thresholds.yaml: frontal.obliquity_flag_deg must be a number "
                            f"({exc})") from None
    if not v > 0:
        raise DataFileError("thresholds.yaml: frontal.obliquity_flag_deg must be positive")
    return v


def obliquity_flag(obliquity_deg: float | None) -> bool | None:
    """Pelvic obliquity (deg) beyond ``obliquity_flag_deg`` (a "see a clinician" note, never
    the anterior-tilt plan alone); None when not measured."""
    if obliquity_deg is None:
        return None
    return bool(abs(obliquity_deg) > obliquity_flag_deg())


#: The side view's kind; a front or back photo's view is "front" or "back" (issue 28).
SIDE = "side"


@dataclass(frozen=True)
class Assessment:
    """The outcome of analysing one image.

    ``views`` holds the geometry of each view measured, by kind (``"side"`` now; front
    and back next), the first being the one the view gate judged; ``measurements`` holds
    every measurement of them all (:class:`~posture.metrics.Measurements`, names from the
    registry :mod:`posture.measures`). ``abstained`` is True when the tool declines to give
    pelvic tilt (bad view, no fitted estimator, interval too wide to grade); ``reasons``
    and ``guidance`` say why and what to do. ``severity`` is None whenever it abstains.
    ``forward_head`` and ``knee_hyperextension`` are the secondary findings (None when not
    measured).
    """

    frame_size: tuple[int, int]  # (width, height) px
    pose: Pose
    views: Mapping[str, SideView | FrontView]
    measurements: Measurements
    severity: Severity | None
    abstained: bool
    reasons: tuple[Reason, ...] = ()
    guidance: tuple[str, ...] = ()
    model_variant: str = ""
    estimator_meta: dict = field(default_factory=dict, repr=False)
    #: the pelvis patch the estimator saw (2×64×64 uint8), kept so landmark corrections
    #: can be re-measured without the image
    patch: np.ndarray | None = field(default=None, repr=False)

    @property
    def view(self) -> SideView | FrontView:
        """The first view's geometry (the one the gate judged)."""
        return next(iter(self.views.values()))

    @property
    def view_kind(self) -> str:
        """The first view's kind: "side", "front" or "back"."""
        return next(iter(self.views))

    @property
    def side(self) -> SideView:
        """The side view (existing code; new code reads ``views``)."""
        return self.views[SIDE]

    def with_view(self, kind: str, view: SideView | FrontView) -> Assessment:
        """A copy with ``view`` as its ``kind`` view."""
        return replace(self, views={**self.views, kind: view})

    @property
    def facing(self) -> str:
        return self.view.facing

    @property
    def ok(self) -> bool:
        """The view passed the gate (the person could be measured)."""
        return self.view.gate.ok

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def notes(self) -> tuple[Reason, ...]:
        """Things to know that did not stop the measurement (e.g. ``partial_view``)."""
        return self.view.gate.notes

    def value(self, name: str) -> float | None:
        """The value of the measurement ``name`` (None when not measured)."""
        m = self.measurements.get(name)
        return None if m is None else m.value

    @property
    def forward_head(self) -> bool | None:
        return forward_head(self.value("head_neck_angle"))

    @property
    def knee_hyperextension(self) -> bool | None:
        return knee_hyperextension(self.value("knee_angle"))

    @property
    def obliquity_flag(self) -> bool | None:
        """|pelvic obliquity| beyond ``thresholds.yaml`` ``frontal.obliquity_flag_deg``
        (a "see a clinician" note); None without a front or back view."""
        return obliquity_flag(self.value("pelvic_obliquity"))


@dataclass(frozen=True)
class ViewSummary:
    """The view gate's figures as the contract's ``view`` object holds them."""

    ok: bool
    side_on_score: float | None = None
    frontal_ratio: float | None = None
    whole_body: bool | None = None
    other_people: int | None = None
    facing_confidence: float | None = None
    near_side: str | None = None
    #: feet out of the picture, measured from the rest with a wider interval
    partial: bool | None = None


@dataclass(frozen=True)
class ErrorInfo:
    """Why there is no (usable) result: a stable ``code``, a ``message`` and the CLI's exit
    code (None where the contract gave none)."""

    code: str
    message: str
    exit_code: int | None = None


@dataclass(frozen=True)
class Reading:
    """One result in portable form: exactly what the JSON contract holds, typed.

    An :class:`Assessment` lives in memory only (pose, mask, patch); a ``Reading`` is what
    leaves the analysis (:func:`posture.contract.reading`) and what comes back from
    a stored or exported JSON (:func:`posture.contract.from_dict`). Plans, the
    clinic store, its history charts, the PDF and the app's panels all read this type,
    never the dict. Numbers are rounded as in the contract (degrees to 0.01).

    ``measurements`` keeps the contract's list (name, value, unit, convention, interval,
    coverage, method); ``extra`` holds keys outside the contract (e.g. a capture's
    ``frames``), kept so a round trip loses nothing.
    """

    ok: bool
    abstained: bool
    source: str | None = None
    facing: str | None = None
    pelvic_tilt_deg: float | None = None
    pelvic_tilt_interval_deg: tuple[float, float] | None = None
    interval_coverage: float | None = None
    lumbar_lordosis_deg: float | None = None
    lumbar_lordosis_interval_deg: tuple[float, float] | None = None
    severity: str | None = None
    severity_label: str | None = None
    severity_probabilities: dict[str, float] | None = None
    severity_disclaimer: str | None = None
    reasons: tuple[Reason, ...] = ()
    retake_guidance: tuple[str, ...] = ()
    head_neck_angle_deg: float | None = None
    forward_head: bool | None = None
    trunk_lean_deg: float | None = None
    knee_angle_deg: float | None = None
    knee_hyperextension: bool | None = None
    plumb_offsets_stature: dict[str, float | None] | None = None
    measurements: tuple[Measurement, ...] = ()
    view: ViewSummary | None = None
    roll_deg: float | None = None
    roll_source: str | None = None
    image_size: tuple[int, int] | None = None
    pose_variant: str | None = None
    estimator_version: str | None = None
    landmarks_px: tuple[tuple[float | None, float | None, float | None], ...] | None = None
    error: ErrorInfo | None = None
    schema_version: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: things to know that did not stop the measurement (e.g. ``partial_view``)
    notes: tuple[Reason, ...] = ()
    #: the band in words, both bands when the two most probable are within 10 points
    severity_phrase: str | None = None
    #: the first (primary) view's kind ("side", "front", "back") and every view measured
    view_kind: str | None = None
    views: tuple[str, ...] = ()
    #: |pelvic obliquity| beyond thresholds.yaml frontal.obliquity_flag_deg (issue 28)
    obliquity_flag: bool | None = None

    @property
    def band_text(self) -> str | None:
        """The band in words for text outputs: both bands when they are too close to call."""
        return self.severity_phrase or self.severity_label

    @property
    def usable(self) -> bool:
        """A measured, graded reading (view ok and not abstained)."""
        return self.ok and not self.abstained

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def analysed(self) -> bool:
        """An image was analysed (False for an error before any analysis: unreadable file,
        nobody found)."""
        return self.image_size is not None or bool(self.measurements)

    def measurement(self, name: str) -> Measurement | None:
        """The named measurement (``pelvic_tilt``, ``lumbar_lordosis``, ...), or None."""
        return next((m for m in self.measurements if m.name == name), None)

    def value(self, name: str) -> float | None:
        """The value of measure ``name`` (registry :mod:`posture.measures`): its top-level
        contract field where the reading has one, else from ``measurements``."""
        from .measures import spec

        key = spec(name).key
        if key in _FIELDS:
            return getattr(self, key)
        m = self.measurement(name)
        if m is not None:
            return m.value
        v = self.extra.get(key)  # a stored top-level key without its measurement entry
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    def interval(self, name: str) -> tuple[float, float] | None:
        """The interval of measure ``name``: its top-level field where there is one, else
        from ``measurements``."""
        from .measures import spec

        key = spec(name).interval_key
        if key in _FIELDS:
            return getattr(self, key)
        m = self.measurement(name)
        if m is not None:
            return m.interval
        v = self.extra.get(key) if key else None
        if isinstance(v, list | tuple) and len(v) == 2 and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in v):
            return float(v[0]), float(v[1])
        return None

    def metric(self, name: str) -> tuple[float | None, tuple[float, float] | None,
                                         float | None]:
        """``(value, interval, coverage)`` of a measurement by name: from ``measurements``,
        else from the top-level contract keys (older results)."""
        m = self.measurement(name)
        if m is not None:
            return m.value, m.interval, m.coverage
        value, iv = self.value(name), self.interval(name)
        return value, iv, (self.interval_coverage if iv is not None else None)


#: The fields of a reading (contract keys of the measures among them).
_FIELDS = frozenset(Reading.__dataclass_fields__)
