"""The measure registry (posture/data/measures.yaml, posture.measures)."""

from __future__ import annotations

import pytest

from posture import measures as reg
from posture.errors import DataFileError
from posture.metrics import Measurement, Measurements


def test_every_side_measure_is_declared_once_with_unit_key_and_explanation():
    specs = reg.measures()
    assert [s.name for s in specs] == ["pelvic_tilt", "lumbar_lordosis", "head_neck_angle",
                                       "trunk_lean", "knee_angle"]
    assert all(s.view == "side" and s.unit == "deg" and s.explain and s.convention
               for s in specs)
    assert reg.by_key("knee_angle_deg").name == "knee_angle"
    assert reg.by_key("no_such_key") is None
    assert [s.name for s in reg.findings()] == ["lumbar_lordosis", "head_neck_angle",
                                                "trunk_lean", "knee_angle"]


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
