"""The capture matrix (issue 22): the commonest real captures through every CLI surface.

Each kind of capture is made from a committed sample render (always present) and, where the
owners' photos are beside the checkout, from a real photo. Every cell must end in a measured
result with its overlay written, or in a specific retake message that says what to change:
never an internal error, never a generic "no person" when the fix is known.

The app's cells (photo upload, self-timer, live check) are in ``tests/browser``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, SHARED_PHOTOS, require_or_skip
from PIL import Image

from posture.present.overlay import draw_overlay

ROOT = Path(__file__).resolve().parents[1]
BASE = SAMPLES / "s2024_000023.jpg"  # a whole-body render in portrait, 540 x 960


def _crop_bottom(im: Image.Image, keep: float) -> Image.Image:
    return im.crop((0, 0, im.width, int(im.height * keep)))


def _landscape(im: Image.Image) -> Image.Image:
    """The portrait render centred on a landscape canvas of the same background."""
    a = np.asarray(im.convert("RGB"))
    w = int(a.shape[0] * 4 / 3)
    pad = (w - a.shape[1]) // 2
    edge = np.median(a[:, :8].reshape(-1, 3), axis=0).astype(np.uint8)
    canvas = np.broadcast_to(edge, (a.shape[0], w, 3)).copy()
    canvas[:, pad:pad + a.shape[1]] = a
    return Image.fromarray(canvas)


def _dim(im: Image.Image) -> Image.Image:
    """A dim room: a quarter of the light, with sensor noise."""
    a = np.asarray(im.convert("RGB")).astype(np.float32) * 0.25
    a += np.random.default_rng(0).normal(0, 3.0, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _two_people(im: Image.Image, other: Image.Image) -> Image.Image:
    a, b = np.asarray(im.convert("RGB")), np.asarray(other.convert("RGB").resize(im.size))
    return Image.fromarray(np.concatenate([a, b], axis=1))


#: kind → (how it is made from the base image, what must come out). ``measured`` cells
#: must give a tilt and an overlay; the others abstain or are refused with a reason family
#: (or error code) and retake guidance containing the words that say what to change.
KINDS = {
    "whole_portrait": (lambda im: im, {"measured": True}),
    "whole_landscape": (_landscape, {"measured": True}),
    "feet_cut_at_shins": (lambda im: _crop_bottom(im, 0.85), {"measured": True}),
    "cut_at_knees": (lambda im: _crop_bottom(im, 0.75), {"measured": True, "partial": True}),
    "cut_at_waist": (lambda im: _crop_bottom(im, 0.5),
                     {"codes": {"body_cut_off", "no_person"}, "says": "knees"}),
    "head_cut": (lambda im: im.crop((0, int(im.height * 0.27), im.width, im.height)),
                 {"codes": {"body_cut_off"}, "says": "head"}),
    "tiny": (lambda im: im.resize((48, 85)),
             {"codes": {"image_too_small", "person_too_small"}, "says": "larger photo"}),
    "dim_room": (_dim, {"measured_or_guided": True}),
    "second_person": (lambda im: _two_people(im, Image.open(SAMPLES / "s2024_000025.jpg")),
                      {"codes": {"several_people"}, "says": "only person"}),
}


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("captures")
    base = Image.open(BASE)
    for kind, (make, _) in KINDS.items():
        make(base).convert("RGB").save(d / f"{kind}.jpg", quality=92)
    return d


def _families(d: dict) -> set[str]:
    codes = {r.split(":", 1)[0] for r in d.get("abstain_reasons") or ()}
    if d.get("error"):
        codes.add(d["error"]["code"])
    return codes


def _guidance(d: dict) -> str:
    text = " ".join(d.get("retake_guidance") or ())
    if d.get("error"):
        text += " " + d["error"]["message"]
    return text.lower()


def check_cell(kind: str, d: dict, overlay: Path | None) -> None:
    expect = KINDS[kind][1]
    assert (d.get("error") or {}).get("code") != "internal_error", (kind, d.get("error"))
    if expect.get("measured"):
        assert d["ok"] and d["pelvic_tilt_deg"] is not None, (kind, d.get("abstain_reasons"))
        if expect.get("partial"):
            assert d["view"]["partial"], kind
        if overlay is not None:
            assert overlay.is_file() and overlay.stat().st_size > 0, kind
            with Image.open(overlay) as im:
                assert im.size == Image.open(Path(d["source"])).size
        return
    if expect.get("measured_or_guided"):
        assert d["pelvic_tilt_deg"] is not None or _guidance(d).strip(), kind
        return
    assert _families(d) & expect["codes"], (kind, _families(d))
    assert expect["says"] in _guidance(d), (kind, _guidance(d))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posture.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_library_cell(kind, captures, analyzer):
    """The library's answer for each capture, and its overlay drawn without error."""
    from posture.contract import assessment_to_dict, error_to_dict
    from posture.errors import PostureError
    from posture.images import load_image

    path = captures / f"{kind}.jpg"
    try:
        a = analyzer.analyze(path)
    except PostureError as err:
        check_cell(kind, error_to_dict(err, source=str(path)), None)
        return
    rgb = load_image(path).rgb
    img = draw_overlay(rgb, a)  # never raises, partial views included
    assert img.shape == rgb.shape
    check_cell(kind, assessment_to_dict(a, source=str(path)), None)


@pytest.mark.parametrize("kind", ["feet_cut_at_shins", "cut_at_knees", "cut_at_waist", "tiny"])
def test_cli_analyze_annotate_cell(kind, captures, tmp_path):
    path = captures / f"{kind}.jpg"
    out = tmp_path / "overlay.png"
    proc = _cli("analyze", str(path), "--annotate", str(out), "--json")
    assert "Traceback" not in proc.stderr and "internal" not in proc.stderr, proc.stderr
    d = json.loads(proc.stdout)
    measured = KINDS[kind][1].get("measured")
    check_cell(kind, d, out if measured else None)
    assert proc.returncode in ((0,) if measured else (0, 2, 3)), (proc.returncode, proc.stderr)


def test_batch_annotate_matrix(captures, tmp_path):
    """One batch over every capture kind: a row each, overlays for the measured ones."""
    out, ann = tmp_path / "rows.csv", tmp_path / "overlays"
    proc = _cli("batch", str(captures), "--out", str(out), "--annotate", str(ann),
                "--workers", "1")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = {Path(r["file"]).stem: r for r in csv.DictReader(f)}
    assert set(rows) == set(KINDS)
    for kind, row in rows.items():
        assert row.get("error_code") != "internal_error", (kind, row)
        if KINDS[kind][1].get("measured"):
            assert row["pelvic_tilt_deg"] not in ("", None), (kind, row)
            assert list(ann.glob(f"{kind}*")), f"no overlay for {kind}"


@pytest.mark.parametrize("keep", [0.88, 0.8])
def test_real_feet_cut_photos_get_an_overlay(keep, shared_photos, analyzer, tmp_path):
    """Real photos cut at the shins and at 80% of their height: measured (or abstained with
    guidance), and the overlay is drawn; the bug was a NaN foot point in the overlay."""
    from posture.errors import PostureError

    require_or_skip(SHARED_PHOTOS.is_dir(), "../shared/photos is absent")
    drawn = 0
    for p in sorted(shared_photos.glob("real_*.jpg")):
        im = Image.open(p)
        cut = tmp_path / p.name
        _crop_bottom(im, keep).convert("RGB").save(cut, quality=92)
        try:
            a = analyzer.analyze(cut)
        except PostureError as err:
            assert err.code != "internal_error"
            continue
        from posture.images import load_image

        rgb = load_image(cut).rgb
        draw_overlay(rgb, a)
        drawn += 1
        if a.abstained:
            assert a.guidance, p.name
    assert drawn >= 6


@pytest.mark.parametrize("kind", ["feet_cut_at_shins", "cut_at_knees"])
def test_clinic_picture_and_pdf_cells(kind, captures, analyzer):
    """The clinic's surfaces for a partial view: the correction picture (placed points drawn
    through the same overlay) and the PDF report with landmarks drawn."""
    from posture.analysis import reassess
    from posture.contract import reading
    from posture.correction import drawable, key_points
    from posture.images import load_image
    from posture.present.pdf_plan import plan_or_error
    from posture.present.report_pdf import build_report

    path = captures / f"{kind}.jpg"
    frame = load_image(path)
    a = analyzer.analyze(frame)
    assert not a.abstained
    draw_overlay(frame.rgb, drawable(a, {}))
    pts = key_points(a)
    moved = reassess(a, {"asis": (pts["asis"][0], pts["asis"][1] + 3.0),
                         "psis": pts["psis"]})
    draw_overlay(frame.rgb, drawable(moved, {"asis": pts["asis"], "psis": pts["psis"]}))
    r = reading(a, source=str(path))
    pdf = build_report(r, photo=frame.rgb, draw_landmarks=True, plan=plan_or_error(r, None))
    assert pdf.startswith(b"%PDF")
