"""Analyse one input safely: the one place every front end (CLI, batch, app, clinic, live)
turns "an input" into either an :class:`~posture.result.Assessment` or a coded error.

Nothing here raises for a bad input or a failure inside the analysis: a
:class:`~posture.errors.PostureError` keeps its own stable code, anything unforeseen
becomes ``internal_error`` (:class:`~posture.errors.InternalError`), so the codes are the
same whichever front end the input came through.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InternalError, NoPersonError, PostureError

if TYPE_CHECKING:
    from .analysis import Analyzer
    from .images import Frame
    from .result import Assessment

#: Every code an unforeseen failure is reported under (one code, not one per front end).
INTERNAL_ERROR = InternalError.code
#: A stream frame with nobody in it (live): not a failure of the analysis.
NOBODY_CODE = "no_person"


@dataclass(frozen=True)
class Outcome:
    """The result of analysing one input: an assessment, or an error with a stable code.

    Exactly one of ``assessment`` and ``error`` is set. ``frame`` is the decoded image
    (kept in memory only, for drawing the overlay; never written anywhere).
    """

    source: str | None
    assessment: Assessment | None = None
    error: PostureError | None = None
    frame: Frame | None = field(default=None, repr=False)

    @classmethod
    def failure(cls, err: PostureError, source: str | None = None) -> Outcome:
        return cls(source, None, err)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def code(self) -> str | None:
        """The error code, None when analysed (an abstention is not an error here)."""
        return None if self.error is None else self.error.code

    def reading(self):
        """The portable typed result (:class:`~posture.result.Reading`) of this outcome."""
        from .contract import error_reading, reading

        if self.assessment is not None:
            return reading(self.assessment, source=self.source)
        return error_reading(self.error, source=self.source)

    def to_dict(self) -> dict:
        """The JSON contract of this outcome (see :mod:`posture.contract`)."""
        from .contract import error_to_dict, to_dict

        if self.assessment is not None:
            return to_dict(self.assessment, source=self.source)
        return error_to_dict(self.error, source=self.source)

    def overlay(self, *, label: bool = True) -> np.ndarray | None:
        """The annotated RGB image, or None without an assessment and image; ``label``:
        the numbers written into the picture too (see :func:`~posture.present.overlay.
        draw_overlay`)."""
        if self.assessment is None or self.frame is None:
            return None
        from .present.overlay import draw_overlay

        return draw_overlay(self.frame.rgb, self.assessment, label=label)


def analyze_input(analyzer: Analyzer | Callable[[], Analyzer], source: Any, *,
                  name: str | None = None, lock: Any = None,
                  timestamp_ms: int | None = None, mirrored: bool = False,
                  log: logging.Logger | None = None) -> Outcome:
    """Analyse one photo or stream frame; never raises.

    Parameters
    ----------
    analyzer
        An :class:`~posture.analysis.Analyzer`, or a zero-argument callable returning one;
        the callable is called only once the input has been decoded, so an unreadable file
        is reported as such without loading the pose model.
    source
        A path, bytes, an RGB ``uint8`` array (H×W×3) or a :class:`~posture.images.Frame`.
    name
        What the JSON's ``source`` says; default: the path for a path, else None.
    lock
        A context manager held while the analyzer runs (a landmarker is not thread-safe).
    timestamp_ms
        Given for a stream frame (ms, increasing): VIDEO mode; a frame with nobody in it
        is the error ``no_person``.
    mirrored
        For a stream frame: measure its mirror image (a capture alternates plain and
        mirrored frames so that its reading is mirror-balanced, as a photo's is).
    log
        Where an unforeseen failure's traceback goes (the server log); never to the user.

    Returns
    -------
    Outcome
        The assessment (abstentions included) or the error with its stable code.
    """
    if name is None and isinstance(source, str | os.PathLike):
        name = os.fspath(source)
    frame = None
    try:
        if timestamp_ms is None:
            from .images import Frame, load_image

            frame = source if isinstance(source, Frame) else load_image(source)
        an = analyzer if hasattr(analyzer, "analyze") else analyzer()
        with lock if lock is not None else contextlib.nullcontext():
            if timestamp_ms is None:
                a = an.analyze(frame)
            else:
                from .images import Frame

                frame = source if isinstance(source, Frame) else Frame(source, "<array>", 1, None)
                a = (an.analyze_video_frame(frame.rgb, int(timestamp_ms), mirrored=True)
                     if mirrored else an.analyze_video_frame(frame.rgb, int(timestamp_ms)))
                if a is None:
                    return Outcome(name, None, NoPersonError("nobody in the frame",
                                                             code=NOBODY_CODE), frame)
        return Outcome(name, a, None, frame)
    except PostureError as err:
        return Outcome(name, None, err, frame)
    except Exception as exc:  # a native or unforeseen failure on one input
        if log is not None:
            log.exception("analysis failed for %s", name)
        err = InternalError(f"the analysis failed unexpectedly ({type(exc).__name__}: {exc})")
        return Outcome(name, None, err, frame)
