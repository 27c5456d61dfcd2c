"""The capture matrix's photo-upload cells (issue 22) in headless Chromium.

Real captures that used to break the Photo check: a photo with the feet cut off (the
overlay crashed on the hidden foot points and Streamlit showed its raw exception page), a
photo cut at the waist and a tiny picture (both said only "No person was found"). Each must
give a measured result with its overlay, or guidance that says what to change; never an
exception page. The library and CLI cells are in tests/test_capture_matrix.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from .harness import ROOT, open_page, settle

pytestmark = pytest.mark.browser

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
PHOTO_PANEL = ".st-key-result-panel-photo"
BASE = ROOT / "samples" / "s2024_000023.jpg"


def _save(tmp_path, name: str, im: Image.Image) -> str:
    p = tmp_path / name
    im.convert("RGB").save(p, quality=92)
    return str(p)


def _main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def _no_exception_page(page) -> None:
    text = _main_text(page)
    assert "Traceback" not in text and "Exception" not in text and "ValueError" not in text, \
        text[:2000]
    exc = page.get_by_test_id("stException")
    assert exc.count() == 0, exc.first.inner_text()[:3000]


def test_feet_cut_photo_is_measured_with_its_overlay(page, app_url, tmp_path):
    im = Image.open(BASE)
    cut = _save(tmp_path, "feet_cut.jpg", im.crop((0, 0, im.width, int(im.height * 0.75))))
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, cut)
    panel = page.locator(PHOTO_PANEL)
    panel.wait_for(timeout=120_000)
    panel.get_by_test_id("stImage").wait_for(timeout=60_000)
    settle(page)
    _no_exception_page(page)
    value = panel.locator(".st-key-verdict-photo .pv-value").inner_text().strip()
    assert value.endswith("°"), value


@pytest.mark.parametrize("kind,says", [("waist", "knees"), ("tiny", "larger photo")])
def test_retake_cells_say_what_to_change(kind, says, page, app_url, tmp_path):
    im = Image.open(BASE)
    if kind == "waist":
        pic = im.crop((0, 0, im.width, int(im.height * 0.5)))
    else:
        pic = im.resize((48, 85))
    path = _save(tmp_path, f"{kind}.jpg", pic)
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, path)
    page.get_by_text(says, exact=False).first.wait_for(timeout=120_000)
    settle(page)
    _no_exception_page(page)
    assert "No person was found in the picture. Make sure" not in _main_text(page)


def test_dim_photo_gives_a_result_or_guidance(page, app_url, tmp_path):
    a = np.asarray(Image.open(BASE).convert("RGB")).astype(np.float32) * 0.25
    a += np.random.default_rng(0).normal(0, 3.0, a.shape)
    path = _save(tmp_path, "dim.jpg", Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)))
    open_page(page, app_url, "Photo check")
    page.set_input_files(UPLOAD, path)
    page.locator(f"{PHOTO_PANEL}, [data-testid='stAlert']").first.wait_for(timeout=120_000)
    settle(page)
    _no_exception_page(page)
