"""Schemas of the plan's data files (pydantic): the exercise catalogue
(``exercises.yaml``), the matching rules (``plan_rules.yaml``) and the safety texts
(``red_flags.yaml``).

Validate with :func:`posture.config.validate_data`; errors name the file and the path in
it. What a file is checked against that lives outside it comes in through the validation
context: ``image_dir`` (the catalogue's pictures) and ``catalogue`` (the exercises the
rules may name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from posture.config import At, DataSchema, Text

from .model import (
    _ID_RE,
    ADDON_FLAGS,
    DOSE_LEVELS,
    FINDINGS,
    KINDS,
    PROFILES,
    REFER_FLAGS,
    SEVERITIES,
    THOMAS_ANSWERS,
)

Kind = Literal[KINDS]
Finding = Literal[FINDINGS]
Profile = Literal[PROFILES]
Severity = Literal[SEVERITIES]
DoseLevel = Literal[DOSE_LEVELS]
PositiveInt = Annotated[int, Field(gt=0)]
Texts = Annotated[list[Text], Field(min_length=1)]


def _context(info: ValidationInfo, key: str) -> Any:
    """``context[key]``; a caller that forgets it is a bug (KeyError), not a bad file."""
    return (info.context or {})[key]


# --------------------------------------------------------------------------- exercises.yaml


class Dose(DataSchema):
    """One dose level; the fields of :data:`posture.plan.model.DOSE_FIELDS`. A field is
    optional, but a null is refused (None is only the default)."""

    sets: PositiveInt = None  # type: ignore[assignment]
    reps: PositiveInt = None  # type: ignore[assignment]
    hold_s: PositiveInt = None  # type: ignore[assignment]
    per_side: bool = None  # type: ignore[assignment]
    frequency: Text = None  # type: ignore[assignment]
    text: Text = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _not_empty(self) -> Dose:
        if not self.model_fields_set:
            raise ValueError("a dose level needs at least one field")
        return self

    def fields(self) -> dict[str, Any]:
        """The fields the file gives, as written."""
        return self.model_dump(include=self.model_fields_set)


class SourceEntry(DataSchema):
    id: Text
    text: Text


class ExerciseEntry(DataSchema):
    id: str
    name: Text
    kind: Kind
    targets: Texts
    steps: Texts
    dose: dict[DoseLevel, Dose]
    easier: Text
    harder: Text
    cautions: list[Text]  # required, may be empty
    addresses: Annotated[list[Finding], Field(min_length=1)]
    avoid_when: list[Profile] = []
    source: Text
    image: str

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"must be a lowercase slug like 'glute-bridge', got {v!r}")
        return v

    @field_validator("dose")
    @classmethod
    def _has_default(cls, v: dict) -> dict:
        if "default" not in v:
            raise ValueError("needs a 'default' level")
        return v

    @field_validator("image")
    @classmethod
    def _picture(cls, v: str, info: ValidationInfo) -> str:
        path = Path(_context(info, "image_dir")) / v
        if not v.endswith(".png") or not path.is_file():
            raise ValueError(f"no PNG file {path}")
        return v


class CatalogueFile(DataSchema):
    """Exercise ids unique; each exercise's ``source`` listed under ``sources``."""

    version: int
    sources: list[SourceEntry]
    exercises: Annotated[list[ExerciseEntry], Field(min_length=1)]

    @model_validator(mode="after")
    def _references(self) -> CatalogueFile:
        seen, sources = set(), {s.id for s in self.sources}
        for i, e in enumerate(self.exercises):
            if e.id in seen:
                raise At(("exercises", i, "id"), f"duplicate id {e.id!r}")
            seen.add(e.id)
            if e.source not in sources:
                raise At(("exercises", i, "source"),
                         f"{e.source!r} is not listed under 'sources'")
        return self


# --------------------------------------------------------------------------- plan_rules.yaml


class RuleItem(DataSchema):
    id: str  # an exercise of context["catalogue"]
    priority: PositiveInt
    reason: Text
    severities: list[Severity] = None  # type: ignore[assignment]  # all when absent

    @field_validator("id")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        if v not in _context(info, "catalogue").exercises:
            raise ValueError(f"unknown exercise id {v!r}")
        return v


class ProfileRule(DataSchema):
    severities: list[Severity | None] = None  # type: ignore[assignment]
    finding: Text
    headline: Text
    items: list[RuleItem]


class AddonRule(DataSchema):
    when: Literal[ADDON_FLAGS]
    finding: Text
    items: list[RuleItem]


class ReferRule(DataSchema):
    """A measured sign that sends the person to a clinician: the plan's note when the
    input's flag ``when`` is true (``title``/``why`` are templates), with its sources."""

    when: Literal[REFER_FLAGS]
    title: Text
    why: Text
    sources: Texts


class ThomasRule(DataSchema):
    add: list[RuleItem] = []
    emphasis: list[str] = []
    note: Text = None  # type: ignore[assignment]

    @field_validator("emphasis")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for ex_id in v:
            if ex_id not in _context(info, "catalogue").exercises:
                raise ValueError(f"unknown exercise id {ex_id!r}")
        return v


class ThomasRules(DataSchema):
    finding: Text
    yes: dict[Profile, ThomasRule] = {}
    no: dict[Profile, ThomasRule] = {}
    unsure: dict[Profile, ThomasRule] = {}

    @model_validator(mode="before")
    @classmethod
    def _quoted_answers(cls, data: Any) -> Any:
        # YAML reads a bare yes/no as a boolean: insist on the quoted answer strings.
        if isinstance(data, dict):
            for key in data:
                if key != "finding" and key not in THOMAS_ANSWERS:
                    raise ValueError(f'unknown answer key {key!r}; quote it, e.g. "yes"')
        return data


class Notes(DataSchema):
    always: list[Text]
    interval: Text
    pelvis_shape: Text


class RulesFile(DataSchema):
    """Matching rules. Cross-field: ``kind_order`` lists each kind once; ``profiles``
    defines each profile; no item gives a profile an exercise that avoids it; every
    severity of a profile gets at least ``min_items`` items; min ≤ max."""

    version: int
    min_items: PositiveInt
    max_items: PositiveInt
    kind_order: list[Kind]
    profiles: dict[Profile, ProfileRule]
    addons: dict[str, AddonRule]
    refer: dict[str, ReferRule]
    thomas: ThomasRules
    thomas_guide_for: list[Profile]
    notes: Notes
    retake_default: Texts

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> RulesFile:
        if sorted(self.kind_order) != sorted(KINDS):
            raise At(("kind_order",), f"must list each of {list(KINDS)} once")
        if set(self.profiles) != set(PROFILES):
            raise At(("profiles",), f"must define exactly {list(PROFILES)}")
        if self.min_items > self.max_items:
            raise At(("min_items",), "must not exceed max_items")
        missing = sorted(set(REFER_FLAGS) - {r.when for r in self.refer.values()})
        if missing:  # a sign the library flags must never pass without its note
            raise At(("refer",), f"needs a rule for each of {missing}")
        exercises = _context(info, "catalogue").exercises
        groups = [(("profiles", n, "items"), n, p.items) for n, p in self.profiles.items()]
        for answer in THOMAS_ANSWERS:
            groups += [(("thomas", answer, n, "add"), n, r.add)
                       for n, r in getattr(self.thomas, answer).items()]
        for loc, profile, items in groups:
            for j, it in enumerate(items):
                if profile in exercises[it.id].avoid_when:
                    raise At((*loc, j, "id"),
                             f"exercise {it.id!r} must never be given to profile {profile!r}")
        for name, prof in self.profiles.items():
            for sev in prof.severities or [None]:
                n = sum(1 for it in prof.items if it.severities is None or sev in it.severities)
                if n < self.min_items:
                    raise At(("profiles", name, "items"),
                             f"only {n} items for severity {sev!r}; need {self.min_items}")
        return self


# --------------------------------------------------------------------------- red_flags.yaml


class ScreeningQuestion(DataSchema):
    flag: Text
    question: Text
    why: Text


class ThomasTest(DataSchema):
    name: Text
    needs: Text
    steps: Texts
    interpret: Texts
    caveat: Text


class SafetyFile(DataSchema):
    """Safety texts. Cross-field: ``screening`` asks about each red flag exactly once."""

    version: int
    source: Text
    sources: list[Text]
    disclaimer: Text
    red_flags_intro: Text
    red_flags: Texts
    screening: list[ScreeningQuestion]
    clinician_advice: Text
    thomas_test: ThomasTest

    @model_validator(mode="after")
    def _one_question_per_flag(self) -> SafetyFile:
        asked = sorted(q.flag.strip() for q in self.screening)
        if asked != sorted(self.red_flags):
            missing = sorted(set(self.red_flags) - set(asked))
            extra = sorted(set(asked) - set(self.red_flags))
            raise At(("screening",), "must ask about each red flag once"
                     + (f"; no question for {missing}" if missing else "")
                     + (f"; not a red flag: {extra}" if extra else ""))
        return self
