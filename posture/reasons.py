"""Reason codes, and the words for people of every code the library gives.

A :class:`Reason` says why the tool withheld (part of) a reading, or what to know about
one it gave (a *note*); its :class:`ReasonCode` is stable and is what code matches on.
This module is the one place that says each code in plain words (:data:`REASON_TEXT`),
what to change for a retake (:data:`GUIDANCE`, :func:`cut_off_guidance`), and the plain
words for the stable error codes of :mod:`posture.errors` (:data:`ERROR_MESSAGES`).
The app, the CLI and the reports read them from here.

It imports no other part of the pipeline, so every step can create reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Stable reason codes. Stored results hold them: add codes, never rename one.

    The value is the code itself, so ``f"{code}"`` and ``json.dumps`` give the same text
    as the bare strings used before this enum existed.
    """

    # the view gate (posture.view_gate)
    NOT_SIDE_ON = "not_side_on"
    FACING_UNCLEAR = "facing_unclear"
    BODY_CUT_OFF = "body_cut_off"
    PARTIAL_VIEW = "partial_view"  # a note: measured, with a wider interval
    NOT_STANDING = "not_standing"
    SEVERAL_PEOPLE = "several_people"
    NO_MASK = "no_mask"
    # the analysis (posture.analysis)
    PERSON_TOO_SMALL = "person_too_small"
    ESTIMATOR_UNAVAILABLE = "estimator_unavailable"
    INTERVAL_TOO_WIDE = "interval_too_wide"
    NO_SIDE_VIEW = "no_side_view"  # a front/back photo: frontal measures only (issue 28)
    # a live capture (posture.capture)
    NO_PERSON = "no_person"
    TOO_FEW_FRAMES = "too_few_frames"
    UNSTEADY_CAPTURE = "unsteady_capture"


@dataclass(frozen=True)
class Reason:
    """Why the tool declined to give (part of) a reading.

    ``code`` is stable (a :class:`ReasonCode`; an error's code or an unknown code read
    back from a stored result stays a plain string) and is what code matches on;
    ``detail`` is the sentence with the facts. ``str(reason)`` is the ``"code: detail"``
    form the JSON contract's ``abstain_reasons`` holds.
    """

    code: ReasonCode | str
    detail: str

    def __post_init__(self) -> None:
        # a known code given as text (a stored result, an error's code) becomes the enum
        if not isinstance(self.code, ReasonCode) and self.code in _CODES:
            object.__setattr__(self, "code", ReasonCode(self.code))

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    @classmethod
    def parse(cls, text: str) -> Reason:
        """The inverse of ``str()``: ``"code: detail"`` → ``Reason`` (no colon: all code)."""
        code, sep, detail = str(text).partition(":")
        return cls(code.strip(), detail.strip()) if sep else cls(code.strip(), "")


_CODES = frozenset(c.value for c in ReasonCode)


@dataclass(frozen=True)
class ReasonText:
    """A reason code in plain words.

    Attributes
    ----------
    message : str
        The sentence shown to the person photographed.
    with_detail : bool
        The library's detail adds facts (which parts are cut off, how many people, how
        large the person is): shown in brackets after the message.
    """

    message: str
    with_detail: bool = False


#: Every reason code in plain words (``tests/test_reasons.py`` checks none is missing).
REASON_TEXT: dict[ReasonCode, ReasonText] = {
    ReasonCode.ESTIMATOR_UNAVAILABLE: ReasonText(
        "Pelvic tilt cannot be estimated yet: this installation has no fitted tilt "
        "estimator."),
    ReasonCode.INTERVAL_TOO_WIDE: ReasonText(
        "The estimate was too uncertain to place in a band."),
    ReasonCode.NOT_SIDE_ON: ReasonText("You seem turned partway towards or away from the "
                                       "camera: neither side-on nor facing it."),
    ReasonCode.NO_SIDE_VIEW: ReasonText(
        "This photo shows you from the front or the back: it gives the side-to-side "
        "measures, but the forward or backward pelvic tilt needs a side photo."),
    ReasonCode.FACING_UNCLEAR: ReasonText("We could not tell which way you are facing."),
    ReasonCode.BODY_CUT_OFF: ReasonText("Part of your body is outside the picture.", True),
    ReasonCode.PARTIAL_VIEW: ReasonText(
        "Your feet are not in the picture: your size was estimated from the rest of your "
        "body, so the interval is wider."),
    ReasonCode.SEVERAL_PEOPLE: ReasonText("More than one person is in the picture.", True),
    ReasonCode.NO_MASK: ReasonText("Your outline could not be separated from the background."),
    ReasonCode.NO_PERSON: ReasonText("Nobody was seen."),
    ReasonCode.TOO_FEW_FRAMES: ReasonText(
        "Too few frames of the capture could be measured.", True),
    ReasonCode.UNSTEADY_CAPTURE: ReasonText("You moved during the capture.", True),
    ReasonCode.NOT_STANDING: ReasonText("You do not seem to be standing upright.", True),
    ReasonCode.PERSON_TOO_SMALL: ReasonText("You are too small in the picture to measure.",
                                            True),
}

#: General advice for a retake, in the order a person sets up the photo.
RETAKE_GUIDANCE = (
    "Stand side-on to the camera, arms relaxed by your sides, looking straight ahead.",
    "The whole body, head to feet, must be in the picture; only you in it.",
    "Camera at hip height, level, 2–3 m away; fitted clothes so the outline of the lower "
    "back and buttocks shows.",
)

#: What to change for a retake, per reason with one piece of advice for every case
#: (``body_cut_off`` depends on the missing parts: :func:`cut_off_guidance`).
GUIDANCE: dict[ReasonCode, str] = {
    # a front or back photo is measured (issue 28): only a part-turned body gets here
    ReasonCode.NOT_SIDE_ON: ("Turn until the camera sees you exactly from the side (or face "
                             "it squarely for the side-to-side measures)."),
    ReasonCode.FACING_UNCLEAR: "Stand side-on with your face and feet in profile.",
    ReasonCode.NOT_STANDING: "Stand upright, and keep the phone upright (portrait) when you "
                             "take the photo.",
    ReasonCode.SEVERAL_PEOPLE: "Make sure you are the only person in the picture.",
    ReasonCode.PERSON_TOO_SMALL: "Use a larger photo, or step closer so that your body "
                                 "fills most of the picture's height.",
    ReasonCode.INTERVAL_TOO_WIDE: RETAKE_GUIDANCE[2],
    ReasonCode.NO_SIDE_VIEW: "For the pelvic tilt, add a photo taken exactly from the side.",
}


def cut_off_guidance(missing: list[str]) -> str:
    """What to change when body parts are out of the picture (``missing`` from the gate).

    The advice names the part that is missing: a photo cut at the waist needs the person
    to step back until the knees are in, one cut at the head needs the camera lower or
    further away.
    """
    parts = {m.split(" ")[0] for m in missing}
    if "head" in parts:
        return ("Your head is out of the picture: step back, or hold the camera further "
                "away, so your whole body, head to feet, is in the picture.")
    if parts & {"hips", "thighs", "legs"}:
        return ("Only your upper body is in the picture: step back until at least your "
                "knees are in it (head to feet is best).")
    return "Step back so your whole body, head to feet, is in the picture."


def _as_reason(reason: Reason | str) -> Reason:
    return reason if isinstance(reason, Reason) else Reason.parse(reason)


def reason_text(reason: Reason | str) -> str:
    """A reason (typed or ``"code: detail"``) in plain words, its facts kept after them."""
    r = _as_reason(reason)
    text = REASON_TEXT.get(r.code)
    if text is None:  # a code we have no words for: its detail, never the raw "code: ..."
        words = r.detail or str(r.code).replace("_", " ")
        return words[:1].upper() + words[1:] + ("" if words.endswith((".", "!", "?")) else ".")
    if r.detail and text.with_detail:
        return f"{text.message} ({r.detail})"
    return text.message


def reason_code(reason: Reason | str) -> str:
    """The stable code of a reason (typed or ``"code: detail"``)."""
    return _as_reason(reason).code


#: Plain words for the stable error codes (:mod:`posture.errors`) a person can meet when
#: a photo is checked; the code is always shown beside them so a report can quote it.
ERROR_MESSAGES: dict[str, str] = {
    "not_an_image": "This file is not a picture we can read. Please choose a JPEG, PNG, "
                    "WebP or HEIC photo.",
    "corrupt_image": "This picture looks damaged (perhaps only partly uploaded). Please try "
                     "the photo again.",
    "unsupported_image": "This picture's format is not supported. Please use JPEG, PNG, "
                         "WebP or HEIC.",
    "too_many_segments": "This file's structure is not that of a photo (it holds far more "
                         "parts than a camera writes). Please use the original photo.",
    "empty_file": "This file is empty.",
    "file_too_large": "This file is too large. Please use a photo under 50 MB.",
    "image_too_large": "This picture has too many pixels (over 50 megapixels). Please use a "
                       "smaller photo.",
    "image_too_small": "This picture is too small to find a body in. Please use a larger photo.",
    "no_person": "No person was found in the picture. Make sure your whole body, head to "
                 "feet, is in view.",
    "model_unavailable": "The pose model could not be loaded on the server. Please try again "
                         "later.",
    "internal_error": "Something went wrong while analysing this picture. Please try another "
                      "photo.",
}


def error_text(code: str, message: str = "") -> str:
    """An error code in plain words; the error's own ``message`` for a code without any."""
    return ERROR_MESSAGES.get(code, message or ERROR_MESSAGES["internal_error"])
