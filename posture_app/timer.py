"""A camera for the photo check with a self-timer, as a small Streamlit component.

Streamlit's own camera widget takes a 16:9 still of the width on screen, which on a phone
held upright squashes or crops a standing person (found at 390 px: a 358×201 picture in
which no body could be found). This component sends the camera's whole frame instead, and
has the 5/10-second self-timer the person needs when the phone is propped up 2–3 m away:
the count-down is shown big, beeped (Web Audio) and spoken (speech synthesis).

The component is a plain HTML file (``camera/index.html``) speaking Streamlit's component
messages; no build step. The picture travels only to this app's server, like an upload.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import streamlit.components.v1 as components

_camera = components.declare_component("posture_camera",
                                       path=str(Path(__file__).with_name("camera")))


def timer_camera(*, key: str) -> tuple[bytes, str] | None:
    """The camera with shutter and self-timer; returns ``(jpeg_bytes, id)`` of the latest
    photo (``id`` changes with each photo), or None before the first one."""
    return decode(_camera(key=key, default=None))


def decode(value) -> tuple[bytes, str] | None:
    """The component's value (also in ``st.session_state[key]``) as ``(jpeg_bytes, id)``."""
    if not isinstance(value, dict) or not isinstance(value.get("jpeg"), str):
        return None
    try:
        data = base64.b64decode(value["jpeg"], validate=True)
    except (binascii.Error, ValueError):
        return None
    return data, str(value.get("taken", ""))
