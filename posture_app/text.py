"""Plain-language texts: what each finding means, and the capture tips.

The words for error and reason codes live in the library (:mod:`posture.reasons`); they
are imported here for the app's pages.

Numbers quoted here come from ../shared/clinical-notes.md with their sources; the sign
conventions restate the library's (``posture.metrics``), they do not define them.
"""

from __future__ import annotations

from posture.measures import by_key, measures
from posture.reasons import error_text, reason_code, reason_text  # noqa: F401  (for the pages)
from posture.result import Reading

CAPTURE_TIPS = (
    ("Side-on", "Stand sideways to the camera, arms relaxed by your sides, looking ahead."),
    ("Whole body", "Head to feet in the picture, and only you in it."),
    ("Camera level", "Camera at hip height and level, about 2–3 m away (a shelf or tripod)."),
    ("Fitted clothes", "So the outline of your lower back and buttocks shows; no long "
                       "jackets or baggy tops."),
)

#: What each finding is, what positive means, and context, for the results panel: title
#: and explanation by contract key, from the measure registry (posture/data/measures.yaml).
EXPLAIN = {s.key: (s.title, s.explain) for s in measures()}

PLUMB_EXPLAIN = (
    "How far your ear, shoulder, hip and knee sit in front of the ankle, as a percentage of "
    "your height (**positive = in front**). In an upright stance they stack roughly above "
    "the ankle."
)


def flag_text(key: str, r: Reading) -> str | None:
    """A short verdict for a finding, from the library's own flags (``posture.result``;
    which flag and its words: the measure registry)."""
    s = by_key(key)
    flag = getattr(r, s.flag, None) if s is not None and s.flag else None
    if flag is None:
        return None
    return s.flag_label if flag else "Not flagged"


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


#: Why a finding has no typical range beside it, by contract key (the registry's
#: ``no_typical``; posture/data/typical_ranges.yaml lists the ranges).
NO_TYPICAL_RANGE = {s.key: s.no_typical for s in measures() if s.no_typical}

#: The sign convention in words, shown under the tilt.
TILT_SIGN = "+ = pelvis tipped forward (anterior), − = backward"

#: A front-view measure's sign in words, by measure name: (positive, negative, zero). The
#: signs restate the registry's conventions (measures.yaml: + = the subject's left side
#: higher, + = shifted toward the left, + = valgus); "your" is the subject's own side.
SIGN_WORDS = {
    "pelvic_obliquity": ("left side higher", "right side higher", "level"),
    "shoulder_level": ("left shoulder higher", "right shoulder higher", "level"),
    "head_tilt": ("left ear higher", "right ear higher", "level"),
    "trunk_shift": ("shifted to your left", "shifted to your right", "centred"),
    "knee_frontal_left": ("knee inward (knock-knee)", "knee outward (bow-leg)", "straight"),
    "knee_frontal_right": ("knee inward (knock-knee)", "knee outward (bow-leg)", "straight"),
}


def sign_words(name: str, value: float) -> str:
    """``value``'s sign in words for a front-view measure (zero: as shown, to 0.1° or
    0.1% of height); the registry's short sign for a measure without words here."""
    from posture.measures import spec

    s = spec(name)
    words = SIGN_WORDS.get(name)
    if words is None:
        return s.sign
    shown = round(value * (100 if s.unit == "stature" else 1), 1)
    return words[0] if shown > 0 else words[1] if shown < 0 else words[2]


#: The front-only card: why there is no tilt and no grade (reasons.py no_side_view).
FRONT_ONLY_TILT = ("The forward or backward pelvic tilt, and its grade, need a side photo: "
                   "add one above for the full check.")
