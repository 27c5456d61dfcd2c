"""The JSON contract printed by ``posture analyze --json``: one pair, :func:`to_dict` and
:func:`from_dict`, at the edge of the library.

Inside, results are typed: an :class:`~posture.result.Assessment` in memory, a
:class:`~posture.result.Reading` wherever a result travels (stored, exported, re-read).
This module is the only place that knows the keys.

Other tools read these keys: keep their names and meanings stable, add new keys freely.
Contract keys (since schema 1): ``ok``, ``facing``, ``pelvic_tilt_deg``,
``pelvic_tilt_interval_deg``, ``lumbar_lordosis_deg``, ``severity``, ``abstained``,
``abstain_reasons``, ``landmarks_px``; on failure ``ok`` is false and ``error`` holds a
stable ``code`` and a ``message``.

Added with issue 25 (two numbers for one pelvis): ``pelvic_tilt_palpation_deg``,
``pelvic_tilt_palpation_interval_deg`` and ``pelvic_tilt_palpation_method``, the
palpation-equivalent tilt (what a palpation meter on the bone would read,
:mod:`posture.palpation`) with its wider interval at ``interval_coverage``; null where the
postural tilt has no value or no interval. ``pelvic_tilt_deg`` stays the postural tilt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .classify import BAND_IDS, band_phrase, bands_disclaimer
from .errors import InputError, PostureError
from .metrics import Measurement
from .result import Assessment, ErrorInfo, Reading, Reason, ViewSummary

SCHEMA_VERSION = 1
#: The view gate failed: the person is there but cannot be measured (exit code 3).
VIEW_ERROR_CODE = "view_not_usable"
#: Code of a contract dict that does not hold contract types.
INVALID_RESULT = "invalid_result"


def _r(x, nd=2):
    return None if x is None else round(float(x), nd)


def _iv(m) -> tuple[float, float] | None:
    return None if m.interval is None else (_r(m.interval[0]), _r(m.interval[1]))


# -- Assessment → Reading (the library's result in portable form) -------------------------

def reading(a: Assessment, *, source: str | None = None) -> Reading:
    """The portable, contract-shaped form of an assessment (rounded as printed)."""
    m = a.measurements
    view = a.side.view
    error = None
    if not view.ok:
        error = ErrorInfo(VIEW_ERROR_CODE, "The view cannot be measured: "
                          + "; ".join(str(r) for r in view.reasons))
    sev = a.severity
    return Reading(
        ok=view.ok,
        abstained=a.abstained,
        source=source,
        facing=a.facing,
        pelvic_tilt_deg=_r(m.pelvic_tilt.value),
        pelvic_tilt_interval_deg=_iv(m.pelvic_tilt),
        interval_coverage=m.pelvic_tilt.coverage,
        lumbar_lordosis_deg=_r(m.lumbar_lordosis.value),
        lumbar_lordosis_interval_deg=_iv(m.lumbar_lordosis),
        severity=sev.band if sev else None,
        severity_label=sev.label if sev else None,
        severity_phrase=band_phrase(sev) if sev else None,
        severity_probabilities=sev.probabilities if sev else None,
        severity_disclaimer=bands_disclaimer(),
        reasons=tuple(a.reasons),
        notes=tuple(a.notes),
        retake_guidance=tuple(a.guidance),
        head_neck_angle_deg=_r(m.head_neck_angle.value),
        forward_head=a.forward_head,
        trunk_lean_deg=_r(m.trunk_lean.value),
        knee_angle_deg=_r(m.knee_angle.value),
        knee_hyperextension=a.knee_hyperextension,
        plumb_offsets_stature={k: _r(v, 4) for k, v in m.plumb.items()},
        measurements=tuple(
            Measurement(x.name, _r(x.value), x.unit, x.convention, _iv(x), x.coverage,
                        x.method) for x in m.all()),
        view=ViewSummary(view.ok, _r(view.side_on_score, 3), _r(view.frontal_ratio, 3),
                         view.whole_body, view.other_people,
                         _r(a.side.facing_confidence, 3), a.side.near_side,
                         view.partial),
        roll_deg=_r(a.side.roll.deg),
        roll_source=a.side.roll.source,
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


def _error_layout(r: Reading) -> dict:
    err = {"code": r.error.code, "message": r.error.message}
    if r.error.exit_code is not None:
        err["exit_code"] = r.error.exit_code
    return {
        "schema_version": r.schema_version,
        "ok": False,
        "source": r.source,
        "error": err,
        "facing": None,
        "pelvic_tilt_deg": None,
        "pelvic_tilt_interval_deg": None,
        "lumbar_lordosis_deg": None,
        "severity": None,
        "abstained": True,
        "abstain_reasons": [str(x) for x in r.reasons],
        "landmarks_px": None,
    }


def _full_layout(r: Reading) -> dict:
    v = r.view
    out = {
        "schema_version": r.schema_version,
        "ok": r.ok,
        "source": r.source,
        "facing": r.facing,
        "pelvic_tilt_deg": r.pelvic_tilt_deg,
        "pelvic_tilt_interval_deg": _list(r.pelvic_tilt_interval_deg),
        "interval_coverage": r.interval_coverage,
        "lumbar_lordosis_deg": r.lumbar_lordosis_deg,
        "lumbar_lordosis_interval_deg": _list(r.lumbar_lordosis_interval_deg),
        "severity": r.severity,
        "severity_label": r.severity_label,
        "severity_phrase": r.severity_phrase,
        "severity_probabilities": r.severity_probabilities,
        "severity_disclaimer": r.severity_disclaimer,
        "abstained": r.abstained,
        "abstain_reasons": [str(x) for x in r.reasons],
        "notes": [str(x) for x in r.notes],
        "retake_guidance": list(r.retake_guidance),
        "head_neck_angle_deg": r.head_neck_angle_deg,
        "forward_head": r.forward_head,
        "trunk_lean_deg": r.trunk_lean_deg,
        "knee_angle_deg": r.knee_angle_deg,
        "knee_hyperextension": r.knee_hyperextension,
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
        "roll_deg": r.roll_deg,
        "roll_source": r.roll_source,
        "image_size": _list(r.image_size),
        "model": {"pose_variant": r.pose_variant, "estimator_version": r.estimator_version},
        "landmarks_px": None if r.landmarks_px is None else [list(p) for p in r.landmarks_px],
    }
    out.update(palpation_keys(r))
    if r.error is not None:
        err = {"code": r.error.code, "message": r.error.message}
        if r.error.exit_code is not None:
            err["exit_code"] = r.error.exit_code
        out["error"] = err
    return out


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

_KNOWN = frozenset((
    "schema_version", "ok", "source", "facing", "pelvic_tilt_deg", "pelvic_tilt_interval_deg",
    "interval_coverage", "lumbar_lordosis_deg", "lumbar_lordosis_interval_deg", "severity",
    "severity_label", "severity_probabilities", "severity_disclaimer", "abstained",
    "abstain_reasons", "retake_guidance", "head_neck_angle_deg", "forward_head",
    "trunk_lean_deg", "knee_angle_deg", "knee_hyperextension", "plumb_offsets_stature",
    "measurements", "view", "roll_deg", "roll_source", "image_size", "model", "landmarks_px",
    "error", "notes", "severity_phrase",
    # derived from the postural tilt and its interval on every output (palpation_keys)
    "pelvic_tilt_palpation_deg", "pelvic_tilt_palpation_interval_deg",
    "pelvic_tilt_palpation_method",
))


def _bad(msg: str) -> InputError:
    return InputError(f"analysis result: {msg}", code=INVALID_RESULT)


def _num(v: Any, key: str) -> float | None:
    """A number or None (NaN → None); anything else is ``invalid_result``."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _bad(f"'{key}' must be a number or null, got {v!r:.60}")
    try:
        f = float(v)
    except OverflowError:  # JSON integers have no size limit
        raise _bad(f"'{key}' is out of range: {v!r:.40}") from None
    return None if math.isnan(f) else f


def _int(v: Any, key: str) -> int | None:
    f = _num(v, key)
    if f is None:
        return None
    if not math.isfinite(f) or f != int(f):
        raise _bad(f"'{key}' must be a whole number or null, got {v!r:.40}")
    return int(f)


def _flag(v: Any, key: str, default: bool | None) -> bool | None:
    if v is None:
        return default
    if not isinstance(v, bool):
        raise _bad(f"'{key}' must be true, false or null, got {v!r:.60}")
    return v


def _text(v: Any, key: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise _bad(f"'{key}' must be text or null, got {v!r:.60}")
    return v


def _texts(v: Any, key: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
        raise _bad(f"'{key}' must be a list of strings")
    return tuple(v)


def _pair(v: Any, key: str) -> tuple[float, float] | None:
    if v is None:
        return None
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise _bad(f"'{key}' must be [lo, hi] or null")
    lo, hi = (_num(x, key) for x in v)
    return None if lo is None or hi is None else (lo, hi)


def _obj(v: Any, key: str) -> Mapping | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise _bad(f"'{key}' must be an object or null")
    return v


def _num_map(v: Any, key: str) -> dict[str, float | None] | None:
    m = _obj(v, key)
    if m is None:
        return None
    return {str(k): _num(x, f"{key}.{k}") for k, x in m.items()}


def _measurements(v: Any) -> tuple[Measurement, ...]:
    if v is None:
        return ()
    if not isinstance(v, list | tuple):
        raise _bad("'measurements' must be a list")
    out = []
    for i, m in enumerate(v):
        where = f"measurements[{i}]"
        if not isinstance(m, Mapping):
            raise _bad(f"'{where}' must be an object")
        name = _text(m.get("name"), f"{where}.name")
        if not name:
            raise _bad(f"'{where}.name' must be given")
        out.append(Measurement(
            name, _num(m.get("value"), f"{where}.value"), _text(m.get("unit"), where) or "",
            _text(m.get("convention"), where) or "", _pair(m.get("interval"), where),
            _num(m.get("coverage"), where), _text(m.get("method"), where) or ""))
    return tuple(out)


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


def _view(v: Any) -> ViewSummary | None:
    m = _obj(v, "view")
    if m is None:
        return None
    return ViewSummary(
        bool(_flag(m.get("ok"), "view.ok", False)), _num(m.get("side_on_score"), "view"),
        _num(m.get("frontal_ratio"), "view"), _flag(m.get("whole_body"), "view", None),
        _int(m.get("other_people"), "view.other_people"),
        _num(m.get("facing_confidence"), "view"), _text(m.get("near_side"), "view"),
        _flag(m.get("partial"), "view.partial", None))


def _error(v: Any) -> ErrorInfo | None:
    m = _obj(v, "error")
    if m is None:
        return None
    code = _text(m.get("code"), "error.code") or "posture_error"
    return ErrorInfo(code, _text(m.get("message"), "error.message") or code,
                     _int(m.get("exit_code"), "error.exit_code"))


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
        pelvic_tilt_deg=_num(d.get("pelvic_tilt_deg"), "pelvic_tilt_deg"),
        pelvic_tilt_interval_deg=_pair(d.get("pelvic_tilt_interval_deg"),
                                       "pelvic_tilt_interval_deg"),
        interval_coverage=_num(d.get("interval_coverage"), "interval_coverage"),
        lumbar_lordosis_deg=_num(d.get("lumbar_lordosis_deg"), "lumbar_lordosis_deg"),
        lumbar_lordosis_interval_deg=_pair(d.get("lumbar_lordosis_interval_deg"),
                                           "lumbar_lordosis_interval_deg"),
        severity=severity,
        severity_label=_text(d.get("severity_label"), "severity_label"),
        severity_phrase=_text(d.get("severity_phrase"), "severity_phrase"),
        severity_probabilities=probs,
        severity_disclaimer=_text(d.get("severity_disclaimer"), "severity_disclaimer"),
        reasons=tuple(Reason.parse(t) for t in _texts(d.get("abstain_reasons"),
                                                       "abstain_reasons")),
        notes=tuple(Reason.parse(t) for t in _texts(d.get("notes"), "notes")),
        retake_guidance=_texts(d.get("retake_guidance"), "retake_guidance"),
        head_neck_angle_deg=_num(d.get("head_neck_angle_deg"), "head_neck_angle_deg"),
        forward_head=_flag(d.get("forward_head"), "forward_head", None),
        trunk_lean_deg=_num(d.get("trunk_lean_deg"), "trunk_lean_deg"),
        knee_angle_deg=_num(d.get("knee_angle_deg"), "knee_angle_deg"),
        knee_hyperextension=_flag(d.get("knee_hyperextension"), "knee_hyperextension", None),
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
