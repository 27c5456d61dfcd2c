"""Exercise plans matched to the findings of a posture analysis.

The content lives in data files under ``posture/data``:

- ``exercises.yaml``: the exercise catalogue (validated here at load time),
- ``plan_rules.yaml``: which exercises each finding calls for, their priorities and texts,
- ``red_flags.yaml``: disclaimer, red flags and the modified Thomas self-check.

The code only selects, doses, orders and formats. One module per concern:

``model``      vocabularies and the dataclasses (:class:`PlanInput` in, :class:`Plan` out)
``catalogue``  loading and validating the three data files
``match``      profile, candidates, doses, order: :func:`make_plan`
``render``     the plan as text (:func:`format_plan_text`) and as a dict

Typical use::

    plan = make_plan(PlanInput.from_assessment(assessment), thomas_test="yes")
    print(format_plan_text(plan))
    # or from a saved ``posture analyze --json`` result:
    plan = make_plan(PlanInput.from_result(json.load(open("result.json"))))
"""

from .catalogue import (
    load_catalogue,
    load_rules,
    load_safety,
    thomas_test_guide,
    validate_catalogue,
    validate_rules,
)
from .match import choose_profile, clinician_notes, dose_text, make_plan, render
from .model import (
    ADDON_FLAGS,
    CATALOGUE_PATH,
    DATA_DIR,
    DOSE_FIELDS,
    DOSE_LEVELS,
    FINDINGS,
    IMAGE_DIR,
    KINDS,
    PROFILES,
    RULES_PATH,
    SAFETY_PATH,
    SEVERITIES,
    THOMAS_ANSWERS,
    THOMAS_LABELS,
    Catalogue,
    ClinicianNote,
    Exercise,
    Plan,
    PlanInput,
    PlanItem,
    ThomasGuide,
)
from .render import format_plan_text, plan_to_dict

__all__ = [
    "ADDON_FLAGS", "CATALOGUE_PATH", "DATA_DIR", "DOSE_FIELDS", "DOSE_LEVELS", "FINDINGS",
    "IMAGE_DIR", "KINDS", "PROFILES", "RULES_PATH", "SAFETY_PATH", "SEVERITIES",
    "THOMAS_ANSWERS", "THOMAS_LABELS", "Catalogue", "ClinicianNote", "Exercise", "Plan",
    "PlanInput", "PlanItem", "ThomasGuide", "choose_profile", "clinician_notes", "dose_text",
    "format_plan_text",
    "load_catalogue", "load_rules", "load_safety", "make_plan", "plan_to_dict", "render",
    "thomas_test_guide", "validate_catalogue", "validate_rules",
]
