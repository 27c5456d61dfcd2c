"""A "hold still" capture: the readings of a few seconds of video combined into one.

Pure functions over :class:`~posture.result.Reading` values (one per frame with a person
in it), so a capture is shown, stored and planned exactly like a photo.

Why a median: single video frames jitter (landmarks move a pixel or two, a hand swings
through the outline), and the median ignores a few bad frames where a mean would not. The
spread (interquartile range) says how steady the frames were.

Like with like: a live capture measures every other frame in its mirror image (as a photo
is measured both ways). The estimator reads a picture and its mirror image a few degrees
apart (up to 5.6° on the shared photos), so the frames of a person standing still take two
values. Each kind is therefore combined on its own and the capture's value is the mean of
the two medians (a photo's is the mean of its two views); the spread is taken within each
kind. Whether the person moved is measured on the landmarks (how far they move between the
frames of one kind), not on the reading's spread.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from statistics import median

import numpy as np

from .config import thresholds
from .measures import measures, spec
from .normal import normal_sigma
from .reasons import Reason, ReasonCode
from .result import Reading

#: The per-frame numbers that are combined by their median: every measure in degrees
#: (registry, :mod:`posture.measures`), by name → its contract key (``spread_deg``'s keys).
NUMERIC = {s.name: s.key for s in measures() if s.unit == "deg"}
#: The measure whose interval and band the capture gives, and the fallback for the frame
#: to show (``_representative``).
HEADLINE, FALLBACK = "pelvic_tilt", "head_neck_angle"
#: Fewer usable frames than this and the capture abstains (too little to take a median of).
MIN_FRAMES = 5
#: Frames of one kind whose tilt IQR exceeds this (degrees) disagree by more than a band is
#: wide; landmarks moving by more than this fraction of the body's height mean the person
#: moved. Either way: ask them to hold still and capture again (thresholds.yaml, capture).
MAX_TILT_SPREAD_DEG = thresholds()["capture"]["max_tilt_spread_deg"]
MAX_MOTION_STATURE = thresholds()["capture"]["max_motion_stature"]
#: A frame's contract dict holds this key (True/False) when it was measured in its mirror
#: image (kept in :attr:`Reading.extra`); frames without it are all of one kind.
MIRRORED_KEY = "mirrored"
#: Landmarks whose movement says the person moved (MediaPipe indices: ears, shoulders,
#: hips, knees, ankles); hands and feet swing without the posture changing.
MOTION_LANDMARKS = (7, 8, 11, 12, 23, 24, 25, 26, 27, 28)
SOURCE = "live capture"
HOLD_STILL = "Hold still for the whole capture, arms relaxed."
NOBODY_GUIDANCE = "Stand where the camera sees your whole body, then capture again."


def summarize(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Median, interquartile range and count of the non-null values (None, None, 0 if none)."""
    xs = np.asarray([v for v in values if v is not None], float)
    if xs.size == 0:
        return None, None, 0
    q1, q3 = np.percentile(xs, [25, 75])
    return float(np.median(xs)), float(q3 - q1), int(xs.size)


def _kinds(frames: Sequence[Reading]) -> list[list[Reading]]:
    """The frames split into plain and mirrored ones (:data:`MIRRORED_KEY`); empty kinds
    left out."""
    plain = [f for f in frames if not f.extra.get(MIRRORED_KEY)]
    mirrored = [f for f in frames if f.extra.get(MIRRORED_KEY)]
    return [k for k in (plain, mirrored) if k]


def _balanced(kinds: Sequence[Sequence[float | None]]) -> tuple[float | None, float | None]:
    """The mean of each kind's median, and the interquartile range of the values about
    their own kind's median (None, None without values).

    With one kind this is the median and interquartile range of its values.
    """
    medians, residuals = [], []
    for values in kinds:
        med, _, n = summarize(values)
        if n:
            medians.append(med)
            residuals += [v - med for v in values if v is not None]
    if not medians:
        return None, None
    q1, q3 = np.percentile(residuals, [25, 75])
    return float(np.mean(medians)), float(q3 - q1)


def _landmarks(f: Reading) -> np.ndarray | None:
    """The motion landmarks of a frame as an (n, 2) array in pixels (NaN where unknown)."""
    lm = f.landmarks_px
    if not lm or len(lm) <= max(MOTION_LANDMARKS):
        return None
    return np.array([[np.nan if v is None else v for v in lm[i][:2]]
                     for i in MOTION_LANDMARKS], float)


def motion(frames: Sequence[Reading]) -> float | None:
    """How far the body moved during frames of one kind: for each frame the median
    distance of its landmarks (:data:`MOTION_LANDMARKS`) from their median positions, the
    75th percentile of that over the frames, over the body's height in the picture (the
    landmarks' vertical extent). A fraction of the height; None with fewer than 2 frames
    with landmarks.

    A few frames with a misplaced landmark (a swinging arm through the outline) do not
    count: medians over the landmarks, a percentile over the frames.
    """
    pts = [p for p in (_landmarks(f) for f in frames) if p is not None]
    if len(pts) < 2:
        return None
    xy = np.stack(pts)  # frames × landmarks × 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN landmarks (out of view)
        centre = np.nanmedian(xy, axis=0)
        dist = np.linalg.norm(xy - centre, axis=2)
        per_frame = np.nanmedian(dist, axis=1)
        height = np.nanmedian(np.nanmax(xy[:, :, 1], axis=1) - np.nanmin(xy[:, :, 1], axis=1))
    per_frame = per_frame[np.isfinite(per_frame)]
    if per_frame.size < 2 or not np.isfinite(height) or height <= 0:
        return None
    return float(np.percentile(per_frame, 75) / height)


def _motion(kinds: Sequence[Sequence[Reading]]) -> float | None:
    """The larger :func:`motion` of the plain and the mirrored frames."""
    found = [m for m in (motion(k) for k in kinds) if m is not None]
    return max(found) if found else None


def _majority(flags: Sequence[bool | None]) -> bool | None:
    seen = [f for f in flags if f is not None]
    return None if not seen else sum(seen) * 2 > len(seen)


def _usable(f: Reading) -> bool:
    return f.view is not None and f.view.ok and f.error is None


def aggregate(
    frames: Sequence[Reading],
    *,
    classify: Callable[[float, float], object] | None = None,
    min_frames: int = MIN_FRAMES,
    max_tilt_spread: float = MAX_TILT_SPREAD_DEG,
    max_motion: float = MAX_MOTION_STATURE,
) -> tuple[Reading, int | None]:
    """One reading from the frames of a capture.

    Parameters
    ----------
    frames
        Per-frame readings, in capture order (frames with nobody in them omitted).
    classify
        ``(tilt_deg, sigma_deg) -> Severity`` (default: :func:`posture.classify.classify_tilt`).
    min_frames
        Usable frames (view ok, tilt measured) needed for a tilt result.
    max_tilt_spread
        Largest interquartile range of the tilt (degrees) among frames of one kind (plain
        or mirrored) before abstaining.
    max_motion
        Largest movement of the body's landmarks between frames of one kind (fraction of
        the body's height in the picture, see :func:`motion`) before abstaining.

    Returns
    -------
    (Reading, int or None)
        The combined reading (``extra`` holds ``frames`` counts, ``spread_deg`` and, where
        the frames have landmarks, ``motion_stature``) and the index of the frame closest
        to the combined tilt (to show its overlay), or None without frames.
    """
    if classify is None:
        from .classify import classify_tilt as classify
    n = len(frames)
    usable = [f for f in frames if _usable(f)]
    # one view per capture (issue 28): a person turning gives frames of two views, whose
    # measures differ; the view most usable frames show is the capture's
    view_kind = Counter(f.view_kind for f in usable).most_common(1)[0][0] if usable else None
    usable = [f for f in usable if f.view_kind == view_kind]
    counts: dict = {"captured": n, "usable": len(usable)}
    spread: dict[str, float] = {}
    extra = {"frames": counts, "spread_deg": spread}
    if n == 0:
        return Reading(ok=False, abstained=True, source=SOURCE,
                       reasons=(Reason(ReasonCode.NO_PERSON,
                                       "nobody was seen during the capture"),),
                       retake_guidance=(NOBODY_GUIDANCE,), extra=extra), None

    base = usable or list(frames)  # measure from good views; fall back to all for display
    kinds = _kinds(base)
    values: dict[str, float | None] = {}
    for name, key in NUMERIC.items():
        med, iqr = _balanced([[f.value(name) for f in kind] for kind in kinds])
        values[name] = None if med is None else round(med, 2)
        if iqr is not None:
            spread[key] = round(iqr, 2)
    with_tilt = counts["with_tilt"] = sum(f.value(HEADLINE) is not None for f in usable)
    plumb_keys = sorted({k for f in base for k in (f.plumb_offsets_stature or {})})
    plumb = {}
    for k in plumb_keys:
        v, _ = _balanced([[(f.plumb_offsets_stature or {}).get(k) for f in kind]
                          for kind in kinds])
        if v is not None:
            plumb[k] = round(v, 4)
    moved = _motion(kinds)
    if moved is not None:
        extra["motion_stature"] = round(moved, 4)

    reasons: list[Reason] = []
    if with_tilt < min_frames:
        counted = Counter(r for f in frames for r in f.reasons)
        reasons = [r for r, _ in counted.most_common(3)]
        if not reasons or with_tilt > 0:
            reasons.append(Reason(ReasonCode.TOO_FEW_FRAMES, f"{with_tilt} of {n} frames "
                                  f"could be measured; {min_frames} are needed"))
    elif moved is not None and moved > max_motion:
        reasons = [Reason(ReasonCode.UNSTEADY_CAPTURE, f"your body moved by about "
                          f"{moved:.0%} of your height between frames "
                          f"(more than {max_motion:.0%})")]
    elif spread.get(NUMERIC[HEADLINE], 0.0) > max_tilt_spread:
        reasons = [Reason(ReasonCode.UNSTEADY_CAPTURE, f"the frames' pelvic tilt varied by "
                          f"{spread[NUMERIC[HEADLINE]]:.1f}° (more than "
                          f"{max_tilt_spread:.0f}°)")]
    guidance = Counter(g for f in frames for g in f.retake_guidance)
    retake = [g for g, _ in guidance.most_common()] if reasons else []
    if any(r.code == ReasonCode.UNSTEADY_CAPTURE for r in reasons):
        retake.insert(0, HOLD_STILL)

    # the interval comes from the estimator's error, which the frames of one pose share,
    # so averaging frames does not narrow it: keep the median half-width around the median
    tilt = values[HEADLINE] if usable else None
    halfwidths = [(iv[1] - iv[0]) / 2 for f in usable for iv in [f.interval(HEADLINE)] if iv]
    interval = coverage = sev = None
    if reasons or tilt is None or not halfwidths:
        # the estimator's measures are withheld with the tilt, as for a photo
        values.update({s.name: None for s in measures() if s.interval == "learned"})
    else:
        hw = float(median(halfwidths))
        interval = (round(tilt - hw, 2), round(tilt + hw, 2))
        coverage = usable[0].interval_coverage
        # the frames' intervals are at their own coverage (thresholds.yaml, editable)
        sev = classify(tilt, normal_sigma(hw, coverage or
                                          thresholds()["estimate"]["interval_coverage"]))

    rep = _representative(frames, usable, base, values)
    first, shown = frames[0], frames[rep]
    fields = Reading.__dataclass_fields__
    top: dict = {spec(HEADLINE).interval_key: interval}
    for sp in measures():  # the measures' top-level fields (registry)
        if sp.key in fields and sp.name in values:
            top[sp.key] = values[sp.name]
        if sp.flag in fields:
            top[sp.flag] = _majority([getattr(f, sp.flag) for f in base])
    out = Reading(
        ok=bool(usable), abstained=bool(reasons), source=SOURCE,
        facing=Counter(f.facing for f in base).most_common(1)[0][0],
        **top, interval_coverage=coverage,
        severity=sev.band if sev else None, severity_label=sev.label if sev else None,
        severity_phrase=_phrase(sev),
        severity_probabilities=sev.probabilities if sev else None,
        severity_disclaimer=first.severity_disclaimer,
        reasons=tuple(reasons), retake_guidance=tuple(retake),
        # what the measured frames noted (e.g. partial_view), each once
        notes=tuple(dict.fromkeys(n for f in (usable or base) for n in f.notes)),
        plumb_offsets_stature=plumb,
        measurements=tuple(_combined(m, values) for m in shown.measurements),
        view=shown.view, image_size=first.image_size, pose_variant=first.pose_variant,
        estimator_version=first.estimator_version, landmarks_px=shown.landmarks_px,
        schema_version=first.schema_version, extra=extra,
        view_kind=shown.view_kind, views=shown.views,
    )
    return out, rep


def _phrase(sev) -> str | None:
    """The band in words (both bands when too close to call), as for a photo."""
    if sev is None:
        return None
    from .classify import band_phrase

    try:
        return band_phrase(sev)
    except (KeyError, ValueError, TypeError, AttributeError):  # a stand-in severity
        return sev.label


def _representative(frames: Sequence[Reading], usable: list[Reading], base: list[Reading],
                    values: dict[str, float | None]) -> int:
    """The frame to show: closest to the median tilt, else to the median head-neck angle."""
    name = HEADLINE if values[HEADLINE] is not None else FALLBACK
    ref = values[name]
    usable_ids = {id(f) for f in usable}
    cands = [i for i, f in enumerate(frames)
             if id(f) in usable_ids and f.value(name) is not None]
    if ref is None or not cands:
        middle = base[len(base) // 2]
        return next(i for i, f in enumerate(frames) if f is middle)
    return min(cands, key=lambda i: abs(frames[i].value(name) - ref))


def _combined(m, values: dict[str, float | None]):
    """The representative frame's measurement with the combined value (interval shifted to
    keep its width, centred on the median)."""
    if m.name not in values:
        return m
    value = values[m.name]
    iv = m.interval
    if value is not None and iv is not None and m.value is not None:
        shift = value - m.value
        iv = (round(iv[0] + shift, 2), round(iv[1] + shift, 2))
    return replace(m, value=value, interval=iv if value is not None else None)
