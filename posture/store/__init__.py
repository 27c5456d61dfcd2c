"""The clinic store: patients, saved assessments, history and comparison.

Typical use::

    from posture.store import open_store, compare
    with open_store() as store:                       # $POSTURE_DB or the user data dir
        p = store.add_patient("P-0042", birth_year=1980, sex="female")
        rec = store.save_assessment(p.id, assessment_to_dict(a), thomas_test="yes")
        history = store.list_assessments(p.id)
        print(compare(history[0], history[-1]).change("pelvic_tilt"))
"""

from . import accounts
from .connection import ENV_VAR, db_error, default_location, make_engine, to_url
from .db import Store, open_store
from .history import (
    MDC_DEG,
    METRICS,
    Comparison,
    MetricChange,
    TrendPoint,
    compare,
    metric_value,
    trend,
    trend_rows,
)
from .records import SEXES, THOMAS_ANSWERS, AssessmentRecord, Patient, StoreError
from .rows import encode_jpeg, new_pseudonym
from .schema import SCHEMA_VERSION

__all__ = [
    "ENV_VAR", "MDC_DEG", "METRICS", "SCHEMA_VERSION", "SEXES", "THOMAS_ANSWERS",
    "AssessmentRecord", "accounts", "db_error",
    "Comparison", "MetricChange", "Patient", "Store", "StoreError",
    "TrendPoint", "compare", "default_location", "encode_jpeg", "make_engine", "metric_value",
    "new_pseudonym", "open_store", "to_url", "trend", "trend_rows",
]
