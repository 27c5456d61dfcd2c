"""Data files that experts may revise: loaded once, validated at load.

The files live in ``posture/data/`` and cite their sources. Nothing here is code policy:
change a threshold in the YAML, not in Python.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import DataFileError


def load_yaml_file(path: str | os.PathLike) -> Any:
    """Parse a YAML (or JSON) data file at ``path``: a packaged one or a user-supplied
    replacement (e.g. an exercise catalogue). The one loader of data files; validation is
    the caller's. Raises :class:`DataFileError` (``<name>: cannot read`` / ``not valid
    YAML``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path.name}: cannot read ({exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path.name}: not valid YAML ({exc})") from exc


def data_path(name: str) -> Path:
    """Where the packaged data file ``posture/data/<name>`` is (tests point it elsewhere)."""
    return Path(str(resources.files("posture.data").joinpath(name)))


def load_data_file(name: str) -> dict[str, Any]:
    """Parse ``posture/data/<name>`` (YAML or JSON) into a dict, unvalidated (see
    :func:`read_data_file` for the validated form)."""
    path = data_path(name)
    if not path.is_file():
        raise DataFileError(f"data file {name} is missing from the package")
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise DataFileError(f"data file {name} must hold a mapping at the top level")
    return data


# --------------------------------------------------------------------------- schemas

S = TypeVar("S", bound=BaseModel)


class DataSchema(BaseModel):
    """Base of the data files' schemas (pydantic). Strict: a value must have the type
    written (no ``"1.5"`` read as 1.5, no ``true`` as 1); unknown keys are refused, since
    a misspelt optional key would otherwise be silently ignored."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class At(ValueError):
    """A cross-field rule broken at ``loc`` below the object being validated: raise it
    from a model validator so the error names the exact key, not just the object."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = tuple(loc)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v


#: Text that must say something (not empty, not only spaces); kept as written.
Text = Annotated[str, AfterValidator(_not_blank)]
Positive = Annotated[float, Field(gt=0)]


def _path(loc: tuple) -> str:
    """``("bands", 2, "upper_deg")`` → ``bands[2].upper_deg``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (the key)"
        else:
            out += f".{part}" if out else str(part)
    return out or "top level"


def _item_id(data: Any, loc: tuple) -> str | None:
    """The ``id`` of the innermost list entry on ``loc`` (a list index says little)."""
    found, node = None, data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(part, int) and isinstance(node, Mapping) and \
                isinstance(node.get("id"), str):
            found = node["id"]
    return found


def _describe(exc: ValidationError, data: Any, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc, msg, cause = tuple(err["loc"]), err["msg"], (err.get("ctx") or {}).get("error")
        if isinstance(cause, At):
            loc, msg = loc + cause.loc, str(cause)
        elif isinstance(cause, ValueError):
            msg = str(cause)
        elif err["type"] != "missing" and not isinstance(err["input"], Mapping | list):
            msg += f" (got {err['input']!r:.40})"
        ex_id = _item_id(data, loc) if loc[-1:] != ("id",) else None
        parts.append(f"{_path(loc)}: {msg}" + (f" (id {ex_id!r})" if ex_id else ""))
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate_data(schema: type[S], data: Any, origin: str, *,
                  context: Mapping[str, Any] | None = None) -> S:
    """Validate parsed ``data`` against ``schema``.

    Raises :class:`DataFileError` (code ``invalid_data_file``) whose message names the
    file and the path inside it, e.g. ``bands.yaml: bands[2].upper_deg: Input should be a
    valid number``; ``context`` passes vocabularies the schema checks against.
    """
    try:
        return schema.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        raise DataFileError(f"{origin}: {_describe(exc, data)}") from None


def read_data_file(name: str, schema: type[S], *,
                   context: Mapping[str, Any] | None = None) -> S:
    """``posture/data/<name>`` parsed and validated against ``schema``."""
    path = data_path(name)
    if not path.is_file():
        raise DataFileError(f"data file {name} is missing from the package")
    return validate_data(schema, load_yaml_file(path), name, context=context)


class _View(DataSchema):
    max_frontal_ratio: float
    min_facing_confidence: float
    edge_margin: float
    min_visibility: float
    other_person_size_ratio: float
    min_leg_torso_ratio: float
    max_leg_torso_ratio: float
    max_knee_hip_width_ratio: float
    same_person_iou: float
    max_body_axis_deg: float
    min_shank_thigh_ratio: float


class _Partial(DataSchema):
    ear_hip_fraction: float
    ear_knee_fraction: float
    hip_height_fraction: float
    min_thigh_room: float
    min_thigh_torso_ratio: float
    max_thigh_torso_ratio: float
    interval_scale: Positive


class _Estimate(DataSchema):
    interval_coverage: Annotated[float, Field(gt=0, lt=1)]
    max_interval_width_deg: Positive


class _Analysis(DataSchema):
    working_long_side: Positive
    min_person_image_px: Positive
    min_stature_px: Positive


class _Head(DataSchema):
    forward_head_below_deg: float


class _Knee(DataSchema):
    hyperextension_above_deg: float


class _Capture(DataSchema):
    max_tilt_spread_deg: Positive
    max_motion_stature: Positive


class ThresholdsFile(DataSchema):
    """``thresholds.yaml``: every number is required (floats; integers are read as
    floats). Sections other than these may be added for other readers."""

    model_config = ConfigDict(extra="allow")

    version: int
    view: _View
    partial: _Partial
    estimate: _Estimate
    analysis: _Analysis
    head: _Head
    knee: _Knee
    capture: _Capture


_SECTIONS = ("view", "partial", "estimate", "analysis", "head", "knee", "capture")


@cache
def thresholds() -> dict[str, dict[str, float]]:
    """The numbers of ``thresholds.yaml`` by section, validated (:class:`ThresholdsFile`)."""
    data = read_data_file("thresholds.yaml", ThresholdsFile)
    return {section: getattr(data, section).model_dump() for section in _SECTIONS}


def view_thresholds() -> dict[str, float]:
    return thresholds()["view"]


def partial_thresholds() -> dict[str, float]:
    """Constants for a view without the feet (``thresholds.yaml``, ``partial``)."""
    return thresholds()["partial"]
