"""The verified session record shared by every session kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..user import SAMLUser

__all__ = ["Session", "session_from"]


@dataclass(frozen=True)
class Session:
    """A verified session.

    :param sid: random session id, new at every login (no fixation).
    :param issued: login time; the session ends ``SAML_SESSION_MAX_AGE`` after it.
    :param seen: last recorded activity; idle for ``SAML_SESSION_IDLE_TIMEOUT`` ends it.
    :param logout_token: proves a ``GET /saml/logout?token=`` came from this session's pages.
    :param stored: the session lives in the session store (server sessions, and cookie
        sessions that overflowed there), not in its cookie.
    """

    sid: str
    user: SAMLUser
    issued: float
    seen: float
    logout_token: str
    stored: bool = False


def session_from(data: Any, sid: str | None = None) -> Session | None:
    """The session in a decoded cookie payload, or in a store record when ``sid`` is given
    (server sessions keep the id outside the record); ``None`` when malformed."""
    try:
        return Session(
            str(data["i"]) if sid is None else sid,
            SAMLUser.from_dict(data["u"]),
            float(data["t"]),
            float(data["s"]),
            str(data["l"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
