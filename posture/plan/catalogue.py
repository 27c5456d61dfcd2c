"""The plan's data files, validated at load: the exercise catalogue
(``exercises.yaml``), the matching rules (``plan_rules.yaml``) and the safety texts
(``red_flags.yaml``). Read through :func:`posture.config.load_yaml_file`, the one loader."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from posture.config import load_yaml_file
from posture.errors import DataFileError

from .model import (
    _ID_RE,
    ADDON_FLAGS,
    CATALOGUE_PATH,
    DOSE_FIELDS,
    DOSE_LEVELS,
    FINDINGS,
    IMAGE_DIR,
    KINDS,
    PROFILES,
    RULES_PATH,
    SAFETY_PATH,
    SEVERITIES,
    THOMAS_ANSWERS,
    Catalogue,
    Exercise,
    ThomasGuide,
)

# --------------------------------------------------------------------------- validation


class _Checker:
    """Collects the context (file, exercise) for clear ``DataFileError`` messages."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, where: str, msg: str) -> DataFileError:
        return DataFileError(f"{self.origin}: {where}: {msg}")

    def need(self, obj: Mapping[str, Any], key: str, typ: type | tuple, where: str) -> Any:
        if key not in obj or obj[key] is None:
            raise self.fail(where, f"missing field '{key}'")
        v = obj[key]
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise self.fail(where, f"field '{key}' has the wrong type ({type(v).__name__})")
        if isinstance(v, str) and not v.strip():
            raise self.fail(where, f"field '{key}' is empty")
        return v

    def text_list(
        self, obj: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False
    ) -> tuple[str, ...]:
        v = self.need(obj, key, list, where)
        if not v and not allow_empty:
            raise self.fail(where, f"field '{key}' must not be empty")
        for s in v:
            if not isinstance(s, str) or not s.strip():
                raise self.fail(where, f"field '{key}' must hold non-empty strings, got {s!r}")
        return tuple(v)

    def choices(
        self, values: tuple[str, ...], allowed: tuple[str, ...], key: str, where: str
    ) -> None:
        for v in values:
            if v not in allowed:
                raise self.fail(where, f"field '{key}': unknown value {v!r} (allowed: {allowed})")


def _validate_dose(ck: _Checker, dose: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(dose, Mapping) or "default" not in dose:
        raise ck.fail(where, "field 'dose' must be a mapping with a 'default' level")
    out: dict[str, dict[str, Any]] = {}
    for level, fields in dose.items():
        if level not in DOSE_LEVELS:
            raise ck.fail(where, f"dose level {level!r} unknown (allowed: {DOSE_LEVELS})")
        if not isinstance(fields, Mapping) or not fields:
            raise ck.fail(where, f"dose level {level!r} must be a non-empty mapping")
        for name, value in fields.items():
            typ = DOSE_FIELDS.get(name)
            if typ is None:
                raise ck.fail(where, f"dose field {name!r} unknown (allowed: {list(DOSE_FIELDS)})")
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise ck.fail(where, f"dose field {level}.{name} must be {typ.__name__}")
            if typ is int and value <= 0:
                raise ck.fail(where, f"dose field {level}.{name} must be positive")
        out[level] = dict(fields)
    return out


def validate_catalogue(data: Any, *, image_dir: Path, origin: str = "exercises.yaml") -> Catalogue:
    """Check a parsed catalogue against the schema and build a :class:`Catalogue`.

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
        Naming the exercise and field at fault.
    """
    ck = _Checker(origin)
    if not isinstance(data, Mapping):
        raise ck.fail("top level", "must be a mapping with 'version', 'sources' and 'exercises'")
    version = ck.need(data, "version", int, "header")
    raw_sources = ck.need(data, "sources", list, "header")
    sources: dict[str, str] = {}
    for i, s in enumerate(raw_sources):
        where = f"sources[{i}]"
        if not isinstance(s, Mapping):
            raise ck.fail(where, "must be a mapping with 'id' and 'text'")
        sources[ck.need(s, "id", str, where)] = ck.need(s, "text", str, where)
    raw = ck.need(data, "exercises", list, "header")
    if not raw:
        raise ck.fail("header", "'exercises' is empty")

    exercises: dict[str, Exercise] = {}
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping):
            raise ck.fail(f"exercises[{i}]", "must be a mapping")
        ex_id = ck.need(e, "id", str, f"exercises[{i}]")
        where = f"exercise '{ex_id}'"
        if not _ID_RE.match(ex_id):
            raise ck.fail(where, "field 'id' must be a lowercase slug like 'glute-bridge'")
        if ex_id in exercises:
            raise ck.fail(where, "duplicate id")
        kind = ck.need(e, "kind", str, where)
        ck.choices((kind,), KINDS, "kind", where)
        addresses = ck.text_list(e, "addresses", where)
        ck.choices(addresses, FINDINGS, "addresses", where)
        avoid = ck.text_list(e, "avoid_when", where, allow_empty=True) if "avoid_when" in e else ()
        ck.choices(avoid, PROFILES, "avoid_when", where)
        source = ck.need(e, "source", str, where)
        if source not in sources:
            raise ck.fail(where, f"field 'source': {source!r} is not listed under 'sources'")
        image = ck.need(e, "image", str, where)
        image_path = image_dir / image
        if not image.endswith(".png") or not image_path.is_file():
            raise ck.fail(where, f"field 'image': no PNG file {image_path}")
        exercises[ex_id] = Exercise(
            id=ex_id,
            name=ck.need(e, "name", str, where),
            kind=kind,
            targets=ck.text_list(e, "targets", where),
            steps=ck.text_list(e, "steps", where),
            dose=_validate_dose(ck, ck.need(e, "dose", Mapping, where), where),
            easier=ck.need(e, "easier", str, where),
            harder=ck.need(e, "harder", str, where),
            cautions=ck.text_list(e, "cautions", where, allow_empty=True),
            addresses=addresses,
            avoid_when=avoid,
            source=source,
            image_path=image_path,
        )
    return Catalogue(version=version, sources=sources, exercises=exercises)


def _validate_rule_items(
    ck: _Checker, items: Any, where: str, cat: Catalogue, profiles: tuple[str, ...]
) -> None:
    if not isinstance(items, list):
        raise ck.fail(where, "'items' must be a list")
    for j, it in enumerate(items):
        w = f"{where} item {j}"
        if not isinstance(it, Mapping):
            raise ck.fail(w, "must be a mapping")
        ex_id = ck.need(it, "id", str, w)
        if ex_id not in cat.exercises:
            raise ck.fail(w, f"unknown exercise id {ex_id!r}")
        for p in profiles:
            if p in cat.exercises[ex_id].avoid_when:
                raise ck.fail(w, f"exercise {ex_id!r} must never be given to profile {p!r}")
        if ck.need(it, "priority", int, w) < 1:
            raise ck.fail(w, "field 'priority' must be >= 1")
        ck.need(it, "reason", str, w)
        if "severities" in it:
            ck.choices(tuple(it["severities"]), SEVERITIES, "severities", w)


def validate_rules(data: Any, cat: Catalogue, *, origin: str = "plan_rules.yaml") -> dict:
    """Check the matching rules against the catalogue; return them as a plain dict.

    Raises
    ------
    DataFileError
        For unknown exercise ids, kinds, profiles, or a profile whose always-included items
        fall below ``min_items``.
    """
    ck = _Checker(origin)
    if not isinstance(data, Mapping):
        raise ck.fail("top level", "must be a mapping")
    lo, hi = ck.need(data, "min_items", int, "header"), ck.need(data, "max_items", int, "header")
    order = tuple(ck.need(data, "kind_order", list, "header"))
    if sorted(order) != sorted(KINDS):
        raise ck.fail("header", f"'kind_order' must list each of {KINDS} once")
    profiles = ck.need(data, "profiles", Mapping, "header")
    if set(profiles) != set(PROFILES):
        raise ck.fail("profiles", f"must define exactly {PROFILES}")
    for name, prof in profiles.items():
        where = f"profile '{name}'"
        ck.choices(tuple(prof.get("severities") or []), (*SEVERITIES, None), "severities", where)
        for key in ("finding", "headline"):
            ck.need(prof, key, str, where)
        _validate_rule_items(ck, prof.get("items"), where, cat, (name,))
        # Every severity of the profile must get at least min_items without add-ons.
        for sev in prof.get("severities") or [None]:
            n = sum(1 for it in prof["items"] if sev in it.get("severities", [sev]))
            if n < lo:
                raise ck.fail(where, f"only {n} items for severity {sev!r}; need {lo}")
    for name, addon in ck.need(data, "addons", Mapping, "header").items():
        where = f"addon '{name}'"
        if ck.need(addon, "when", str, where) not in ADDON_FLAGS:
            raise ck.fail(where, f"field 'when' must be one of {ADDON_FLAGS}")
        ck.need(addon, "finding", str, where)
        _validate_rule_items(ck, addon.get("items"), where, cat, PROFILES[:0])
    thomas = ck.need(data, "thomas", Mapping, "header")
    ck.need(thomas, "finding", str, "thomas")
    for key in thomas:
        # YAML reads a bare yes/no as a boolean: insist on the quoted answer strings.
        if key != "finding" and key not in THOMAS_ANSWERS:
            raise ck.fail("thomas", f'unknown answer key {key!r}; quote it, e.g. "yes"')
    for answer in THOMAS_ANSWERS:
        for prof_name, rule in (thomas.get(answer) or {}).items():
            where = f"thomas '{answer}' for '{prof_name}'"
            if prof_name not in PROFILES:
                raise ck.fail(where, "unknown profile")
            _validate_rule_items(ck, rule.get("add", []), where, cat, (prof_name,))
            for ex_id in rule.get("emphasis", []):
                if ex_id not in cat.exercises:
                    raise ck.fail(where, f"unknown exercise id {ex_id!r} in 'emphasis'")
    if not 1 <= lo <= hi:
        raise ck.fail("header", "need 1 <= min_items <= max_items")
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
    """Load the packaged safety text (disclaimer, red flags, Thomas self-check)."""
    data = load_yaml_file(SAFETY_PATH)
    ck = _Checker(SAFETY_PATH.name)
    if not isinstance(data, Mapping):
        raise ck.fail("top level", "must be a mapping")
    ck.need(data, "disclaimer", str, "header")
    ck.need(data, "red_flags_intro", str, "header")
    ck.text_list(data, "red_flags", "header")
    t = ck.need(data, "thomas_test", Mapping, "header")
    for key in ("name", "needs", "caveat"):
        ck.need(t, key, str, "thomas_test")
    ck.text_list(t, "steps", "thomas_test")
    ck.text_list(t, "interpret", "thomas_test")
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


