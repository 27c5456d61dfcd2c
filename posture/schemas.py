"""Schemas of the domain's data files in ``posture/data/`` (pydantic models).

Each loader validates its file with :func:`posture.config.read_data_file`; a broken file
raises :class:`~posture.errors.DataFileError` (code ``invalid_data_file``) naming the file
and the path inside it. The loaders turn the validated models into their own dataclasses.
Vocabularies that belong to a loader's module (the band ids of :mod:`posture.classify`,
the method words of :mod:`posture.change`) come in through the validation context, so
this module imports none of them.

``thresholds.yaml`` is checked in :mod:`posture.config` (the base layer reads it); the
plan's files (exercises, rules, red flags) in :mod:`posture.plan.schemas`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .config import At, DataSchema, Positive, Text

PositiveInt = Annotated[int, Field(gt=0)]


def vocabulary(info: ValidationInfo, key: str) -> tuple:
    """The allowed values passed as ``context[key]`` (a loader that forgets it is a bug,
    not a bad file: KeyError, not a validation error)."""
    return tuple((info.context or {})[key])


# --------------------------------------------------------------------------- bands.yaml


class BandEntry(DataSchema):
    id: Text
    label: Text | None = None
    upper_deg: float | None  # required; null only for the last band
    rationale: str = ""


class BandsFile(DataSchema):
    """Severity bands, lowest first: contiguous (each starts where the one before ends),
    rising, open above only in the last; ids exactly ``context["band_ids"]`` in order."""

    version: int
    quantity: Text
    ambiguous_within: Annotated[float, Field(ge=0, lt=1)] = 0.10
    disclaimer: str = ""
    bands: Annotated[list[BandEntry], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> BandsFile:
        lower, last = -math.inf, len(self.bands) - 1
        for i, b in enumerate(self.bands):
            if i == last and b.upper_deg is not None:
                raise At(("bands", i, "upper_deg"), "the last band must have upper_deg: null")
            if i < last and b.upper_deg is None:
                raise At(("bands", i, "upper_deg"), "only the last band may be open (null)")
            upper = math.inf if b.upper_deg is None else b.upper_deg
            if not math.isfinite(upper) and i < last or upper <= lower:
                raise At(("bands", i, "upper_deg"),
                         f"must be above the previous band's upper_deg ({lower:g})")
            lower = upper
        ids, want = tuple(b.id for b in self.bands), vocabulary(info, "band_ids")
        if ids != want:
            raise At(("bands",), f"band ids must be {list(want)} in that order, got {list(ids)}")
        return self


# --------------------------------------------------------------------------- typical_ranges.yaml


class RangeEntry(DataSchema):
    label: Text | None = None
    range: Annotated[list[float | None], Field(min_length=2, max_length=2)]  # [low, high]
    how: str = ""
    sources: Annotated[list[Text], Field(min_length=1)]

    @model_validator(mode="after")
    def _bounded(self) -> RangeEntry:
        low, high = self.range
        if low is None and high is None:
            raise At(("range",), "needs at least one bound")
        if low is not None and high is not None and low >= high:
            raise At(("range",), f"low ({low:g}) must be below high ({high:g})")
        return self


class TypicalRangesFile(DataSchema):
    version: int
    note: str = ""
    ranges: Annotated[dict[str, RangeEntry], Field(min_length=1)]


# --------------------------------------------------------------------------- palpation.yaml


class BoneOffset(DataSchema):
    sd_deg: Positive
    clip_deg: Positive
    source: Text


class InstrumentEntry(DataSchema):
    label: Text | None = None
    sem_deg: Positive
    source: Text


class PalpationFile(DataSchema):
    version: int
    bone_offset: BoneOffset
    instruments: Annotated[dict[str, InstrumentEntry], Field(min_length=1)]


# --------------------------------------------------------------------------- change.yaml


class ChangeWords(DataSchema):
    real: Text
    noise: Text
    not_applicable: Text


class RetakeEntry(DataSchema):
    sem_deg: Positive | None = None  # null: not measured on retakes
    mdc95_deg: Positive
    method: str  # one of context["methods"]
    measured: bool = False
    source: Text

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str, info: ValidationInfo) -> str:
        allowed = vocabulary(info, "methods")
        if v not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}, got {v!r}")
        return v


class ChangeFile(DataSchema):
    version: int
    words: ChangeWords
    metrics: Annotated[dict[str, RetakeEntry], Field(min_length=1)]


# --------------------------------------------------------------------------- view_kind.yaml


class ViewKindThresholds(DataSchema):
    max_side_width: float
    min_square_width: float
    min_order: float
    min_face_depth: float
    max_axis_deg: Positive
    min_visibility: Annotated[float, Field(ge=0, le=1)]

    @model_validator(mode="after")
    def _gap(self) -> ViewKindThresholds:
        if not self.max_side_width < self.min_square_width:
            raise At(("max_side_width",), "must be below min_square_width")
        return self


class ViewKindFile(DataSchema):
    version: int
    view_kind: ViewKindThresholds


# --------------------------------------------------------------------------- accounts.yaml


class AccountsFile(DataSchema):
    """Clinic account rules (:mod:`posture.store.accounts`); integers as written."""

    min_password_length: PositiveInt
    max_password_length: PositiveInt
    max_failed_logins: PositiveInt
    lockout_minutes: PositiveInt
    warn_attempts_left: Annotated[int, Field(ge=0)]
    failure_memory_hours: PositiveInt
    session_idle_minutes: PositiveInt
    session_max_hours: PositiveInt
    # the roles the database accepts (store.schema's CHECK constraint)
    roles: Annotated[list[Literal["clinician", "admin"]], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> AccountsFile:
        if self.min_password_length > self.max_password_length:
            raise At(("min_password_length",), "must not exceed max_password_length")
        if self.warn_attempts_left >= self.max_failed_logins:
            raise At(("warn_attempts_left",), "must be below max_failed_logins")
        return self


# --------------------------------------------------------------------------- estimator.json


class Layer(DataSchema):
    w: Annotated[list[list[float]], Field(min_length=1)]  # (inputs, outputs)
    b: list[float]  # (outputs,)


class RegressorEntry(DataSchema):
    """A standardised perceptron (:class:`posture.estimator.Regressor`): the layers chain
    from the features to the targets."""

    targets: Annotated[list[Text], Field(min_length=1)]
    impute: list[float]
    mean: list[float]
    scale: list[float]
    layers: Annotated[list[Layer], Field(min_length=1)]
    target_mean: list[float]
    target_scale: list[float]

    @model_validator(mode="after")
    def _shapes(self) -> RegressorEntry:
        width = len(self.mean)
        for key in ("impute", "scale"):
            if len(getattr(self, key)) != width:
                raise At((key,), f"has {len(getattr(self, key))} values, mean has {width}")
        for i, layer in enumerate(self.layers):
            if len(layer.w) != width:
                raise At(("layers", i, "w"), f"has {len(layer.w)} rows, needs {width}")
            width = len(layer.w[0])
            if any(len(row) != width for row in layer.w) or len(layer.b) != width:
                raise At(("layers", i), f"w rows and b must all have {width} values")
        for key in ("target_mean", "target_scale"):
            if len(getattr(self, key)) != len(self.targets) or width != len(self.targets):
                raise At((key,), f"needs one value per target ({len(self.targets)}), "
                                 f"the last layer gives {width}")
        return self


class IntervalBins(DataSchema):
    edges: Annotated[list[float], Field(min_length=1)]  # predicted tilt, degrees, rising
    halfwidth: dict[str, list[Positive]]  # per target: len(edges) + 1 half-widths

    @model_validator(mode="after")
    def _one_width_per_bin(self) -> IntervalBins:
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise At(("edges",), "must rise")
        for key, widths in self.halfwidth.items():
            if len(widths) != len(self.edges) + 1:
                raise At(("halfwidth", key), "needs len(edges) + 1 widths")
        return self


class EstimatorFile(DataSchema):
    """``estimator.json``, written by ``tools/train_estimator.py``. Whether it fits this
    code (feature version, feature count, the network's targets) is checked by
    :func:`posture.estimator.load_estimator`."""

    feature_version: int
    regressor: RegressorEntry
    interval_halfwidth: Annotated[dict[str, Positive], Field(min_length=1)]
    typical_error: dict[str, float] = {}
    meta: dict[str, object] = {}  # provenance, free-form
    blend: Annotated[float, Field(ge=0, le=1)] = 0.0
    interval_bins: IntervalBins | None = None
    patchnet: str | None = None  # file name beside this one
