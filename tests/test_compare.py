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
                              + timedelta(days=30 * i), thomas_test="yes",
                              # a meter reading at the first visit (issue 25.3)
                              reference=("palpation_meter", 26.0) if i == 0 else None)
        recs = s.list_assessments(p.id)
    data = build_progress_report(p, recs, recs[0], recs[-1])
    pdf = PdfReader(io.BytesIO(data))
    text = "\n".join(pg.extract_text() for pg in pdf.pages)
    flat = " ".join(text.split())
    for want in ("Posture progress report", "PR-1", "Before and after", "Change",
                 "Pelvic tilt over time", "Exercise plan", "-13.0",
                 "2026-01-05", "2026-03-06"):
        assert want in text, want
    # issue 25.5: the retake MDC (5.7°) and words a patient understands, not the intervals
    for want in ("likely a real change", "±5.7°", "retaken photo", "MDC95"):
        assert want in flat, want
    # issue 25.2/25.3: which number is shown and why; the later visit calibrated to the
    # first visit's meter reading (+13: 9 + (26 − 22))
    for want in ("palpation-equivalent", "postural tilt", "SD 5°", "after: +13.0°",
                 "calibrated to the clinic's meter"):
        assert want in flat, want
    images = sum(len(pg.images) for pg in pdf.pages[:1])
    assert images >= 2


# -- legibility (issue 22 items 12 and 13) ---------------------------------------------

def _luminance(rgb) -> float:
    c = np.asarray(rgb, float) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_grid_percentages_are_legible_on_any_background():
    from posture.present.compare import INK

    for shade in (0, 140, 255):  # a dark, a mid-grey and a white photo
        img, b = align(np.full((900, 700, 3), shade, np.uint8), result())
        out = annotate(img, b, "x")
        y = int(round(b.ankle[1] - 0.5 * b.stature_px)) - 3  # the "50%" label's baseline
        box = out[y - 14:y + 2, 0:44].reshape(-1, 3).astype(int)
        ink = np.all(np.abs(box - INK) < 40, axis=1).sum()
        white = np.all(box > 245, axis=1).sum()
        assert ink > 20 and white > 100, (shade, ink, white)
    assert _contrast(INK, (255, 255, 255)) >= 4.5


def test_tilt_is_written_in_the_header_not_on_the_picture():
    from posture.present.compare import TILT_INK, header_height

    img, b = align(np.full((900, 700, 3), 200, np.uint8), result(tilt=15.0))
    out = annotate(img, b, "2026-01-05  #3")
    top = header_height(out)
    assert np.all(out[:top, :, :] >= 0)  # shape check
    assert _contrast(TILT_INK, (255, 255, 255)) >= 4.5
    red = np.all(np.abs(out.astype(int) - TILT_INK) < 40, axis=2)
    assert red[:top].sum() > 50 and red[top:].sum() == 0
    # below the band, everything red is the pelvis line and its end dots
    pelvis = np.all(np.abs(out.astype(int) - PELVIS_COLOUR) < 60, axis=2)
    ys, xs = np.nonzero(pelvis[top:])
    p, a = pelvis_ends(b)
    q = np.stack([xs, ys + top], 1) - p
    d = np.abs((a - p)[0] * q[:, 1] - (a - p)[1] * q[:, 0]) / np.linalg.norm(a - p)
    assert len(d) > 50 and d.max() < 10


def test_blend_of_bare_pictures_has_one_readable_header():
    from posture.present.compare import header_height, with_header

    bare = [annotated(None, result(tilt=t), header=False) for t in (20.0, 5.0)]
    assert np.array_equal(bare[0][:5], align(None, result(tilt=20.0))[0][:5])  # no band
    out = with_header(blend(*bare, 0.5), "blend 0.50")
    assert np.all(out[2, :, :] == 255)  # the band is white, not two labels mixed
    assert out.shape == bare[0].shape and header_height(out) == 60


def test_point_labels_never_overlap():
    from posture.present.compare import label_boxes, mark_points

    rng = np.random.default_rng(1)
    for _ in range(50):
        pts = {n: tuple(rng.uniform(0, 60, 2) + 150) for n in
               ("asis", "psis", "hip", "knee", "ankle")}
        boxes = label_boxes((400, 420, 3), pts)
        assert set(boxes) == set(pts)
        for i, a in enumerate(boxes.values()):
            assert 0 <= a[0] and a[2] <= 420 and 0 <= a[1] and a[3] <= 400
            for b in list(boxes.values())[i + 1:]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    img = mark_points(np.zeros((400, 420, 3), np.uint8), pts)
    for x0, y0, x1, y1 in boxes.values():  # each label is drawn in its own box
        assert (img[y0:y1, x0:x1] == 255).all(axis=2).sum() > 20


def test_progress_pdf_names_the_method_beside_every_value(tmp_path):
    from pypdf import PdfReader

    from posture.present.progress_pdf import build_progress_report

    def tilt_measure(t, method, iv):
        return [{"name": "pelvic_tilt", "value": t, "unit": "deg", "interval": iv,
                 "coverage": 0.9 if iv else None, "method": method}]

    placed = {**result(tilt=24.0), "abstained": False, "measurements": tilt_measure(
        24.0, "clinician-placed ASIS and PSIS (uncertainty not estimated)", None)}
    est = {**result(tilt=14.0), "abstained": False, "pelvic_tilt_interval_deg": [10.0, 18.0],
           "measurements": tilt_measure(14.0, "learned: outline regression", [10.0, 18.0])}
    with open_store(tmp_path / "c.db") as s:
        p = s.add_patient("PM-1")
        s.save_assessment(p.id, placed, taken_at=datetime(2026, 1, 5, tzinfo=UTC),
                          corrections={"asis": (1.0, 2.0), "psis": (3.0, 4.0)})
        s.save_assessment(p.id, est, taken_at=datetime(2026, 2, 5, tzinfo=UTC))
        recs = s.list_assessments(p.id)
    text = " ".join(" ".join(pg.extract_text() for pg in PdfReader(io.BytesIO(
        build_progress_report(p, recs, recs[0], recs[1]))).pages).split())
    assert "tilt +24.0° (clinician-placed)" in text and "tilt +14.0° (estimated)" in text
    assert "+24.0° clinician-placed" in text and "+14.0° estimated" in text
    assert "Measured differently: Pelvic tilt: clinician-placed before, estimated after" \
        in text
