"""Small parts of :class:`~saml_middleware.gate.tenants.TenantGate`: the set-up handler it
accepts, and the answers of its global endpoints that need no connection."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, urlsplit

from ..config import Settings
from ..connections import Connection, ConnectionLookup
from ..errors import ConfigError
from ..http import HTTPRequest, HTTPResponse
from ..masking import redact
from ..pages import page
from ..paths import safe_return_path
from ..sessions import Session
from .access_guard import GateAccess
from .acs import Resolver
from .forward_auth import ForwardAuth, served_host
from .identity_headers import IdentityHeaders
from .upstream_jwt import upstream_jwt

if TYPE_CHECKING:
    from .gate import Gate

#: an endpoint: a request (and the resolver for async hooks) to the response
Route = Callable[[HTTPRequest, Resolver], HTTPResponse]

__all__ = [
    "NoIdP",
    "Route",
    "SetupHandler",
    "broken",
    "forward_auth_routes",
    "host_login",
    "signed_out",
    "turned_off",
]

logger = logging.getLogger("saml_middleware")


class SetupHandler(Protocol):
    """The customer admin's set-up pages (``{PREFIX}/c/{id}/setup``), plugged into the gate.

    ``handles(path)`` claims a path under ``{PREFIX}/c/``; ``consume_test`` is asked first
    for every ``POST`` to ``{PREFIX}/c/{id}/acs``: a "Test sign-in" response is answered by
    the set-up page (even for a disabled connection), anything else returns ``None``.
    """

    def handles(self, path: str) -> bool: ...

    def __call__(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse: ...

    def consume_test(self, request: HTTPRequest, resolve: Resolver) -> HTTPResponse | None: ...

    def max_body_for(self, path: str) -> int | None:
        """The body cap for an upload form at ``path``, or ``None`` (``SAML_MAX_BODY``)."""


@dataclass(frozen=True)
class NoIdP:
    """The site itself has no IdP (each connection has its own): what its operations report."""

    entity_id: str = ""
    sso_url: str = ""
    certificates: tuple[str, ...] = ()


def turned_off(conn: Connection) -> HTTPResponse:
    """403: ``conn`` is disabled, so nobody is sent to (or accepted from) its IdP."""
    body = page(
        "Single sign-on is turned off",
        f"Single sign-on for {conn.name} is turned off. Ask your administrator.",
    )
    return HTTPResponse.html(403, body)


def broken(conn: Connection, exc: Exception) -> HTTPResponse:
    """503: ``conn``'s gate could not be built (bad record, metadata unreachable or its URL refused
    by the SSRF guard); one log line naming the connection, the problem and a reference."""
    ref = secrets.token_hex(4)
    if isinstance(exc, ConfigError):  # a known problem (the record, its metadata): said in one line
        problem = redact("; ".join(exc.problems))
        logger.error("connection %s: its sign-in could not be set up: %s ref=%s", conn.id, problem, ref)
    else:
        logger.exception("connection %s: its sign-in could not be set up ref=%s", conn.id, ref)
    body = page(
        "Sign-in is unavailable",
        f"Single sign-on for {conn.name} is not working at the moment. Ask your administrator.",
        reference=ref,
    )
    return HTTPResponse.html(503, body)


def host_login(gate: Gate, request: HTTPRequest, resolve: Resolver) -> HTTPResponse:
    """``{PREFIX}/login`` on a connection's host: straight to its IdP (no sign-in page).

    ``?email=alice@acme.com`` goes on to the IdP as ``login_hint``, as from the sign-in page;
    anything that is not an e-mail address (or too long to be one) is left out.
    """
    query = parse_qs(request.query)
    email = query.get("email", [""])[0].strip()
    if request.method not in ("GET", "HEAD") or not gate.configured or "@" not in email or len(email) > 320:
        return gate.login(request, resolve)
    nxt = safe_return_path(query.get("next", [""])[0]) or gate.settings.default_redirect
    return gate.login.start(request, nxt, email)


def signed_out(request: HTTPRequest, logout_path: str, clear: str) -> HTTPResponse:
    """``{PREFIX}/logout`` without a session: nothing to end, the cookie cleared anyway."""
    if request.method == "POST":
        return HTTPResponse.redirect(303, logout_path, clear)
    if request.method not in ("GET", "HEAD"):
        return HTTPResponse.html(405, page("Method not allowed", "Use GET or POST."))
    return HTTPResponse.html(200, page("Signed out", "You are signed out."), clear)


class _AuthParts(Protocol):
    """What :func:`forward_auth_routes` takes from the gate."""

    settings: Settings
    identity_headers: IdentityHeaders

    def session(
        self, cookie_header_value: str | bytes | None, host: str | None = None
    ) -> tuple[Session, str | None] | None: ...

    @property
    def access(self) -> GateAccess: ...


def forward_auth_routes(
    gate: _AuthParts, connections: ConnectionLookup, *, clock: Callable[[], float]
) -> tuple[ForwardAuth, dict[str, Route]]:
    """``{PREFIX}/auth`` (nginx, Traefik, Caddy) and ``/jwks.json`` of a deployment with connections.

    A forwarded host is served when it is ``SAML_BASE_URL``'s or an enabled connection's host
    (the login then starts on that host, where the connection's session cookie lives).
    """
    settings = gate.settings
    base = urlsplit(settings.base_url)
    base_host = served_host(base.netloc)

    def hosts(host: str) -> str | None:
        if host == base_host:
            return settings.base_url
        conn = connections.by_host(host)
        return f"{base.scheme}://{host}" if conn is not None and conn.enabled else None

    jwt = upstream_jwt(settings, audience=settings.base_url, clock=clock)
    auth = ForwardAuth(
        settings, gate.session, gate.identity_headers, jwt, decide=gate.access.forward, hosts=hosts
    )
    routes: dict[str, Route] = {settings.path_prefix + "/auth": auth}
    if jwt is not None:
        jwks = jwt.jwks()
        routes[settings.path_prefix + "/jwks.json"] = lambda request, resolve: HTTPResponse.json(200, jwks)
    return auth, routes
