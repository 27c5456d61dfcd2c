"""Reading the analysis JSON that ``posture plan FILE`` is given, in bounded time and memory.

``posture plan /dev/zero`` read without end and a FIFO made it wait forever (issue 23): the
file goes through :func:`posture.images_file.read_regular_file`, which refuses anything but a
regular file before opening it for good and reads at most :data:`MAX_RESULT_BYTES`.
"""

from __future__ import annotations

import json
import os

from ..errors import InputError, PostureError
from ..images_file import read_regular_file

#: Largest analysis JSON accepted, bytes. ``posture analyze --json`` writes 2-20 KB
#: (33 landmarks, notes, a plan with ``--plan``); 1 MB is fifty times that.
MAX_RESULT_BYTES = 1_000_000


def read_result_file(path: str | os.PathLike) -> dict:
    """The analysis result (a JSON object) in ``path``.

    Raises
    ------
    InputError
        ``file_not_found``, ``not_a_regular_file`` (a folder, FIFO, device), ``file_unreadable``
        or ``file_too_large`` (more than :data:`MAX_RESULT_BYTES`): exit code 2.
    PostureError
        ``bad_result_json``: empty, not UTF-8, not JSON, nested too deep, or not an object.
    """
    try:
        data = read_regular_file(path, MAX_RESULT_BYTES, what="JSON file")
    except InputError as err:
        if err.code != "empty_file":
            raise
        raise PostureError(f"{path} is empty, not analysis JSON",
                           code="bad_result_json") from None
    try:
        result = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: deep nesting
        raise PostureError(f"cannot read {path} as analysis JSON: {exc}",
                           code="bad_result_json") from None
    if not isinstance(result, dict):
        raise PostureError(f"{path} does not hold a JSON object", code="bad_result_json")
    return result
