"""Errors with stable codes.

Every failure a user can cause has a ``code`` that never changes between releases; the
CLI and the app map codes to messages and exit codes. Add codes, never rename them.
"""

from __future__ import annotations


class PostureError(Exception):
    """Base class. ``code`` is stable; ``exit_code`` is what the CLI returns."""

    code = "posture_error"
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class InputError(PostureError):
    """The input cannot be read as an image (missing, empty, corrupt, too large, ...)."""

    code = "invalid_input"
    exit_code = 2


class NoPersonError(PostureError):
    """The image was read but holds no usable person or view."""

    code = "no_person"
    exit_code = 3


class ModelError(PostureError):
    """No pose model could be found, downloaded or built."""

    code = "model_unavailable"
    exit_code = 4


class DataFileError(PostureError):
    """A packaged or user-supplied data file (bands, catalogue, ...) failed validation."""

    code = "invalid_data_file"
    exit_code = 5
