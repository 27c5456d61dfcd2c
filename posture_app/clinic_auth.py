"""Who may open the Clinic page: the store, the login gate, the safe-by-default rule.

* With accounts in the store, everyone logs in first; nothing of a patient is shown before.
  While the page is open, a timer checks the session (without extending it): once it has
  ended (idle, too old, logged out in another tab, account disabled) the page reruns and
  shows the login form instead of the records.
* Without accounts, the page opens only to a browser on this computer: Streamlit must
  listen on a loopback address, the connection must come from a loopback address and
  carry no proxy header (a reverse proxy on this computer would otherwise hand the local
  admin's page to the whole network). Anything else is refused with how to add an account.
* Every file a viewer takes away is made only when its button is clicked, after the
  session is checked again at that moment, and with its audit row (:func:`allowed_now`,
  used by ``clinic_views.gated_download``).
* Before login, database errors are shown without their details (host, port and database
  names are not for whoever opens the page); the details go to the server log.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from posture.errors import PostureError
from posture.store import StoreError, accounts, default_location, open_store

TOKEN = "clinic_token"
ADD_USER = "posture users add NAME --role admin"
LOCAL = "local"  # the viewer's name without accounts (loopback only)
#: Seconds between the checks of an open page's session (a read, which does not extend it).
WATCH_SECONDS = 15
#: Request headers that a reverse proxy adds (RFC 7239 ``Forwarded``, the de-facto
#: ``X-Forwarded-*`` and ``X-Real-IP`` of nginx, ``Via`` of RFC 9110): any of them means
#: the browser is not necessarily on this computer.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
                 "x-real-ip", "via", "x-client-ip", "true-client-ip", "cf-connecting-ip")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Viewer:
    """Who is using the page (the audit trail's actor) and their session token (None for
    the local user without accounts)."""

    name: str
    role: str
    token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@st.cache_resource(show_spinner=False)
def _get_store(location: str):
    return open_store(location)


def closed(err: PostureError) -> None:
    """A database error shown to someone not (yet) let in: the code, not the details."""
    log.error("clinic database error before login: %s (%s)", err.message, err.code)
    st.error("The clinic database cannot be used right now, so the clinic records stay "
             f"closed (code: {err.code}). The server's log has the details; please tell "
             "the administrator.", icon="🔒")


def get_store():
    """The clinic store of ``$POSTURE_DB`` (or the default), or a generic error and stop."""
    try:
        return _get_store(default_location())
    except PostureError as err:
        closed(err)
        st.stop()


def loopback_only(address: str | None) -> bool:
    """Whether a Streamlit ``server.address`` reaches this computer only (unset = all
    interfaces, which is not)."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def outside_reason(headers: Mapping[str, str], peer: str | None) -> str | None:
    """Why a request may come from another computer, or None when it comes straight from
    this one: a proxy header, or a peer address that is not loopback. ``peer`` is
    ``st.context.ip_address`` (None for a loopback connection)."""
    names = {str(k).lower() for k in headers}
    found = [h for h in PROXY_HEADERS if h in names]
    if found:
        return f"it came through a proxy ({found[0]} header)"
    if peer:
        try:
            local = ipaddress.ip_address(peer.split("%")[0].strip("[]")).is_loopback
        except ValueError:
            local = False
        if not local:
            return "it came from another computer"
    return None


def request_origin() -> tuple[Mapping[str, str], str | None]:
    """(headers, peer address) of the browser's connection (``st.context``)."""
    try:
        headers, peer = dict(st.context.headers), st.context.ip_address
    except Exception:  # no connection (a script run outside a server): nothing forwarded
        return {}, None
    return headers, peer if isinstance(peer, str) else None


def _local_viewer() -> Viewer:
    """The local admin, when this page may open without accounts; else a refusal and stop."""
    reason = None
    if not loopback_only(st.get_option("server.address")):
        reason = "this server is reachable from other computers"
    else:
        reason = outside_reason(*request_origin())
        if reason:
            reason = "this request did not come straight from this computer: " + reason
    if reason is None:
        st.caption("No accounts yet: anyone at this computer can open these records. "
                   f"Add one with `{ADD_USER}`; then everyone logs in.")
        return Viewer(LOCAL, "admin")
    st.error(f"The clinic records stay closed: {reason}, and there are no user accounts. "
             f"On the server, add an account with\n\n`{ADD_USER}`\n\nthen reload this page "
             "and log in (and serve the app behind TLS: see the README).", icon="🔒")
    st.stop()


def gate(s) -> Viewer:
    """The logged-in viewer; otherwise the login form (or the refusal) and ``st.stop()``."""
    try:
        any_user = accounts.has_users(s)
    except StoreError as err:
        closed(err)
        st.stop()
    if not any_user:
        return _local_viewer()
    token = st.session_state.get(TOKEN)
    try:  # extends the session: a write, which a full or read-only database refuses
        user = accounts.session_user(s, token)
    except StoreError as err:
        closed(err)
        st.stop()
    if user is not None:
        with st.sidebar:
            st.caption(f"Logged in as **{user.name}** ({user.role})")
            if st.button("Log out", key="clinic_logout",
                         help="Ends your session in every tab and browser"):
                log_out(s, token, user.name)
            _watch(s, token)
        return Viewer(user.name, user.role, token)
    if token:
        st.session_state.pop(TOKEN, None)
        st.info("Your session has ended: please log in again.", icon="⏱️")
    _login_form(s)
    st.stop()


def log_out(s, token: str, name: str) -> None:
    """End this session and every other one of the same account (other tabs of this
    browser hold sessions of their own), then show the login form."""
    try:
        accounts.logout(s, token)
        accounts.revoke_sessions(s, name, actor=name)
    except StoreError as err:
        closed(err)
    st.session_state.clear()
    st.rerun()


@st.fragment(run_every=WATCH_SECONDS)
def _watch(s, token: str) -> None:
    """Rerun the whole page once the session has ended, so that no record stays on screen
    (a read: it does not keep an idle session open)."""
    try:
        alive = accounts.session_alive(s, token)
    except StoreError:
        alive = False
    if not alive:
        st.rerun(scope="app")


def allowed_now(s, viewer: Viewer, *, admin: bool = False) -> Viewer | None:
    """``viewer`` if they may still take a file away at this moment (checked in the
    store, not in the page state); else None. Runs when a download is clicked, outside
    the script run."""
    try:
        if viewer.token is None:  # the local user: only while there are still no accounts
            return viewer if not accounts.has_users(s) else None
        user = accounts.session_user(s, viewer.token)
    except StoreError:
        return None
    if user is None or (admin and not user.is_admin):
        return None
    return Viewer(user.name, user.role, viewer.token)


def local_time(t: datetime) -> str:
    """``t`` in the viewer's time zone (the browser's, ``st.context.timezone``), as
    "14:05"; in UTC, said so, when the browser did not tell its zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(st.context.timezone) if st.context.timezone else None
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        tz = None
    if tz is None:
        return f"{t.astimezone(UTC):%H:%M} UTC"
    return f"{t.astimezone(tz):%H:%M}"


def login_message(res) -> str:
    """What a refused login tells the person (a :class:`accounts.LoginResult`): the
    attempts left before a lock-out, or how long the lock lasts, in their local time."""
    rules = accounts.rules()
    if res.code == "account_locked" and res.locked_until is not None:
        mins = max(1, round((res.locked_until - datetime.now(UTC)).total_seconds() / 60))
        return (f"Too many failed logins: this account is locked for {mins} more minute"
                f"{'s' if mins != 1 else ''} (until {local_time(res.locked_until)}). "
                "An administrator can unlock it sooner. (code: account_locked)")
    msg = "Wrong user name or password."
    left = res.attempts_left
    if 0 < left <= rules["warn_attempts_left"]:
        msg += (f" {left} attempt{'s' if left != 1 else ''} left: after that the account "
                f"locks for {rules['lockout_minutes']} minutes.")
    return f"{msg} (code: {res.code})"


def _login_form(s) -> None:
    st.markdown("Log in to see the clinic's records.")
    with st.form("clinic_login"):
        name = st.text_input("User name", max_chars=64)
        password = st.text_input("Password", type="password",
                                 max_chars=accounts.rules()["max_password_length"])
        if st.form_submit_button("Log in", type="primary"):
            try:
                res = accounts.attempt_login(s, name.strip(), password)
            except StoreError as err:
                closed(err)
                return
            if res.ok:
                st.session_state[TOKEN] = res.token
                st.rerun()
            st.error(login_message(res), icon="🔒")
