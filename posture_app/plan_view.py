"""The exercise plan for people, app side. The red-flag screen and the plan documents are
library code (:mod:`posture.plan.screening`, :mod:`posture.plan.document`); this module only
keeps the app's import path."""

from posture.plan.document import plan_html, plan_text
from posture.plan.screening import (
    RedFlagQuestion,
    clinician_advice,
    red_flag_questions,
    screening_outcome,
)

__all__ = ["RedFlagQuestion", "clinician_advice", "plan_html", "plan_text",
           "red_flag_questions", "screening_outcome"]
