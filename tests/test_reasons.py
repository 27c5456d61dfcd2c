"""Reason codes: one enum, words for every code, and the contract's strings unchanged."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from posture.reasons import (
    ERROR_MESSAGES,
    GUIDANCE,
    REASON_TEXT,
    Reason,
    ReasonCode,
    error_text,
    reason_code,
    reason_text,
)

ROOT = Path(__file__).resolve().parents[1]

#: The codes stored results and the JSON contract hold (``abstain_reasons``, ``notes``):
#: written out here, so renaming a member's value fails.
CONTRACT_CODES = {
    "not_side_on", "facing_unclear", "body_cut_off", "partial_view", "not_standing",
    "several_people", "no_mask", "person_too_small", "estimator_unavailable",
    "interval_too_wide", "no_person", "too_few_frames", "unsteady_capture",
    "no_side_view",  # issue 28: a front or back photo alone
}


def _reason_calls() -> list[tuple[str, int, ast.expr]]:
    """(file, line, first argument) of every ``Reason(...)`` the library writes."""
    calls = []
    for path in sorted((ROOT / "posture").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "Reason" and node.args:
                calls.append((str(path.relative_to(ROOT)), node.lineno, node.args[0]))
    return calls


def test_the_codes_are_the_contract_strings():
    assert {c.value for c in ReasonCode} == CONTRACT_CODES


def test_every_code_the_pipeline_writes_is_a_member_with_words():
    calls = _reason_calls()
    assert len(calls) >= 13  # the gate, the analysis and the capture all write some
    emitted = set()
    for where, line, arg in calls:
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) \
                and arg.value.id == "ReasonCode":
            emitted.add(ReasonCode[arg.attr])
        else:  # only an error's own code may pass through (contract: error → reason)
            assert ast.unparse(arg) == "err.code", f"{where}:{line}: bare reason code " \
                                                   f"{ast.unparse(arg)}"
    assert emitted == set(ReasonCode)
    for code in ReasonCode:
        assert REASON_TEXT[code].message.endswith("."), code


def test_str_and_parse_keep_the_contract_form():
    r = Reason(ReasonCode.BODY_CUT_OFF, "not visible: feet")
    assert str(r) == "body_cut_off: not visible: feet"
    assert json.dumps([str(r)]) == '["body_cut_off: not visible: feet"]'
    assert json.dumps({"code": r.code}) == '{"code": "body_cut_off"}'
    back = Reason.parse(str(r))
    assert back == r and back.code is ReasonCode.BODY_CUT_OFF and str(back) == str(r)
    # a code given as text becomes the member, so matching on either works
    assert Reason("not_side_on", "x").code is ReasonCode.NOT_SIDE_ON
    # an error's code or an unknown one read back stays text, unchanged
    other = Reason.parse("corrupt_image: truncated")
    assert other.code == "corrupt_image" and not isinstance(other.code, ReasonCode)
    assert str(other) == "corrupt_image: truncated"
    assert reason_code("odd text without a code") == "odd text without a code"


@pytest.mark.parametrize("text, expected", [
    ("not_side_on: the body is turned",
     "You seem turned partway towards or away from the camera: neither side-on nor facing it."),
    ("body_cut_off: not visible: hips, feet",
     "Part of your body is outside the picture. (not visible: hips, feet)"),
    ("something_new: a detail", "A detail."),
    ("something_new", "Something new."),
])
def test_reason_text(text, expected):
    assert reason_text(text) == expected


def test_guidance_only_for_known_codes():
    assert set(GUIDANCE) <= set(ReasonCode)


def _raised_codes(*names: str) -> set[str]:
    codes = set()
    for name in names:
        tree = ast.parse((ROOT / "posture" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "code" \
                    and isinstance(node.value, ast.Constant):
                codes.add(node.value.value)
    return codes


def test_every_error_an_uploaded_picture_can_raise_has_words():
    # the app decodes uploads from memory: these modules' codes reach a person
    codes = _raised_codes("images.py", "images_convert.py", "images_structure.py")
    assert {"corrupt_image", "too_many_segments"} <= codes
    missing = codes - set(ERROR_MESSAGES)
    assert not missing, missing


def test_error_text_falls_back_to_the_message():
    assert error_text("no_such_code", "what happened") == "what happened"
    assert error_text("no_such_code") == ERROR_MESSAGES["internal_error"]
