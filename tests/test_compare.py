"""Before/after drawing (posture.present.compare) and the progress PDF."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from posture.present.compare import (
    PELVIS_COLOUR,
    PLUMB_COLOUR,
    align,
    annotate,
    annotated,
    blend,
    body,
    pelvis_ends,
)
from posture.store import open_store

EAR, HIP, ANKLE = (7, 8), (23, 24), (27, 28)


def result(scale=1.0, dx=0.0, dy=0.0, tilt=12.0, facing="left") -> dict:
    """A person 500 px tall (ear 450 px above the ankle) drawn at scale, shifted."""
    lm = [[300.0, 400.0, 0.9] for _ in range(33)]
    for i in EAR:
        lm[i] = [310.0, 150.0, 0.9]
    for i in HIP:
        lm[i] = [300.0, 350.0, 0.9]
    for i in ANKLE:
        lm[i] = [305.0, 600.0, 0.9]
    lm = [[x * scale + dx, y * scale + dy, v] for x, y, v in lm]
    return {"ok": True, "landmarks_px": lm, "pelvic_tilt_deg": tilt, "facing": facing}


def photo(scale=1.0, dx=0.0, dy=0.0) -> np.ndarray:
    h, w = int(800 * scale + abs(dy)) + 10, int(700 * scale + abs(dx)) + 10
    img = np.full((h, w, 3), 200, np.uint8)
    x, y = int(305 * scale + dx), int(600 * scale + dy)
    img[y - 3:y + 3, x - 3:x + 3] = (0, 0, 255)  # a blue dot on the ankle
    return img


def test_two_framings_of_one_body_align_at_the_ankle_and_stature():
    a_img, a = align(photo(), result())
    b_img, b = align(photo(1.7, 90, -40), result(1.7, 90, -40))
    assert a.ankle == pytest.approx(b.ankle, abs=1e-6)
    assert a.stature_px == pytest.approx(b.stature_px, rel=1e-6)
    for img, ref in ((a_img, a), (b_img, b)):  # the photo moved with the landmarks
        x, y = (int(round(v)) for v in ref.ankle)
        assert img[y, x, 2] > 150 and img[y, x, 0] < 100


def test_pelvis_line_has_the_recorded_angle_and_anterior_tilt_drops_the_asis_in_front():
    for facing, fwd in (("left", -1), ("right", 1)):
        psis, asis = pelvis_ends(body(result(tilt=15.0, facing=facing)))
        assert (asis[0] - psis[0]) * fwd > 0  # ASIS in front
        assert asis[1] > psis[1]  # lower (y down)
        angle = math.degrees(math.atan2(asis[1] - psis[1], abs(asis[0] - psis[0])))
        assert angle == pytest.approx(15.0, abs=1e-6)
    assert pelvis_ends(body(result(tilt=None))) is None


def test_annotation_draws_plumb_line_and_pelvis_line():
    img, b = align(photo(), result())
    out = annotate(img, b)
    x = int(round(b.ankle[0]))
    column = out[:, x - 2:x + 3]
    plumb = np.all(np.abs(column.astype(int) - PLUMB_COLOUR) < 40, axis=2).any(axis=1)
    assert plumb.sum() > 0.8 * b.stature_px
    assert np.all(np.abs(out.astype(int) - PELVIS_COLOUR) < 30, axis=2).sum() > 50
    assert not np.array_equal(img, out) and np.array_equal(img, align(photo(), result())[0])


def test_record_without_photo_or_landmarks_still_draws():
    assert annotated(None, result()).shape == (900, 600, 3)
    assert annotated(None, {"ok": True}).shape == (900, 600, 3)


def test_blend_ends_are_the_pictures():
    a, b = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)
    assert np.array_equal(blend(a, b, 0.0), a) and np.array_equal(blend(a, b, 1.0), b)
    assert blend(a, b, 0.5)[0, 0, 0] == 100


def test_progress_pdf_has_pictures_changes_chart_and_plan(tmp_path):
    from pypdf import PdfReader

    from posture.present.progress_pdf import build_progress_report

    with open_store(tmp_path / "c.db") as s:
        p = s.add_patient("PR-1", name="Ana Example")
        for i, tilt in enumerate((22.0, 18.0, 9.0)):
            r = {**result(tilt=tilt), "pelvic_tilt_interval_deg": [tilt - 3, tilt + 3],
                 "abstained": False, "severity": "moderate"}
            s.save_assessment(p.id, r, taken_at=datetime(2026, 1, 5, tzinfo=UTC)
                              + timedelta(days=30 * i), thomas_test="yes")
        recs = s.list_assessments(p.id)
    data = build_progress_report(p, recs, recs[0], recs[-1])
    pdf = PdfReader(io.BytesIO(data))
    text = "\n".join(pg.extract_text() for pg in pdf.pages)
    for want in ("Posture progress report", "PR-1", "Before and after", "Change",
                 "Pelvic tilt over time", "Exercise plan", "-13.0", "beyond uncertainty",
                 "2026-01-05", "2026-03-06"):
        assert want in text, want
    images = sum(len(pg.images) for pg in pdf.pages[:1])
    assert images >= 2
