"""The red-flag screen that comes before any exercise plan: one yes/no question per
red flag in ``red_flags.yaml``, and what the answers mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .catalogue import load_safety


@dataclass(frozen=True)
class RedFlagQuestion:
    """One red flag asked as a yes/no question (``red_flags.yaml`` → ``screening``)."""

    flag: str  # the statement, word for word as in ``red_flags``
    question: str
    why: str  # what a clinician would want to rule out, in plain words


def red_flag_questions() -> tuple[RedFlagQuestion, ...]:
    """The screening questions, one per red flag, in the file's order.

    ``red_flags.yaml`` is validated at load (:func:`~posture.plan.catalogue.load_safety`):
    :class:`~posture.errors.DataFileError` when a question is missing for a red flag (or
    names one that is not in the list), since the screen must ask about every flag.
    """
    return tuple(RedFlagQuestion(q["flag"].strip(), q["question"].strip(),
                                 " ".join(q["why"].split()))
                 for q in load_safety()["screening"])


def clinician_advice() -> str:
    return " ".join(load_safety()["clinician_advice"].split())


def screening_outcome(answers: Mapping[str, bool | None],
                      questions: tuple[RedFlagQuestion, ...] | None = None) -> str:
    """``"unanswered"`` until every question has a yes/no, then ``"see_clinician"`` if any
    answer is yes, else ``"clear"``. ``answers`` maps a red flag to True (yes) / False."""
    questions = red_flag_questions() if questions is None else questions
    values = [answers.get(q.flag) for q in questions]
    if any(v is None for v in values):
        return "unanswered"
    return "see_clinician" if any(values) else "clear"


