"""The typed result of one analysis: what every consumer (plan, store, report, app) reads.

:class:`Assessment` is built by :func:`posture.analysis.assess`; the JSON contract
(:mod:`posture.present.contract`) is only its serialised form at the edge. The findings
that follow from the measurements and ``thresholds.yaml`` (forward head, knee
hyperextension) are computed here, once, so no reader re-derives them.

This module imports no other part of the pipeline at run time (only for type checking),
so every step, :mod:`posture.sagittal` included, can create :class:`Reason` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import thresholds

if TYPE_CHECKING:
    import numpy as np

    from .classify import Severity
    from .metrics import Measurements
    from .pose import Pose
    from .sagittal import SideView


@dataclass(frozen=True)
class Reason:
    """Why the tool declined to give (part of) a reading.

    ``code`` is stable (``not_side_on``, ``body_cut_off``, ``interval_too_wide``, ...) and
    is what code matches on; ``detail`` is the sentence for people. ``str(reason)`` is the
    ``"code: detail"`` form the JSON contract's ``abstain_reasons`` holds.
    """

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    @classmethod
    def parse(cls, text: str) -> Reason:
        """The inverse of ``str()``: ``"code: detail"`` → ``Reason`` (no colon: all code)."""
        code, sep, detail = str(text).partition(":")
        return cls(code.strip(), detail.strip()) if sep else cls(code.strip(), "")


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


@dataclass(frozen=True)
class Assessment:
    """The outcome of analysing one image.

    ``abstained`` is True when the tool declines to give pelvic tilt (bad view, no fitted
    estimator, interval too wide to grade); ``reasons`` and ``guidance`` say why and what
    to do. ``severity`` is None whenever it abstains. ``forward_head`` and
    ``knee_hyperextension`` are the secondary findings (None when not measured).
    """

    frame_size: tuple[int, int]  # (width, height) px
    pose: Pose
    side: SideView
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
    def facing(self) -> str:
        return self.side.facing

    @property
    def ok(self) -> bool:
        """The view passed the gate (the person could be measured)."""
        return self.side.view.ok

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def forward_head(self) -> bool | None:
        return forward_head(self.measurements.head_neck_angle.value)

    @property
    def knee_hyperextension(self) -> bool | None:
        return knee_hyperextension(self.measurements.knee_angle.value)
