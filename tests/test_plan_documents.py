"""posture.plan.document / screening: the plan as text and HTML, and the red-flag screen."""

from __future__ import annotations

from datetime import date

from posture.plan import PlanInput, make_plan
from posture.plan.document import plan_html, plan_text
from posture.plan.screening import red_flag_questions, screening_outcome

RESULT = {"ok": True, "abstained": False, "pelvic_tilt_deg": 14.2,
          "pelvic_tilt_interval_deg": [9.1, 19.3], "interval_coverage": 0.8,
          "severity": "moderate", "severity_label": "Moderate anterior tilt"}


def test_documents_summarise_the_result_at_its_own_coverage():
    plan = make_plan(PlanInput.from_result(RESULT), thomas_test="yes")
    text = plan_text(plan, RESULT, today=date(2026, 1, 2))
    assert "Pelvic tilt +14.2° (80% interval +9° to +19°); Moderate anterior tilt." in text
    assert "Made 2026-01-02" in text and "/work/" not in text  # no server paths
    page = plan_html(plan, RESULT, today=date(2026, 1, 2))
    assert "Pelvic tilt +14.2° (80% interval +9° to +19°)" in page
    assert page.count("<img") == len(plan.items)  # pictures embedded, one per item


def test_screen_asks_every_red_flag_and_waits_for_all_answers():
    qs = red_flag_questions()
    assert qs and len({q.flag for q in qs}) == len(qs)
    answers = {q.flag: False for q in qs}
    assert screening_outcome(answers, qs) == "clear"
    answers[qs[0].flag] = None
    assert screening_outcome(answers, qs) == "unanswered"
    answers[qs[0].flag] = True
    assert screening_outcome(answers, qs) == "see_clinician"
