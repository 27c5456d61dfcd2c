"""Between the store's records and its table rows: the checks a new record must pass, the
row it is stored as, and the record a row reads back as."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..errors import InputError
from ..result import Reading
from .chain import from_db_time
from .records import SEXES, THOMAS_ANSWERS, AssessmentRecord, Patient, StoreError
from .schema import ASSESSMENTS

#: Largest photo stored (bytes): a phone JPEG is 2–8 MB; more is a mistake, not a photo.
MAX_PHOTO_BYTES = 25 * 1024 * 1024


def utc(dt: datetime | None) -> datetime:
    """``dt`` in UTC (a naive one taken as UTC); now when None."""
    if dt is None:
        return datetime.now(UTC)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _plain_json(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _dump(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_plain_json)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not valid JSON: {exc}", code="invalid_record") from exc


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond 1e308
        return None
    return f if math.isfinite(f) else None


def _check_corrections(corr: Mapping[str, Any] | None) -> dict[str, list[float]]:
    from ..analysis import CORRECTABLE

    out: dict[str, list[float]] = {}
    for name, p in (corr or {}).items():
        if name not in CORRECTABLE:
            raise StoreError(f"cannot record a correction of {name!r}; correctable: "
                             f"{', '.join(CORRECTABLE)}", code="invalid_record")
        xy = [_num(v) for v in p] if isinstance(p, list | tuple) else []
        if len(xy) != 2 or None in xy:
            raise StoreError(f"correction of {name} must be two finite pixel coordinates",
                             code="invalid_record")
        out[name] = xy
    return out


def check_reference(instrument: Any, value: Any) -> tuple[str, float]:
    """A valid (instrument id, degrees) pair, or ``invalid_record``."""
    from ..palpation import check_reference_deg, instruments

    if not isinstance(instrument, str) or instrument not in instruments():
        raise StoreError(f"reference instrument must be one of {sorted(instruments())}",
                         code="invalid_record")
    try:
        return instrument, round(check_reference_deg(value), 2)
    except InputError as err:
        raise StoreError(err.message, code="invalid_record") from None


def reference_detail(instrument: str, value: float) -> str:
    return f"reference reading: {instrument} {value:+.1f}°"


def _check_result_fields(result: dict[str, Any]) -> Reading:
    """The typed reading of a result (:func:`posture.contract.from_dict`): a
    field without its contract type is ``invalid_record`` (not an IndexError or a driver
    error mid-insert)."""
    from ..contract import from_dict

    try:
        return from_dict(result)
    except InputError as exc:
        raise StoreError(exc.message.replace("analysis result:", "result:", 1),
                         code="invalid_record") from exc


def check_patient_fields(name, birth_year, sex) -> None:
    """Refuse (``invalid_record``) a patient's name, birth year or sex of the wrong
    kind."""
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise StoreError("name must be text of at most 200 characters", code="invalid_record")
    if birth_year is not None:
        this_year = datetime.now(UTC).year
        if isinstance(birth_year, bool) or not isinstance(birth_year, int) or not (
                1900 <= birth_year <= this_year):
            raise StoreError(f"birth year must be a year between 1900 and {this_year}",
                             code="invalid_record")
    if sex is not None and sex not in SEXES:
        raise StoreError(f"sex must be one of {', '.join(SEXES)} or empty",
                         code="invalid_record")


def new_pseudonym() -> str:
    """A fresh random pseudonym such as ``P-7KQ2MX`` (no personal information in it)."""
    import secrets

    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(6))


def encode_jpeg(rgb, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 array (for saving a consented photo)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise StoreError("could not encode the photo as JPEG", code="invalid_record")
    return buf.tobytes()


def assessment_row(patient_id: int, result: Mapping[str, Any], *,
                   taken_at: datetime | None, photo_jpeg: bytes | None, photo_consent: bool,
                   corrections: Mapping[str, Any] | None, thomas_test: str | None,
                   notes: str, reference: tuple[str, float] | None) -> dict[str, Any]:
    """The ``assessments`` row of a new assessment (see :meth:`Store.save_assessment` for
    the arguments), or a coded :class:`StoreError` for the first field that is wrong."""
    from ..contract import to_dict
    from ..result import Assessment

    if isinstance(result, Assessment | Reading):  # typed: stored as its contract dict
        result = to_dict(result)
    if not isinstance(result, Mapping) or "ok" not in result:
        raise StoreError("result must be an Assessment, a Reading or an analysis "
                         "contract dict", code="invalid_record")
    if photo_jpeg is not None:
        if not photo_consent:
            raise StoreError("a photo is stored only with the patient's consent",
                             code="photo_without_consent")
        if not isinstance(photo_jpeg, bytes | bytearray) or not photo_jpeg.startswith(
                b"\xff\xd8\xff"):
            raise StoreError("the photo must be JPEG bytes", code="photo_not_jpeg")
        if len(photo_jpeg) > MAX_PHOTO_BYTES:
            raise StoreError("the photo is larger than 25 MB", code="invalid_record")
    if thomas_test not in (*THOMAS_ANSWERS, None):
        raise StoreError(f"thomas_test must be one of {THOMAS_ANSWERS} or None",
                         code="invalid_record")
    if not isinstance(notes, str):
        raise StoreError("notes must be text", code="invalid_record")
    corr = _check_corrections(corrections)
    ref = check_reference(*reference) if reference is not None else (None, None)
    text = _dump(dict(result), "result")
    result = json.loads(text)  # what we return is exactly what a reader will get
    r = _check_result_fields(result)
    iv = r.pelvic_tilt_interval_deg or (None, None)
    return dict(
        patient_id=patient_id, taken_at=utc(taken_at), created_at=datetime.now(UTC),
        photo_consent=bool(photo_consent),
        photo_jpeg=bytes(photo_jpeg) if photo_jpeg is not None else None,
        result_json=text,
        landmarks_json=_dump(None if r.landmarks_px is None
                             else [list(p) for p in r.landmarks_px], "landmarks"),
        pelvic_tilt_deg=_num(r.pelvic_tilt_deg),
        pelvic_tilt_lo_deg=_num(iv[0]), pelvic_tilt_hi_deg=_num(iv[1]),
        lumbar_lordosis_deg=_num(r.lumbar_lordosis_deg),
        head_neck_angle_deg=_num(r.head_neck_angle_deg),
        trunk_lean_deg=_num(r.trunk_lean_deg),
        knee_angle_deg=_num(r.knee_angle_deg),
        # a stored result without the key is taken as an abstention (never graded)
        severity=r.severity, abstained=r.abstained if "abstained" in result else True,
        pose_model=r.pose_variant or None,
        estimator_version=r.estimator_version,
        notes=notes, thomas_test=thomas_test,
        corrections_json=_dump(corr, "corrections") if corr else None,
        reference_instrument=ref[0], reference_deg=ref[1],
    )


def patient_from_row(row) -> Patient:
    m = row._mapping
    return Patient(id=int(m["id"]), pseudonym=m["pseudonym"], name=m["name"],
                   birth_year=m["birth_year"], sex=m["sex"],
                   created_at=from_db_time(m["created_at"]))


def select_records() -> sa.Select:
    # every column but the photo: listing a history must not pull megabytes of JPEG
    c = ASSESSMENTS.c
    cols = [col for col in ASSESSMENTS.c if col.name != "photo_jpeg"]
    return sa.select(*cols, c.photo_jpeg.is_not(None).label("has_photo"))


def no_assessment(assessment_id: int) -> StoreError:
    return StoreError(f"no assessment with id {assessment_id}", code="assessment_not_found")


def record_from_row(row) -> AssessmentRecord:
    m = row._mapping
    corr = json.loads(m["corrections_json"]) if m["corrections_json"] else {}
    return AssessmentRecord(
        id=int(m["id"]), patient_id=int(m["patient_id"]),
        taken_at=from_db_time(m["taken_at"]), created_at=from_db_time(m["created_at"]),
        result=json.loads(m["result_json"]),
        corrections={k: (float(v[0]), float(v[1])) for k, v in corr.items()},
        thomas_test=m["thomas_test"], notes=m["notes"] or "",
        pose_model=m["pose_model"], estimator_version=m["estimator_version"],
        photo_consent=bool(m["photo_consent"]), has_photo=bool(m["has_photo"]),
        reference_instrument=m["reference_instrument"],
        reference_deg=None if m["reference_deg"] is None else float(m["reference_deg"]),
    )

