"""Plan types and vocabularies: the catalogue's and rules' words, the Thomas-test
answers, and the dataclasses a plan is made of (:class:`PlanInput` in, :class:`Plan` out)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posture.classify import BAND_IDS
from posture.result import Reason

if TYPE_CHECKING:
    from posture.result import Assessment, Reading

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CATALOGUE_PATH = DATA_DIR / "exercises.yaml"
RULES_PATH = DATA_DIR / "plan_rules.yaml"
SAFETY_PATH = DATA_DIR / "red_flags.yaml"
IMAGE_DIR = DATA_DIR / "exercises"

KINDS = ("stretch", "mobility", "activation", "strength", "habit")
SEVERITIES = BAND_IDS  # the severity bands (posture.classify, bands.yaml)
FINDINGS = (
    "anterior_tilt",
    "posterior_tilt",
    "neutral",
    "forward_head",
    "knee_hyperextension",
    "sitting",
)
PROFILES = ("anterior", "posterior", "neutral", "ungraded")
DOSE_LEVELS = ("default", "mild", "moderate", "severe", "posterior", "neutral", "emphasis")
DOSE_FIELDS: dict[str, type] = {
    "sets": int,
    "reps": int,
    "hold_s": int,
    "per_side": bool,
    "frequency": str,
    "text": str,
}
THOMAS_ANSWERS = ("yes", "no", "unsure")
#: The answers in words (None = the test was not done), for every display of them.
THOMAS_LABELS = {None: "not done", "yes": "yes (hip flexors tight)", "no": "no",
                 "unsure": "unsure"}
ADDON_FLAGS = ("forward_head", "knee_hyperextension")
#: Measured signs that call for a clinician in person (plan_rules.yaml ``refer``): a
#: :class:`PlanInput` flag each. A leg-length difference shows in a standing photo as an
#: obliquity of the pelvis, so its note is the obliquity's (the library measures no
#: separate leg-length sign).
REFER_FLAGS = ("obliquity_flag",)
_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Exercise:
    """One validated catalogue entry."""

    id: str
    name: str
    kind: str
    targets: tuple[str, ...]
    steps: tuple[str, ...]
    dose: Mapping[str, Mapping[str, Any]]
    easier: str
    harder: str
    cautions: tuple[str, ...]
    addresses: tuple[str, ...]
    avoid_when: tuple[str, ...]
    source: str
    image_path: Path


@dataclass(frozen=True)
class Catalogue:
    """The validated exercise catalogue: ``exercises`` keyed by id, in file order."""

    version: int
    sources: Mapping[str, str]
    exercises: Mapping[str, Exercise]


@dataclass(frozen=True)
class ThomasGuide:
    """The modified Thomas test as a self-check, step by step."""

    name: str
    needs: str
    steps: tuple[str, ...]
    interpret: tuple[str, ...]
    caveat: str


@dataclass(frozen=True)
class PlanInput:
    """The parts of an analysis result that plans are matched on."""

    ok: bool = True
    abstained: bool = False
    abstain_reasons: tuple[Reason, ...] = ()
    retake_guidance: tuple[str, ...] = ()
    pelvic_tilt_deg: float | None = None
    pelvic_tilt_interval_deg: tuple[float, float] | None = None
    severity: str | None = None
    lumbar_lordosis_deg: float | None = None
    forward_head: bool | None = None
    head_neck_angle_deg: float | None = None
    knee_hyperextension: bool | None = None
    knee_angle_deg: float | None = None
    trunk_lean_deg: float | None = None
    #: front/back view (issue 28): degrees, + = the subject's left side higher
    pelvic_obliquity_deg: float | None = None
    #: |obliquity| beyond thresholds.yaml ``frontal.obliquity_flag_deg``: see a clinician
    obliquity_flag: bool | None = None

    @classmethod
    def from_reading(cls, r: Reading) -> PlanInput:
        """The plan's view of a typed result (:class:`posture.result.Reading`)."""
        return cls(
            ok=r.ok, abstained=r.abstained, abstain_reasons=r.reasons,
            retake_guidance=r.retake_guidance, pelvic_tilt_deg=r.pelvic_tilt_deg,
            pelvic_tilt_interval_deg=r.pelvic_tilt_interval_deg, severity=r.severity,
            lumbar_lordosis_deg=r.lumbar_lordosis_deg, forward_head=r.forward_head,
            head_neck_angle_deg=r.head_neck_angle_deg,
            knee_hyperextension=r.knee_hyperextension, knee_angle_deg=r.knee_angle_deg,
            trunk_lean_deg=r.trunk_lean_deg,
            pelvic_obliquity_deg=r.value("pelvic_obliquity"),
            obliquity_flag=r.obliquity_flag,
        )

    @classmethod
    def from_assessment(cls, a: Assessment) -> PlanInput:
        """The plan's view of an assessment (no JSON in between)."""
        from posture.contract import reading

        return cls.from_reading(reading(a))

    @classmethod
    def from_result(cls, d: Mapping[str, Any]) -> PlanInput:
        """Build from the JSON dict printed by ``posture analyze --json``
        (:func:`posture.contract.from_dict`).

        Absent keys and nulls become ``None`` (or the field default); NaN numbers become
        ``None``. Values of the wrong type raise ``InputError`` (code ``invalid_result``).
        """
        from posture.contract import from_dict

        return cls.from_reading(from_dict(d))

    @property
    def usable(self) -> bool:
        """True when the analysis can carry a plan (ok and not abstained)."""
        return self.ok and not self.abstained


@dataclass(frozen=True)
class ClinicianNote:
    """A measured sign a clinician should check in person, shown above the exercises:
    ``title`` (what was seen) and ``why`` (in plain words)."""

    flag: str
    title: str
    why: str


@dataclass(frozen=True)
class PlanItem:
    """One exercise in a plan, dosed and with the reason it was chosen."""

    exercise_id: str
    name: str
    kind: str
    dose_text: str
    why: str
    steps: tuple[str, ...]
    cautions: tuple[str, ...]
    image_path: str
    targets: tuple[str, ...] = ()
    easier: str = ""
    harder: str = ""
    source: str = ""


@dataclass(frozen=True)
class Plan:
    """A routine (``items``, possibly empty) plus the texts shown around it."""

    items: tuple[PlanItem, ...]
    headline: str
    notes: tuple[str, ...]
    red_flags: tuple[str, ...]
    disclaimer: str
    thomas_test_guide: ThomasGuide | None
    retake_guidance: tuple[str, ...]
    profile: str | None = None
    thomas_test: str | None = None
    red_flags_intro: str = ""
    catalogue_version: int | None = None
    #: "see a clinician" notes from measured signs (e.g. a pelvis not level), shown first
    clinician_notes: tuple[ClinicianNote, ...] = ()


