"""Live check: webcam video analysed on the server, guidance until in position, then a
hands-free capture (count-down, a few seconds combined into one result) shown beside the
video."""

from __future__ import annotations

import time

import streamlit as st

from posture_app.analyzers import analyze_bytes, live_spare, model_path
from posture_app.live import CAPTURE_SECONDS, capture_result
from posture_app.live_stream import live_markdown, processor_factory
from posture_app.results import (
    change_since_note,
    scroll_into_view,
    show_results,
    verdict_card,
)
from posture_app.rtc import rtc_configuration
from posture_app.state import set_current
from posture_app.timer import timer_camera
from posture_app.ui import capture_tips, privacy_note

st.title("🎥 Live check")
if st.session_state.pop("photo_retake", False):  # "Retake" on the plan page
    st.session_state.pop("live_result", None)

try:
    from streamlit_webrtc import WebRtcMode, webrtc_streamer
except ImportError:  # the app still works with snapshots
    webrtc_streamer = None

MODES = ["Live video", "Snapshots"]
mode = st.radio(
    "Camera mode", MODES if webrtc_streamer else MODES[1:], horizontal=True,
    key="live_mode",
    help="Live video streams your camera to this app's server. If it does not connect "
         "(some networks block it), use snapshots: single pictures from the camera.",
)
capture_tips(expanded=False)


@st.cache_resource
def _processor_class(path: str):
    # one class for the server's lifetime: the component compares factories between reruns
    return processor_factory(path)


def _finish_capture(session) -> bool:
    taken = session.take_capture()
    if taken is None:
        return False
    agg, overlay = capture_result(taken)
    if "live_result" in st.session_state:  # compared with the new one (change_since_note)
        st.session_state["live_previous"] = st.session_state["live_result"][0]
    st.session_state["live_result"] = (agg, overlay)
    st.session_state["live_n"] = st.session_state.get("live_n", 0) + 1
    if overlay is not None:
        set_current(agg, overlay, "live")
    return True


def _retake_live() -> None:
    st.session_state.pop("live_result", None)


def _retake_snapshot() -> None:
    st.session_state["snapshot_nonce"] = st.session_state.get("snapshot_nonce", 0) + 1


if mode == "Live video" and webrtc_streamer is not None:
    secrets = st.secrets if st.secrets.load_if_toml_exists() else None
    video_col, side_col = st.columns([3, 2], gap="large")
    with video_col:
        ctx = webrtc_streamer(
            key="posture-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc_configuration(secrets=secrets),
            # upper limits only: an "ideal" 960x720 made the browser crop a portrait camera
            # (720x960 -> 720x720, 1080x1920 -> 960x720) and cut the person's head and feet
            # off; limits keep the whole frame, scaled down (the server works at 640 px)
            media_stream_constraints={"video": {"width": {"max": 1280},
                                                "height": {"max": 1280}},
                                      "audio": False},
            video_processor_factory=_processor_class(model_path()),
            async_processing=True,
            video_html_attrs={"autoPlay": True, "controls": False, "muted": True,
                              "style": {"width": "100%"}},
        )
        st.caption("Press **START** and allow the camera. The picture you see comes back "
                   "from the server with the analysis drawn on it.")
    with side_col:
        st.markdown("#### Position")
        status_box = st.empty()
        progress_box = st.empty()
        playing = ctx.state.playing
        if not playing:  # load the pose model now, not on the first frame after START
            live_spare.warm(model_path())
        proc = ctx.video_processor
        ready_now = bool(proc is not None and proc.session.status.ready)
        # hands-free by default; the button is for someone helping, and only in position
        if st.button(f"🧍 Hold still — capture {CAPTURE_SECONDS:.0f} s now",
                     disabled=not (playing and ready_now), key="live_capture",
                     width="stretch", help="Starts the capture without the count-down."):
            if proc is not None:
                proc.session.start_capture(CAPTURE_SECONDS)
        if "live_result" in st.session_state:
            # the answer beside the video, where the person looks
            verdict_card(st.session_state["live_result"][0], key="live-side",
                         retake=_retake_live)
            since = change_since_note(st.session_state.get("live_previous") or {},
                                      st.session_state["live_result"][0])
            if since:
                st.info(since, icon="↔️")
            scroll_into_view(".st-key-verdict-live-side",
                             f"live-{st.session_state.get('live_n', 0)}")
            if st.button("🔁 Check again", key="live_again", width="stretch") and \
                    proc is not None:
                proc.session.check_again()
        if not playing:
            status_box.info("Press **START** under the video to turn the camera on. If it "
                            "keeps spinning, your network blocks live video: choose "
                            "**Snapshots** above.", icon="▶️")
    results_area = st.container()
    with results_area:
        if "live_result" in st.session_state:
            st.divider()
            st.markdown("### Details of your capture")
            agg, overlay = st.session_state["live_result"]
            show_results(agg, overlay, key="live", retake=_retake_live, card=False)
    privacy_note()
    # Connecting: if it takes long, the network probably blocks WebRTC; offer snapshots.
    waited = 0.0
    while ctx.state.signalling and not ctx.state.playing:
        if waited > 12:
            status_box.warning("The live video is not connecting. Your network may block it: "
                               "choose **Snapshots** above to use single pictures instead.",
                               icon="⚠️")
            break
        time.sleep(0.5)
        waited += 0.5
    # Keep the position and capture progress current while the stream plays; a click or
    # STOP reruns the page, which ends this loop.
    while ctx.state.playing:
        proc = ctx.video_processor
        if proc is not None:
            session = proc.session
            status = session.status
            status_box.markdown(live_markdown(status, proc.analysis.flow(), time.monotonic()))
            last = st.session_state.get("_live_rerun_at", 0.0)
            if status.ready != ready_now and status.phase in ("waiting", "settling") and \
                    time.monotonic() - last > 2.0:  # not on every flicker of the view gate
                st.session_state["_live_rerun_at"] = time.monotonic()
                st.rerun()  # enable or disable the manual button with the position
            p = session.capture_progress()
            if p is not None:
                progress_box.progress(p, text="Hold still… combining a few seconds of frames")
                if _finish_capture(session):
                    st.rerun()
        time.sleep(0.25)
else:
    st.markdown("Take a snapshot with your camera, standing side-on (or facing it, for the "
                "side-to-side measures), head to feet in view.")
    # the whole camera frame (Streamlit's camera widget crops a phone's upright picture)
    shot = timer_camera(key=f"live_snapshot_{st.session_state.get('snapshot_nonce', 0)}")
    if shot is not None:
        with st.spinner("Analysing…"):
            res = analyze_bytes(shot[0], "camera snapshot")
        if res.overlay is not None:
            set_current(res.result, res.overlay, "camera")
        st.divider()
        show_results(res.result, res.overlay, key="snapshot", retake=_retake_snapshot)
        scroll_into_view(".st-key-result-panel-snapshot", res.digest)
    privacy_note()
