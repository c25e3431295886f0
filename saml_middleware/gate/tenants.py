"""Many tenants: :class:`TenantGate`, the gate of a deployment with connections.

It answers the adapters exactly as :class:`~saml_middleware.gate.Gate` does (see
:class:`~saml_middleware.gate.surface.RequestGate`) and routes each request:

* ``{PREFIX}/c/{id}/login|acs|metadata|sls|logout``: that connection's own gate
  (:mod:`.tenantpool`); ``{PREFIX}/c/{id}/setup`` and test sign-ins: the ``setup`` handler.
* ``{PREFIX}/login``: the connection of the request's host (``host`` routing), else the
  sign-in page asking for the work e-mail (``domain`` routing, :mod:`.signin`).
* ``{PREFIX}/health``, ``/metrics``, ``/logout``, ``/auth``, ``/setup``: global.
* an unauthenticated browser: to the IdP of the host's connection, else to the sign-in page.

Sessions: one cookie for the site, naming its connection; valid only while that connection is
enabled (and, under ``host`` routing, on its hosts): one dictionary lookup, no registry I/O.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sized
from dataclasses import replace
from urllib.parse import quote

from ..config import Settings
from ..connections import Connection, ConnectionLookup
from ..errors import StoreUnavailable
from ..http import HTTPRequest, HTTPResponse
from ..ops.operations import Operations
from ..pages import page
from ..paths import is_public, safe_return_path
from ..sessions import Session, SessionManager, needs_store, session_manager
from ..sessions.cookies import CookieCodec
from ..stores import ReplayCache, SessionStore
from ..stores.open import open_missing
from ..user import SAMLUser
from ..users import UserDirectory, directory_from_setting
from . import tenantparts as parts
from .acs import Resolver, run_here
from .deployment_setup import DeploymentSetup
from .gate import Gate
from .identity_headers import IdentityHeaders
from .login import login_required
from .probes import Probes, StoreOutage
from .signin import SignInPage
from .tenantaccess import TenantAccess
from .tenantparts import SetupHandler
from .tenantpool import GatePool

__all__ = ["SetupHandler", "TenantGate"]

logger = logging.getLogger("saml_middleware")
#: what a connection's own gate serves under ``{PREFIX}/c/{id}/``
_ACTIONS = frozenset({"login", "acs", "metadata", "sls", "logout"})


class TenantGate:
    """The gate of a deployment serving many connections (``SAML_CONNECTIONS``).

    :param settings: the deployment's settings (base URL, secret, store, session lifetimes).
    :param connections: where connections are found by id, host and e-mail domain.
    :param setup: serves ``{PREFIX}/c/{id}/setup`` and test sign-ins (optional).
    :param directory: the user directory; from ``SAML_USERS`` when omitted.
    :param replay: the store's replay cache; each connection gets its own namespace of it (tenantpool.py).
    :param session_store: with ``SAML_SESSION_STORE=server``, where sessions live.
    :param pool_size: connections whose gate (parsed IdP metadata) stays in memory.
    :param clock, token: as for :class:`Gate`. :param fetch: connections' metadata URLs (SSRF-guarded).
    Built by ``SAMLMiddleware(app, settings, connections=lookup)`` (``open_gate``, surface.py).
    """

    configured = True  # each connection says for itself whether its IdP is set up

    def __init__(
        self,
        settings: Settings,
        connections: ConnectionLookup,
        *,
        setup: SetupHandler | None = None,
        directory: UserDirectory | None = None,
        replay: ReplayCache | None = None,
        session_store: SessionStore | None = None,
        pool_size: int = 256,
        clock: Callable[[], float] = time.time,
        token: Callable[[int], str] = secrets.token_urlsafe,
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.setup = setup
        self.clock = clock
        replay, session_store, readiness = open_missing(  # shared by every connection
            settings, replay, session_store, sessions_needed=needs_store(settings), clock=clock
        )
        #: /health (liveness, answered inline by the adapters) and /ready (the shared store's probe)
        self.probes = Probes(readiness, clock)
        codec = CookieCodec(settings.secret_key, audience=settings.sp_entity_id)
        kept = session_store if needs_store(settings) else None
        self.sessions: SessionManager = session_manager(settings, codec, kept, clock=clock, token=token)
        self.authenticate_blocks = self.sessions.blocking
        stored = getattr(self.sessions, "stored", None)  # cookie sessions overflowed into the store
        self.stored_marker = f"{self.sessions.name}=~".encode() if stored else None
        store = getattr(self.sessions, "store", None)
        self.ops = Operations(
            settings,
            idp=parts.NoIdP,
            session=self.session,
            challenge=self.challenge,
            active_sessions=lambda: len(store) if isinstance(store, Sized) else None,
            clock=clock,
        )
        if directory is None:
            directory = directory_from_setting(
                settings.users, user_query=settings.user_query, user_id_attribute=settings.user_id_attribute
            )
        #: the per-connection gates (tenantpool.py)
        self.pool = GatePool(
            settings,
            sessions=self.sessions,
            replay=replay,
            metrics=self.ops.metrics,
            directory=directory,
            size=pool_size,
            fetch=fetch,
            clock=clock,
            token=token,
        )
        routing = settings.connection_routing
        self._by_host, self._by_path = "host" in routing, "path" in routing
        self.signin = SignInPage(settings, self._by_email, self._start, by_domain="domain" in routing)
        self.identity_headers = IdentityHeaders(settings)
        prefix = settings.path_prefix
        self._prefix_slash, self.health_path = prefix + "/", prefix + "/health"
        self._connection_prefix = prefix + "/c/"
        self._routes: dict[str, Callable[[HTTPRequest, Resolver], HTTPResponse]] = {
            prefix + "/login": self._login,
            prefix + "/logout": self._logout,
            prefix + "/health": self.probes.health,
            prefix + "/ready": self.probes.ready,
            prefix + "/metrics": self.ops.metrics_endpoint,
            prefix + "/setup": DeploymentSetup(settings, connections, self.session, self.challenge),
        }
        self.access = TenantAccess(self.pool, connections)  # each session: its connection's rules
        self.forward_auth, auth = parts.forward_auth_routes(self, connections, clock=clock)
        self._routes.update(auth)
        self._public = settings.public_paths
        self._logout_prefix = settings.logout_path + "?token="
        self._outage = StoreOutage(self.ops.store_error, clock)

    # -- the per-request path -------------------------------------------
    def is_endpoint(self, path: str) -> bool:
        return path.startswith(self._prefix_slash)

    def is_public(self, path: str) -> bool:
        return bool(self._public) and is_public(path, self._public)

    def max_body_for(self, path: str) -> int:  # SAML_MAX_BODY, or the setup page's upload cap
        cap = self.setup.max_body_for(path) if self.setup is not None else None
        return self.settings.max_body if cap is None else cap

    def passes_through(self, host: str | None) -> bool:
        """A request to a disabled connection's host passes untouched (as ``SAML_ENABLED=false``)."""
        if not self._by_host or not host:
            return False
        found = self.connections.by_host(host)
        return found is not None and not found.enabled

    def session(
        self, cookie_header_value: str | bytes | None, host: str | None = None
    ) -> tuple[Session, str | None] | None:
        """As :meth:`Gate.session`, only while its connection is enabled (and on its hosts)."""
        found = self.sessions.load_header(cookie_header_value)
        return found if found is not None and self._valid(found[0].user, host) else None

    def _valid(self, user: SAMLUser, host: str | None) -> bool:
        conn = self.connections.get(user.connection) if user.connection else None
        if conn is None or not conn.enabled:
            return False
        if host is None or not self._by_host:
            return True
        if conn.hosts:
            return host.lower() in conn.hosts
        other = self.connections.by_host(host)
        return other is None or other.id == conn.id

    def authenticate(self, cookies: str | bytes | Mapping[str, str] | None) -> SAMLUser | None:
        """As :meth:`Gate.authenticate` (the connection must exist and be enabled)."""
        if cookies is None or isinstance(cookies, (str, bytes)):
            found = self.session(cookies)
        else:
            found = self.sessions.load(cookies.get(self.sessions.name))
            found = found if found is not None and self._valid(found[0].user, None) else None
        return found[0].user if found is not None else None

    def logout_url(self, session: Session) -> str:
        return self._logout_prefix + session.logout_token

    # -- unauthenticated requests ---------------------------------------
    def challenge(self, request: HTTPRequest) -> HTTPResponse:
        """The host's connection decides (its IdP); else a browser goes to the sign-in page
        and anything else gets 401 JSON naming it."""
        conn = self._host_connection(request)
        if conn is not None:
            return self._with_gate(conn, request, lambda gate: gate.challenge(request))
        nxt = safe_return_path(request.target) or self.settings.default_redirect
        login_url = f"{self.settings.base_url}{self.settings.login_path}?next={quote(nxt, safe='/')}"
        return HTTPResponse.redirect(302, login_url) if request.navigating() else login_required(login_url)

    def unavailable(self, request: HTTPRequest, error: StoreUnavailable) -> HTTPResponse:
        """503 while the session store is down: an HTML page for browsers, JSON otherwise
        (logged at most once every 10 seconds)."""
        return self._outage(request, error)

    # -- endpoints --------------------------------------------------------
    def handle_endpoint(self, request: HTTPRequest, resolve: Resolver = run_here) -> HTTPResponse:
        """Serve ``{PREFIX}/...``: global endpoints here, per-connection ones by their gate."""
        try:
            handler = self._routes.get(request.path)
            if handler is not None:
                return handler(request, resolve)
            if request.path.startswith(self._connection_prefix):
                return self._connection_endpoint(request, resolve)
        except StoreUnavailable as exc:
            return self.unavailable(request, exc)
        return HTTPResponse.html(404, page("Not found", "There is nothing here."))

    def _connection_endpoint(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        cid, _, action = request.path[len(self._connection_prefix) :].partition("/")
        setup = self.setup
        if setup is not None:
            if setup.handles(request.path):
                return setup(request, resolve)
            if action == "acs" and request.method == "POST":
                tested = setup.consume_test(request, resolve)
                if tested is not None:
                    return tested
        conn = self.connections.get(cid)
        if conn is None or action not in _ACTIONS or (action == "login" and not self._by_path):
            return HTTPResponse.html(404, page("Not found", "There is nothing here."))
        if not conn.enabled and action in ("login", "acs"):
            return parts.turned_off(conn)
        return self._with_gate(conn, request, lambda gate: gate.handle_endpoint(request, resolve))

    def _login(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        conn = self._host_connection(request)
        if conn is not None:
            return self._with_gate(conn, request, lambda gate: parts.host_login(gate, request, resolve))
        return self.signin(request)

    def _start(self, conn: Connection, request: HTTPRequest, nxt: str, hint: str) -> HTTPResponse:
        """Start a login at ``conn``'s IdP (from the sign-in page), the e-mail as ``login_hint``."""

        def start(gate: Gate) -> HTTPResponse:
            return gate.login.start(request, nxt, hint) if gate.configured else gate.challenge(request)

        return self._with_gate(conn, request, start)

    def _logout(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
        """``{PREFIX}/logout``: the session's connection signs it out (and its IdP, if it has SLO)."""
        found = self.sessions.load_header(request.headers.get("cookie"))
        conn = self.connections.get(found[0].user.connection) if found and found[0].user.connection else None
        if conn is not None:
            here = replace(request, path=f"{self._connection_prefix}{conn.id}/logout")
            return self._with_gate(conn, here, lambda gate: gate.handle_endpoint(here, resolve))
        return parts.signed_out(request, self.settings.logout_path, self.sessions.clear_header())

    # -- helpers ----------------------------------------------------------
    def _host_connection(self, request: HTTPRequest) -> Connection | None:
        host = request.headers.get("host")
        if not self._by_host or not host:
            return None
        conn = self.connections.by_host(host)
        return conn if conn is not None and conn.enabled else None

    def _by_email(self, email: str) -> Connection | None:
        _, at, domain = email.strip().rpartition("@")
        return self.connections.by_domain(domain) if at and domain else None

    def _with_gate(
        self, conn: Connection, request: HTTPRequest, use: Callable[[Gate], HTTPResponse]
    ) -> HTTPResponse:
        try:
            gate = self.pool.gate(conn)
        except Exception as exc:  # a bad record, a refused metadata URL: that tenant only, never a 500
            return parts.broken(conn, exc)
        return use(gate)
