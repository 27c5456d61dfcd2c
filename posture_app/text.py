"""Plain-language texts: what each finding means, and the capture tips.

The words for error and reason codes live in the library (:mod:`posture.reasons`); they
are imported here for the app's pages.

Numbers quoted here come from ../shared/clinical-notes.md with their sources; the sign
conventions restate the library's (``posture.metrics``), they do not define them.
"""

from __future__ import annotations

from posture.reasons import error_text, reason_code, reason_text  # noqa: F401  (for the pages)
from posture.result import Reading

CAPTURE_TIPS = (
    ("Side-on", "Stand sideways to the camera, arms relaxed by your sides, looking ahead."),
    ("Whole body", "Head to feet in the picture, and only you in it."),
    ("Camera level", "Camera at hip height and level, about 2–3 m away (a shelf or tripod)."),
    ("Fitted clothes", "So the outline of your lower back and buttocks shows; no long "
                       "jackets or baggy tops."),
)

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
