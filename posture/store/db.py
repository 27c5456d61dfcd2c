"""The clinic store: patients and their saved assessments, in SQLite or PostgreSQL.

Where the data lives and how it is opened: :mod:`posture.store.connection`. The tables:
:mod:`posture.store.schema`, brought up to date on opening by :mod:`posture.store.upgrade`.
Checking a new record and reading one back: :mod:`posture.store.rows`.

Nothing is written unless a caller invokes a ``save``/``add``/``delete`` method, and every
write appends to the audit trail in the same transaction (:mod:`posture.store.chain`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .chain import append, from_db_time
from .connection import db_error, make_engine
from .records import AssessmentRecord, Patient, StoreError
from .rows import (
    assessment_row,
    check_patient_fields,
    check_reference,
    new_pseudonym,
    no_assessment,
    patient_from_row,
    record_from_row,
    reference_detail,
    select_records,
)
from .schema import ASSESSMENTS, AUDIT, COUNTERS, PATIENTS, SCHEMA_VERSION
from .upgrade import current_version, migrate, up_to_date


class Store:
    """Patients and assessments in one database.

    Parameters
    ----------
    location
        File path or SQLAlchemy URL; default :func:`default_location`.

    Opening migrates an older schema to :data:`SCHEMA_VERSION` and refuses a newer one
    (``schema_too_new``). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, location: str | os.PathLike | None = None):
        self.engine = make_engine(location)
        try:
            # a read first: an up-to-date database opens even when it is read-only
            with self._read() as conn:
                found, ready = current_version(conn), up_to_date(conn)
            _refuse_newer(found)
            if ready:
                self.migrated_from = self.schema_version = found
            else:
                self._upgrade(found)
        except StoreError as err:
            self.engine.dispose()
            if err.code in ("schema_too_new", "database_read_only", "storage_full",
                            "database_locked"):
                raise
            raise StoreError(f"cannot open the database: {err.message}",
                             code="database_unavailable") from err
        except BaseException:
            self.engine.dispose()
            raise

    def _upgrade(self, found: int) -> None:
        """Stamp (a database of the hand-written migrations) and upgrade to the current
        schema, in one write transaction."""
        try:
            with self._write() as conn:
                if conn.dialect.name == "postgresql":
                    # first open by two processes at once: one migrates, the other waits
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(724871)"))
                _refuse_newer(current_version(conn))
                self.migrated_from, self.schema_version = migrate(conn)
        except StoreError as err:
            if err.code != "database_read_only" or found != SCHEMA_VERSION:
                raise
            # today's tables, made before the Alembic revisions, on a read-only disk: read
            # as they are; the first open that can write stamps them
            self.migrated_from = self.schema_version = found

    # -- plumbing ---------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def url(self) -> str:
        """Where the data lives (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction: all of it is stored, or (on any error) none of it."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(posture_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError as exc:
            if "audit_append_only" in str(exc.orig):
                raise db_error(exc) from exc
            raise  # the callers name the constraint (duplicate pseudonym, user)
        except sa.exc.DBAPIError as exc:
            raise db_error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise db_error(exc) from exc

    def next_id(self, conn: sa.Connection, table: sa.Table) -> int:
        """The next id of ``table``: above every id it ever handed out, deleted or not.

        Inside the caller's write transaction (SQLite: ``BEGIN IMMEDIATE`` serialises
        writers; PostgreSQL: the counter row is locked until commit).
        """
        q = sa.select(COUNTERS.c.last_id).where(COUNTERS.c.name == table.name)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        last = conn.execute(q).scalar()
        top = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        nid = max(int(last or 0), int(top)) + 1
        if last is None:
            conn.execute(sa.insert(COUNTERS).values(name=table.name, last_id=nid))
        else:
            conn.execute(sa.update(COUNTERS).where(COUNTERS.c.name == table.name)
                         .values(last_id=nid))
        return nid

    # -- audit trail --------------------------------------------------------------------

    def _audit(self, conn: sa.Connection, actor: str | None, action: str, *,
               patient_id: int | None = None, assessment_id: int | None = None,
               detail: str = "") -> None:
        """Append to the audit trail inside the caller's write transaction."""
        append(conn, actor, action, patient_id=patient_id, assessment_id=assessment_id,
               detail=detail)

    def log(self, actor: str | None, action: str, *, patient_id: int | None = None,
            assessment_id: int | None = None, detail: str = "") -> None:
        """Append one entry to the audit trail (e.g. a view or an export)."""
        with self._write() as conn:
            self._audit(conn, actor, action, patient_id=patient_id,
                        assessment_id=assessment_id, detail=detail)

    def audit_trail(self, *, patient_id: int | None = None, limit: int | None = None,
                    hashes: bool = False) -> list[dict[str, Any]]:
        """Audit entries, oldest first (optionally of one patient, or the last ``limit``);
        with ``hashes`` also each row's ``prev_hash`` and ``row_hash``."""
        q = sa.select(*(c for c in AUDIT.c if hashes or c.name not in ("prev_hash",
                                                                       "row_hash")))
        if patient_id is not None:
            q = q.where(AUDIT.c.patient_id == patient_id)
        q = q.order_by(AUDIT.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            rows = conn.execute(q).all()
        out = [dict(r._mapping) for r in reversed(rows)]
        for r in out:
            r["at"] = from_db_time(r["at"])
        return out

    # -- patients ---------------------------------------------------------------------

    def add_patient(self, pseudonym: str | None = None, *, name: str | None = None,
                    birth_year: int | None = None, sex: str | None = None,
                    actor: str | None = None) -> Patient:
        """Create a patient; a random pseudonym is made when none is given.

        Raises ``duplicate_patient`` when the pseudonym is taken, ``invalid_record`` for
        bad fields.
        """
        pseudonym = (pseudonym or new_pseudonym()).strip()
        if not 1 <= len(pseudonym) <= 64:
            raise StoreError("pseudonym must be 1–64 characters", code="invalid_record")
        name = (name or "").strip() or None
        check_patient_fields(name, birth_year, sex)
        row = dict(pseudonym=pseudonym, name=name, birth_year=birth_year, sex=sex,
                   created_at=datetime.now(UTC))
        try:
            with self._write() as conn:
                pid = self.next_id(conn, PATIENTS)
                conn.execute(sa.insert(PATIENTS).values(id=pid, **row))
                self._audit(conn, actor, "create", patient_id=pid, detail="patient")
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"a patient with pseudonym {pseudonym!r} already exists",
                             code="duplicate_patient") from exc
        return Patient(id=int(pid), **row)

    def get_patient(self, patient_id: int) -> Patient:
        with self._read() as conn:
            row = conn.execute(sa.select(PATIENTS).where(PATIENTS.c.id == patient_id)).first()
        if row is None:
            raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
        return patient_from_row(row)

    def find_patient(self, pseudonym: str) -> Patient:
        """The patient with this pseudonym (``patient_not_found`` otherwise)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(PATIENTS).where(PATIENTS.c.pseudonym == pseudonym.strip())).first()
        if row is None:
            raise StoreError(f"no patient with pseudonym {pseudonym!r}",
                             code="patient_not_found")
        return patient_from_row(row)

    def list_patients(self) -> list[Patient]:
        """All patients, by pseudonym."""
        with self._read() as conn:
            rows = conn.execute(sa.select(PATIENTS).order_by(PATIENTS.c.pseudonym)).all()
        return [patient_from_row(r) for r in rows]

    def delete_patient(self, patient_id: int, *, actor: str | None = None) -> None:
        """Erase a patient and all their assessments and photos (the audit trail keeps
        the ids, no personal data)."""
        with self._write() as conn:
            k = conn.execute(sa.delete(ASSESSMENTS).where(
                ASSESSMENTS.c.patient_id == patient_id)).rowcount
            n = conn.execute(sa.delete(PATIENTS).where(PATIENTS.c.id == patient_id)).rowcount
            if not n:
                raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
            self._audit(conn, actor, "delete", patient_id=patient_id,
                        detail=f"patient and {k} assessment(s)")

    # -- assessments --------------------------------------------------------------------

    def save_assessment(
        self,
        patient_id: int,
        result: Mapping[str, Any],
        *,
        taken_at: datetime | None = None,
        photo_jpeg: bytes | None = None,
        photo_consent: bool = False,
        corrections: Mapping[str, tuple[float, float]] | None = None,
        thomas_test: str | None = None,
        notes: str = "",
        actor: str | None = None,
        reference: tuple[str, float] | None = None,
    ) -> AssessmentRecord:
        """Save one assessment of a patient.

        Parameters
        ----------
        result
            The typed :class:`posture.result.Assessment` (after any landmark corrections)
            or its :class:`~posture.result.Reading`, or the JSON contract dict
            (:func:`posture.contract.to_dict`); stored as the contract dict.
        taken_at
            When the photo was taken (default now); stored in UTC.
        photo_jpeg, photo_consent
            The photo is stored only when ``photo_consent`` is True; passing a photo
            without consent raises ``photo_without_consent`` rather than dropping it
            silently.
        corrections
            Points the clinician moved, name → (x, y) pixels (names from
            ``posture.analysis.CORRECTABLE``).
        thomas_test
            ``"yes"``, ``"no"``, ``"unsure"`` or None.
        reference
            ``(instrument, degrees)``: a reference reading of the pelvic tilt beside this
            assessment (:meth:`set_reference`), or None.
        """
        row = assessment_row(patient_id, result, taken_at=taken_at, photo_jpeg=photo_jpeg,
                             photo_consent=photo_consent, corrections=corrections,
                             thomas_test=thomas_test, notes=notes, reference=reference)
        corr = json.loads(row["corrections_json"] or "{}")
        ref = row["reference_instrument"], row["reference_deg"]
        with self._write() as conn:
            if conn.execute(sa.select(PATIENTS.c.id).where(
                    PATIENTS.c.id == patient_id)).first() is None:
                raise StoreError(f"no patient with id {patient_id}", code="patient_not_found")
            aid = self.next_id(conn, ASSESSMENTS)
            conn.execute(sa.insert(ASSESSMENTS).values(id=aid, **row))
            self._audit(conn, actor, "create", patient_id=patient_id, assessment_id=aid,
                        detail="assessment" + (" with photo" if photo_jpeg else ""))
            if corr:
                self._audit(conn, actor, "correct", patient_id=patient_id, assessment_id=aid,
                            detail="moved: " + ", ".join(sorted(corr)))
            if ref[0] is not None:
                self._audit(conn, actor, "reference", patient_id=patient_id,
                            assessment_id=aid, detail=reference_detail(*ref))
        return self.get_assessment(int(aid))

    def set_reference(self, assessment_id: int, instrument: str | None,
                      reference_deg: float | None = None, *,
                      actor: str | None = None) -> AssessmentRecord:
        """Enter (or, with ``instrument=None``, remove) the reference reading of an
        assessment: the pelvic tilt a clinician measured with a palpation meter or an
        inclinometer at that visit, degrees, + = anterior. Audited as ``reference``.

        Raises ``invalid_record`` for an unknown instrument or a reading that is not a
        number within ±90°, ``assessment_not_found`` for no such assessment.
        """
        ref = (None, None) if instrument is None else check_reference(instrument,
                                                                       reference_deg)
        with self._write() as conn:
            pid = conn.execute(sa.select(ASSESSMENTS.c.patient_id).where(
                ASSESSMENTS.c.id == assessment_id)).scalar()
            if pid is None:
                raise no_assessment(assessment_id)
            conn.execute(sa.update(ASSESSMENTS).where(ASSESSMENTS.c.id == assessment_id)
                         .values(reference_instrument=ref[0], reference_deg=ref[1]))
            self._audit(conn, actor, "reference", patient_id=pid, assessment_id=assessment_id,
                        detail=reference_detail(*ref) if ref[0] else "removed")
        return self.get_assessment(assessment_id)

    def get_assessment(self, assessment_id: int) -> AssessmentRecord:
        with self._read() as conn:
            row = conn.execute(select_records().where(
                ASSESSMENTS.c.id == assessment_id)).first()
        if row is None:
            raise no_assessment(assessment_id)
        return record_from_row(row)

    def list_assessments(self, patient_id: int) -> list[AssessmentRecord]:
        """A patient's assessments, oldest first (``patient_not_found`` if no such patient)."""
        self.get_patient(patient_id)
        with self._read() as conn:
            rows = conn.execute(select_records().where(
                ASSESSMENTS.c.patient_id == patient_id).order_by(
                ASSESSMENTS.c.taken_at, ASSESSMENTS.c.id)).all()
        return [record_from_row(r) for r in rows]

    def photo(self, assessment_id: int) -> bytes | None:
        """The consented JPEG of an assessment, or None when none was stored."""
        with self._read() as conn:
            row = conn.execute(sa.select(ASSESSMENTS.c.photo_jpeg).where(
                ASSESSMENTS.c.id == assessment_id)).first()
        if row is None:
            raise no_assessment(assessment_id)
        return None if row[0] is None else bytes(row[0])

    def delete_assessment(self, assessment_id: int, *, actor: str | None = None) -> None:
        """Delete one assessment (its number is never given to another one)."""
        with self._write() as conn:
            pid = conn.execute(sa.select(ASSESSMENTS.c.patient_id).where(
                ASSESSMENTS.c.id == assessment_id)).scalar()
            if pid is None:
                raise no_assessment(assessment_id)
            conn.execute(sa.delete(ASSESSMENTS).where(ASSESSMENTS.c.id == assessment_id))
            self._audit(conn, actor, "delete", patient_id=pid, assessment_id=assessment_id,
                        detail="assessment")


def _refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(f"the database has schema version {found}; this version of "
                         f"posture reads up to {SCHEMA_VERSION}. Upgrade posture.",
                         code="schema_too_new")


def open_store(location: str | os.PathLike | None = None) -> Store:
    """Open (creating or migrating) the store at ``location`` or the default place."""
    return Store(location)
