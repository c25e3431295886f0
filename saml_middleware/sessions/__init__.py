"""Login sessions: the signed cookie codec (:mod:`.cookies`), cookie sessions
(:mod:`.cookie`) and server-side sessions (:mod:`.server`), behind one small
:class:`SessionManager` Protocol so callers never branch on the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..user import SAMLUser
from .cookie import CookieSessionManager, Session
from .server import ServerSessionManager

__all__ = ["CookieSessionManager", "ServerSessionManager", "Session", "SessionManager"]


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
