"""The palpation-equivalent pelvic tilt (issue 25 items 1-3): its interval includes the bony
offset's spread, the JSON contract carries it, and one reference reading of the clinic's
meter calibrates later visits. No model needed."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from posture.contract import PALPATION_KEYS, from_dict, to_dict
from posture.errors import InputError
from posture.palpation import (
    PALPATION_METHOD,
    bone_offset_law,
    calibrate,
    calibrated,
    instruments,
    palpation_equivalent,
    palpation_halfwidth,
)

Z90 = 1.6448536269514722


def _offsets(rng, n):
    sd, clip = bone_offset_law()
    return np.clip(rng.normal(0.0, sd, n), -clip, clip)


@pytest.mark.parametrize("postural", [0.5, 5.17, 6.67, 8.56])
def test_palpation_halfwidth_covers_photo_error_plus_bone_offset(postural):
    # independent oracle: Monte Carlo of a normal photo error with the postural interval's
    # 90% half-width plus the ground truth's bony offset (Normal(0, 5) clipped to +-11)
    rng = np.random.default_rng(25)
    n = 400_000
    err = rng.normal(0.0, postural / Z90, n) + _offsets(rng, n)
    h = palpation_halfwidth(postural)
    assert np.mean(np.abs(err) <= h) == pytest.approx(0.90, abs=0.003)
    assert h > math.hypot(postural, 0.0)  # wider than the postural interval


def test_law_is_the_ground_truths():
    assert bone_offset_law() == (5.0, 11.0)  # ground-truth.md, Preece et al. 2008


def test_uncalibrated_value_is_the_postural_estimate_with_a_wider_interval():
    p = palpation_equivalent(12.0, (6.0, 18.0), 0.9)
    h = palpation_halfwidth(6.0)
    assert p.value_deg == 12.0 and not p.calibrated
    assert p.interval_deg == (round(12.0 - h, 2), round(12.0 + h, 2))
    assert 9.5 < h < 10.5
    assert palpation_equivalent(12.0, None, None) is None  # clinician-placed: no interval
    assert palpation_equivalent(None, (1.0, 2.0), 0.9) is None


def test_contract_gains_the_palpation_keys_and_keeps_the_others():
    d = {"schema_version": 1, "ok": True, "pelvic_tilt_deg": 20.0,
         "pelvic_tilt_interval_deg": [14.0, 26.0], "interval_coverage": 0.9,
         "abstained": False}
    out = to_dict(from_dict(d))
    h = palpation_halfwidth(6.0)
    assert out["pelvic_tilt_deg"] == 20.0 and out["pelvic_tilt_interval_deg"] == [14.0, 26.0]
    assert out["pelvic_tilt_palpation_deg"] == 20.0
    assert out["pelvic_tilt_palpation_interval_deg"] == [round(20 - h, 2), round(20 + h, 2)]
    assert out["pelvic_tilt_palpation_method"] == PALPATION_METHOD
    assert "derived, not conformal" in PALPATION_METHOD and "SD 5°" in PALPATION_METHOD
    # no postural interval (or no tilt): the keys are there, null
    none = to_dict(from_dict({**d, "pelvic_tilt_interval_deg": None}))
    assert all(none[k] is None for k in PALPATION_KEYS)
    # a saved result read back gives the same keys (no duplicate, no stale extra)
    again = to_dict(from_dict(out))
    assert again == out


def test_calibration_offset_and_its_uncertainty():
    from posture.change import retake_sem

    cal = calibrate(15.0, 9.0, "palpation_meter", assessment_id=7)
    assert (cal.offset_deg, cal.assessment_id, cal.instrument) == (6.0, 7, "palpation_meter")
    assert cal.offset_sem_deg == pytest.approx(math.hypot(1.1, retake_sem()))
    later = calibrated(4.0, cal)
    h = Z90 * math.sqrt(1.1 ** 2 + 2 * retake_sem() ** 2)
    assert later.calibrated and later.value_deg == 10.0
    assert later.interval_deg == pytest.approx((10.0 - h, 10.0 + h), abs=0.006)
    assert "palpation meter" in later.method


@pytest.mark.parametrize("bad", [float("nan"), 91.0, "12", True, None])
def test_calibration_refuses_bad_readings(bad):
    with pytest.raises(InputError) as e:
        calibrate(bad, 9.0, "palpation_meter")
    assert e.value.code == "invalid_reference"


def test_calibration_refuses_unknown_instruments():
    assert set(instruments()) == {"palpation_meter", "inclinometer"}
    with pytest.raises(InputError) as e:
        calibrate(10.0, 9.0, "ruler")
    assert e.value.code == "invalid_reference"


def test_calibrated_value_beats_the_uncalibrated_one_on_a_simulated_clinic():
    """People with a steady photo error (between-person SD 2.6°, within-person retake SD
    2.06°), a bony offset per person and a meter with SEM 1.1°: after one meter reading,
    later visits read the palpation value about as well as the photo reads the postural
    one, and the calibrated interval covers about 90%."""
    from posture.change import retake_sem

    rng = np.random.default_rng(2025)
    n = 20_000
    bias = rng.normal(0, 2.6, n)
    bone = _offsets(rng, n)
    posture0, posture1 = rng.normal(10, 8, n), rng.normal(10, 8, n)
    read0 = posture0 + bias + rng.normal(0, retake_sem(), n)
    read1 = posture1 + bias + rng.normal(0, retake_sem(), n)
    meter0 = posture0 + bone + rng.normal(0, 1.1, n)
    est = [calibrated(r1, calibrate(m0, r0, "palpation_meter"))
           for r0, r1, m0 in zip(read0[:4000], read1[:4000], meter0[:4000], strict=True)]
    value = np.array([e.value_deg for e in est])
    truth = (posture1 + bone)[:4000]
    lo, hi = np.array([e.interval_deg for e in est]).T
    postural_mae = np.mean(np.abs(read1 - posture1))
    uncal_mae = np.mean(np.abs(read1 - (posture1 + bone)))
    cal_mae = np.mean(np.abs(value - truth))
    assert cal_mae <= postural_mae + 0.5 < uncal_mae
    assert np.mean((lo <= truth) & (truth <= hi)) == pytest.approx(0.90, abs=0.015)


# -- the store and the history ---------------------------------------------------------------

def _result(tilt, half=4.0, method="learned: pelvis-patch network"):
    iv = None if half is None else [tilt - half, tilt + half]
    return {"schema_version": 1, "ok": True, "pelvic_tilt_deg": tilt,
            "pelvic_tilt_interval_deg": iv, "interval_coverage": 0.9, "abstained": False,
            "measurements": [{"name": "pelvic_tilt", "value": tilt, "unit": "deg",
                              "interval": iv, "coverage": 0.9, "method": method}]}


def test_store_keeps_a_reference_reading_and_audits_it(tmp_path):
    from posture.store import StoreError, open_store

    with open_store(tmp_path / "c.db") as s:
        p = s.add_patient("P-1")
        a = s.save_assessment(p.id, _result(10.0), actor="dr",
                              reference=("palpation_meter", 14.5))
        assert a.reference == ("palpation_meter", 14.5)
        b = s.save_assessment(p.id, _result(8.0))
        assert b.reference is None
        b2 = s.set_reference(b.id, "inclinometer", -3.25, actor="dr")
        assert b2.reference == ("inclinometer", -3.25)
        for bad in (("ruler", 1.0), ("inclinometer", float("inf")), ("inclinometer", 120)):
            with pytest.raises(StoreError) as e:
                s.set_reference(b.id, *bad)
            assert e.value.code == "invalid_record"
        with pytest.raises(StoreError) as e:
            s.set_reference(999, "inclinometer", 1.0)
        assert e.value.code == "assessment_not_found"
        assert s.set_reference(b.id, None, actor="dr").reference is None
        trail = [(r["action"], r["assessment_id"], r["detail"]) for r in s.audit_trail()
                 if r["action"] == "reference"]
        assert trail == [("reference", a.id, "reference reading: palpation_meter +14.5°"),
                         ("reference", b.id, "reference reading: inclinometer -3.2°"),
                         ("reference", b.id, "removed")]
    with open_store(tmp_path / "c.db") as s:
        assert s.get_assessment(a.id).reference == ("palpation_meter", 14.5)


def test_schema_5_migration_adds_empty_reference_columns(tmp_path):
    import sqlalchemy as sa
    from legacy_store_schema import migrate

    from posture.store import SCHEMA_VERSION, open_store

    assert SCHEMA_VERSION == 5
    db = tmp_path / "old.db"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as conn:
        migrate(conn, 4)
    eng.dispose()
    with open_store(db) as s:
        assert (s.migrated_from, s.schema_version) == (4, 5)
        p = s.add_patient("P-2")
        r = s.save_assessment(p.id, _result(5.0))
        assert (r.reference_instrument, r.reference_deg) == (None, None)
        assert s.set_reference(r.id, "palpation_meter", 9.0).reference_deg == 9.0


def _rec(i, result, day, reference=None):
    from posture.store import AssessmentRecord

    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    ref = reference or (None, None)
    return AssessmentRecord(i, 1, t, t, result, {}, None, "", "full", None, False, False,
                            *ref)


def test_history_calibrates_later_visits_with_the_latest_earlier_reading():
    from posture.store.history import palpation_by_record

    recs = [_rec(1, _result(10.0), 0), _rec(2, _result(8.0), 10, ("palpation_meter", 15.0)),
            _rec(3, _result(6.0), 20), _rec(4, _result(7.0, None, "clinician-placed"), 25),
            _rec(5, _result(4.0), 30, ("inclinometer", 6.0)), _rec(6, _result(5.0), 40)]
    v = palpation_by_record(reversed(recs))  # any order in
    assert not v[1].estimate.calibrated and v[1].estimate.value_deg == 10.0
    assert v[2].reference == ("palpation_meter", 15.0) and not v[2].estimate.calibrated
    assert v[3].estimate.calibrated and v[3].estimate.value_deg == 6.0 + (15.0 - 8.0)
    assert v[3].calibration.assessment_id == 2
    assert v[4].estimate is None  # a clinician-placed tilt is not calibrated
    assert v[5].estimate.value_deg == 4.0 + 7.0  # calibrated with #2, its own reading...
    assert v[6].estimate.value_deg == 5.0 + 2.0 and v[6].calibration.assessment_id == 5


def test_exports_carry_the_reference_reading(tmp_path):
    import csv
    import io
    import json

    from posture.present.export import export_csv, export_json
    from posture.store import open_store

    with open_store(tmp_path / "e.db") as s:
        p = s.add_patient("P-E")
        a = s.save_assessment(p.id, _result(10.0), reference=("inclinometer", 12.5))
        s.save_assessment(p.id, _result(9.0))
        rows = list(csv.DictReader(io.StringIO(export_csv(s, p.id))))
        doc = json.loads(export_json(s, p.id))
    assert [(r["reference_instrument"], r["reference_deg"]) for r in rows] == [
        ("inclinometer", "12.5"), ("", "")]
    got = [x["reference"] for x in doc["patients"][0]["assessments"]]
    assert got == [{"instrument": "inclinometer", "pelvic_tilt_deg": 12.5}, None]
    assert doc["patients"][0]["assessments"][0]["id"] == a.id
