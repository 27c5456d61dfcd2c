"""WebRTC configuration for the live page.

Default: no ICE servers at all. Browser and server then connect over their host addresses,
which works on the same machine and on a LAN, and nothing is sent to an outside STUN server.
For remote use set ``POSTURE_ICE_SERVERS`` (environment) or ``ice_servers`` (Streamlit
secrets) to a JSON list in the RTCIceServer form, e.g.
``[{"urls": ["stun:stun.example.org:3478"]}, {"urls": "turn:turn.example.org",
"username": "u", "credential": "p"}]``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("posture_app")
ENV_VAR = "POSTURE_ICE_SERVERS"


def _valid(servers: Any) -> list[dict]:
    if not isinstance(servers, list):
        raise ValueError("must be a JSON list of ice servers")
    out = []
    for s in servers:
        if not isinstance(s, Mapping) or "urls" not in s:
            raise ValueError(f"each ice server needs 'urls': {s!r}")
        out.append(dict(s))
    return out


def ice_servers(env: Mapping[str, str] | None = None, secrets: Mapping | None = None) -> list:
    """The ICE server list: env var first, then secrets, else none (localhost/LAN only).

    A malformed setting is logged and ignored (the app keeps working on a LAN).
    """
    env = os.environ if env is None else env
    raw: Any = env.get(ENV_VAR, "").strip() or None
    where = ENV_VAR
    if raw is None and secrets is not None:
        try:
            raw, where = secrets.get("ice_servers"), "secrets ice_servers"
        except Exception:  # no secrets.toml at all
            raw = None
    if raw is None:
        return []
    try:
        return _valid(json.loads(raw) if isinstance(raw, str) else list(raw))
    except (ValueError, TypeError) as exc:
        log.warning("ignoring %s: %s", where, exc)
        return []


def rtc_configuration(env: Mapping[str, str] | None = None,
                      secrets: Mapping | None = None) -> dict:
    return {"iceServers": ice_servers(env, secrets)}
