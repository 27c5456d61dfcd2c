"""Typed records of the clinic store and its errors.

Records are frozen: a saved assessment is a fact about the past. Change one by saving a
new assessment (or deleting), never by mutating a record in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from ..errors import StoreError
from ..plan import THOMAS_ANSWERS
from ..result import Reading

__all__ = ["SEXES", "THOMAS_ANSWERS", "AssessmentRecord", "Patient", "StoreError"]

#: Allowed values of :attr:`Patient.sex` (None = not recorded).
SEXES = ("female", "male", "other")
# THOMAS_ANSWERS (None = not asked) is the plan's: one definition (posture.plan).


@dataclass(frozen=True)
class Patient:
    """A patient, identified by a pseudonym; the real name is optional.

    Attributes
    ----------
    id
        Database key.
    pseudonym
        The clinic's pseudonymous identifier (unique, 1–64 characters).
    name
        Optional real name (personal data: leave None where a pseudonym suffices).
    birth_year
        Four-digit year or None.
    sex
        One of :data:`SEXES` or None.
    created_at
        When the record was created (UTC).
    """

    id: int
    pseudonym: str
    name: str | None
    birth_year: int | None
    sex: str | None
    created_at: datetime

    @property
    def label(self) -> str:
        """``#id · pseudonym``, then ``— name`` when one is recorded (plain text, not markup).

        Unique by construction (the id), so two patients never share a label even when a
        pseudonym looks like another patient's pseudonym plus name.
        """
        return f"#{self.id} · {self.pseudonym}" + (f" — {self.name}" if self.name else "")


@dataclass(frozen=True)
class AssessmentRecord:
    """One saved assessment.

    Attributes
    ----------
    id, patient_id
        Database keys.
    taken_at
        When the photo was taken or the assessment made (UTC).
    created_at
        When it was saved (UTC).
    result
        The full JSON contract of the analysis (``posture analyze --json``), including every
        metric with its interval, the landmarks used (after corrections) and model versions.
    corrections
        Key points the clinician moved, name → (x, y) image pixels (empty when none).
    thomas_test
        ``"yes"``, ``"no"``, ``"unsure"`` or None (not asked).
    notes
        Free text by the clinician (plain text; escape before rendering as markup).
    pose_model, estimator_version
        Which pose model variant and pelvic-tilt estimator produced the numbers.
    photo_consent, has_photo
        The photo is stored only with consent; fetch it with ``Store.photo(id)``.
    reference_instrument, reference_deg
        A clinician's reading of the patient's pelvic tilt with a reference instrument
        beside this assessment (an id of ``posture/data/palpation.yaml``'s instruments,
        and degrees, + = anterior); both None when none was entered. It calibrates the
        palpation-equivalent tilt (:mod:`posture.palpation`).
    """

    id: int
    patient_id: int
    taken_at: datetime
    created_at: datetime
    result: dict[str, Any] = field(repr=False)
    corrections: dict[str, tuple[float, float]]
    thomas_test: str | None
    notes: str
    pose_model: str | None
    estimator_version: str | None
    photo_consent: bool
    has_photo: bool
    reference_instrument: str | None = None
    reference_deg: float | None = None

    @cached_property
    def reading(self) -> Reading:
        """The saved result, typed (:func:`posture.contract.from_dict`); a result
        that no longer parses reads as an abstention with code ``invalid_result``."""
        from ..contract import from_dict

        return from_dict(self.result, strict=False)

    @property
    def pelvic_tilt_deg(self) -> float | None:
        """Pelvic tilt, degrees, positive = anterior (None when abstained)."""
        return self.reading.pelvic_tilt_deg

    @property
    def pelvic_tilt_interval_deg(self) -> tuple[float, float] | None:
        return self.reading.pelvic_tilt_interval_deg

    @property
    def reference(self) -> tuple[str, float] | None:
        """(instrument, degrees) of the reference reading, or None."""
        if self.reference_instrument is None or self.reference_deg is None:
            return None
        return self.reference_instrument, self.reference_deg

    @property
    def severity(self) -> str | None:
        return self.reading.severity

    @property
    def abstained(self) -> bool:
        # a saved result without the key was never graded
        return self.reading.abstained if "abstained" in self.result else True

    @property
    def landmarks_px(self) -> list | None:
        """The 33 pose landmarks used, ``[x, y, visibility]`` in image pixels."""
        lm = self.reading.landmarks_px
        return None if lm is None else [list(p) for p in lm]
