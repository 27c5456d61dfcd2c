"""The CLI contract: JSON keys, exit codes, no tracebacks (run as a user would)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

CONTRACT_KEYS = {
    "ok", "facing", "pelvic_tilt_deg", "pelvic_tilt_interval_deg", "lumbar_lordosis_deg",
    "severity", "abstained", "abstain_reasons", "landmarks_px",
}
SEVERITIES = {"posterior", "neutral", "mild", "moderate", "severe", None}
# README "The JSON contract", the "Also:" list, and the keys the clinic store, export, PDF
# and history read (interval_coverage, severity_label, ...): present on every analysis.
ALSO_KEYS = {
    "schema_version", "source", "interval_coverage", "lumbar_lordosis_interval_deg",
    "severity_label", "severity_probabilities", "severity_disclaimer", "retake_guidance",
    "head_neck_angle_deg", "forward_head", "knee_angle_deg", "knee_hyperextension",
    "trunk_lean_deg", "plumb_offsets_stature", "measurements", "view", "roll_deg",
    "roll_source", "image_size", "model",
}
MEASUREMENT_KEYS = {"name", "value", "unit", "convention", "interval", "coverage", "method"}
MEASUREMENT_NAMES = {"pelvic_tilt", "lumbar_lordosis", "head_neck_angle", "trunk_lean",
                     "knee_angle"}
VIEW_KEYS = {"ok", "side_on_score", "frontal_ratio", "whole_body", "other_people",
             "facing_confidence", "near_side"}
MODEL_KEYS = {"pose_variant", "estimator_version"}
PLUMB_KEYS = {"ear", "shoulder", "hip", "knee"}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posture.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def assert_clean_stderr(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr


def check_contract(d: dict) -> None:
    assert CONTRACT_KEYS <= set(d), CONTRACT_KEYS - set(d)
    assert isinstance(d["ok"], bool) and isinstance(d["abstained"], bool)
    assert d["severity"] in SEVERITIES
    assert isinstance(d["abstain_reasons"], list)
    if d["abstained"]:
        assert d["pelvic_tilt_deg"] is None and d["severity"] is None
        assert d["abstain_reasons"], "an abstention must say why"
    else:
        lo, hi = d["pelvic_tilt_interval_deg"]
        assert lo <= d["pelvic_tilt_deg"] <= hi
        assert d["severity"] is not None


def _num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _interval(iv) -> bool:
    return isinstance(iv, list) and len(iv) == 2 and all(map(_num, iv)) and iv[0] <= iv[1]


def check_full_contract(d: dict) -> None:
    """Every documented key and nested field of an analysis (a view that was measured or
    refused, not a file error), with its type and meaning."""
    check_contract(d)
    assert ALSO_KEYS <= set(d), ALSO_KEYS - set(d)
    assert d["schema_version"] == 1 and d["facing"] in ("left", "right")
    assert len(d["landmarks_px"]) == 33
    assert all(len(p) == 3 and all(map(_num, p)) for p in d["landmarks_px"])
    for key in ("head_neck_angle_deg", "knee_angle_deg", "trunk_lean_deg", "roll_deg"):
        assert _num(d[key]), key
    assert isinstance(d["forward_head"], bool) and isinstance(d["knee_hyperextension"], bool)
    assert d["roll_source"] in ("estimated", "declared", "none")
    assert isinstance(d["retake_guidance"], list)
    assert all(isinstance(g, str) and g for g in d["retake_guidance"])
    assert isinstance(d["severity_disclaimer"], str) and "not a diagnosis" in d[
        "severity_disclaimer"]
    assert set(d["plumb_offsets_stature"]) == PLUMB_KEYS
    assert all(map(_num, d["plumb_offsets_stature"].values()))
    assert len(d["image_size"]) == 2 and all(isinstance(v, int) for v in d["image_size"])
    # view.*
    assert set(d["view"]) >= VIEW_KEYS, VIEW_KEYS - set(d["view"])
    v = d["view"]
    assert isinstance(v["ok"], bool) and isinstance(v["whole_body"], bool)
    assert v["ok"] == d["ok"] and isinstance(v["other_people"], int)
    assert 0 <= v["side_on_score"] <= 1 and 0 <= v["facing_confidence"] <= 1
    assert _num(v["frontal_ratio"]) and v["near_side"] in ("left", "right")
    # model.*
    assert set(d["model"]) >= MODEL_KEYS
    assert d["model"]["pose_variant"] == "full"
    assert isinstance(d["model"]["estimator_version"], str) and d["model"]["estimator_version"]
    # measurements[].*
    ms = {m["name"]: m for m in d["measurements"]}
    assert set(ms) >= MEASUREMENT_NAMES, MEASUREMENT_NAMES - set(ms)
    for m in d["measurements"]:
        assert set(m) >= MEASUREMENT_KEYS, (m["name"], MEASUREMENT_KEYS - set(m))
        assert m["unit"] == "deg" and isinstance(m["convention"], str) and m["convention"]
        assert isinstance(m["method"], str) and m["method"]
        if m["value"] is not None:
            assert _num(m["value"])
        if m["interval"] is not None:
            assert _interval(m["interval"]) and m["coverage"] == pytest.approx(0.9)
            assert m["interval"][0] <= m["value"] <= m["interval"][1], m
    assert "positive = anterior" in ms["pelvic_tilt"]["convention"]
    assert ms["pelvic_tilt"]["value"] == d["pelvic_tilt_deg"]
    assert ms["pelvic_tilt"]["interval"] == d["pelvic_tilt_interval_deg"]
    assert ms["lumbar_lordosis"]["value"] == d["lumbar_lordosis_deg"]
    assert ms["lumbar_lordosis"]["interval"] == d["lumbar_lordosis_interval_deg"]
    for name in ("head_neck_angle", "trunk_lean", "knee_angle"):
        assert ms[name]["value"] == d[f"{name}_deg"], name
    # severity_*
    if d["abstained"]:
        assert d["severity_probabilities"] is None and d["severity_label"] is None
        assert d["pelvic_tilt_interval_deg"] is None and d["interval_coverage"] is None
        return
    assert _num(d["pelvic_tilt_deg"]) and _num(d["lumbar_lordosis_deg"])
    assert _interval(d["lumbar_lordosis_interval_deg"])
    assert d["interval_coverage"] == pytest.approx(0.9)
    probs = d["severity_probabilities"]
    assert set(probs) == SEVERITIES - {None}
    assert all(0 <= p <= 1 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=0.01)
    assert d["severity"] == max(probs, key=probs.get)
    assert isinstance(d["severity_label"], str) and d["severity_label"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["s2024_000141.jpg", "s2024_000183.jpg"])
def test_analyze_json_full_contract_on_a_sample(name):
    from conftest import SAMPLES

    path = SAMPLES / name
    proc = run_cli("analyze", str(path), "--json")
    assert_clean_stderr(proc)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    check_full_contract(d)
    assert d["ok"] is True and d["abstained"] is False and d["source"] == str(path)
    label = json.loads(path.with_suffix(".json").read_text())
    assert d["facing"] == label["facing"] and d["image_size"] == [540, 960]


@pytest.mark.slow
def test_analyze_json_contract_on_real_photo(shared_photos):
    proc = run_cli("analyze", str(shared_photos / "real_01.jpg"), "--json")
    assert_clean_stderr(proc)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    check_full_contract(d)
    assert d["ok"] is True and d["facing"] == "left"
    assert len(d["landmarks_px"]) == 33 and all(len(p) == 3 for p in d["landmarks_px"])


@pytest.mark.slow
def test_analyze_annotate_and_human_output(shared_photos, tmp_path):
    out = tmp_path / "annotated.png"
    proc = run_cli("analyze", str(shared_photos / "real_02.jpg"), "--annotate", str(out))
    assert_clean_stderr(proc)
    assert proc.returncode == 0
    assert "facing left" in proc.stdout
    img = Image.open(out)
    assert img.size == Image.open(shared_photos / "real_02.jpg").size


def test_text_file_named_jpg_is_exit_2(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo\n")
    proc = run_cli("analyze", str(bad), "--json")
    assert_clean_stderr(proc)
    assert proc.returncode == 2
    d = json.loads(proc.stdout)
    assert d["ok"] is False and d["error"]["code"] == "not_an_image"
    check_contract(d)


def test_missing_file_is_exit_2():
    proc = run_cli("analyze", "/nonexistent/side.jpg", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "file_not_found"


@pytest.mark.slow
def test_no_person_is_exit_3(tmp_path):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((480, 360, 3), 180, np.uint8)).save(path)
    proc = run_cli("analyze", str(path), "--json")
    assert_clean_stderr(proc)
    assert proc.returncode == 3
    d = json.loads(proc.stdout)
    assert d["error"]["code"] == "no_person"
    check_contract(d)


@pytest.mark.slow
def test_cut_off_view_is_exit_3_with_reasons(shared_photos, tmp_path):
    img = Image.open(shared_photos / "real_01.jpg")
    path = tmp_path / "top.png"
    img.crop((0, 0, img.width, img.height // 2)).save(path)
    proc = run_cli("analyze", str(path), "--json")
    assert_clean_stderr(proc)
    d = json.loads(proc.stdout)
    # a person is found in the top half (no way out on ``no_person``): the view is refused
    assert proc.returncode == 3
    assert d["ok"] is False and d["error"]["code"] == "view_not_usable"
    assert d["abstained"] and any("body_cut_off" in r for r in d["abstain_reasons"])
    assert d["facing"] in ("left", "right")
    check_full_contract(d)  # a refused view still carries the whole contract


def test_plan_from_result_json(tmp_path):
    result = {"ok": True, "abstained": False, "pelvic_tilt_deg": 27.0,
              "pelvic_tilt_interval_deg": [23.0, 31.0], "severity": "severe"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    proc = run_cli("plan", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert 4 <= len(plan["items"]) <= 7


def test_plan_with_bad_json_is_coded(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    proc = run_cli("plan", str(path))
    assert_clean_stderr(proc)
    assert proc.returncode != 0 and "bad_result_json" in proc.stderr


def test_models_list_runs():
    proc = run_cli("models", "list")
    assert proc.returncode == 0
    assert "full" in proc.stdout
