"""The app's view of a capture: contract dicts in, a contract dict out.

All the logic (median, abstention, severity, interval) is :func:`posture.capture.aggregate`
on typed readings; this only converts at the app's edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import NormalDist

from posture.capture import MAX_TILT_SPREAD_DEG, MIN_FRAMES, aggregate, summarize
from posture.contract import from_dict, to_dict

__all__ = ["MAX_TILT_SPREAD_DEG", "MIN_FRAMES", "Z90", "aggregate_frames", "summarize"]

#: z of a two-sided 90% normal interval (the library derives z from each coverage).
Z90 = NormalDist().inv_cdf(0.95)


def aggregate_frames(frames: Sequence[dict], *,
                     classify: Callable[[float, float], object] | None = None,
                     min_frames: int = MIN_FRAMES,
                     max_tilt_spread: float = MAX_TILT_SPREAD_DEG) -> tuple[dict, int | None]:
    """:func:`posture.capture.aggregate` over per-frame contract dicts."""
    out, rep = aggregate([from_dict(f) for f in frames], classify=classify,
                         min_frames=min_frames, max_tilt_spread=max_tilt_spread)
    return to_dict(out), rep
