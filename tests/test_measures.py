"""The measure registry (posture/data/measures.yaml, posture.measures)."""

from __future__ import annotations

import pytest

from posture import measures as reg
from posture.errors import DataFileError
from posture.metrics import Measurement, Measurements


def test_every_side_measure_is_declared_once_with_unit_key_and_explanation():
    specs = [s for s in reg.measures() if s.view == "side"]
    assert [s.name for s in specs] == ["pelvic_tilt", "lumbar_lordosis", "head_neck_angle",
                                       "trunk_lean", "knee_angle"]
    assert all(s.unit == "deg" and s.explain and s.convention for s in specs)
    assert reg.names("side") == tuple(s.name for s in specs)
    assert reg.by_key("knee_angle_deg").name == "knee_angle"
    assert reg.by_key("no_such_key") is None
    assert [s.name for s in reg.findings()][:4] == ["lumbar_lordosis", "head_neck_angle",
                                                    "trunk_lean", "knee_angle"]


def test_the_front_view_measures_are_declared_with_intervals_and_why_no_range():
    """Issue 28: the frontal measures, after the side view's, each with its unit, sign
    convention (+ = the subject's left / valgus), a 90% half-width measured on the bench
    and why there is no typical range."""
    from posture.front_view import FRONTAL_FIELDS, interval_halfwidths

    front = [s for s in reg.measures() if s.view == "front"]
    assert [s.name for s in front] == list(FRONTAL_FIELDS)
    assert [s.key for s in front] == [
        "pelvic_obliquity_deg", "shoulder_level_deg", "head_tilt_deg", "trunk_shift_stature",
        "knee_frontal_left_deg", "knee_frontal_right_deg"]
    assert reg.spec("pelvic_obliquity").interval_key == "pelvic_obliquity_interval_deg"
    assert reg.spec("pelvic_obliquity").flag == "obliquity_flag"
    assert reg.spec("trunk_shift").unit == "stature"
    assert all(s.interval == "bench" and s.no_typical and "positive" in s.convention
               for s in front)
    coverage, hw = interval_halfwidths()
    assert coverage == 0.9 and set(hw) == set(FRONTAL_FIELDS)
    assert 2.0 < hw["pelvic_obliquity"] < 5.0 and 0.005 < hw["trunk_shift"] < 0.03


def test_a_bad_registry_names_the_file_and_the_path(monkeypatch):
    bad = {"version": 1, "measures": {"tilt": {"view": "side", "unit": "furlongs"}}}
    monkeypatch.setattr(reg, "load_data_file", lambda name: bad)
    reg.measures.cache_clear()
    try:
        with pytest.raises(DataFileError, match=r"measures.yaml: unit"):
            reg.measures()
    finally:
        monkeypatch.undo()
        reg.measures.cache_clear()


def test_measurements_are_a_collection_by_name():
    a = Measurement("pelvic_tilt", 10.0, "deg", "c")
    b = Measurement("knee_angle", 2.0, "deg", "c")
    m = Measurements((a, b))
    assert m.get("knee_angle") is b and m.pelvic_tilt is a and m.get("trunk_lean") is None
    with pytest.raises(AttributeError):
        m.trunk_lean  # noqa: B018 - not measured here
    new = Measurement("pelvic_tilt", 12.0, "deg", "c")
    assert m.replaced(new).all() == (new, b)


def test_the_codec_lists_the_registry_keys_in_the_contract_order():
    """The contract's top-level measure keys and the one-row columns come from the
    registry; their order is the one printed since schema 1 (coverage after the tilt)."""
    from posture.contract import _KNOWN, flat_columns, from_dict, to_dict
    from posture.result import Reading

    assert {s.key for s in reg.measures() if s.view == "side"} <= _KNOWN
    cols = flat_columns()
    assert cols[4:8] == ("pelvic_tilt_deg", "pelvic_tilt_interval_deg_lo",
                         "pelvic_tilt_interval_deg_hi", "interval_coverage")
    assert cols.index("knee_hyperextension") == cols.index("knee_angle_deg") + 1
    r = Reading(ok=True, abstained=False, pelvic_tilt_deg=10.0,
                pelvic_tilt_interval_deg=(6.0, 14.0), interval_coverage=0.9,
                knee_angle_deg=6.0, knee_hyperextension=True)
    d = to_dict(r)
    keys = list(d)
    assert keys[4:7] == ["pelvic_tilt_deg", "pelvic_tilt_interval_deg", "interval_coverage"]
    assert d["knee_hyperextension"] is True and d["pelvic_tilt_interval_deg"] == [6.0, 14.0]
    assert to_dict(from_dict(d)) == d


def test_a_measure_without_a_reading_field_travels_in_measurements():
    """A measure added to the registry later (a front-view one) has no Reading field: its
    value is read from ``measurements`` and its top-level key survives a round trip."""
    from posture.contract import from_dict, to_dict

    d = {"ok": True, "abstained": False, "pelvic_obliquity_deg": 2.5,
         "measurements": [{"name": "pelvic_tilt", "value": 10.0, "unit": "deg"}]}
    r = from_dict(d)
    assert r.value("pelvic_tilt") is None  # the top-level field wins where there is one
    assert r.measurement("pelvic_tilt").value == 10.0
    assert to_dict(r)["pelvic_obliquity_deg"] == 2.5
