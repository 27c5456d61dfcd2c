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


@pytest.mark.slow
def test_analyze_json_contract_on_real_photo(shared_photos):
    proc = run_cli("analyze", str(shared_photos / "real_01.jpg"), "--json")
    assert_clean_stderr(proc)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    check_contract(d)
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
    if d.get("error", {}).get("code") == "no_person":
        assert proc.returncode == 3
        return
    assert proc.returncode == 3
    assert d["ok"] is False and d["error"]["code"] == "view_not_usable"
    assert d["abstained"] and any("body_cut_off" in r for r in d["abstain_reasons"])
    assert d["facing"] in ("left", "right")


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
