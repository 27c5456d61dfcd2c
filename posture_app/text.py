"""Plain-language texts: what each finding means, and messages for error and reason codes.

Numbers quoted here come from ../shared/clinical-notes.md with their sources; the sign
conventions restate the library's (``posture.metrics``), they do not define them.
"""

from __future__ import annotations

from posture.result import Reading, Reason

CAPTURE_TIPS = (
    ("Side-on", "Stand sideways to the camera, arms relaxed by your sides, looking ahead."),
    ("Whole body", "Head to feet in the picture, and only you in it."),
    ("Camera level", "Camera at hip height and level, about 2–3 m away (a shelf or tripod)."),
    ("Fitted clothes", "So the outline of your lower back and buttocks shows; no long "
                       "jackets or baggy tops."),
)

#: Friendly messages for the library's input error codes (``posture.images``); the code is
#: always shown beside them so a report can quote it.
ERROR_MESSAGES = {
    "not_an_image": "This file is not a picture we can read. Please choose a JPEG, PNG, "
                    "WebP or HEIC photo.",
    "corrupt_image": "This picture looks damaged (perhaps only partly uploaded). Please try "
                     "the photo again.",
    "unsupported_image": "This picture's format is not supported. Please use JPEG, PNG, "
                         "WebP or HEIC.",
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

#: Reason codes (``"code: detail"`` strings in ``abstain_reasons``) in plain words.
REASON_MESSAGES = {
    "estimator_unavailable": "Pelvic tilt cannot be estimated yet: this installation has no "
                             "fitted tilt estimator.",
    "interval_too_wide": "The estimate was too uncertain to place in a band.",
    "not_side_on": "You seem turned towards or away from the camera.",
    "facing_unclear": "We could not tell which way you are facing.",
    "body_cut_off": "Part of your body is outside the picture.",
    "several_people": "More than one person is in the picture.",
    "no_mask": "Your outline could not be separated from the background.",
    "no_person": "Nobody was seen.",
    "too_few_frames": "Too few frames of the capture could be measured.",
    "unsteady_capture": "You moved during the capture.",
    "not_standing": "You do not seem to be standing upright.",
    "person_too_small": "You are too small in the picture to measure.",
}


def reason_text(reason: Reason | str) -> str:
    """A reason in plain words (the library's detail kept after the message)."""
    r = reason if isinstance(reason, Reason) else Reason.parse(reason)
    code, detail = r.code, r.detail
    msg = REASON_MESSAGES.get(code)
    if msg is None:  # a code we have no words for: its detail, never the raw "code: ..."
        text = detail or code.replace("_", " ")
        return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
    # the library's detail adds facts (which parts are cut off, how many people)
    if detail and code in ("body_cut_off", "several_people", "too_few_frames",
                           "unsteady_capture", "not_standing", "person_too_small"):
        return f"{msg} ({detail})"
    return msg


def reason_code(reason: Reason | str) -> str:
    """The stable code of a reason (typed or ``"code: detail"``)."""
    return (reason if isinstance(reason, Reason) else Reason.parse(reason)).code


def error_text(code: str, message: str = "") -> str:
    return ERROR_MESSAGES.get(code, message or ERROR_MESSAGES["internal_error"])


#: What each finding is, what positive means, and context, for the results panel.
EXPLAIN = {
    "pelvic_tilt_deg": (
        "Pelvic tilt",
        "The angle of the line from the bony point at the back of your pelvis (PSIS) to the "
        "one at the front (ASIS), against the horizontal. **Positive = anterior tilt** (front "
        "of the pelvis lower than the back); negative = posterior tilt. Most young adults "
        "stand in some anterior tilt (85% of men, 75% of women; Herrington 2011), and the "
        "bony shape of the pelvis alone varies by 0–23° between people (Preece et al. 2008).",
    ),
    "lumbar_lordosis_deg": (
        "Lower-back curve (lumbar lordosis)",
        "The inward curve of your lower back, read from the outline of the skin between the "
        "level of the low-back dimples and a point about 11% of your height above. "
        "**Positive = curved inward.** It is a surface angle: it reads lower than an X-ray "
        "(Cobb) angle (Greendale et al. 2011), so do not compare it with X-ray norms.",
    ),
    "head_neck_angle_deg": (
        "Head position (ear–shoulder angle)",
        "The angle of the line from shoulder to ear against the horizontal. **Smaller = head "
        "further forward.** Below 50° is flagged as forward head: people with neck pain "
        "averaged 44° and controls 51° on the similar craniovertebral angle (Lau et al. "
        "2009). This version uses the shoulder joint instead of the C7 vertebra and reads "
        "somewhat higher.",
    ),
    "trunk_lean_deg": (
        "Trunk lean",
        "How far the line from hip to shoulder leans from vertical. **Positive = leaning "
        "forward**, negative = leaning back.",
    ),
    "knee_angle_deg": (
        "Knee",
        "How far the knee is off a straight line from hip to ankle. **Positive = pushed "
        "backwards (hyperextended, 'locked' knees)**; negative = slightly bent. Above 5° is "
        "flagged.",
    ),
}

PLUMB_EXPLAIN = (
    "How far your ear, shoulder, hip and knee sit in front of the ankle, as a percentage of "
    "your height (**positive = in front**). In an upright stance they stack roughly above "
    "the ankle."
)


def flag_text(key: str, r: Reading) -> str | None:
    """A short verdict for a finding, from the library's own flags (``posture.result``)."""
    if key == "head_neck_angle_deg" and r.forward_head is not None:
        return "Forward head" if r.forward_head else "Not flagged"
    if key == "knee_angle_deg" and r.knee_hyperextension is not None:
        return "Hyperextended" if r.knee_hyperextension else "Not flagged"
    return None


#: One sentence of meaning per severity band, for the verdict card (the bands are the tool's
#: heuristic: bands.yaml; the 6–7% and 0–23° figures are Herrington 2011 and Preece 2008).
BAND_MEANING = {
    "posterior": "Your pelvis tips slightly backwards, which few people show (6–7% of young "
                 "adults); it often comes with a flatter lower back.",
    "neutral": "Your pelvis sits in the range most people stand in; nothing here needs "
               "correcting.",
    "mild": "Your pelvis tips a little further forward than most people's; this is often "
            "just your build, and general hip and core exercises suit it.",
    "moderate": "Your pelvis tips further forward than most people's; pelvis shape varies, "
                "so this can be normal for you, but hip stretches and glute and core work "
                "may help comfort.",
    "severe": "Your pelvis tips well forward compared with most people; if you also have "
              "back pain, a physiotherapist can check it, and the plan suggests where to "
              "start.",
}

#: One sentence for two bands too close to call (the card's heading then names both,
#: ``classify.band_phrase``): it must not commit to either. Keys in tilt order.
BAND_PAIR_MEANING = {
    ("posterior", "neutral"): "Your pelvis sits close to level, on the edge between the range "
                              "most people stand in and a slight backward tip; the estimate "
                              "cannot tell which of the two.",
    ("neutral", "mild"): "Your pelvis sits at the forward edge of the range most people "
                         "stand in, or tips a little further forward; the estimate cannot "
                         "tell which, and both are common.",
    ("mild", "moderate"): "Your pelvis tips further forward than most people's, a little or "
                          "moderately (the estimate cannot tell which); pelvis shape varies, "
                          "so this can be normal for you, and hip and core exercises suit it.",
    ("moderate", "severe"): "Your pelvis tips well forward compared with most people's, "
                            "moderately or more (the estimate cannot tell which); if you also "
                            "have back pain, a physiotherapist can check it.",
}


def band_meaning(band: str, other: str | None = None) -> str:
    """The card's sentence for ``band``, or for ``band`` and ``other`` when both are named
    (any order); a pair with no sentence of its own gets a neutral one, never one band's."""
    if not other or other == band:
        return BAND_MEANING.get(band, "")
    from posture.classify import BAND_IDS

    pair = tuple(sorted((band, other), key=lambda b: BAND_IDS.index(b)
                        if b in BAND_IDS else len(BAND_IDS)))
    return BAND_PAIR_MEANING.get(pair, "Your reading lies between two bands, too close to "
                                       "tell apart; the chances of each are below.")


#: Why a finding has no typical range beside it (posture/data/typical_ranges.yaml lists the
#: ranges; the facts are from ../shared/clinical-notes.md).
NO_TYPICAL_RANGE = {
    "lumbar_lordosis_deg": (
        "Published norms for the lower-back curve are X-ray (Cobb) angles, e.g. standing "
        "T12–S1 49.8 ± 11.2° (PMC6680033). This is a skin-surface angle over a shorter "
        "stretch of the back: surface angles read lower than Cobb angles, and how much "
        "lower differs from person to person (SD of the differences 10–11°, Greendale et al. "
        "2011). No published range for this surface measure was found, so none is shown."
    ),
}

#: The sign convention in words, shown under the tilt.
TILT_SIGN = "+ = pelvis tipped forward (anterior), − = backward"
