"""Transport-neutral decisions: the one place the ASGI and WSGI adapters ask.

* :meth:`Gate.is_endpoint` - is this path one of ours (``/saml/...``, the ACS)?
* :meth:`Gate.authenticate` - the signed-in user in these cookies, if any (cheap);
  :meth:`Gate.session` - the same as a session, with the refreshed cookie to send.
* :meth:`Gate.challenge` - what an unauthenticated request gets (302 or 401).
* :meth:`Gate.handle_endpoint` - login (``login.py``), ACS, metadata, logout, probes.py, auth
  (nginx ``auth_request``, Traefik and Caddy forward auth: ``forward_auth.py``), ``jwks.json``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sized
from urllib.parse import quote

from ..config import Settings
from ..errors import StoreUnavailable
from ..http import HTTPRequest, HTTPResponse
from ..ops.configcheck import log_startup_warnings
from ..ops.metrics import Metrics
from ..ops.operations import Operations
from ..pages import page
from ..paths import is_public, safe_return_path
from ..protocol.metadata import IdPInfo
from ..protocol.sp import ServiceProvider
from ..sessions import Session, SessionManager, needs_store, session_manager
from ..sessions.cookies import CookieCodec
from ..stores import ReplayCache, SessionStore
from ..stores.open import open_missing
from ..user import SAMLUser
from ..users import UserDirectory, directory_from_setting
from .access_guard import AccessGuard
from .acs import AssertionConsumer, Resolver, run_here
from .forward_auth import ForwardAuth
from .identity_headers import IdentityHeaders
from .login import LoginStart, login_required
from .logout import SingleLogout
from .metadata_refresh import MetadataRefresher, fetch_metadata, load_idp
from .notconfigured import not_configured, unconfigured_routes
from .probes import Probes, StoreOutage
from .signout import SignOut
from .upstream_jwt import upstream_jwt

__all__ = ["Gate"]

logger = logging.getLogger("saml_middleware")


class Gate:
    """Everything the middleware decides, independent of ASGI or WSGI.

    :param settings: the configuration.
    :param idp: the IdP; loaded from settings when omitted.
    :param directory: the user directory; from ``SAML_USERS`` when omitted.
    :param replay: the replay cache; from ``SAML_STORE_URL`` when omitted.
    :param session_store: with ``SAML_SESSION_STORE=server``, where sessions live;
        from ``SAML_STORE_URL`` when omitted.
    :param clock: epoch seconds (tests freeze it).
    :param token: randomness: ``token(n)`` returns a url-safe string of n bytes.
    :param sessions, metrics, connection, fetch: with connections: shared parts, id, guarded fetch.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        idp: IdPInfo | None = None,
        directory: UserDirectory | None = None,
        replay: ReplayCache | None = None,
        session_store: SessionStore | None = None,
        clock: Callable[[], float] = time.time,
        token: Callable[[int], str] = secrets.token_urlsafe,
        sessions: SessionManager | None = None,
        metrics: Metrics | None = None,
        connection: str = "",
        fetch: Callable[[str], bytes] = fetch_metadata,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.token = token
        # `is None`, not `or`: an empty cache or directory may be falsy (it has __len__).
        loaded = idp if idp is not None else load_idp(settings, fetcher=fetch, connection=connection)
        #: ``False`` while no IdP is set: sign-in answers 503 ``sso_not_configured`` (notconfigured.py)
        self.configured = loaded.configured
        log_startup_warnings(settings, configured=self.configured)
        #: the store's readiness probe ({prefix}/ready)
        needed = sessions is None and needs_store(settings)
        replay, session_store, self.readiness = open_missing(
            settings, replay, session_store, sessions_needed=needed, clock=clock
        )
        self.replay = replay
        self.directory = (
            directory
            if directory is not None
            else directory_from_setting(
                settings.users, user_query=settings.user_query, user_id_attribute=settings.user_id_attribute
            )
        )
        self.sp = ServiceProvider(
            settings, loaded, self.replay, clock=clock, random_id=lambda: "_" + token(16)
        )
        # bound to this SP: another app's cookie is refused even under the same secret
        self.codec = CookieCodec(settings.secret_key, audience=settings.sp_entity_id)
        self.sessions: SessionManager = (
            sessions
            if sessions is not None
            else session_manager(
                settings,
                self.codec,
                session_store if needs_store(settings) else None,
                clock=clock,
                token=token,
            )
        )
        #: ``session`` does network I/O (server sessions): ASGI runs it off the event loop.
        self.authenticate_blocks = self.sessions.blocking
        #: in a ``Cookie`` header, the start of a cookie session that overflowed into the store:
        #: reading it does network I/O too (``None`` when sessions never overflow there)
        self.stored_marker = (
            f"{self.sessions.name}=~".encode() if getattr(self.sessions, "stored", None) else None
        )
        #: audit log, metrics, setup page, certificate expiry watch
        store = getattr(self.sessions, "store", None)  # live sessions: counted only in-process (no SCAN)
        self.ops = Operations(
            settings,
            idp=lambda: self.sp.idp,  # as refreshed
            session=self.session,
            challenge=self.challenge,
            active_sessions=lambda: len(store) if isinstance(store, Sized) else None,
            logout_url=lambda: settings.base_url + self.slo.path,  # {prefix}/sls, built below
            metadata_state=self._metadata_state,
            clock=clock,
            metrics=metrics,
            connection=connection,
        )
        self._outage = StoreOutage(self.ops.store_error, clock)
        self.acs = AssertionConsumer(
            settings, self.sp, self.directory, self.sessions, self.codec, token, events=self.ops
        )
        #: GET {prefix}/login and the browser challenge (login.py)
        self.login = LoginStart(settings, self.sp, self.codec, self.acs.pending, token)
        self.slo = SingleLogout(settings, self.sp, self.sessions, self.codec, token)
        #: the IdP metadata URL, refreshed when a login starts or at the ACS (metadata_refresh.py)
        make = MetadataRefresher if settings.idp_metadata_url else None
        self.refresher = make and make(settings, self.sp, clock=clock, fetch=fetch, connection=connection)
        self.acs.refresher = self.login.refresher = self.refresher
        #: who may reach what once signed in: ``access.decide(...)``, ``access.respond(...)``
        self.access = AccessGuard(settings, self.login, self.ops, self.session, clock)
        #: /health (liveness, answered inline by the adapters) and /ready (the store's probe)
        self.probes = Probes(self.readiness, clock)
        prefix = settings.path_prefix
        #: {prefix}/health is answered by the adapters without a worker thread or the store (liveness)
        self._prefix_slash, self.health_path = prefix + "/", prefix + "/health"
        self.identity_headers = IdentityHeaders(settings)
        #: X-Remote-Jwt for {prefix}/auth (SAML_JWT); its keys at {prefix}/jwks.json
        self.jwt = upstream_jwt(settings, audience=settings.base_url, clock=clock)
        #: {prefix}/auth (nginx, Traefik, Caddy), the access rules judging the original request
        auth = ForwardAuth(
            settings, self.session, self.identity_headers, self.jwt, decide=self.access.forward
        )
        self.forward_auth = auth
        self._routes: dict[str, Callable[[HTTPRequest, Resolver], HTTPResponse]] = {
            settings.acs_path: self.acs,
            prefix + "/login": self.access.login,
            prefix + "/metadata": self._metadata,
            prefix + "/logout": SignOut(settings, self.sessions, self.slo, self.ops),
            prefix + "/sls": self.slo,
            prefix + "/health": self.probes.health,
            prefix + "/ready": self.probes.ready,
            prefix + "/auth": self.forward_auth,
            prefix + "/metrics": self.ops.metrics_endpoint,
            prefix + "/setup": self.ops.setup_endpoint,
        }
        self._unconfigured = unconfigured_routes(settings)  # while no IdP is configured
        self._public = settings.public_paths
        self._logout_prefix = settings.logout_path + "?token="
        if self.jwt is not None:
            jwks = self.jwt.jwks()
            self._routes[prefix + "/jwks.json"] = lambda request, resolve: HTTPResponse.json(200, jwks)

    def _metadata_state(self) -> tuple[float | None, int]:
        r = self.refresher  # only with SAML_IDP_METADATA_URL
        return (None, 0) if r is None else (r.loaded_at, r.failures)

    @property
    def idp(self) -> IdPInfo:
        """The IdP as currently loaded (a metadata refresh replaces it in the SP)."""
        return self.sp.idp

    # -- the per-request path -------------------------------------------
    def is_endpoint(self, path: str) -> bool:
        return path.startswith(self._prefix_slash) or path in self._routes

    def max_body_for(self, path: str) -> int:
        """The largest request body the adapters read for endpoint ``path`` (``SAML_MAX_BODY``)."""
        return self.settings.max_body

    def is_public(self, path: str) -> bool:
        return bool(self._public) and is_public(path, self._public)

    def authenticate(self, cookies: str | bytes | Mapping[str, str] | None) -> SAMLUser | None:
        """The signed-in user in a request's cookies, or ``None``.

        :param cookies: the ``Cookie`` header (``str`` or ``bytes``), or the cookies
            already parsed into a mapping (``request.cookies`` in most frameworks).

        .. code-block:: python

            user = gate.authenticate(request.headers.get("cookie"))
            if user is None: ...  # send gate.challenge(request)

        .. warning:: this does not record activity: a session used only through
           it goes idle. Adapters use :meth:`session` and send its refreshed cookie.

        :raises StoreUnavailable: as :meth:`session`.
        """
        if cookies is None or isinstance(cookies, (str, bytes)):
            found = self.session(cookies)
        else:
            found = self.sessions.load(cookies.get(self.sessions.name))
        return found[0].user if found is not None else None

    def session(
        self, cookie_header_value: str | bytes | None, host: str | None = None
    ) -> tuple[Session, str | None] | None:
        """The session in a ``Cookie`` header, and a refreshed ``Set-Cookie`` when due.

        The per-request path: a header seen before costs a dictionary lookup.

        :param cookie_header_value: the whole header, ``bytes`` as ASGI servers give
            it or ``str`` as WSGI servers do (neither needs decoding first). ``host``: with connections.
        :raises StoreUnavailable: server sessions only, when the store cannot be
            read; answer with :meth:`unavailable` (never treat the user as logged out).
        """
        return self.sessions.load_header(cookie_header_value)

    def passes_through(self, host: str | None) -> bool:  # with connections: a disabled one's hosts
        return False

    def logout_url(self, session: Session) -> str:
        return self._logout_prefix + session.logout_token

    # -- unauthenticated requests ---------------------------------------
    def challenge(self, request: HTTPRequest) -> HTTPResponse:
        """302 to the IdP for a browser asking for HTML; 401 JSON for anything else
        (503 ``sso_not_configured`` while no IdP is configured)."""
        if not self.configured:
            return not_configured(request)
        self.ops.expiry.tick()  # a clock read; logs expiring certificates once a day
        target = request.target
        if request.navigating():
            return self.login.start(request, safe_return_path(target) or self.settings.default_redirect)
        return login_required(
            f"{self.settings.base_url}{self.settings.login_path}?next={quote(target, safe='/')}"
        )

    def unavailable(self, request: HTTPRequest, error: StoreUnavailable) -> HTTPResponse:
        """503 while the session store is down: an HTML page for browsers, JSON otherwise
        (logged at most once every 10 seconds)."""
        return self._outage(request, error)

    # -- endpoints --------------------------------------------------------
    def handle_endpoint(self, request: HTTPRequest, resolve: Resolver = run_here) -> HTTPResponse:
        """Serve one of the middleware's own endpoints (may do heavy work)."""
        self.ops.expiry.tick()
        handler = self._routes.get(request.path)
        if not self.configured and request.path in self._unconfigured:
            return self._unconfigured[request.path](request)
        if handler is None:
            return HTTPResponse.html(404, page("Not found", "There is nothing here."))
        try:
            return handler(request, resolve)
        except StoreUnavailable as exc:
            return self.unavailable(request, exc)

    def _metadata(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        headers = [
            ("content-type", "application/samlmetadata+xml"),
            ("content-disposition", 'inline; filename="sp-metadata.xml"'),
        ]
        return HTTPResponse(200, headers, self.sp.metadata_xml())
