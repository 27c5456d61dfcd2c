"""Combine the per-frame results of a "hold still" capture into one result.

Pure functions over contract dicts (``posture.present.contract.assessment_to_dict``), so the
live page shows a capture with exactly the same results panel as a photo.

Why a median: single video frames jitter (landmarks move a pixel or two, a hand swings
through the outline), and the median ignores a few bad frames where a mean would not. The
spread (interquartile range) tells the user how steady the frames were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from statistics import median

import numpy as np

#: The per-frame numbers that are combined by their median.
NUMERIC_KEYS = ("pelvic_tilt_deg", "lumbar_lordosis_deg", "head_neck_angle_deg",
                "trunk_lean_deg", "knee_angle_deg")
#: Fewer usable frames than this and the capture abstains (too little to take a median of).
MIN_FRAMES = 5
#: The app's own steadiness gate: frames whose tilt IQR exceeds this (degrees) disagree by
#: more than a band is wide, so the person moved; ask them to hold still and capture again.
MAX_TILT_SPREAD_DEG = 5.0
#: z of a two-sided 90% normal interval: per-frame intervals are 90% (contract key
#: ``interval_coverage``), half-width / z is one standard deviation.
Z90 = 1.6449


def summarize(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Median, interquartile range and count of the non-null values (None, None, 0 if none)."""
    xs = np.asarray([v for v in values if v is not None], float)
    if xs.size == 0:
        return None, None, 0
    q1, q3 = np.percentile(xs, [25, 75])
    return float(np.median(xs)), float(q3 - q1), int(xs.size)


def _reason_code(reason: str) -> str:
    return reason.split(":", 1)[0].strip()


def _majority(flags: Sequence[bool | None]) -> bool | None:
    seen = [f for f in flags if f is not None]
    return None if not seen else sum(seen) * 2 > len(seen)


def aggregate_frames(
    frames: Sequence[dict],
    *,
    classify: Callable[[float, float], object] | None = None,
    min_frames: int = MIN_FRAMES,
    max_tilt_spread: float = MAX_TILT_SPREAD_DEG,
) -> tuple[dict, int | None]:
    """One contract-shaped result from the frames of a capture.

    Parameters
    ----------
    frames
        Per-frame contract dicts, in capture order (frames with nobody in them omitted).
    classify
        ``(tilt_deg, sigma_deg) -> Severity`` (default: ``posture.classify.classify_tilt``).
    min_frames
        Usable frames (view ok, tilt measured) needed for a tilt result.
    max_tilt_spread
        Largest interquartile range of the frames' tilt (degrees) before abstaining.

    Returns
    -------
    (dict, int or None)
        The combined result (contract keys plus ``frames`` and ``spread_deg``) and the index
        of the frame closest to the median (to show its overlay), or None without frames.
    """
    if classify is None:
        from posture.classify import classify_tilt as classify
    n = len(frames)
    usable = [f for f in frames if f.get("view", {}).get("ok") and not f.get("error")]
    out: dict = {
        "schema_version": frames[0].get("schema_version", 1) if frames else 1,
        "source": "live capture",
        "frames": {"captured": n, "usable": len(usable)},
        "spread_deg": {},
    }
    if n == 0:
        out.update(ok=False, abstained=True, facing=None, severity=None, severity_label=None,
                   abstain_reasons=["no_person: nobody was seen during the capture"],
                   retake_guidance=["Stand where the camera sees your whole body, then "
                                    "capture again."],
                   **{k: None for k in NUMERIC_KEYS}, pelvic_tilt_interval_deg=None)
        return out, None

    base = usable or list(frames)  # measure from good views; fall back to all for display
    for key in NUMERIC_KEYS:
        med, spread, count = summarize([f.get(key) for f in base])
        out[key] = None if med is None else round(med, 2)
        if spread is not None:
            out["spread_deg"][key] = round(spread, 2)
    out["frames"]["with_tilt"] = sum(f.get("pelvic_tilt_deg") is not None for f in usable)
    out["facing"] = Counter(f.get("facing") for f in base).most_common(1)[0][0]
    out["forward_head"] = _majority([f.get("forward_head") for f in base])
    out["knee_hyperextension"] = _majority([f.get("knee_hyperextension") for f in base])
    plumb_keys = {k for f in base for k in (f.get("plumb_offsets_stature") or {})}
    out["plumb_offsets_stature"] = {
        k: round(median(v), 4) for k in sorted(plumb_keys)
        if (v := [f["plumb_offsets_stature"][k] for f in base
                  if (f.get("plumb_offsets_stature") or {}).get(k) is not None])
    }

    # the interval comes from the estimator's error, which the frames of one pose share,
    # so averaging frames does not narrow it: keep the median half-width around the median
    tilt = out["pelvic_tilt_deg"] if usable else None
    halfwidths = [(f["pelvic_tilt_interval_deg"][1] - f["pelvic_tilt_interval_deg"][0]) / 2
                  for f in usable if f.get("pelvic_tilt_interval_deg")]
    reasons: list[str] = []
    if out["frames"]["with_tilt"] < min_frames:
        counted = Counter(r for f in frames for r in f.get("abstain_reasons") or [])
        reasons = [r for r, _ in counted.most_common(3)]
        if not reasons or out["frames"]["with_tilt"] > 0:
            reasons.append(f"too_few_frames: {out['frames']['with_tilt']} of {n} frames "
                           f"could be measured; {min_frames} are needed")
    elif out["spread_deg"].get("pelvic_tilt_deg", 0.0) > max_tilt_spread:
        reasons = [f"unsteady_capture: the frames' pelvic tilt varied by "
                   f"{out['spread_deg']['pelvic_tilt_deg']:.1f}° (more than "
                   f"{max_tilt_spread:.0f}°)"]
    out["abstained"] = bool(reasons)
    out["abstain_reasons"] = reasons
    out["ok"] = bool(usable)
    guidance = Counter(g for f in frames for g in f.get("retake_guidance") or [])
    out["retake_guidance"] = [g for g, _ in guidance.most_common()] if reasons else []
    if any(r.startswith("unsteady_capture") for r in reasons):
        out["retake_guidance"].insert(0, "Hold still for the whole capture, arms relaxed.")

    if reasons or tilt is None or not halfwidths:
        out.update(pelvic_tilt_deg=None, pelvic_tilt_interval_deg=None, lumbar_lordosis_deg=None,
                   severity=None, severity_label=None, severity_probabilities=None)
    else:
        hw = float(median(halfwidths))
        out["pelvic_tilt_interval_deg"] = [round(tilt - hw, 2), round(tilt + hw, 2)]
        out["interval_coverage"] = usable[0].get("interval_coverage")
        sev = classify(tilt, hw / Z90)
        out.update(severity=sev.band, severity_label=sev.label,
                   severity_probabilities=sev.probabilities)
    for key in ("severity_disclaimer", "model", "image_size"):
        if key in frames[0]:
            out[key] = frames[0][key]

    # the frame to show: closest to the median tilt, else to the median head-neck angle
    ref_key = "pelvic_tilt_deg" if out.get("pelvic_tilt_deg") is not None else \
        "head_neck_angle_deg"
    ref = out.get(ref_key)
    usable_ids = {id(f) for f in usable}
    cands = [i for i, f in enumerate(frames)
             if id(f) in usable_ids and f.get(ref_key) is not None]
    if ref is None or not cands:
        middle = base[len(base) // 2]
        rep = next(i for i, f in enumerate(frames) if f is middle)
    else:
        rep = min(cands, key=lambda i: abs(frames[i][ref_key] - ref))
    for key in ("view", "landmarks_px"):
        if key in frames[rep]:
            out[key] = frames[rep][key]
    out["measurements"] = _measurements(frames[rep].get("measurements") or [], out)
    return out, rep


_NAME_TO_KEY = {"pelvic_tilt": "pelvic_tilt_deg", "lumbar_lordosis": "lumbar_lordosis_deg",
                "head_neck_angle": "head_neck_angle_deg", "trunk_lean": "trunk_lean_deg",
                "knee_angle": "knee_angle_deg"}


def _measurements(template: list[dict], out: dict) -> list[dict]:
    """The representative frame's measurement entries with the combined values."""
    res = []
    for m in template:
        key = _NAME_TO_KEY.get(m.get("name"))
        if key is None:
            res.append(m)
            continue
        value = out.get(key)
        iv = m.get("interval")
        if value is not None and iv is not None and m.get("value") is not None:
            shift = value - m["value"]  # keep the interval's width, centred on the median
            iv = [round(iv[0] + shift, 2), round(iv[1] + shift, 2)]
        res.append({**m, "value": value, "interval": iv if value is not None else None})
    return res
