"""The work on one file that every batch engine runs: analyse it, draw its overlay.

The local engine's workers (:mod:`posture.batch.pool`) and the Ray actors
(:mod:`posture.engines.ray_engine`) both call :func:`analyze_file`, so that both give the
same row for the same file; it lives apart from both so that neither imports the other.
"""

from __future__ import annotations

from typing import Any

from ..errors import PostureError
from .uris import is_uri, read_uri

#: Key of the result dict that carries a failed overlay (``{"code", "message"}``): the
#: measurement stays the row's, the overlay alone is retried by the next run. The batch
#: writer takes it out before writing the row.
OVERLAY_ERROR = "_overlay_error"


def analyze_file(analyzer, file: str, annotate_to: str | None = None) -> dict[str, Any]:
    """The contract dict of one file (a path, or a URI read through pyarrow); any failure
    becomes an error dict, never an exception (a batch must survive every bad file).

    With ``annotate_to``, the annotated image is written there; if that fails the dict is
    still the analysis, with :data:`OVERLAY_ERROR` added. On a cluster the actors write
    it, so ``--annotate`` must name a folder every node sees (as local input paths must).
    """
    from ..contract import error_to_dict
    from ..safe import INTERNAL_ERROR, analyze_input

    if is_uri(file):
        from ..images import DEFAULT_MAX_BYTES

        try:
            data = read_uri(file, DEFAULT_MAX_BYTES)
        except PostureError as err:
            return error_to_dict(err, source=file)
        outcome = analyze_input(analyzer, data, name=file)
    else:
        outcome = analyze_input(analyzer, file, name=file)
    d = outcome.to_dict()
    if annotate_to and outcome.assessment is not None:
        from ..outputs import save_overlay  # the target was checked before the run

        try:
            save_overlay(outcome.overlay(), annotate_to, replace=True)
        except PostureError as err:
            d[OVERLAY_ERROR] = {"code": err.code, "message": err.message}
        except Exception as exc:  # a native or unforeseen failure drawing one image
            d[OVERLAY_ERROR] = {"code": INTERNAL_ERROR,
                                "message": f"{type(exc).__name__}: {exc}"}
    return d
