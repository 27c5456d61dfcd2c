"""Make the screenshots in docs/ from the running app in headless Chromium, with a synthetic
sample as the person (and the fake camera showing it)::

    .venv/bin/python -m tests.browser.make_screenshots [--out docs]

Desktop (1400 px): app_photo, app_plan, app_live (hands-free capture, result beside the
video). Phone (390×844, what the person sees on screen, without scrolling unless said):
app_phone_upload (scrolled down to the uploader), app_phone_verdict (right after the
upload), app_phone_red_flags, app_phone_plan (after "None of these apply"),
app_phone_red_flag_yes, app_phone_self_timer, app_phone_self_timer_result,
app_phone_live_countdown, app_phone_live_result.
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
    answer_red_flags,
    launch_chromium,
    open_page,
    running_app,
    sample_photo,
    shot,
)
from .make_clip import clip_from_image

UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
PHONE = {"width": 390, "height": 844}


def start_live(page, url: str) -> None:
    page.goto(f"{url}/Live_check")
    frame = page.frame_locator("iframe[title*='webrtc']").first
    frame.get_by_role("button", name=re.compile("start", re.I)).click()


def desktop(browser, url: str, photo: Path, out: Path) -> list[Path]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    open_page(page, url, "Photo check")
    page.set_input_files(UPLOAD, str(photo))
    page.locator(".st-key-result-panel-photo .st-key-finding-knee_angle_deg").wait_for()
    page.wait_for_timeout(1500)
    paths = [shot(page, "app_photo", out)]
    open_page(page, None, "Exercise plan")  # same session: the plan of that photo
    answer_red_flags(page, "No")
    page.locator(".st-key-plan-item-1").wait_for()
    page.get_by_text(re.compile("^Yes: a thigh")).click()
    page.wait_for_timeout(2000)
    paths.append(shot(page, "app_plan", out))
    start_live(page, url)
    page.locator(".st-key-verdict-live-side").wait_for()  # no click: hands-free
    page.wait_for_timeout(2500)
    page.locator(".st-key-verdict-live-side").scroll_into_view_if_needed()
    page.screenshot(path=str(out / "app_live.png"))
    paths.append(out / "app_live.png")
    page.close()
    return paths


def phone(browser, url: str, photo: Path, out: Path) -> list[Path]:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(90_000)
    paths = []

    def snap(name: str) -> None:
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / f"{name}.png"))
        paths.append(out / f"{name}.png")

    page.goto(f"{url}/Photo_check")
    page.get_by_test_id("stFileUploaderDropzone").first.scroll_into_view_if_needed()
    snap("app_phone_upload")  # the person scrolled down to the uploader
    page.set_input_files(UPLOAD, str(photo))
    page.locator(".st-key-verdict-photo").get_by_role("button").first.wait_for()
    page.wait_for_timeout(2500)  # the page brings the verdict to the top by itself
    snap("app_phone_verdict")
    page.locator(".st-key-verdict-photo").get_by_role("button").first.click()
    page.locator(".st-key-red-flags").get_by_test_id("stRadio").first.wait_for()
    page.get_by_text(re.compile("Before your plan")).scroll_into_view_if_needed()
    snap("app_phone_red_flags")
    page.get_by_role("button", name=re.compile("None of these apply")).click()
    page.locator(".st-key-plan-item-1").wait_for()
    page.locator(".st-key-plan-head").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.evaluate("() => document.querySelector('.st-key-plan-head').scrollIntoView("
                  "{block:'start'})")
    snap("app_phone_plan")
    page.get_by_text(re.compile("Safety questions")).first.click()
    page.locator(".st-key-red-flags").get_by_test_id("stRadio").filter(has_text="cancer") \
        .get_by_text("Yes", exact=True).click()
    page.locator(".st-key-see-clinician").wait_for()
    page.locator(".st-key-see-clinician").scroll_into_view_if_needed()
    snap("app_phone_red_flag_yes")

    page.goto(f"{url}/Photo_check")
    page.get_by_test_id("stRadio").get_by_text("Take a photo").click()
    cam = page.frame_locator("iframe[title*='posture_camera']").first
    cam.locator("button.t:not([disabled])").first.wait_for()
    page.wait_for_timeout(1500)
    cam.get_by_role("button", name="⏱️ 10 s").click()
    page.wait_for_timeout(2300)
    snap("app_phone_self_timer")
    page.locator(".st-key-verdict-photo").get_by_role("button").first.wait_for()
    page.wait_for_timeout(2500)
    snap("app_phone_self_timer_result")

    start_live(page, url)
    page.frame_locator("iframe[title*='webrtc']").first.locator("video") \
        .scroll_into_view_if_needed()
    counting = page.get_by_text(re.compile("capture starts in"))
    for _ in range(600):  # the count-down lasts 3 s: poll for it
        if counting.count():
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "app_phone_live_countdown.png"))
    paths.append(out / "app_phone_live_countdown.png")
    page.locator(".st-key-verdict-live-side").wait_for()
    page.wait_for_timeout(2000)
    snap("app_phone_live_result")
    ctx.close()
    return paths


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
        paths = desktop(browser, url, photo, args.out) + phone(browser, url, photo, args.out)
        browser.close()
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
