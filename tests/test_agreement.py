"""Agreement statistics (posture.agreement) against published values, and
``posture validate`` end to end on a simulated clinic study."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES
from PIL import Image

from posture.agreement import (
    agreement,
    icc_2_1,
    mdc95,
    sem_from_repeats,
    sem_from_table,
    two_way_anova,
)
from posture.errors import InputError, PostureError
from posture.validate import read_readings, validate

ROOT = Path(__file__).resolve().parents[1]

#: Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. Their Table 4 gives
#: ICC(2,1) = 0.29 and, from the same table, BMS 11.24, JMS 32.49, EMS 1.02.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


def test_icc_matches_shrout_and_fleiss():
    a = two_way_anova(SHROUT_FLEISS)
    assert a.ms_rows == pytest.approx(11.24, abs=0.01)
    assert a.ms_cols == pytest.approx(32.49, abs=0.01)
    assert a.ms_error == pytest.approx(1.02, abs=0.01)
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)
    assert sem_from_table(SHROUT_FLEISS) == pytest.approx(math.sqrt(1.02), abs=0.01)


def test_mdc95_of_the_palpation_meter():
    # clinical-notes: PALM's SEM 1.1° gives an MDC95 of about 3.0°
    assert mdc95(1.1) == pytest.approx(3.05, abs=0.01)


def test_a_constant_offset_shows_as_bias_and_lowers_the_icc():
    rng = np.random.default_rng(1)
    truth = rng.normal(10, 5, 200)
    ref = truth + rng.normal(0, 1, 200)
    same = agreement(truth + rng.normal(0, 1, 200), ref)
    shifted = agreement(truth + 4 + rng.normal(0, 1, 200), ref)
    assert abs(same.bias) < 0.3 and shifted.bias == pytest.approx(4, abs=0.3)
    # the limits are bias ± 1.96 SD of the differences, SD ≈ √2 here
    assert shifted.loa_high - shifted.loa_low == pytest.approx(2 * 1.96 * math.sqrt(2), rel=0.15)
    assert shifted.icc < same.icc - 0.1  # absolute agreement, not consistency
    assert same.sem == pytest.approx(1.0, rel=0.15)  # the per-method noise, 1°


def test_sem_from_repeats_pools_within_subject_sd():
    groups = [np.array([1.0, 3.0]), np.array([10.0, 12.0, 14.0])]
    # within SS = 2 + 8 = 10 over 1 + 2 degrees of freedom
    assert sem_from_repeats(groups) == pytest.approx(math.sqrt(10 / 3))
    with pytest.raises(ValueError):
        sem_from_repeats([np.array([1.0])])


def test_readings_file_errors_are_coded(tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("photo,angle\na.jpg,3\n")
    with pytest.raises(InputError) as e:
        read_readings(bad)
    assert e.value.code == "invalid_readings" and "reference_deg" in e.value.message
    bad.write_text("photo,reference_deg\na.jpg,three\n")
    with pytest.raises(InputError, match="line 2"):
        read_readings(bad)
    with pytest.raises(InputError) as e:
        read_readings(tmp_path)
    assert e.value.code == "not_a_regular_file"


def test_validate_records_rows_it_cannot_measure(tmp_path):
    rows = read_readings(_write(tmp_path, [("a.jpg", 1), ("b.jpg", 2), ("c.jpg", 3),
                                           ("d.jpg", 4)]))

    def measure(p):
        if p.name == "d.jpg":
            raise PostureError("x", code="no_person")
        return {"a.jpg": 2.0, "b.jpg": 3.5, "c.jpg": 3.0}[p.name]

    v = validate(rows, measure)
    assert v.stats.n == 3 and v.outcomes[3].why_not == "no_person"
    assert v.stats.bias == pytest.approx(np.mean([1.0, 1.5, 0.0]))
    with pytest.raises(PostureError) as e:
        validate(rows[:2], lambda p: 1.0)
    assert e.value.code == "too_few_pairs"


def _write(folder: Path, rows) -> Path:
    p = folder / "readings.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject", "photo", "reference_deg"])
        for i, (photo, ref) in enumerate(rows):
            w.writerow([f"S{i:02d}", photo, ref])
    return p


@pytest.mark.slow
def test_posture_validate_on_a_simulated_study_of_40_photos(tmp_path):
    """40 held-out renders, each with a simulated palpation-meter reading (the true tilt plus
    the meter's error, SEM 1.1°, seeded): the command prints every figure and writes the
    plot, and its bias and limits agree with the renders' measured accuracy."""
    rng = np.random.default_rng(2026)
    photos = sorted((SAMPLES / "heldout").glob("*.jpg"))[:40]
    assert len(photos) == 40
    rows, truths = [], []
    for p in photos:
        t = json.loads(p.with_suffix(".json").read_text())["pelvic_tilt_deg"]
        truths.append(t)
        rows.append((str(p), round(t + rng.normal(0, 1.1), 1)))
    csv_path = _write(tmp_path, rows)
    plot = tmp_path / "ba.png"
    proc = subprocess.run([sys.executable, "-m", "posture.cli", "validate", str(csv_path),
                           "--plot", str(plot), "--json"], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    for key in ("bias_deg", "loa_deg", "icc_2_1", "sem_deg", "mdc95_deg"):
        assert d[key] is not None, key
    assert d["n_measured"] >= 36
    # independent check: the README's accuracy on 300 held-out renders (bias -0.2°, RMSE
    # 3.5°) plus the simulated meter error: |bias| within 3 standard errors, ICC high
    sd = math.hypot(3.5, 1.1)
    assert abs(d["bias_deg"]) < 3 * sd / math.sqrt(d["n_measured"])
    assert d["icc_2_1"] > 0.7
    assert d["mdc95_deg"] == pytest.approx(1.96 * math.sqrt(2) * d["sem_deg"], abs=0.01)
    with Image.open(plot) as im:
        assert im.size == (900, 600)
    text = subprocess.run([sys.executable, "-m", "posture.cli", "validate", str(csv_path),
                           "--plot", str(plot)], capture_output=True, text=True, timeout=900,
                          cwd=ROOT)
    assert text.returncode == 0, text.stderr
    assert "ICC(2,1)" in text.stdout and "MDC95" in text.stdout and "limits" in text.stdout
