"""Matching a result to a routine: profile, candidates with reasons, doses, order."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from posture.errors import InputError

from .catalogue import load_catalogue, load_rules, load_safety, thomas_test_guide
from .model import (
    REFER_FLAGS,
    THOMAS_ANSWERS,
    Catalogue,
    ClinicianNote,
    Exercise,
    Plan,
    PlanInput,
    PlanItem,
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
    ob = inp.pelvic_obliquity_deg
    if ob is not None:  # + = the subject's left side higher
        vals["obliquity_abs"] = f"{abs(ob):.1f}°"
        vals["obliquity_high"] = "left" if ob > 0 else "right" if ob < 0 else ""
    return vals


def clinician_notes(inp: PlanInput, rules: Mapping[str, Any]) -> tuple[ClinicianNote, ...]:
    """The "see a clinician" notes of the measured signs flagged in ``inp`` (``refer`` in
    plan_rules.yaml), in the file's order; none when nothing is flagged."""
    values = _template_values(inp)
    return tuple(ClinicianNote(r["when"], render(r["title"], values), render(r["why"], values))
                 for r in rules["refer"].values()
                 if r["when"] in REFER_FLAGS and getattr(inp, r["when"]) is True)


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
        clinician_notes=clinician_notes(inp, rules),
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
        clinician_notes=clinician_notes(inp, rules),
    )


