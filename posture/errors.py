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


class InternalError(PostureError):
    """An unforeseen failure inside the analysis (a bug or a native crash on one input).
    One code everywhere (CLI, batch, app, live): ``internal_error``."""

    code = "internal_error"
    exit_code = 1


class ModelError(PostureError):
    """No pose model could be found, downloaded or built."""

    code = "model_unavailable"
    exit_code = 4


class DataFileError(PostureError):
    """A packaged or user-supplied data file (bands, catalogue, ...) failed validation."""

    code = "invalid_data_file"
    exit_code = 5


class OutputError(PostureError):
    """An output cannot or must not be written (it is an input, not ours, a folder, ...)."""

    code = "output_error"
    exit_code = 6


class StoreError(PostureError):
    """A clinic-store operation failed (``posture.store``). Stable codes:

    Records: ``patient_not_found``, ``assessment_not_found``, ``duplicate_patient``,
    ``invalid_record``, ``photo_without_consent``, ``photo_not_jpeg``.
    Database: ``schema_too_new``, ``database_unavailable``, ``storage_full`` (disk or
    quota full), ``database_read_only`` (file or server is read-only),
    ``database_locked`` (another writer held the lock past the timeout).
    Accounts: ``duplicate_user``, ``invalid_user``, ``user_not_found``, ``weak_password``,
    ``password_too_long`` (longer than the login form takes), ``password_mismatch``,
    ``login_failed``, ``account_locked``.
    Audit trail: ``audit_append_only`` (a change refused), ``audit_chain_broken``
    (``posture audit verify`` found a row whose hash does not match).
    A failed write leaves nothing half-saved: every write is one transaction.
    """

    code = "store_error"
    exit_code = 7


class EngineError(PostureError):
    """The batch's parallel engine cannot run: ``engine_unavailable`` (Ray not installed,
    or no cluster at the address given), ``engine_failed`` (Ray gave up on the job; the
    rows written until then stay, so a second run resumes)."""

    code = "engine_error"
    exit_code = 1
