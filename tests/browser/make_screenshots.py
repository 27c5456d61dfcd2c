"""Make the screenshots in docs/ (photo results, live check, exercise plan) from the running
app in headless Chromium, with a synthetic sample as the person::

    .venv/bin/python -m tests.browser.make_screenshots [--out docs]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from .harness import (
    ARTIFACTS,
    FAKE_CAMERA_ARGS,
    ROOT,
    launch_chromium,
    open_page,
    running_app,
    sample_photo,
    shot,
)
from .make_clip import clip_from_image

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--photo", type=Path, default=None, help="default: the first good sample")
    args = ap.parse_args()
    photo = args.photo or sample_photo()
    if photo is None:
        raise SystemExit("no sample picture (samples/*.jpg)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw, \
            running_app(ARTIFACTS / "streamlit-screenshots.log") as url:
        clip = clip_from_image(photo, Path(tmp) / "clip.y4m")
        browser = launch_chromium(
            pw, [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={clip}"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)

        open_page(page, url, "Photo check")
        page.set_input_files(UPLOAD, str(photo))
        page.locator(".st-key-result-panel-photo").wait_for()
        page.wait_for_timeout(1500)
        shot(page, "app_photo", args.out)

        open_page(page, None, "Exercise plan")  # same session: the plan of that photo
        yes = page.get_by_text(re.compile("^Yes: a thigh"))
        if yes.count():
            yes.click()
            page.wait_for_timeout(1500)
        page.wait_for_timeout(1500)
        shot(page, "app_plan", args.out)

        open_page(page, url, "Live check")
        frame = page.frame_locator("iframe[title*='webrtc']").first
        frame.get_by_role("button", name=re.compile("start", re.I)).click()
        page.get_by_text("Side-on and whole").first.wait_for()
        page.get_by_role("button", name=re.compile("Hold still")).click()
        page.locator(".st-key-result-panel-live").wait_for()
        page.wait_for_timeout(2500)
        shot(page, "app_live", args.out)
        browser.close()
    for name in ("app_photo", "app_live", "app_plan"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
