"""Server-side sessions: the cookie holds a signed random id, the session lives in the store.

Chosen by ``SAML_SESSION_STORE=server``. Unlike cookie sessions they can be
ended from anywhere (logout on one instance, ``saml-middleware sessions
revoke EMAIL``) and have no 4 KB limit on attributes. The price is one store
read per request.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable

from ..config import Settings
from ..stores import SessionStore
from ..user import SAMLUser
from .cookie import CookieSessionManager, trim_cache
from .cookies import CookieCodec, cookie_header
from .record import decode_record, encode_record
from .session import Session

__all__ = ["ServerSessionManager"]


class ServerSessionManager(CookieSessionManager):
    """A :class:`~saml_middleware.sessions.SessionManager` keeping sessions in a
    :class:`~saml_middleware.stores.SessionStore`.

    :param store: where the records live (Redis for several processes), in the format of
        :mod:`~saml_middleware.sessions.record` (each value once, compressed).
    :param marker: put before every cookie value (``"~"`` when this manager keeps the
        cookie sessions that overflowed, so the cookie manager tells them apart).

    Each record expires at the earlier of the max age and the idle deadline;
    activity pushes the idle deadline (written at most once a minute). Store
    errors propagate as :class:`~saml_middleware.errors.StoreUnavailable`:
    the caller answers 503 rather than treat the user as logged out.
    """

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        store: SessionStore,
        *,
        clock: Callable[[], float],
        token: Callable[[int], str] = secrets.token_urlsafe,
        marker: str = "",
    ) -> None:
        super().__init__(settings, codec, clock=clock, token=token)
        self.store = store
        self.marker = marker
        self._ids: OrderedDict[str, str] = OrderedDict()  # cookie value -> verified session id

    #: every read may wait on the store: the ASGI adapter reads sessions off the event loop
    blocking = True

    def create(self, user: SAMLUser) -> tuple[Session, str]:
        """With connections the session id starts with ``{connection}.``: store keys name it."""
        now = self.clock()
        sid = f"{user.connection}.{self.token(24)}" if user.connection else self.token(24)
        session = Session(sid, self.claims(user), now, now, self.token(16), stored=True)
        self._save(session, existing=False)
        header = cookie_header(
            self.name,
            self.marker + self.codec.dump_session_id(session.sid),
            max_age=self.max_age,
            secure=self.settings.https,
        )
        return session, header

    def load_header(self, header: str | bytes | None) -> tuple[Session, str | None] | None:
        # no header cache: the store is read on every request, so a revoked session ends at once
        return self.load(self.value_in(header)) if header else None

    def cached_entries(self) -> int:
        """How many verified session ids are remembered (at most :attr:`CACHE_SIZE`)."""
        return super().cached_entries() + len(self._ids)  # the cookie caches stay empty here

    def forget_cached(self) -> None:
        super().forget_cached()
        self._ids.clear()

    def load(self, value: str | None) -> tuple[Session, str | None] | None:
        if not value or not value.startswith(self.marker):
            return None
        sid = self._ids.get(value)
        if sid is None:
            sid = self.codec.load_session_id(value[len(self.marker) :])
            if sid is None:
                return None
            self._ids[value] = sid
            if len(self._ids) > self.CACHE_SIZE:
                trim_cache(self._ids, self.CACHE_SIZE)
        record = self.store.get(sid)
        session = decode_record(sid, record) if record is not None else None
        if session is None:
            return None
        now = self.clock()
        if now >= session.issued + self.max_age or now >= session.seen + self.idle:
            self.store.delete(sid, session.user.email)
            return None
        if now - session.seen >= self.touch_every:
            session = Session(sid, session.user, session.issued, now, session.logout_token, stored=True)
            if not self._save(session, existing=True):
                return None
        return session, None

    def end(self, session: Session) -> None:
        """Delete the session from the store: every instance sees it ended."""
        self.store.delete(session.sid, session.user.email)

    def end_matching(self, name_id: str, accept: Callable[[SAMLUser], bool]) -> int:
        """End every session indexed under ``name_id`` whose user ``accept`` picks (single logout).

        Sessions are indexed by e-mail, so this finds them when the NameID is
        the e-mail (Entra's default, ``user.mail`` or the UPN).
        """
        ended = 0
        for sid, record in self.store.sessions(name_id).items():
            session = decode_record(sid, record)
            if session is not None and accept(session.user):
                self.store.delete(sid, session.user.email)
                ended += 1
        return ended

    def _save(self, session: Session, *, existing: bool) -> bool:
        expires = min(session.issued + self.max_age, session.seen + self.idle)
        return self.store.put(
            session.sid, session.user.email, encode_record(session), expires, existing=existing
        )
