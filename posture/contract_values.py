"""Typed reading of the values of a JSON analysis result: numbers, flags, texts, pairs,
the ``measurements`` list, the ``view`` and ``error`` objects. A value of the wrong type
raises :class:`~posture.errors.InputError` with code ``invalid_result`` naming where it
was. Used by :func:`posture.contract.from_dict`, which knows the contract's keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import InputError
from .metrics import Measurement
from .result import ErrorInfo, ViewSummary

#: Code of a contract dict that does not hold contract types.
INVALID_RESULT = "invalid_result"


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
