"""The app stays a thin layer: an explicit page list, short pages without image code, and
no result dicts taken apart outside the JSON contract (issue 13's done-criteria)."""

from __future__ import annotations

import re
from pathlib import Path

from posture_app.nav import PAGES, PAGES_DIR

ROOT = Path(__file__).resolve().parents[1]
MAX_PAGE_LINES = 200
#: a result key read from a dict: .get("pelvic_tilt_deg"), .get('severity_label'), ...
CONTRACT_KEYS = (
    "pelvic_tilt_deg", "pelvic_tilt_interval_deg", "interval_coverage", "lumbar_lordosis_deg",
    "severity", "severity_label", "severity_probabilities", "severity_disclaimer",
    "abstained", "abstain_reasons", "retake_guidance", "head_neck_angle_deg", "forward_head",
    "trunk_lean_deg", "knee_angle_deg", "knee_hyperextension", "plumb_offsets_stature",
    "landmarks_px", "measurements",
)
DICT_READ = re.compile(r"""\.get\(\s*["'](""" + "|".join(CONTRACT_KEYS) + r""")["']""")
#: lines that read a mapping keyed like the contract but are not a result
NOT_A_RESULT = ("typical.get(",  # posture.metrics: typical ranges by metric
                "spread.get(")  # posture.capture: the frames' spread by metric


def test_navigation_lists_every_page_once():
    files = [name for name, _, _ in PAGES]
    assert len(set(files)) == len(files)
    assert sorted(files) == sorted(p.name for p in PAGES_DIR.glob("*.py"))
    assert len({title for _, title, _ in PAGES}) == len(PAGES)


def test_pages_are_short_and_draw_nothing_themselves():
    for p in PAGES_DIR.glob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= MAX_PAGE_LINES, p.name
        assert not re.search(r"^\s*(import cv2|from cv2)", text, re.M), p.name


CODEC = ("posture/contract.py", "posture/contract_values.py")


def test_no_result_dict_is_taken_apart_outside_the_contract():
    offenders = []
    for folder in ("posture", "posture_app", "pages"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            if p.relative_to(ROOT).as_posix() in CODEC:
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if DICT_READ.search(line) and not any(s in line for s in NOT_A_RESULT):
                    offenders.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "read these through posture.result.Reading:\n" + "\n".join(offenders)


def test_no_deprecated_streamlit_html_component():
    """``st.components.v1.html``/``iframe`` log "removed after 2026-06-01" on every call
    (issue 22 item 16): the app uses ``st.html`` (scripts allowed where needed)."""
    used = re.compile(r"\bcomponents(\.v1)?\.(html|iframe)\s*\("
                      r"|\bv1\s+import\s+.*\b(html|iframe)\b")
    offenders = []
    for p in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
              *sorted((ROOT / "posture_app").rglob("*.py"))]:
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if used.search(line):
                offenders.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
