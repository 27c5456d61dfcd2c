"""The plan's data files, validated at load: the exercise catalogue
(``exercises.yaml``), the matching rules (``plan_rules.yaml``) and the safety texts
(``red_flags.yaml``). Read through :func:`posture.config.load_yaml_file`, the one loader."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from posture.config import load_yaml_file, validate_data

from .model import (
    CATALOGUE_PATH,
    IMAGE_DIR,
    RULES_PATH,
    SAFETY_PATH,
    Catalogue,
    Exercise,
    ThomasGuide,
)
from .schemas import CatalogueFile, RulesFile, SafetyFile

# --------------------------------------------------------------------------- validation


def validate_catalogue(data: Any, *, image_dir: Path, origin: str = "exercises.yaml") -> Catalogue:
    """Check a parsed catalogue against :class:`~posture.plan.schemas.CatalogueFile` and
    build a :class:`Catalogue`.

    Parameters
    ----------
    data
        The parsed YAML document.
    image_dir
        Folder that each exercise's ``image`` must exist in.
    origin
        File name used in error messages.

    Raises
    ------
    DataFileError
        Naming the file, the path in it and the exercise id at fault.
    """
    cat = validate_data(CatalogueFile, data, origin, context={"image_dir": image_dir})
    return Catalogue(
        version=cat.version,
        sources={s.id: s.text for s in cat.sources},
        exercises={e.id: Exercise(
            id=e.id, name=e.name, kind=e.kind, targets=tuple(e.targets), steps=tuple(e.steps),
            dose={level: d.fields() for level, d in e.dose.items()},
            easier=e.easier, harder=e.harder, cautions=tuple(e.cautions),
            addresses=tuple(e.addresses), avoid_when=tuple(e.avoid_when), source=e.source,
            image_path=image_dir / e.image,
        ) for e in cat.exercises},
    )


def validate_rules(data: Any, cat: Catalogue, *, origin: str = "plan_rules.yaml") -> dict:
    """Check the matching rules against :class:`~posture.plan.schemas.RulesFile` and the
    catalogue; return them as the plain dict the file holds.

    Raises
    ------
    DataFileError
        For unknown exercise ids, kinds, profiles, or a profile whose always-included items
        fall below ``min_items``.
    """
    validate_data(RulesFile, data, origin, context={"catalogue": cat})
    return dict(data)


def load_catalogue(path: Path | None = None, *, image_dir: Path | None = None) -> Catalogue:
    """Load and validate a catalogue (default: the packaged one, cached).

    ``image_dir`` defaults to ``exercises/`` next to the catalogue file.
    """
    if path is None and image_dir is None:
        return _default_catalogue()
    path = Path(path or CATALOGUE_PATH)
    return validate_catalogue(
        load_yaml_file(path), image_dir=Path(image_dir or path.parent / "exercises"),
        origin=path.name,
    )


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return validate_catalogue(
        load_yaml_file(CATALOGUE_PATH), image_dir=IMAGE_DIR, origin=CATALOGUE_PATH.name
    )


def load_rules(path: Path | None = None, catalogue: Catalogue | None = None) -> dict:
    """Load and validate the matching rules (default: the packaged ones, cached)."""
    if path is None and catalogue is None:
        return _default_rules()
    path = Path(path or RULES_PATH)
    return validate_rules(load_yaml_file(path), catalogue or load_catalogue(), origin=path.name)


@lru_cache(maxsize=1)
def _default_rules() -> dict:
    return validate_rules(load_yaml_file(RULES_PATH), _default_catalogue(), origin=RULES_PATH.name)


@lru_cache(maxsize=1)
def load_safety() -> dict:
    """Load the packaged safety text (disclaimer, red flags, screening questions, Thomas
    self-check), validated against :class:`~posture.plan.schemas.SafetyFile`."""
    data = load_yaml_file(SAFETY_PATH)
    validate_data(SafetyFile, data, SAFETY_PATH.name)
    return dict(data)


def thomas_test_guide() -> ThomasGuide:
    """The modified Thomas self-check, from ``red_flags.yaml``."""
    t = load_safety()["thomas_test"]
    return ThomasGuide(
        name=t["name"],
        needs=t["needs"],
        steps=tuple(t["steps"]),
        interpret=tuple(t["interpret"]),
        caveat=t["caveat"].strip(),
    )


