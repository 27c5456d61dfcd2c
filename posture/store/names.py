"""What makes two clinic user names the same account.

Names are compared by their NFKC case fold (Unicode's ``NFKC_Casefold``, UAX #15 / UTS #39
practice for identifiers): ``Lee``, ``LEE``, ``lee`` and the full-width ``Ｌｅｅ`` are one
account. Kept apart from :mod:`posture.store.accounts` because the schema migration that
adds ``users.name_key`` needs the same definition.
"""

from __future__ import annotations

import re
import unicodedata

#: A user name as shown (after NFKC): 2–64 ASCII letters, digits or ``. _ @ -``, starting
#: with a letter or digit. Matched with ``fullmatch``: ``$`` would accept ``"lee\\n"``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")


def display_name(name: str) -> str:
    """The name as stored and shown: its NFKC form (full-width letters become ASCII)."""
    return unicodedata.normalize("NFKC", name)


def name_key(name: str) -> str:
    """The key two names must share to be one account (NFKC, case folded, NFKC again)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def valid_name(name: object) -> bool:
    """Whether ``name`` (as typed) is an acceptable new user name."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(display_name(name)) is not None
