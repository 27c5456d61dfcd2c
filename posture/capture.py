"""A "hold still" capture: the readings of a few seconds of video combined into one.

Pure functions over :class:`~posture.result.Reading` values (one per frame with a person
in it), so a capture is shown, stored and planned exactly like a photo.

Why a median: single video frames jitter (landmarks move a pixel or two, a hand swings
through the outline), and the median ignores a few bad frames where a mean would not. The
spread (interquartile range) says how steady the frames were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from statistics import median

import numpy as np

from .config import thresholds
from .result import Reading, Reason

#: The per-frame numbers (degrees) that are combined by their median, by measurement name.
NUMERIC = {"pelvic_tilt": "pelvic_tilt_deg", "lumbar_lordosis": "lumbar_lordosis_deg",
           "head_neck_angle": "head_neck_angle_deg", "trunk_lean": "trunk_lean_deg",
           "knee_angle": "knee_angle_deg"}
#: Fewer usable frames than this and the capture abstains (too little to take a median of).
MIN_FRAMES = 5
#: Frames whose tilt IQR exceeds this (degrees) disagree by more than a band is wide, so
#: the person moved: ask them to hold still and capture again.
MAX_TILT_SPREAD_DEG = 5.0
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
        Largest interquartile range of the frames' tilt (degrees) before abstaining.

    Returns
    -------
    (Reading, int or None)
        The combined reading (``extra`` holds ``frames`` counts and ``spread_deg``) and the
        index of the frame closest to the median (to show its overlay), or None without
        frames.
    """
    if classify is None:
        from .classify import classify_tilt as classify
    n = len(frames)
    usable = [f for f in frames if _usable(f)]
    counts: dict = {"captured": n, "usable": len(usable)}
    spread: dict[str, float] = {}
    extra = {"frames": counts, "spread_deg": spread}
    if n == 0:
        return Reading(ok=False, abstained=True, source=SOURCE,
                       reasons=(Reason("no_person", "nobody was seen during the capture"),),
                       retake_guidance=(NOBODY_GUIDANCE,), extra=extra), None

    base = usable or list(frames)  # measure from good views; fall back to all for display
    values: dict[str, float | None] = {}
    for key in NUMERIC.values():
        med, iqr, _ = summarize([getattr(f, key) for f in base])
        values[key] = None if med is None else round(med, 2)
        if iqr is not None:
            spread[key] = round(iqr, 2)
    with_tilt = counts["with_tilt"] = sum(f.pelvic_tilt_deg is not None for f in usable)
    plumb_keys = sorted({k for f in base for k in (f.plumb_offsets_stature or {})})
    plumb = {}
    for k in plumb_keys:
        v = [f.plumb_offsets_stature[k] for f in base
             if (f.plumb_offsets_stature or {}).get(k) is not None]
        if v:
            plumb[k] = round(median(v), 4)

    reasons: list[Reason] = []
    if with_tilt < min_frames:
        counted = Counter(r for f in frames for r in f.reasons)
        reasons = [r for r, _ in counted.most_common(3)]
        if not reasons or with_tilt > 0:
            reasons.append(Reason("too_few_frames", f"{with_tilt} of {n} frames could be "
                                  f"measured; {min_frames} are needed"))
    elif spread.get("pelvic_tilt_deg", 0.0) > max_tilt_spread:
        reasons = [Reason("unsteady_capture", f"the frames' pelvic tilt varied by "
                          f"{spread['pelvic_tilt_deg']:.1f}° (more than "
                          f"{max_tilt_spread:.0f}°)")]
    guidance = Counter(g for f in frames for g in f.retake_guidance)
    retake = [g for g, _ in guidance.most_common()] if reasons else []
    if any(r.code == "unsteady_capture" for r in reasons):
        retake.insert(0, HOLD_STILL)

    # the interval comes from the estimator's error, which the frames of one pose share,
    # so averaging frames does not narrow it: keep the median half-width around the median
    tilt = values["pelvic_tilt_deg"] if usable else None
    halfwidths = [(f.pelvic_tilt_interval_deg[1] - f.pelvic_tilt_interval_deg[0]) / 2
                  for f in usable if f.pelvic_tilt_interval_deg]
    interval = coverage = sev = None
    if reasons or tilt is None or not halfwidths:
        values.update(pelvic_tilt_deg=None, lumbar_lordosis_deg=None)
    else:
        from .analysis import normal_sigma

        hw = float(median(halfwidths))
        interval = (round(tilt - hw, 2), round(tilt + hw, 2))
        coverage = usable[0].interval_coverage
        # the frames' intervals are at their own coverage (thresholds.yaml, editable)
        sev = classify(tilt, normal_sigma(hw, coverage or
                                          thresholds()["estimate"]["interval_coverage"]))

    rep = _representative(frames, usable, base, values)
    first, shown = frames[0], frames[rep]
    out = Reading(
        ok=bool(usable), abstained=bool(reasons), source=SOURCE,
        facing=Counter(f.facing for f in base).most_common(1)[0][0],
        pelvic_tilt_deg=values["pelvic_tilt_deg"], pelvic_tilt_interval_deg=interval,
        interval_coverage=coverage, lumbar_lordosis_deg=values["lumbar_lordosis_deg"],
        severity=sev.band if sev else None, severity_label=sev.label if sev else None,
        severity_phrase=_phrase(sev),
        severity_probabilities=sev.probabilities if sev else None,
        severity_disclaimer=first.severity_disclaimer,
        reasons=tuple(reasons), retake_guidance=tuple(retake),
        # what the measured frames noted (e.g. partial_view), each once
        notes=tuple(dict.fromkeys(n for f in (usable or base) for n in f.notes)),
        head_neck_angle_deg=values["head_neck_angle_deg"],
        forward_head=_majority([f.forward_head for f in base]),
        trunk_lean_deg=values["trunk_lean_deg"], knee_angle_deg=values["knee_angle_deg"],
        knee_hyperextension=_majority([f.knee_hyperextension for f in base]),
        plumb_offsets_stature=plumb,
        measurements=tuple(_combined(m, values) for m in shown.measurements),
        view=shown.view, image_size=first.image_size, pose_variant=first.pose_variant,
        estimator_version=first.estimator_version, landmarks_px=shown.landmarks_px,
        schema_version=first.schema_version, extra=extra,
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
    key = "pelvic_tilt_deg" if values["pelvic_tilt_deg"] is not None else "head_neck_angle_deg"
    ref = values[key]
    usable_ids = {id(f) for f in usable}
    cands = [i for i, f in enumerate(frames)
             if id(f) in usable_ids and getattr(f, key) is not None]
    if ref is None or not cands:
        middle = base[len(base) // 2]
        return next(i for i, f in enumerate(frames) if f is middle)
    return min(cands, key=lambda i: abs(getattr(frames[i], key) - ref))


def _combined(m, values: dict[str, float | None]):
    """The representative frame's measurement with the combined value (interval shifted to
    keep its width, centred on the median)."""
    key = NUMERIC.get(m.name)
    if key is None:
        return m
    value = values[key]
    iv = m.interval
    if value is not None and iv is not None and m.value is not None:
        shift = value - m.value
        iv = (round(iv[0] + shift, 2), round(iv[1] + shift, 2))
    return replace(m, value=value, interval=iv if value is not None else None)
