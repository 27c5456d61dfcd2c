"""Front-view results for the clinic, PDF and batch tests (issue 28), made by hand.

``with_front`` adds to a side-view contract dict what one assessment with a side and a
front photo holds (``docs``/notes front_api: ``views``, ``view_kind``, the frontal keys
and their ``measurements``). ``frontal_registry`` makes sure the measure registry declares
the front view's measures: the packaged ``measures.yaml`` once the core's entries are in,
else the same entries given here (names, keys, units and signs of the agreed API), so the
consumers' registry-driven code is tested either way.
"""

from __future__ import annotations

import copy

from posture.measures import MeasureSpec

#: The front view's measures as the agreed API names them (unit, key, interval key, flag).
FRONT = (
    ("pelvic_obliquity", "deg", "pelvic_obliquity_deg", "pelvic_obliquity_interval_deg",
     "Pelvic obliquity", "positive = left side higher"),
    ("shoulder_level", "deg", "shoulder_level_deg", None, "Shoulder level",
     "positive = left side higher"),
    ("head_tilt", "deg", "head_tilt_deg", None, "Head tilt",
     "positive = left side higher"),
    ("trunk_shift", "stature", "trunk_shift_stature", None, "Trunk shift",
     "positive = toward the left"),
    ("knee_frontal_left", "deg", "knee_frontal_left_deg", None, "Left knee alignment",
     "positive = valgus"),
    ("knee_frontal_right", "deg", "knee_frontal_right_deg", None, "Right knee alignment",
     "positive = valgus"),
)
FRONT_KEYS = tuple(k for f in FRONT for k in (f[2], f[3]) if k)


def _spec(name, unit, key, ikey, label, sign) -> MeasureSpec:
    return MeasureSpec(name=name, view="front", unit=unit, key=key, interval_key=ikey,
                       interval="typical_error" if ikey else "none", convention=sign,
                       sign=sign, label=label, title=label, panel="finding",
                       no_typical="test entry", explain=label)


def frontal_registry(monkeypatch) -> None:
    """Have the registry declare the front view's measures (see the module docstring)."""
    import posture.measures as reg

    specs = reg.measures()
    if any(s.name == "pelvic_obliquity" for s in specs):
        return  # the packaged registry has them
    full = specs + tuple(_spec(*f) for f in FRONT)
    import posture.contract
    import posture.present.export
    import posture.present.report_pdf
    import posture.store.history

    for mod in (reg, posture.contract, posture.present.export, posture.store.history,
                posture.present.report_pdf):
        monkeypatch.setattr(mod, "measures", lambda: full)


def with_front(result: dict, *, obliquity: float | None = 3.2, shoulder: float = -1.5,
               flag: bool | None = None, kind: str = "front") -> dict:
    """``result`` (a side view's contract dict) combined with a front (or back) photo's
    measures: ``views`` ["side", kind], ``view_kind`` "side", the frontal keys and their
    ``measurements``; ``obliquity_flag`` true beyond 5° unless ``flag`` says."""
    out = copy.deepcopy(result)
    iv = None if obliquity is None else [round(obliquity - 1.8, 2), round(obliquity + 1.8, 2)]
    values = {"pelvic_obliquity": (obliquity, iv), "shoulder_level": (shoulder, None),
              "head_tilt": (0.8, None), "trunk_shift": (0.004, None),
              "knee_frontal_left": (4.0, None), "knee_frontal_right": (2.5, None)}
    out.update(view_kind="side", views=["side", kind],
               obliquity_flag=(abs(obliquity) > 5.0 if obliquity is not None else None)
               if flag is None else flag)
    for name, unit, key, ikey, _, sign in FRONT:
        v, i = values[name]
        out[key] = v
        if ikey:
            out[ikey] = i
        out.setdefault("measurements", []).append(
            {"name": name, "value": v, "unit": unit, "convention": sign, "interval": i,
             "coverage": 0.9 if i else None, "method": "landmarks: front view"})
    return out
