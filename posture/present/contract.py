"""The JSON contract printed by ``posture analyze --json``.

Other tools read these keys: keep their names and meanings stable, add new keys freely.
Contract keys (since schema 1): ``ok``, ``facing``, ``pelvic_tilt_deg``,
``pelvic_tilt_interval_deg``, ``lumbar_lordosis_deg``, ``severity``, ``abstained``,
``abstain_reasons``, ``landmarks_px``; on failure ``ok`` is false and ``error`` holds a
stable ``code`` and a ``message``.
"""

from __future__ import annotations

from ..classify import bands_disclaimer
from ..errors import PostureError
from ..result import Assessment, Reason

SCHEMA_VERSION = 1
#: The view gate failed: the person is there but cannot be measured (exit code 3).
VIEW_ERROR_CODE = "view_not_usable"


def _r(x, nd=2):
    return None if x is None else round(float(x), nd)


def _iv(m):
    return None if m.interval is None else [_r(m.interval[0]), _r(m.interval[1])]


def assessment_to_dict(a: Assessment, *, source: str | None = None) -> dict:
    """The contract dict of one assessment (JSON-serialisable)."""
    m = a.measurements
    head, knee = m.head_neck_angle.value, m.knee_angle.value
    view = a.side.view
    out = {
        "schema_version": SCHEMA_VERSION,
        "ok": view.ok,
        "source": source,
        "facing": a.facing,
        "pelvic_tilt_deg": _r(m.pelvic_tilt.value),
        "pelvic_tilt_interval_deg": _iv(m.pelvic_tilt),
        "interval_coverage": m.pelvic_tilt.coverage,
        "lumbar_lordosis_deg": _r(m.lumbar_lordosis.value),
        "lumbar_lordosis_interval_deg": _iv(m.lumbar_lordosis),
        "severity": a.severity.band if a.severity else None,
        "severity_label": a.severity.label if a.severity else None,
        "severity_probabilities": a.severity.probabilities if a.severity else None,
        "severity_disclaimer": bands_disclaimer(),
        "abstained": a.abstained,
        "abstain_reasons": [str(r) for r in a.reasons],
        "retake_guidance": list(a.guidance),
        "head_neck_angle_deg": _r(head),
        "forward_head": a.forward_head,
        "trunk_lean_deg": _r(m.trunk_lean.value),
        "knee_angle_deg": _r(knee),
        "knee_hyperextension": a.knee_hyperextension,
        "plumb_offsets_stature": {k: _r(v, 4) for k, v in m.plumb.items()},
        "measurements": [
            {"name": x.name, "value": _r(x.value), "unit": x.unit, "convention": x.convention,
             "interval": _iv(x), "coverage": x.coverage, "method": x.method}
            for x in m.all()
        ],
        "view": {
            "ok": view.ok,
            "side_on_score": _r(view.side_on_score, 3),
            "frontal_ratio": _r(view.frontal_ratio, 3),
            "whole_body": view.whole_body,
            "other_people": view.other_people,
            "facing_confidence": _r(a.side.facing_confidence, 3),
            "near_side": a.side.near_side,
        },
        "roll_deg": _r(a.side.roll.deg),
        "roll_source": a.side.roll.source,
        "image_size": list(a.frame_size),
        "model": {"pose_variant": a.model_variant,
                  "estimator_version": a.estimator_meta.get("version")},
        "landmarks_px": [
            [_r(x, 1), _r(y, 1), _r(v, 3)]
            for (x, y), v in zip(a.pose.xy, a.pose.visibility, strict=True)
        ],
    }
    if not view.ok:
        out["error"] = {"code": VIEW_ERROR_CODE,
                        "message": "The view cannot be measured: "
                        + "; ".join(str(r) for r in view.reasons)}
    return out


#: The contract's writer under its short name (``assessment_to_dict`` stays for callers).
to_dict = assessment_to_dict


def error_to_dict(err: PostureError, *, source: str | None = None) -> dict:
    """The contract dict of a failure (no person, unreadable input, ...)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": False,
        "source": source,
        "error": {**err.to_dict(), "exit_code": err.exit_code},
        "facing": None,
        "pelvic_tilt_deg": None,
        "pelvic_tilt_interval_deg": None,
        "lumbar_lordosis_deg": None,
        "severity": None,
        "abstained": True,
        "abstain_reasons": [str(Reason(err.code, err.message))],
        "landmarks_px": None,
    }


def exit_code_for(d: dict) -> int:
    """CLI exit code of a contract dict: 0 ok (abstentions included), 2 bad input, 3 no
    usable person or view, other codes from the error type."""
    if d.get("ok"):
        return 0
    return int(d.get("error", {}).get("exit_code", 3))
