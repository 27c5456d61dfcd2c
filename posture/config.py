"""Data files that experts may revise: loaded once, validated at load.

The files live in ``posture/data/`` and cite their sources. Nothing here is code policy:
change a threshold in the YAML, not in Python.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

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


def load_data_file(name: str) -> dict[str, Any]:
    """Parse ``posture/data/<name>`` (YAML or JSON) into a dict."""
    path = Path(str(resources.files("posture.data").joinpath(name)))
    if not path.is_file():
        raise DataFileError(f"data file {name} is missing from the package")
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise DataFileError(f"data file {name} must hold a mapping at the top level")
    return data


def _require_numbers(section: dict, keys: list[str], where: str) -> dict[str, float]:
    out = {}
    for k in keys:
        v = section.get(k)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise DataFileError(f"{where}: '{k}' must be a number, got {v!r}")
        out[k] = float(v)
    return out


@cache
def thresholds() -> dict[str, dict[str, float]]:
    data = load_data_file("thresholds.yaml")
    spec = {
        "view": ["max_frontal_ratio", "min_facing_confidence", "edge_margin",
                 "min_visibility", "other_person_size_ratio",
                 "min_leg_torso_ratio", "max_leg_torso_ratio", "max_knee_hip_width_ratio",
                 "same_person_iou", "max_body_axis_deg", "min_shank_thigh_ratio"],
        "partial": ["ear_hip_fraction", "ear_knee_fraction", "hip_height_fraction",
                    "min_thigh_room", "min_thigh_torso_ratio", "max_thigh_torso_ratio",
                    "interval_scale"],
        "estimate": ["interval_coverage", "max_interval_width_deg"],
        "analysis": ["working_long_side", "min_person_image_px", "min_stature_px"],
        "head": ["forward_head_below_deg"],
        "knee": ["hyperextension_above_deg"],
        "capture": ["max_tilt_spread_deg", "max_motion_stature"],
    }
    out = {}
    for section, keys in spec.items():
        if not isinstance(data.get(section), dict):
            raise DataFileError(f"thresholds.yaml: section '{section}' is missing")
        out[section] = _require_numbers(data[section], keys, f"thresholds.yaml:{section}")
    return out


def view_thresholds() -> dict[str, float]:
    return thresholds()["view"]


def partial_thresholds() -> dict[str, float]:
    """Constants for a view without the feet (``thresholds.yaml``, ``partial``)."""
    return thresholds()["partial"]
