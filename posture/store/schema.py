"""Tables of the clinic store at the current schema version (what queries use).

The database gets these tables from the Alembic revisions in
``posture/store/migrations/versions`` (:mod:`posture.store.upgrade` runs them): a fresh
database runs every revision from the first, exactly the path an old database takes, and a
test (``tests/test_store_migrations.py``) checks that the revisions build exactly these
tables. A change of the schema is a new revision plus the change here, and
:data:`SCHEMA_VERSION` goes up by one.

History (one revision each, ``0001`` … ``0005``)
-------------------------------------------------
1. patients; assessments with the contract JSON, landmarks, denormalised metrics,
   optional consented photo, model versions and notes.
2. assessments gain ``thomas_test`` (the modified Thomas test answer) and
   ``corrections_json`` (the key points the clinician moved, kept apart from the landmarks
   so a reader can tell a corrected landmark from a detected one).
3. ``id_counters``: the last id handed out per table, so a deleted patient's or
   assessment's number is never given to a new record (SQLite without AUTOINCREMENT reuses
   the highest rowid after a delete); ``users`` and ``sessions`` (accounts); ``audit``, an
   append-only trail of who viewed, created, corrected, exported or deleted which record
   (triggers refuse UPDATE and DELETE on it).
4. Tamper evidence and account names: ``audit`` gains ``prev_hash`` and ``row_hash`` (a
   SHA-256 hash chain, :mod:`posture.store.chain`; rows written before version 4 are
   covered by one ``chain_start`` row that the migration appends); triggers also refuse
   ``TRUNCATE`` (PostgreSQL) and ``INSERT OR REPLACE`` (SQLite) on it. ``users`` gains
   ``name_key`` (the case-folded NFKC name, unique: ``Lee`` and ``lee`` are one account)
   and ``last_failed_at``; ``login_misses`` counts failed logins of names that are no
   account, so an unknown name answers exactly like a real one.
5. A reference reading per assessment: ``assessments`` gains ``reference_instrument`` (an
   id of ``posture/data/palpation.yaml``'s instruments) and ``reference_deg`` (its pelvic
   tilt, degrees, + = anterior); both null when none was entered.
"""

from __future__ import annotations

import sqlalchemy as sa

#: The schema version these tables have (the number of the newest revision).
SCHEMA_VERSION = 5

METADATA = sa.MetaData()

#: One row per version a database went through (kept so that a posture from before the
#: Alembic revisions still refuses a database newer than itself).
VERSIONS = sa.Table(
    "schema_version", METADATA,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

PATIENTS = sa.Table(
    "patients", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200)),
    sa.Column("birth_year", sa.Integer),
    sa.Column("sex", sa.String(16)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

ASSESSMENTS = sa.Table(
    "assessments", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer,
              sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("photo_consent", sa.Boolean, nullable=False, default=False),
    sa.Column("photo_jpeg", sa.LargeBinary),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("landmarks_json", sa.Text),
    # denormalised for queries and exports; the contract JSON stays the source of truth
    sa.Column("pelvic_tilt_deg", sa.Float),
    sa.Column("pelvic_tilt_lo_deg", sa.Float),
    sa.Column("pelvic_tilt_hi_deg", sa.Float),
    sa.Column("lumbar_lordosis_deg", sa.Float),
    sa.Column("head_neck_angle_deg", sa.Float),
    sa.Column("trunk_lean_deg", sa.Float),
    sa.Column("knee_angle_deg", sa.Float),
    sa.Column("severity", sa.String(16)),
    sa.Column("abstained", sa.Boolean, nullable=False),
    sa.Column("pose_model", sa.String(64)),
    sa.Column("estimator_version", sa.String(64)),
    sa.Column("notes", sa.Text, nullable=False, default=""),
    # a photo without consent must be impossible, not merely unlikely
    sa.CheckConstraint("photo_jpeg IS NULL OR photo_consent", name="photo_needs_consent"),
    sa.Column("thomas_test", sa.String(8)),
    sa.Column("corrections_json", sa.Text),
    sa.Column("reference_instrument", sa.String(32)),
    sa.Column("reference_deg", sa.Float),
)

COUNTERS = sa.Table(
    "id_counters", METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_id", sa.Integer, nullable=False),
)

USERS = sa.Table(
    "users", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.CheckConstraint("role IN ('clinician', 'admin')", name="user_role"),
    sa.Column("name_key", sa.String(64)),
    sa.Column("last_failed_at", sa.DateTime(timezone=True)),
    sa.Index("users_folded_name", "name_key", unique=True),
)

SESSIONS = sa.Table(
    "sessions", METADATA,
    # only a hash of the token: a copy of the database does not log anyone in
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

AUDIT = sa.Table(
    "audit", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    # no foreign keys: the trail outlives the records it names
    sa.Column("patient_id", sa.Integer, index=True),
    sa.Column("assessment_id", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("row_hash", sa.String(64)),
)

LOGIN_MISSES = sa.Table(
    "login_misses", METADATA,
    # a hash of the case-folded name typed: no typed text (a password typed in the name
    # box) is kept, and the key has a fixed size
    sa.Column("name_key", sa.String(64), primary_key=True),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("last_failed_at", sa.DateTime(timezone=True), index=True),
)

#: Every table by name.
TABLES: dict[str, sa.Table] = dict(METADATA.tables)
