"""Exercise plans matched to the findings of a posture analysis.

The content lives in data files under ``posture/data``:

- ``exercises.yaml``: the exercise catalogue (validated here at load time),
- ``plan_rules.yaml``: which exercises each finding calls for, their priorities and texts,
- ``red_flags.yaml``: disclaimer, red flags and the modified Thomas self-check.

The code only selects, doses, orders and formats. Typical use::

    inp = PlanInput.from_result(json.load(open("result.json")))
    plan = make_plan(inp, thomas_test="yes")
    print(format_plan_text(plan))
"""

from __future__ import annotations

import re
import string
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from posture.classify import BAND_IDS
from posture.errors import DataFileError, InputError
from posture.result import Reason

if TYPE_CHECKING:
    from posture.result import Assessment, Reading

DATA_DIR = Path(__file__).parent / "data"
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
        )

    @classmethod
    def from_assessment(cls, a: Assessment) -> PlanInput:
        """The plan's view of an assessment (no JSON in between)."""
        from posture.present.contract import reading

        return cls.from_reading(reading(a))

    @classmethod
    def from_result(cls, d: Mapping[str, Any]) -> PlanInput:
        """Build from the JSON dict printed by ``posture analyze --json``
        (:func:`posture.present.contract.from_dict`).

        Absent keys and nulls become ``None`` (or the field default); NaN numbers become
        ``None``. Values of the wrong type raise ``InputError`` (code ``invalid_result``).
        """
        from posture.present.contract import from_dict

        return cls.from_reading(from_dict(d))

    @property
    def usable(self) -> bool:
        """True when the analysis can carry a plan (ok and not abstained)."""
        return self.ok and not self.abstained


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


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise DataFileError(f"{path.name}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path.name}: not valid YAML ({exc})") from exc


def load_catalogue(path: Path | None = None, *, image_dir: Path | None = None) -> Catalogue:
    """Load and validate a catalogue (default: the packaged one, cached).

    ``image_dir`` defaults to ``exercises/`` next to the catalogue file.
    """
    if path is None and image_dir is None:
        return _default_catalogue()
    path = Path(path or CATALOGUE_PATH)
    return validate_catalogue(
        _read_yaml(path), image_dir=Path(image_dir or path.parent / "exercises"), origin=path.name
    )


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return validate_catalogue(
        _read_yaml(CATALOGUE_PATH), image_dir=IMAGE_DIR, origin=CATALOGUE_PATH.name
    )


def load_rules(path: Path | None = None, catalogue: Catalogue | None = None) -> dict:
    """Load and validate the matching rules (default: the packaged ones, cached)."""
    if path is None and catalogue is None:
        return _default_rules()
    path = Path(path or RULES_PATH)
    return validate_rules(_read_yaml(path), catalogue or load_catalogue(), origin=path.name)


@lru_cache(maxsize=1)
def _default_rules() -> dict:
    return validate_rules(_read_yaml(RULES_PATH), _default_catalogue(), origin=RULES_PATH.name)


@lru_cache(maxsize=1)
def load_safety() -> dict:
    """Load the packaged safety text (disclaimer, red flags, Thomas self-check)."""
    data = _read_yaml(SAFETY_PATH)
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


# --------------------------------------------------------------------------- matching


class _Blank(dict):
    """Template values where a missing key renders as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def _deg(v: float | None, *, absolute: bool = False) -> str:
    if v is None:
        return ""
    return f"{abs(v) if absolute else v:.0f}°"


def _template_values(inp: PlanInput) -> _Blank:
    vals = _Blank(
        tilt=_deg(inp.pelvic_tilt_deg),
        tilt_abs=_deg(inp.pelvic_tilt_deg, absolute=True),
        severity=inp.severity or "",
        head_neck=_deg(inp.head_neck_angle_deg),
        knee=_deg(inp.knee_angle_deg, absolute=True),
        lordosis=_deg(inp.lumbar_lordosis_deg),
    )
    if inp.pelvic_tilt_interval_deg is not None:
        vals["lo"], vals["hi"] = (_deg(v) for v in inp.pelvic_tilt_interval_deg)
    return vals


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` fields; missing values vanish and leftover gaps are tidied."""
    text = string.Formatter().vformat(" ".join(template.split()), (), values)
    text = re.sub(r"\bof about\s*([,.])", r"\1", text)  # "tilt of about ," -> "tilt,"
    text = re.sub(r"\(\s*\)", "", text)  # "()" left by a missing value
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+([,.;)])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def choose_profile(inp: PlanInput, rules: Mapping[str, Any]) -> str:
    """Name of the profile whose ``severities`` include the input's severity."""
    for name, prof in rules["profiles"].items():
        if inp.severity in (prof.get("severities") or [None]):
            return name
    return "ungraded"


@dataclass
class _Candidate:
    ex_id: str
    priority: int
    order: int
    reasons: list[str] = field(default_factory=list)


def _collect(
    inp: PlanInput, profile: str, thomas_test: str | None, rules: Mapping[str, Any]
) -> tuple[dict[str, _Candidate], list[str]]:
    """All candidate exercises with their reasons; plus notes from the Thomas answer."""
    values = _template_values(inp)
    cands: dict[str, _Candidate] = {}

    def add(items: list[Mapping[str, Any]], finding: str) -> None:
        for it in items:
            if inp.severity not in it.get("severities", [inp.severity]):
                continue
            c = cands.setdefault(it["id"], _Candidate(it["id"], it["priority"], len(cands)))
            c.priority = min(c.priority, it["priority"])
            c.reasons.append(f"{render(finding, values)} — {it['reason']}")

    prof = rules["profiles"][profile]
    add(prof["items"], prof["finding"])
    for addon in rules["addons"].values():
        if getattr(inp, addon["when"]) is True:
            add(addon["items"], addon["finding"])
    notes: list[str] = []
    thomas_rule = (rules["thomas"].get(thomas_test) or {}).get(profile) or {}
    add(thomas_rule.get("add", []), rules["thomas"]["finding"])
    if thomas_rule.get("note"):
        notes.append(" ".join(thomas_rule["note"].split()))
    return cands, notes


def _dose(ex: Exercise, levels: list[str]) -> dict[str, Any]:
    """Default dose overridden by the first variant in ``levels`` that the exercise has."""
    dose = dict(ex.dose["default"])
    for level in levels:
        if level in ex.dose:
            dose.update(ex.dose[level])
            break
    return dose


def dose_text(dose: Mapping[str, Any]) -> str:
    """Human-readable dose, e.g. ``'3 × 30 s hold per side, once a day'``."""
    sets, reps, hold = dose.get("sets"), dose.get("reps"), dose.get("hold_s")
    amount = f"{hold} s hold" if hold else f"{reps} reps" if reps else ""
    if amount and sets:
        amount = f"{sets} × {amount}"
    if amount and dose.get("per_side"):
        amount += " per side"
    parts = [p for p in (amount, dose.get("text"), dose.get("frequency")) if p]
    return ", ".join(parts)


def _item(ex: Exercise, reasons: list[str], levels: list[str]) -> PlanItem:
    return PlanItem(
        exercise_id=ex.id,
        name=ex.name,
        kind=ex.kind,
        dose_text=dose_text(_dose(ex, levels)),
        why="because: " + "; ".join(reasons),
        steps=ex.steps,
        cautions=ex.cautions,
        image_path=str(ex.image_path),
        targets=ex.targets,
        easier=ex.easier,
        harder=ex.harder,
        source=ex.source,
    )


def _abstained_plan(
    inp: PlanInput, cat: Catalogue, rules: Mapping[str, Any], safety: Mapping[str, Any]
) -> Plan:
    reasons = inp.abstain_reasons or ("the analysis did not produce a reliable measurement",)
    return Plan(
        items=(),
        headline="No exercise plan: this photo could not be measured reliably. Please retake it.",
        notes=tuple(f"Reason: {r}" for r in reasons),
        red_flags=tuple(safety["red_flags"]),
        disclaimer=" ".join(safety["disclaimer"].split()),
        thomas_test_guide=None,
        retake_guidance=inp.retake_guidance or tuple(rules["retake_default"]),
        profile=None,
        red_flags_intro=safety["red_flags_intro"],
        catalogue_version=cat.version,
    )


def make_plan(
    inp: PlanInput,
    *,
    thomas_test: str | None = None,
    catalogue: Catalogue | None = None,
    rules: Mapping[str, Any] | None = None,
) -> Plan:
    """Match an analysis to a routine of ``min_items``–``max_items`` exercises.

    Parameters
    ----------
    inp
        The analysis findings. An abstained or not-ok analysis gives a plan with no items
        and retake guidance only.
    thomas_test
        Answer to the modified Thomas self-check: ``"yes"``, ``"no"``, ``"unsure"`` or None.
    catalogue, rules
        Override the packaged data (tests).

    Returns
    -------
    Plan
        Items ordered by kind (stretch, mobility, activation, strength, habit).
    """
    if thomas_test not in (*THOMAS_ANSWERS, None):
        raise InputError(
            f"thomas_test must be one of {THOMAS_ANSWERS} or None, got {thomas_test!r}"
        )
    cat = catalogue or load_catalogue()
    rules = rules or load_rules()
    safety = load_safety()
    if not inp.usable:
        return _abstained_plan(inp, cat, rules, safety)

    profile = choose_profile(inp, rules)
    cands, notes = _collect(inp, profile, thomas_test, rules)
    # Safety net independent of the rules: never give an exercise to a profile it must avoid.
    cands = {k: c for k, c in cands.items() if profile not in cat.exercises[k].avoid_when}
    chosen = sorted(cands.values(), key=lambda c: (c.priority, c.order))[: rules["max_items"]]
    kind_rank = {k: i for i, k in enumerate(rules["kind_order"])}
    chosen.sort(key=lambda c: (kind_rank[cat.exercises[c.ex_id].kind], c.order))

    thomas_rule = (rules["thomas"].get(thomas_test) or {}).get(profile) or {}
    emphasis = set(thomas_rule.get("emphasis", []))
    thomas_finding = rules["thomas"]["finding"]
    items = []
    for c in chosen:
        levels = [inp.severity or "", profile]
        reasons = list(c.reasons)
        if c.ex_id in emphasis:
            levels.insert(0, "emphasis")
            if not any(r.startswith(thomas_finding) for r in reasons):
                reasons.append(f"{thomas_finding} — extra stretching")
        items.append(_item(cat.exercises[c.ex_id], reasons, levels))

    values = _template_values(inp)
    notes = [*notes, *(" ".join(n.split()) for n in rules["notes"]["always"])]
    if inp.pelvic_tilt_interval_deg is not None:
        notes.insert(0, render(rules["notes"]["interval"], values))
    if profile in ("anterior", "posterior"):
        notes.append(" ".join(rules["notes"]["pelvis_shape"].split()))
    show_guide = profile in rules["thomas_guide_for"] and thomas_test in (None, "unsure")
    return Plan(
        items=tuple(items),
        headline=render(rules["profiles"][profile]["headline"], values),
        notes=tuple(notes),
        red_flags=tuple(safety["red_flags"]),
        disclaimer=" ".join(safety["disclaimer"].split()),
        thomas_test_guide=thomas_test_guide() if show_guide else None,
        retake_guidance=(),
        profile=profile,
        thomas_test=thomas_test,
        red_flags_intro=safety["red_flags_intro"],
        catalogue_version=cat.version,
    )


# --------------------------------------------------------------------------- output


def _wrap(text: str, indent: str = "", first: str | None = None, width: int = 88) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def format_plan_text(plan: Plan) -> str:
    """Render a plan for the terminal (plain text, 88 columns)."""
    out = ["EXERCISE PLAN", "=============", _wrap(plan.headline), ""]
    if plan.retake_guidance:
        out.append("How to retake the photo:")
        out += [_wrap(g, "    ", "  - ") for g in plan.retake_guidance]
        out.append("")
    for n, it in enumerate(plan.items, 1):
        out.append(f"{n}. {it.name}  [{it.kind}]")
        out.append(_wrap(it.dose_text, "         ", "   Dose: "))
        out.append(_wrap(it.why, "         ", "   Why:  "))
        out += [_wrap(s, "        ", f"     {i}. ") for i, s in enumerate(it.steps, 1)]
        out.append(_wrap(it.easier, "         ", "   Easier: "))
        out.append(_wrap(it.harder, "         ", "   Harder: "))
        out += [_wrap(c, "         ", "   Care: ") for c in it.cautions]
        out.append(f"   Picture: {it.image_path}")
        out.append("")
    if plan.notes:
        out.append("Notes:")
        out += [_wrap(n, "    ", "  - ") for n in plan.notes]
        out.append("")
    g = plan.thomas_test_guide
    if g is not None:
        out.append(f"Self-check: {g.name}")
        out.append(_wrap(g.needs, "  ", "  "))
        out += [_wrap(s, "     ", f"  {i}. ") for i, s in enumerate(g.steps, 1)]
        out += [_wrap(s, "    ", "  - ") for s in g.interpret]
        out.append(_wrap(g.caveat, "  ", "  "))
        out.append("  Re-run the plan with your answer (yes / no / unsure).")
        out.append("")
    out.append(_wrap(plan.red_flags_intro))
    out += [_wrap(r, "    ", "  - ") for r in plan.red_flags]
    out.append("")
    out.append(_wrap(plan.disclaimer))
    return "\n".join(out) + "\n"


def _plain(obj: Any) -> Any:
    if isinstance(obj, ThomasGuide | PlanItem | Plan):
        return {k: _plain(v) for k, v in vars(obj).items()}
    if isinstance(obj, tuple | list):
        return [_plain(v) for v in obj]
    return obj


def plan_to_dict(plan: Plan) -> dict:
    """A JSON-ready dict of the plan (tuples become lists, the Thomas guide a dict or None)."""
    return _plain(plan)
