"""The whole flow in one place: image → pose → view kind → side/front view → metrics.

``Analyzer`` holds one pose landmarker (load once, reuse, close); ``analyze`` is the
one-shot convenience. The result is an :class:`Assessment`: everything the presentation
layer (overlay, JSON, app, report, store) needs, and nothing it must recompute.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .classify import classify_tilt
from .config import partial_thresholds, thresholds
from .errors import InputError, NoPersonError, PostureError
from .estimator import PATCH_JITTER, EstimatorModel, load_estimator, pelvis_patch
from .front_view import FRONTAL_KINDS, assess_front, combine
from .horizon import LEVEL, Roll, Segments, line_segments, roll_from_segments
from .images import Frame, load_image
from .metrics import Measurements, measure_views
from .normal import normal_sigma
from .pose import PoseEstimator, PoseResult
from .reasons import GUIDANCE, RETAKE_GUIDANCE, Reason, ReasonCode
from .result import SIDE, Assessment
from .sagittal import (
    SideView,
    ViewScores,
    analyze_side,
    facing_direction,
    mean_scores,
    view_scores,
)
from .sagittal_geometry import LANDMARK_PAIRS
from .view_kind import classify_view

RollMode = Literal["auto", "none"] | Roll
#: In VIDEO mode, re-estimate camera roll every this many frames with a person in them.
VIDEO_ROLL_EVERY = 15


@dataclass(frozen=True)
class View:
    """One detection of the photo: the image as given, or its mirror image.

    ``rgb`` is the image the detection ran on (for the pelvis patch); a ``patch`` kept from
    an earlier assessment can stand in for it.
    """

    result: PoseResult
    roll: Roll = LEVEL
    rgb: np.ndarray | None = None
    patch: np.ndarray | None = None


def mirrored_roll(r: Roll) -> Roll:
    """The same camera roll seen in the mirror image (the sign flips)."""
    return replace(r, deg=-r.deg)


def mirror_balanced_roll(a: Roll, b_mirrored: Roll) -> Roll:
    """One roll for a photo from its own estimate ``a`` and its mirror's ``b_mirrored``.

    Symmetric by construction: swapping the image and its mirror gives the mirrored
    answer. Where only one of them found straight edges, that one is used.
    """
    b = mirrored_roll(b_mirrored)
    if a.source == b.source == "estimated":
        return replace(a, deg=(a.deg + b.deg) / 2.0, evidence=(a.evidence + b.evidence) / 2.0,
                       spread_deg=(a.spread_deg + b.spread_deg) / 2.0)
    if b.source == "estimated":
        return b
    return a


def working_image(rgb: np.ndarray) -> np.ndarray:
    """The photo resized so its long side is ``thresholds.yaml``'s ``working_long_side``.

    Every copy of a photo (re-saved, resized, slightly cropped) then reaches the pose model
    at nearly the same pixel scale, which makes the reading repeatable; the pose model
    works at 256 px anyway, so nothing it could use is lost.
    """
    import cv2

    h, w = rgb.shape[:2]
    target = int(thresholds()["analysis"]["working_long_side"])
    s = target / max(h, w)
    if abs(s - 1.0) < 1e-3:
        return rgb
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interp)


def assess(result: PoseResult, model: EstimatorModel | None, roll: Roll = LEVEL,
           *, coverage: float | None = None, model_variant: str = "",
           rgb: np.ndarray | None = None, patch: np.ndarray | None = None,
           jitter: tuple[tuple[float, float], ...] | None = PATCH_JITTER) -> Assessment:
    """Sagittal geometry, metrics and severity for an already-detected :class:`PoseResult`.

    ``rgb`` (the analysed image) lets the estimator look at the pelvis patch; a ``patch``
    kept from an earlier assessment serves instead. ``jitter``: the pelvis-patch shifts
    averaged (None: one patch, as a stream does, whose frames are averaged anyway).

    Raises
    ------
    NoPersonError
        When no person was detected.
    """
    return assess_views([View(result, roll, rgb, patch)], model, coverage=coverage,
                        model_variant=model_variant, jitter=jitter)


def judge_views(views: list[View]) -> tuple[ViewScores, list[SideView]]:
    """The view evidence pooled over detections of one photo, and each one's side view
    judged on it (every view must have a person)."""
    facings = []
    scores = []
    for v in views:
        facing, conf = facing_direction(v.result.primary)
        facings.append(facing)
        scores.append(view_scores(v.result.primary, v.result, conf))
    pooled = mean_scores(scores)
    if any(f == facings[0] for f in facings[1:]):
        # a mirror image must face the other way: if not, the facing is a guess
        pooled = replace(pooled, facing_confidence=0.0)
    return pooled, [analyze_side(v.result, v.roll, scores=pooled) for v in views]


def no_person_error(width: int, height: int) -> PostureError:
    """The error for a photo (``width`` × ``height`` px, as given) in which the pose model
    found nobody, saying what to change.

    A very small picture gets its own code (``image_too_small``): the fix is a larger
    photo, not a different pose. Otherwise the usual causes are a body cut off at the
    waist or a person too small or too far to see.
    """
    min_short = thresholds()["analysis"]["min_person_image_px"]
    if min(width, height) < min_short:
        return InputError(
            f"No person was found in this {width}×{height} px picture: it is too small. "
            f"Use a larger photo (at least {min_short:.0f} px on its short side).",
            code="image_too_small")
    return NoPersonError(
        "No person was found in the image. Step back until at least your knees are in the "
        "picture (head to feet is best), with only you in it.", code="no_person")


def assess_views(views: list[View], model: EstimatorModel | None, *,
                 coverage: float | None = None, model_variant: str = "",
                 report: PoseResult | None = None, report_roll: Roll | None = None,
                 jitter: tuple[tuple[float, float], ...] | None = PATCH_JITTER) -> Assessment:
    """One assessment from several detections of the same photo.

    ``views[0]`` is the photo as given (its landmarks are the ones reported, or those of
    ``report``: the same detection in the photo's own pixels when the views ran on a
    resized copy, or the mirror image's detection mirrored back, with ``report_roll``);
    the others are its mirror image. The view gate decides once, on the
    evidence pooled over all views, and every measurement is the mean over the views
    (each is facing-normalised), so a photo and its mirror give the same reading.

    Raises
    ------
    NoPersonError
        When no person was detected in the photo as given.
    """
    first = report if report is not None else views[0].result
    if views[0].result.primary is None:
        raise no_person_error(first.width, first.height)
    views = [v for v in views if v.result.primary is not None]
    kind = classify_view(views[0].result.primary)
    if kind.kind in FRONTAL_KINDS:  # a front or back photo (issue 28); a side one as before
        rep_roll = views[0].roll if report_roll is None else report_roll
        dets = ([(v.result.primary, v.roll) for v in views[:2]] if len(views) > 1 or
                report is None else [(report.primary, rep_roll)])  # a stream's mirror frame
        return assess_front(kind, dets, first, rep_roll, model_variant=model_variant,
                            estimator_meta=model.meta if model else {})
    pooled, sides = judge_views(views)
    side = sides[0]
    est = thresholds()["estimate"]
    coverage = coverage or est["interval_coverage"]
    reasons = list(side.gate.reasons)
    guidance = list(side.gate.guidance)
    min_stature = thresholds()["analysis"]["min_stature_px"]
    measurable = side.gate.ok
    # in the photo's own pixels: the views may run on an enlarged working copy
    stature = side.frame.stature_px * first.height / max(views[0].result.height, 1)
    if stature < min_stature:
        measurable = False
        reasons.append(Reason(ReasonCode.PERSON_TOO_SMALL,
                              f"the person is about {stature:.0f} px tall in the "
                              f"picture (at least {min_stature:.0f} px are needed)"))
        guidance.append(GUIDANCE[ReasonCode.PERSON_TOO_SMALL])
    patches = []
    for v, sd in zip(views, sides, strict=True):
        p = v.patch
        if p is None and v.rgb is not None and model is not None \
                and model.patchnet is not None and v.result.primary.mask is not None:
            p = pelvis_patch(v.rgb, v.result.primary.mask, sd, jitter=jitter)
        patches.append(p)
    # the patch networks (~12 ms) run only when the view passed: otherwise the learned
    # values are withheld anyway (a live stream spends many frames turning side-on)
    meas = measure_views(sides, model, coverage,
                         patches if measurable else [None] * len(sides))
    severity = None
    if model is None:
        reasons.append(Reason(ReasonCode.ESTIMATOR_UNAVAILABLE,
                              "estimator not available in this build"))
    elif measurable:
        lo, hi = meas.pelvic_tilt.interval
        # a partial view's interval is widened on purpose: grade it against a limit
        # widened by the same factor
        limit = est["max_interval_width_deg"] * (
            partial_thresholds()["interval_scale"] if side.gate.partial else 1.0)
        if hi - lo > limit:
            reasons.append(Reason(ReasonCode.INTERVAL_TOO_WIDE,
                                  "the estimate is too uncertain to grade"))
            guidance.append(GUIDANCE[ReasonCode.INTERVAL_TOO_WIDE])
        else:
            sigma = normal_sigma((hi - lo) / 2.0, coverage)
            severity = classify_tilt(meas.pelvic_tilt.value, sigma)
    abstained = bool(reasons)
    if abstained:
        meas = _withhold_learned(meas)
        severity = None
        if not guidance:
            guidance = list(RETAKE_GUIDANCE)
    if report is not None:  # the geometry to show, in the photo's own pixels
        side = analyze_side(report, views[0].roll if report_roll is None else report_roll,
                            scores=pooled)
    return Assessment(
        (first.width, first.height), first.primary, {SIDE: side}, meas, severity, abstained,
        tuple(reasons), tuple(guidance), model_variant, model.meta if model else {},
        patches[0],
    )


#: Key points a clinician may move, by name, for the near side of the body.
CORRECTABLE = ("ear", "shoulder", "hip", "knee", "ankle", "asis", "psis")


def reassess(a: Assessment, corrections: dict[str, tuple[float, float]],
             model: EstimatorModel | None = None) -> Assessment:
    """Recompute an assessment after a clinician moved key points (image pixels).

    ``corrections`` maps names from :data:`CORRECTABLE` to new ``(x, y)`` positions. Moving
    ear/shoulder/hip/knee/ankle moves that landmark on the near side (and its far-side
    twin by the same offset, so the midpoints follow). Placing both ``asis`` and ``psis``
    replaces the learned pelvic tilt with the angle of the placed line (roll removed).
    """
    from .metrics import TILT_CONVENTION, Measurement
    from .pose import PoseResult

    unknown = set(corrections) - set(CORRECTABLE)
    if unknown:
        raise ValueError(f"cannot correct {sorted(unknown)}; correctable: {CORRECTABLE}")
    for name, p in corrections.items():
        try:  # None, a number or a string in place of (x, y) is the caller's error, not ours
            ok = len(p) == 2 and all(np.isfinite(float(v)) for v in p)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ValueError(f"correction for {name} must be two finite numbers, got {p!r}")
    updates = {}
    near = 0 if a.side.near_side == "left" else 1
    for name in ("ear", "shoulder", "hip", "knee", "ankle"):
        if name in corrections:
            pair = LANDMARK_PAIRS[name]
            delta = np.asarray(corrections[name], float) - a.pose.xy[pair[near]]
            for idx in pair:
                updates[int(idx)] = tuple(a.pose.xy[idx] + delta)
    pose = a.pose.with_points(updates)
    result = PoseResult((pose,), *a.frame_size)
    model = model if model is not None else load_estimator()
    # the pelvis patch is reused as it was: the image is not kept, and a moved hip point
    # shifts it by a few pixels only
    new = assess(result, model, a.side.roll, model_variant=a.model_variant, patch=a.patch)
    if "asis" in corrections and "psis" in corrections:
        asis = new.side.frame.to_body(np.asarray(corrections["asis"], float))
        psis = new.side.frame.to_body(np.asarray(corrections["psis"], float))
        du, dv = asis - psis
        if du <= 0:
            raise ValueError("the ASIS must be in front of the PSIS (in the facing direction)")
        tilt = float(np.degrees(np.arctan2(-dv, du)))  # ASIS lower = positive
        m = Measurement("pelvic_tilt", round(tilt, 2), "deg", TILT_CONVENTION, None, None,
                        "clinician-placed ASIS and PSIS (uncertainty not estimated)")
        sev = classify_tilt(tilt, 1e-6) if new.side.gate.ok else None
        new = replace(new, measurements=new.measurements.replaced(m),
                      severity=sev, abstained=not new.side.gate.ok,
                      reasons=tuple(r for r in new.reasons if r.code not in
                                    (ReasonCode.ESTIMATOR_UNAVAILABLE,
                                     ReasonCode.INTERVAL_TOO_WIDE)))
    return new


def _withhold_learned(m: Measurements) -> Measurements:
    """The measurements with the estimator's (``interval: learned`` in the registry)
    blanked: they are withheld whenever the tilt is."""
    from .measures import measures

    blank = dict(value=None, interval=None, coverage=None)
    return m.replaced(*(replace(x, **blank) for s in measures() if s.interval == "learned"
                        for x in [m.get(s.name)] if x is not None))


class Analyzer:
    """Analyse photos or stream frames with one loaded pose model.

    ``landmarker`` is the MediaPipe pose model (:class:`~posture.pose.PoseEstimator`),
    ``estimator`` the learned tilt model (:class:`~posture.estimator.EstimatorModel`).
    Use as a context manager so the native landmarker is closed::

        with Analyzer() as a:
            assessment = a.analyze("side.jpg")
    """

    def __init__(self, model: str | os.PathLike | None = None, *,
                 mode: Literal["image", "video"] = "image", roll: RollMode = "auto",
                 mirror: bool = True):
        self.landmarker = PoseEstimator(model, mode=mode)
        self._model_arg = model
        #: a second stream landmarker for mirrored frames (its own tracking), made on demand
        self._mirror_stream: PoseEstimator | None = None
        #: photos are analysed as given and mirrored, and the two readings averaged: the
        #: reading of a photo and of its mirror image are then the same by construction,
        #: and the noise of each detection is halved in variance
        self.mirror = mirror
        self.estimator = load_estimator()
        self.roll_mode = roll
        # The roll's line search needs no pose: it runs on this thread while MediaPipe works
        # (both release the GIL), so on two cores it costs almost no wall time.
        self._roll_pool = (ThreadPoolExecutor(1, thread_name_prefix="posture-roll")
                           if roll == "auto" else None)
        # In a stream the camera does not turn between frames: the roll is re-estimated every
        # VIDEO_ROLL_EVERY frames and kept in between (it is ~40% of a frame's own work).
        self._video_roll: Roll | None = None
        self._video_frames = 0

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.landmarker.close()
        if self._mirror_stream is not None:
            self._mirror_stream.close()
        if self._roll_pool is not None:
            self._roll_pool.shutdown(wait=True, cancel_futures=True)

    def _start_roll(self, rgb: np.ndarray) -> Future[Segments] | None:
        if self._roll_pool is None:
            return None
        return self._roll_pool.submit(line_segments, rgb)

    def _roll(self, rgb: np.ndarray, result: PoseResult,
              segments: Future[Segments] | None = None) -> Roll:
        if isinstance(self.roll_mode, Roll):
            return self.roll_mode
        if self.roll_mode == "none" or result.primary is None:
            return LEVEL
        found = segments.result() if segments is not None else line_segments(rgb)
        return roll_from_segments(found, result.primary.mask)

    def detect(self, frame: Frame) -> PoseResult:
        return self.landmarker.detect(frame)

    def analyze(self, src: str | os.PathLike | bytes | np.ndarray | Frame) -> Assessment:
        """Analyse one photo (path, bytes, RGB array or :class:`Frame`)."""
        frame = src if isinstance(src, Frame) else load_image(src)
        rgb = frame.rgb
        if self.mirror:
            return self._analyze_balanced(rgb)
        segments = self._start_roll(rgb)
        result = self.landmarker.detect(frame)
        return assess(result, self.estimator, self._roll(rgb, result, segments),
                      model_variant=self.landmarker.bundle.variant, rgb=rgb)

    def analyze_views(self, side: str | os.PathLike | bytes | np.ndarray | Frame,
                      front: str | os.PathLike | bytes | np.ndarray | Frame) -> Assessment:
        """One assessment of a side and a front (or back) photo of one person (ValueError
        for a wrong view; :func:`posture.front_view.combine`)."""
        return combine(self.analyze(side), self.analyze(front))

    def balanced_views(self, rgb: np.ndarray) -> list[View]:
        """The photo at working size and its mirror image, detected, with one camera roll
        for both (see :func:`mirror_balanced_roll`)."""
        work = np.ascontiguousarray(working_image(rgb))
        flipped = np.ascontiguousarray(work[:, ::-1])
        seg_a, seg_b = self._start_roll(work), self._start_roll(flipped)
        res_a = self.landmarker.detect(work)
        res_b = self.landmarker.detect(flipped)
        roll = mirror_balanced_roll(self._roll(work, res_a, seg_a),
                                    self._roll(flipped, res_b, seg_b))
        return [View(res_a, roll, work), View(res_b, mirrored_roll(roll), flipped)]

    def _analyze_balanced(self, rgb: np.ndarray) -> Assessment:
        """The photo at working size and its mirror image, judged and measured once."""
        views = self.balanced_views(rgb)
        res_a, work = views[0].result, views[0].rgb
        h, w = rgb.shape[:2]
        report = res_a if work is rgb else res_a.rescaled(w, h)
        return assess_views(views, self.estimator, model_variant=self.landmarker.bundle.variant,
                            report=report)

    def analyze_video_frame(self, rgb: np.ndarray, timestamp_ms: int, *,
                            mirrored: bool = False) -> Assessment | None:
        """Analyse one frame of a stream; None when nobody is in it.

        With ``mirrored`` the frame is flipped left–right first and analysed by a second
        stream landmarker (so neither loses its tracking): a capture that alternates plain
        and mirrored frames is mirror-balanced, as a photo is, at the cost of one inference
        a frame. The measurements come from the mirror image; the landmarks, facing and
        geometry are reported in the frame's own pixels, so the overlay still fits.
        """
        fresh = self._video_roll is None or self._video_frames % VIDEO_ROLL_EVERY == 0
        segments = self._start_roll(rgb) if fresh and not mirrored else None
        if not mirrored:
            result = self.landmarker.detect_video(rgb, timestamp_ms)
            if result.primary is None:
                return None
            self._video_frames += 1
            if fresh:
                self._video_roll = self._roll(rgb, result, segments)
            return assess(result, self.estimator, self._video_roll,
                          model_variant=self.landmarker.bundle.variant, rgb=rgb, jitter=None)
        if self._mirror_stream is None:
            self._mirror_stream = PoseEstimator(self._model_arg, mode="video")
        flipped = np.ascontiguousarray(rgb[:, ::-1])
        result = self._mirror_stream.detect_video(flipped, timestamp_ms)
        if result.primary is None:
            return None
        roll = self._video_roll or LEVEL
        # measured in the mirror image, reported in the frame's own pixels
        return assess_views([View(result, mirrored_roll(roll), flipped)], self.estimator,
                            model_variant=self.landmarker.bundle.variant,
                            report=result.mirrored(), report_roll=roll, jitter=None)


def analyze(src, model: str | os.PathLike | None = None, roll: RollMode = "auto") -> Assessment:
    """Analyse one photo with a freshly loaded model (use :class:`Analyzer` for many)."""
    with Analyzer(model, roll=roll) as a:
        return a.analyze(src)
