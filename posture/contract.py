"""The JSON contract printed by ``posture analyze --json``: one pair, :func:`to_dict` and
:func:`from_dict`, at the edge of the library.

Inside, results are typed: an :class:`~posture.result.Assessment` in memory, a
:class:`~posture.result.Reading` wherever a result travels (stored, exported, re-read).
This module is the only place that knows the keys: the measures' keys come from the
registry (``posture/data/measures.yaml``, :mod:`posture.measures`), so a new measure
adds its keys there, not here. :func:`flat_row` gives the one-row form (batch CSV).

Other tools read these keys: keep their names and meanings stable, add new keys freely.
Contract keys (since schema 1): ``ok``, ``facing``, ``pelvic_tilt_deg``,
``pelvic_tilt_interval_deg``, ``lumbar_lordosis_deg``, ``severity``, ``abstained``,
``abstain_reasons``, ``landmarks_px``; on failure ``ok`` is false and ``error`` holds a
stable ``code`` and a ``message``.

Added with issue 28 (the front view): ``view_kind`` ("side", "front" or "back": the
first view), ``views`` (every view measured, e.g. ``["side", "front"]``), the frontal
measures' keys of the registry (null when not measured) and ``obliquity_flag``.

Added with issue 25 (two numbers for one pelvis): ``pelvic_tilt_palpation_deg``,
``pelvic_tilt_palpation_interval_deg`` and ``pelvic_tilt_palpation_method``, the
palpation-equivalent tilt (what a palpation meter on the bone would read,
:mod:`posture.palpation`) with its wider interval at ``interval_coverage``; null where the
postural tilt has no value or no interval. ``pelvic_tilt_deg`` stays the postural tilt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .classify import BAND_IDS, band_phrase, bands_disclaimer
from .contract_values import (
    _bad,
    _error,
    _flag,
    _int,
    _measurements,
    _num,
    _num_map,
    _obj,
    _pair,
    _text,
    _texts,
    _view,
)
from .errors import InputError, PostureError
from .measures import MeasureSpec, measures
from .metrics import Measurement
from .result import Assessment, ErrorInfo, Reading, Reason, ViewSummary

SCHEMA_VERSION = 1
#: The view gate failed: the person is there but cannot be measured (exit code 3).
VIEW_ERROR_CODE = "view_not_usable"
#: Keys other one-row forms (the clinic's CSV export) pick from a reading by name.
COVERAGE_KEY, ABSTAINED_KEY, REASONS_KEY = "interval_coverage", "abstained", "abstain_reasons"


def _r(x, nd=2):
    return None if x is None else round(float(x), nd)


def _nd(m) -> int:
    """Decimals kept: degrees to 0.01, fractions of stature to 0.0001 (as the plumb
    offsets)."""
    return 4 if m.unit == "stature" else 2


def _iv(m) -> tuple[float, float] | None:
    nd = _nd(m)
    return None if m.interval is None else (_r(m.interval[0], nd), _r(m.interval[1], nd))


# -- Assessment → Reading (the library's result in portable form) -------------------------

def _fields() -> frozenset[str]:
    return frozenset(Reading.__dataclass_fields__)


def _learned() -> tuple[list[MeasureSpec], list[MeasureSpec]]:
    """The measures in the contract's order: the estimator's (``interval: learned``),
    then the others (the shared ``interval_coverage`` follows the first learned one)."""
    specs = measures()
    return ([s for s in specs if s.interval == "learned"],
            [s for s in specs if s.interval != "learned"])


def reading(a: Assessment, *, source: str | None = None) -> Reading:
    """The portable, contract-shaped form of an assessment (rounded as printed)."""
    m = a.measurements
    view = a.view.gate
    error = None
    if not view.ok:
        error = ErrorInfo(VIEW_ERROR_CODE, "The view cannot be measured: "
                          + "; ".join(str(r) for r in view.reasons))
    sev = a.severity
    fields, top = _fields(), {}
    for s in measures():  # the measures' top-level fields (those the Reading has)
        x = m.get(s.name)
        if s.key in fields:
            top[s.key] = _r(x.value, _nd(x)) if x else None
        if s.interval_key in fields:
            top[s.interval_key] = _iv(x) if x else None
        if s.flag in fields:
            top[s.flag] = getattr(a, s.flag)
    head = m.get(_learned()[0][0].name)
    return Reading(
        ok=view.ok,
        abstained=a.abstained,
        source=source,
        facing=a.facing,
        view_kind=a.view_kind,
        views=tuple(a.views),
        **top,
        interval_coverage=head.coverage if head else None,
        severity=sev.band if sev else None,
        severity_label=sev.label if sev else None,
        severity_phrase=band_phrase(sev) if sev else None,
        severity_probabilities=sev.probabilities if sev else None,
        severity_disclaimer=bands_disclaimer(),
        reasons=tuple(a.reasons),
        notes=tuple(a.notes),
        retake_guidance=tuple(a.guidance),
        plumb_offsets_stature={k: _r(v, 4) for k, v in m.plumb.items()},
        measurements=tuple(
            Measurement(x.name, _r(x.value, _nd(x)), x.unit, x.convention, _iv(x), x.coverage,
                        x.method) for x in m.all()),
        view=ViewSummary(view.ok, _r(view.side_on_score, 3), _r(view.frontal_ratio, 3),
                         view.whole_body, view.other_people,
                         _r(a.view.facing_confidence, 3), a.view.near_side,
                         view.partial),
        roll_deg=_r(a.view.roll.deg),
        roll_source=a.view.roll.source,
        image_size=tuple(a.frame_size),
        pose_variant=a.model_variant,
        estimator_version=a.estimator_meta.get("version"),
        landmarks_px=tuple(
            (_r(x, 1), _r(y, 1), _r(v, 3))
            for (x, y), v in zip(a.pose.xy, a.pose.visibility, strict=True)),
        error=error,
        schema_version=SCHEMA_VERSION,
    )


def error_reading(err: PostureError, *, source: str | None = None) -> Reading:
    """The reading of a failure before any measurement (no person, unreadable input...)."""
    return Reading(ok=False, abstained=True, source=source,
                   reasons=(Reason(err.code, err.message),),
                   error=ErrorInfo(err.code, err.message, err.exit_code),
                   schema_version=SCHEMA_VERSION)


# -- Reading → dict ------------------------------------------------------------------------

def _list(iv):
    return None if iv is None else list(iv)


def to_dict(r: Reading | Assessment, *, source: str | None = None) -> dict:
    """The contract dict (JSON-serialisable) of a reading or an assessment.

    ``source`` applies to an assessment (a reading carries its own).
    """
    if isinstance(r, Assessment):
        r = reading(r, source=source)
    if not r.analysed and r.error is not None:
        out = _error_layout(r)
    else:
        out = _full_layout(r)
    for k, v in r.extra.items():
        out.setdefault(k, v)
    return out


def _measure_keys(r: Reading, specs, *, split: bool = False) -> dict:
    """The top-level keys of ``specs`` (value, interval, flag) from a reading; ``split``
    gives each interval as ``<key>_lo``/``<key>_hi`` (one-row forms)."""
    out = {}
    for s in specs:
        out[s.key] = r.value(s.name)
        if s.interval_key:
            iv = r.interval(s.name)
            if split:
                lo, hi = iv or (None, None)
                out[f"{s.interval_key}_lo"], out[f"{s.interval_key}_hi"] = lo, hi
            else:
                out[s.interval_key] = _list(iv)
        if s.flag:  # a flag without a Reading field travels in ``extra``
            out[s.flag] = getattr(r, s.flag) if s.flag in _fields() else r.extra.get(s.flag)
    return out


def _error_obj(e: ErrorInfo) -> dict:
    err = {"code": e.code, "message": e.message}
    if e.exit_code is not None:
        err["exit_code"] = e.exit_code
    return err


def _error_layout(r: Reading) -> dict:
    out = {"schema_version": r.schema_version, "ok": False, "source": r.source,
           "error": _error_obj(r.error), "facing": None}
    for s in measures():  # the schema-1 keys, null
        out.update((getattr(s, k), None) for k in s.on_error)
    out.update(severity=None, abstained=True,
               abstain_reasons=[str(x) for x in r.reasons], landmarks_px=None)
    return out


def _full_layout(r: Reading) -> dict:
    v = r.view
    learned, others = _learned()
    out = {"schema_version": r.schema_version, "ok": r.ok, "source": r.source,
           "facing": r.facing, **_measure_keys(r, learned[:1]),
           "interval_coverage": r.interval_coverage, **_measure_keys(r, learned[1:])}
    out.update({
        "severity": r.severity,
        "severity_label": r.severity_label,
        "severity_phrase": r.severity_phrase,
        "severity_probabilities": r.severity_probabilities,
        "severity_disclaimer": r.severity_disclaimer,
        "abstained": r.abstained,
        "abstain_reasons": [str(x) for x in r.reasons],
        "notes": [str(x) for x in r.notes],
        "retake_guidance": list(r.retake_guidance),
        **_measure_keys(r, others),
        "plumb_offsets_stature": r.plumb_offsets_stature,
        "measurements": [
            {"name": x.name, "value": x.value, "unit": x.unit, "convention": x.convention,
             "interval": _list(x.interval), "coverage": x.coverage, "method": x.method}
            for x in r.measurements
        ],
        "view": None if v is None else {
            "ok": v.ok, "side_on_score": v.side_on_score, "frontal_ratio": v.frontal_ratio,
            "whole_body": v.whole_body, "other_people": v.other_people,
            "facing_confidence": v.facing_confidence, "near_side": v.near_side,
            "partial": v.partial,
        },
        "view_kind": r.view_kind,
        "views": list(r.views),
        "roll_deg": r.roll_deg,
        "roll_source": r.roll_source,
        "image_size": _list(r.image_size),
        "model": {"pose_variant": r.pose_variant, "estimator_version": r.estimator_version},
        "landmarks_px": None if r.landmarks_px is None else [list(p) for p in r.landmarks_px],
    })
    out.update(palpation_keys(r))
    if r.error is not None:
        out["error"] = _error_obj(r.error)
    return out


def flat_row(r: Reading) -> dict:
    """One result as one row of plain cells (the batch CSV's columns after ``file``, in
    order, :func:`flat_columns`): intervals split into ``_lo``/``_hi``, reasons joined
    with " | ", nothing formula-escaped yet. The side view's columns keep their schema-1
    order; the other views' measures and ``view_kind`` follow them (issue 28)."""
    learned, others = _learned()
    # the side view's columns keep their places; other views' (issue 28) come last, so
    # a reader of the older columns by position still finds them
    later = [s for s in others if s.view != "side"]
    others = [s for s in others if s.view == "side"]
    size = r.image_size or (None, None)
    return {"ok": r.ok, "error_code": r.error.code if r.error else None,
            "error_message": r.error.message if r.error else None, "facing": r.facing,
            **_measure_keys(r, learned[:1], split=True),
            "interval_coverage": r.interval_coverage,
            **_measure_keys(r, learned[1:], split=True),
            "severity": r.severity, "severity_label": r.severity_label,
            "abstained": r.abstained, "abstain_reasons": " | ".join(str(x) for x in r.reasons),
            **_measure_keys(r, others, split=True),
            "roll_deg": r.roll_deg, "roll_source": r.roll_source, "image_width": size[0],
            "image_height": size[1], "pose_variant": r.pose_variant,
            "estimator_version": r.estimator_version,
            "side_on_score": r.view.side_on_score if r.view else None,
            "schema_version": r.schema_version, **_measure_keys(r, later, split=True),
            "view_kind": r.view_kind}


def flat_columns() -> tuple[str, ...]:
    """The columns of :func:`flat_row`, in order."""
    return tuple(flat_row(Reading(ok=False, abstained=True)))


#: The contract keys of the palpation-equivalent tilt (issue 25), in order.
PALPATION_KEYS = ("pelvic_tilt_palpation_deg", "pelvic_tilt_palpation_interval_deg",
                  "pelvic_tilt_palpation_method")


def palpation_keys(r: Reading) -> dict:
    """The palpation-equivalent keys of a reading (null without a postural interval)."""
    from .palpation import palpation_equivalent

    p = palpation_equivalent(r.pelvic_tilt_deg, r.pelvic_tilt_interval_deg,
                             r.interval_coverage)
    if p is None:
        return dict.fromkeys(PALPATION_KEYS)
    return dict(zip(PALPATION_KEYS, (p.value_deg, list(p.interval_deg), p.method),
                    strict=True))


def assessment_to_dict(a: Assessment, *, source: str | None = None) -> dict:
    """The contract dict of one assessment (JSON-serialisable)."""
    return to_dict(reading(a, source=source))


def error_to_dict(err: PostureError, *, source: str | None = None) -> dict:
    """The contract dict of a failure (no person, unreadable input, ...)."""
    return to_dict(error_reading(err, source=source))


def exit_code_for(d: Mapping | Reading) -> int:
    """CLI exit code of a contract dict or reading: 0 ok (abstentions included), 2 bad
    input, 3 no usable person or view, other codes from the error type."""
    if isinstance(d, Reading):
        if d.ok:
            return 0
        return 3 if d.error is None or d.error.exit_code is None else int(d.error.exit_code)
    if d.get("ok"):
        return 0
    return int(d.get("error", {}).get("exit_code", 3))


# -- dict → Reading (validated) -------------------------------------------------------------

#: Keys of the contract outside the measures' (read into the Reading's own fields).
_BASE_KEYS = frozenset((
    "schema_version", "ok", "source", "facing", "interval_coverage", "severity",
    "severity_label", "severity_probabilities", "severity_disclaimer", "abstained",
    "abstain_reasons", "retake_guidance", "plumb_offsets_stature", "measurements", "view",
    "roll_deg", "roll_source", "image_size", "model", "landmarks_px", "error", "notes",
    "severity_phrase", "view_kind", "views",
    # derived from the postural tilt and its interval on every output (palpation_keys)
    *PALPATION_KEYS,
))
#: Every key a Reading holds; a measure's key without a Reading field (a measure added
#: later) stays in ``extra`` and comes back as it was.
_KNOWN = _BASE_KEYS | {k for s in measures() for k in (s.key, s.interval_key, s.flag)
                       if k in _fields()}


def _landmarks(v: Any) -> tuple | None:
    if v is None:
        return None
    if not isinstance(v, list | tuple):
        raise _bad("'landmarks_px' must be a list of [x, y, visibility] or null")
    out = []
    for p in v:
        if not isinstance(p, list | tuple) or len(p) != 3:
            raise _bad("'landmarks_px' must be a list of [x, y, visibility] or null")
        out.append(tuple(_num(x, "landmarks_px") for x in p))
    return tuple(out)


def from_dict(d: Any, *, strict: bool = True) -> Reading:
    """A :class:`Reading` from a contract dict (as printed, stored or exported).

    Absent keys and nulls become None (or the field's default), NaN numbers None; keys
    outside the contract are kept in ``extra``. A value of the wrong type raises
    :class:`~posture.errors.InputError` with code ``invalid_result``; with
    ``strict=False`` it gives an abstained reading carrying that error instead (for
    displaying saved results, where raising helps nobody).
    """
    if isinstance(d, Reading):
        return d
    if strict:
        return _from_dict(d)
    try:
        return _from_dict(d)
    except InputError as err:
        return Reading(ok=False, abstained=True, reasons=(Reason(err.code, err.message),),
                       error=ErrorInfo(err.code, err.message))


def _measure_fields(d: Mapping) -> dict:
    """The measures' top-level keys of a contract dict, validated, as Reading fields."""
    fields, out = _fields(), {}
    for s in measures():
        if s.key in fields:
            out[s.key] = _num(d.get(s.key), s.key)
        if s.interval_key in fields:
            out[s.interval_key] = _pair(d.get(s.interval_key), s.interval_key)
        if s.flag in fields:
            out[s.flag] = _flag(d.get(s.flag), s.flag, None)
    return out


def _from_dict(d: Any) -> Reading:
    if not isinstance(d, Mapping):
        raise _bad(f"an analysis result must be a JSON object, got {type(d).__name__}")
    severity = d.get("severity")
    if severity is not None and severity not in BAND_IDS:
        raise _bad(f"'severity' must be one of {list(BAND_IDS)} or null, got {severity!r:.60}")
    probs = _num_map(d.get("severity_probabilities"), "severity_probabilities")
    size = d.get("image_size")
    if size is not None:
        if not isinstance(size, list | tuple) or len(size) != 2:
            raise _bad("'image_size' must be [width, height] or null")
        size = tuple(_int(x, "image_size") for x in size)
        size = None if None in size else size
    model = _obj(d.get("model"), "model") or {}
    return Reading(
        ok=bool(_flag(d.get("ok"), "ok", True)),
        abstained=bool(_flag(d.get("abstained"), "abstained", False)),
        source=_text(d.get("source"), "source"),
        facing=_text(d.get("facing"), "facing"),
        view_kind=_text(d.get("view_kind"), "view_kind"),
        views=_texts(d.get("views"), "views"),
        **_measure_fields(d),
        interval_coverage=_num(d.get("interval_coverage"), "interval_coverage"),
        severity=severity,
        severity_label=_text(d.get("severity_label"), "severity_label"),
        severity_phrase=_text(d.get("severity_phrase"), "severity_phrase"),
        severity_probabilities=probs,
        severity_disclaimer=_text(d.get("severity_disclaimer"), "severity_disclaimer"),
        reasons=tuple(Reason.parse(t) for t in _texts(d.get("abstain_reasons"),
                                                       "abstain_reasons")),
        notes=tuple(Reason.parse(t) for t in _texts(d.get("notes"), "notes")),
        retake_guidance=_texts(d.get("retake_guidance"), "retake_guidance"),
        plumb_offsets_stature=_num_map(d.get("plumb_offsets_stature"), "plumb_offsets_stature"),
        measurements=_measurements(d.get("measurements")),
        view=_view(d.get("view")),
        roll_deg=_num(d.get("roll_deg"), "roll_deg"),
        roll_source=_text(d.get("roll_source"), "roll_source"),
        image_size=size,
        pose_variant=_text(model.get("pose_variant"), "model.pose_variant"),
        estimator_version=_text(model.get("estimator_version"), "model.estimator_version"),
        landmarks_px=_landmarks(d.get("landmarks_px")),
        error=_error(d.get("error")),
        schema_version=_int(d.get("schema_version"), "schema_version") or SCHEMA_VERSION,
        extra={k: v for k, v in d.items() if k not in _KNOWN},
    )
