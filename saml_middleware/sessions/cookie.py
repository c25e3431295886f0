"""The login session: a signed cookie with the user, its age and last activity."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from typing import TypeVar

from ..config import Settings
from ..user import SAMLUser
from .cookies import CookieCodec, cookie_header, cookie_value
from .overflow import MAX_COOKIE_BYTES, STORED_MARK, ClaimFilter, Overflow, overflow_policy
from .session import Session, session_from

__all__ = ["MAX_COOKIE_BYTES", "CookieSessionManager", "Session", "session_from", "trim_cache"]

logger = logging.getLogger("saml_middleware")
K = TypeVar("K")
V = TypeVar("V")


def trim_cache(cache: MutableMapping[K, V], size: int) -> None:
    """Drop the oldest entries of ``cache`` until at most ``size`` remain.

    Safe while other threads (threaded WSGI servers, ASGI worker threads) read,
    fill and trim the same cache: an entry another thread dropped first, or a
    cache changed mid-look, only means looking again.
    """
    while len(cache) > size:
        try:
            del cache[next(iter(cache))]
        except (KeyError, RuntimeError, StopIteration):
            continue


class CookieSessionManager:
    """Creates, reads and ends session cookies (``SAML_SESSION_STORE=cookie``).

    :param settings: cookie name and lifetimes come from here.
    :param codec: the signer.
    :param clock: epoch seconds.
    :param token: randomness, ``token(n)`` -> url-safe string of ``n`` bytes.
    :param stored: where a session that does not fit in a cookie goes with
        ``SAML_SESSION_OVERFLOW=server`` (a :class:`~saml_middleware.sessions.ServerSessionManager`
        whose cookie values start with ``~``); without it such a login is refused
        (see :mod:`~saml_middleware.sessions.overflow`).

    The per-request path is :meth:`load_header`: a dictionary hit for a
    ``Cookie`` header seen before, else the session cookie's value looked up
    the same way (other cookies in the header may change from request to
    request), else one HMAC and a JSON decode. Activity is written back to the
    cookie at most once a minute (or a quarter of the idle timeout).
    """

    #: verified cookies remembered (each of the two caches); a hit saves an
    #: HMAC + JSON decode, and each entry holds a user (~8 KB, shared by both)
    CACHE_SIZE = 1024
    #: reading a session never waits for I/O (see :class:`~saml_middleware.sessions.SessionManager`)
    blocking = False

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        *,
        clock: Callable[[], float],
        token: Callable[[int], str] = secrets.token_urlsafe,
        stored: CookieSessionManager | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.clock = clock
        self.token = token
        self.name = "__Host-saml_session" if settings.https else "saml_session"
        self.max_age = settings.session_max_age
        self.idle = settings.session_idle_timeout
        self.touch_every = min(60.0, self.idle / 4)
        #: SAML_SESSION_CLAIMS: the attributes a session keeps
        self.claims = ClaimFilter(settings)
        self.stored = stored
        self.fit = Overflow(overflow_policy(settings), stored)
        self._cache: OrderedDict[str, tuple[str, Session]] = OrderedDict()
        # whole Cookie headers (bytes from ASGI, str from WSGI) -> session
        self._headers: dict[str | bytes, tuple[str | bytes, tuple[Session, None], float]] = {}

    def create(self, user: SAMLUser) -> tuple[Session, str]:
        """A fresh session for ``user`` and its ``Set-Cookie`` header value.

        The user keeps the attributes ``SAML_SESSION_CLAIMS`` names (all when unset).
        Browsers silently drop cookies over 4 KB, which would send the user round the
        login loop forever: a session that does not fit goes where ``SAML_SESSION_OVERFLOW``
        says (:mod:`~saml_middleware.sessions.overflow`), never silently shrunk.

        :raises ResponseRejected: ``session_too_large`` when it is refused.
        """
        now = self.clock()
        session = Session(self.token(16), self.claims(user), now, now, self.token(16))
        header = self._header(session)
        if len(header) > MAX_COOKIE_BYTES:
            return self.fit(session, header, self._header)
        return session, header

    def load_header(self, header: str | bytes | None) -> tuple[Session, str | None] | None:
        """:meth:`load` for the session cookie in a whole ``Cookie`` header.

        :param header: the header as the server gave it: ``bytes`` (ASGI) or ``str`` (WSGI).

        A header seen before, whose session needs no activity refresh yet, costs
        one dictionary lookup, one comparison and one clock read: no decoding,
        no search for the cookie.
        """
        if not header:
            return None
        # Keyed by the tail: hashing 32 bytes is cheaper than the whole header;
        # the full header is compared before the entry is trusted.
        tail = header[-32:]
        cached = self._headers.get(tail)
        if cached is not None and cached[0] == header and self.clock() < cached[2]:
            return cached[1]
        value = self.value_in(header)
        if self.stored is not None and value and value[0] == STORED_MARK:
            return self.stored.load(value)  # overflowed into the store: read there every time
        session = self._verified(value)
        found = None if session is None else self._live(session)
        if found is None or found[1] is not None:
            # dead, or a refresh is due: nothing to remember for this header
            if cached is not None and cached[0] == header:
                self._headers.pop(tail, None)  # another thread may have dropped it already
            return found
        live = found[0]
        # until the refresh is due (always before the idle and age deadlines)
        fresh_until = min(live.seen + self.touch_every, live.issued + self.max_age)
        headers = self._headers
        headers[tail] = (header, (live, None), fresh_until)
        if len(headers) > self.CACHE_SIZE:
            trim_cache(headers, self.CACHE_SIZE)
        return found

    def value_in(self, header: str | bytes) -> str | None:
        """The session cookie's value in a ``Cookie`` header (``str`` or ``bytes``)."""
        return cookie_value(header if isinstance(header, str) else header.decode("latin-1"), self.name)

    def load(self, value: str | None) -> tuple[Session, str | None] | None:
        """The live session in cookie ``value`` and, when activity must be recorded,
        a refreshed ``Set-Cookie``; ``None`` when absent, forged, expired or idle."""
        if self.stored is not None and value and value[0] == STORED_MARK:
            return self.stored.load(value)
        session = self._verified(value)
        return None if session is None else self._live(session)

    def cached_entries(self) -> int:
        """How many verified cookies and headers are remembered (each cache holds at most
        :attr:`CACHE_SIZE`)."""
        return len(self._cache) + len(self._headers)

    def forget_cached(self) -> None:
        """Empty the caches of verified cookies (the next request pays the HMAC again)."""
        self._cache.clear()
        self._headers.clear()

    def _verified(self, value: str | None) -> Session | None:
        """The session signed into cookie ``value`` (cached), whatever its age."""
        if not value:
            return None
        # keyed by the tail (the HMAC), compared whole before it is trusted
        tail = value[-32:]
        cached = self._cache.get(tail)
        if cached is not None and cached[0] == value:
            return cached[1]
        session = self._decode(value)
        if session is not None:
            self._cache[tail] = (value, session)
            if len(self._cache) > self.CACHE_SIZE:
                trim_cache(self._cache, self.CACHE_SIZE)
        return session

    def _live(self, session: Session) -> tuple[Session, str | None] | None:
        """``session`` unless expired or idle, with a refreshed cookie when activity is due."""
        now = self.clock()
        if now >= session.issued + self.max_age or now >= session.seen + self.idle:
            return None
        if now - session.seen >= self.touch_every:
            session = Session(session.sid, session.user, session.issued, now, session.logout_token)
            return session, self._header(session)
        return session, None

    def end(self, session: Session) -> None:
        """Forget ``session`` (logout). A cookie session ends when the browser drops the cookie;
        one that overflowed into the store is deleted there."""
        if session.stored and self.stored is not None:
            self.stored.end(session)

    def end_matching(self, name_id: str, accept: Callable[[SAMLUser], bool]) -> int:
        """Sessions held by other browsers cannot be reached: a cookie session lives only there
        (those that overflowed into the store are ended there).

        :returns: how many stored sessions ended; the caller clears the cookie of the session
            it was shown.
        """
        return 0 if self.stored is None else self.stored.end_matching(name_id, accept)

    def clear_header(self) -> str:
        """``Set-Cookie`` that deletes the session cookie."""
        return cookie_header(self.name, "", max_age=0, secure=self.settings.https)

    def _header(self, session: Session) -> str:
        payload = {
            "i": session.sid,
            "u": session.user.to_dict(),
            "t": session.issued,
            "s": session.seen,
            "l": session.logout_token,
        }
        remaining = int(session.issued + self.max_age - self.clock())
        return cookie_header(
            self.name,
            self.codec.dump_session(payload),
            max_age=max(remaining, 0),
            secure=self.settings.https,
        )

    def _decode(self, value: str) -> Session | None:
        data = self.codec.load_session(value)
        return None if data is None else session_from(data)
