"""Login sessions: the signed cookie codec (:mod:`.cookies`), cookie sessions
(:mod:`.cookie`) and server-side sessions (:mod:`.server`), behind one small
:class:`SessionManager` Protocol so callers never branch on the kind.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Protocol

from ..config import Settings
from ..stores import SessionStore
from ..user import SAMLUser
from .cookie import CookieSessionManager
from .cookies import CookieCodec
from .overflow import STORED_MARK, needs_store, overflow_policy
from .server import ServerSessionManager
from .session import Session

__all__ = [
    "CookieSessionManager",
    "ServerSessionManager",
    "Session",
    "SessionManager",
    "needs_store",
    "session_manager",
]


class SessionManager(Protocol):
    """What the gate needs from a session kind (``SAML_SESSION_STORE``).

    :attr:`blocking` is ``True`` when reading a session may wait on the store
    (server sessions): the ASGI adapter then reads it off the event loop, and
    :meth:`end_matching` reaches sessions held by other browsers.
    """

    name: str
    blocking: bool

    def create(self, user: SAMLUser) -> tuple[Session, str]:
        """A new session for ``user`` and its ``Set-Cookie`` value."""
        ...

    def load_header(self, header: str | bytes | None) -> tuple[Session, str | None] | None:
        """The live session in a ``Cookie`` header, and a refreshed ``Set-Cookie`` if due."""
        ...

    def load(self, value: str | None) -> tuple[Session, str | None] | None:
        """The live session in a session cookie's value, and a refreshed ``Set-Cookie`` if due."""
        ...

    def end(self, session: Session) -> None:
        """End ``session`` (logout)."""
        ...

    def end_matching(self, name_id: str, accept: Callable[[SAMLUser], bool]) -> int:
        """End the sessions indexed under ``name_id`` that ``accept`` picks; how many ended."""
        ...

    def clear_header(self) -> str:
        """``Set-Cookie`` that deletes the session cookie."""
        ...

    def cached_entries(self) -> int:
        """Verified cookies remembered in memory."""
        ...

    def forget_cached(self) -> None:
        """Drop the remembered cookies."""
        ...


def session_manager(
    settings: Settings,
    codec: CookieCodec,
    store: SessionStore | None,
    *,
    clock: Callable[[], float],
    token: Callable[[int], str] = secrets.token_urlsafe,
) -> CookieSessionManager:
    """The session kind ``settings`` ask for (``SAML_SESSION_STORE``, ``SAML_SESSION_OVERFLOW``).

    :param store: the session store; needed when :func:`needs_store` says so (server
        sessions, or cookie sessions that overflow into the store), else unused.
    """
    if store is not None and settings.session_store == "server":
        return ServerSessionManager(settings, codec, store, clock=clock, token=token)
    stored = None
    if store is not None and overflow_policy(settings) == "server":
        stored = ServerSessionManager(settings, codec, store, clock=clock, token=token, marker=STORED_MARK)
    return CookieSessionManager(settings, codec, clock=clock, token=token, stored=stored)
