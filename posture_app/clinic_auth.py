"""Who may open the Clinic page: the store, the login gate, the safe-by-default rule.

* With accounts in the store, everyone logs in first; nothing of a patient is shown before.
* Without accounts, the page opens only when Streamlit listens on a loopback address (one
  computer, one user: the ``local`` user, who is an admin); on any other address it
  refuses and says how to add an account.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import streamlit as st

from posture.errors import PostureError
from posture.store import StoreError, accounts, default_location, open_store

TOKEN = "clinic_token"
ADD_USER = "posture users add NAME --role admin"
LOCAL = "local"  # the viewer's name without accounts (loopback only)


@dataclass(frozen=True)
class Viewer:
    """Who is using the page (the audit trail's actor)."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@st.cache_resource(show_spinner=False)
def _get_store(location: str):
    return open_store(location)


def get_store():
    """The clinic store of ``$POSTURE_DB`` (or the default), or a clear error and stop."""
    try:
        return _get_store(default_location())
    except PostureError as err:
        st.error(f"The clinic database cannot be opened: {err.message} (code: {err.code})")
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


def gate(s) -> Viewer:
    """The logged-in viewer; otherwise the login form (or the refusal) and ``st.stop()``."""
    try:
        any_user = accounts.has_users(s)
    except StoreError as err:
        st.error(f"{err.message} (code: {err.code})")
        st.stop()
    if not any_user:
        if loopback_only(st.get_option("server.address")):
            st.caption("No accounts yet: anyone at this computer can open these records. "
                       f"Add one with `{ADD_USER}`; then everyone logs in.")
            return Viewer(LOCAL, "admin")
        st.error("This server is reachable from other computers and has no user accounts, "
                 "so the clinic records stay closed. On the server, add an account with\n\n"
                 f"`{ADD_USER}`\n\nthen reload this page and log in (and serve the app "
                 "behind TLS: see the README).", icon="🔒")
        st.stop()
    token = st.session_state.get(TOKEN)
    try:  # extends the session: a write, which a full or read-only database refuses
        user = accounts.session_user(s, token)
    except StoreError as err:
        st.error(f"{err.message} (code: {err.code})")
        st.stop()
    if user is not None:
        with st.sidebar:
            st.caption(f"Logged in as **{user.name}** ({user.role})")
            if st.button("Log out", key="clinic_logout"):
                accounts.logout(s, token)
                st.session_state.clear()
                st.rerun()
        return Viewer(user.name, user.role)
    if token:
        st.session_state.pop(TOKEN, None)
        st.info("Your session has ended: please log in again.", icon="⏱️")
    _login_form(s)
    st.stop()


def _login_form(s) -> None:
    st.markdown("Log in to see the clinic's records.")
    with st.form("clinic_login"):
        name = st.text_input("User name", max_chars=64)
        password = st.text_input("Password", type="password", max_chars=256)
        if st.form_submit_button("Log in", type="primary"):
            try:
                st.session_state[TOKEN] = accounts.login(s, name.strip(), password)
            except StoreError as err:
                st.error(f"{err.message} (code: {err.code})")
            else:
                st.rerun()
