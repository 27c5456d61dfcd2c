"""Bad uploads through the Photo check page in headless Chromium (fixtures in conftest).

Items of the bad-input corpus (tools/make_bad_corpus.py) are uploaded one after another in one
session: each must give the page's error message with its code, quickly (a stalled decoder
would hold the session), and no traceback; then a good photo must still be analysed.
(A text file named .jpg is tests/browser/test_app.py's case.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from .harness import ROOT, open_page, shot

pytestmark = pytest.mark.browser

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
PHOTO_PANEL = ".st-key-result-panel-photo"
# corpus item -> the code the page must show
BAD = {
    "truncated.jpg": "corrupt_image",
    "bomb.png": "image_too_large",  # 2.6 MB file, 2.7 GB of pixels
    "many_scans.jpg": "corrupt_image",  # ~50 s of decoding before the scan limit
    "empty.jpg": "empty_file",
}


@pytest.fixture(scope="module")
def corpus_items(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_bad_corpus",
                                                  ROOT / "tools" / "make_bad_corpus.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path_factory.mktemp("corpus")
    tool.build(out, render=False)  # the front/back renders are not needed here
    return out / "items"


def no_traceback(page) -> None:
    text = page.get_by_test_id("stMain").inner_text()
    assert "Traceback" not in text and "Exception" not in text, text[:2000]


def test_bad_uploads_give_coded_messages_then_a_photo_works(page, app_url, photo,
                                                            corpus_items):
    open_page(page, app_url, "Photo check")
    for name, code in BAD.items():
        page.set_input_files(UPLOAD, str(corpus_items / name))
        alert = page.get_by_test_id("stAlertContentError").filter(has_text=code)
        # generous: a loaded 2-core machine is slow, a hang is not; that the loader refuses
        # these without decoding is bounded by memory in tests/test_corpus.py
        alert.wait_for(timeout=120_000)
        message = alert.inner_text()
        assert "could not analyse this picture" in message, (name, message)
        assert f"Error code: {code}" in " ".join(message.split()), (name, message)
        assert page.locator(PHOTO_PANEL).count() == 0, name
        no_traceback(page)
        shot(page, f"bad_upload_{Path(name).stem}")
    # the session goes on working: a real photo replaces the last bad file
    page.set_input_files(UPLOAD, str(photo))
    page.locator(PHOTO_PANEL).wait_for(timeout=90_000)
    # the panel streams in: wait for its last finding before reading its text
    page.locator(PHOTO_PANEL).locator(".st-key-finding-head_neck_angle_deg").wait_for()
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert "Head position" in page.locator(PHOTO_PANEL).inner_text()
    no_traceback(page)
