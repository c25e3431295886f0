"""Small parts of :class:`~saml_middleware.gate.tenants.TenantGate`: the set-up handler it
accepts, and the answers of its global endpoints that need no connection."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..connections import Connection
from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..paths import BadPath, canonical_path
from ..sessions import Session
from .acs import Resolver
from .identity_headers import IdentityHeaders

__all__ = ["NoIdP", "SetupHandler", "auth_request", "broken", "signed_out", "store_down", "turned_off"]

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


def broken(conn: Connection) -> HTTPResponse:
    """503: ``conn``'s gate could not be built (bad record, metadata unreachable); logged with a ref."""
    ref = secrets.token_hex(4)
    logger.exception("connection %s: its sign-in could not be set up ref=%s", conn.id, ref)
    body = page(
        "Sign-in is unavailable",
        f"Single sign-on for {conn.name} is not working at the moment. Ask your administrator.",
        reference=ref,
    )
    return HTTPResponse.html(503, body)


def store_down(request: HTTPRequest) -> HTTPResponse:
    """503 while the session store is down: an HTML page for browsers, JSON otherwise."""
    if "text/html" in request.headers.get("accept", ""):
        body = page("Temporarily unavailable", "Sign-in is unavailable. Please try again in a minute.")
        response = HTTPResponse.html(503, body)
        response.headers.append(("retry-after", "5"))
        return response
    return HTTPResponse.json(503, {"error": "store_unavailable"}, {"retry-after": "5"})


def signed_out(request: HTTPRequest, logout_path: str, clear: str) -> HTTPResponse:
    """``{PREFIX}/logout`` without a session: nothing to end, the cookie cleared anyway."""
    if request.method == "POST":
        return HTTPResponse.redirect(303, logout_path, clear)
    if request.method not in ("GET", "HEAD"):
        return HTTPResponse.html(405, page("Method not allowed", "Use GET or POST."))
    return HTTPResponse.html(200, page("Signed out", "You are signed out."), clear)


def auth_request(
    request: HTTPRequest,
    session: Callable[[str | None, str | None], tuple[Session, str | None] | None],
    identity: IdentityHeaders,
) -> HTTPResponse:
    """nginx ``auth_request``: 202 with the identity headers (``X-Remote-Tenant`` included), or 401.

    A refused ``X-Original-URI`` gets 403, as in the single-IdP gate. The session must be valid
    on the request's ``Host`` (nginx passes the original one).
    """
    original = request.headers.get("x-original-uri")
    if original is not None:
        try:
            canonical_path(original.split("?", 1)[0])
        except BadPath as exc:
            logger.warning("auth_request refused reason=%s detail=%r", exc.reason, exc.detail)
            return HTTPResponse(403, [("cache-control", "no-store")])
    found = session(request.headers.get("cookie"), request.headers.get("host"))
    if found is None:
        return HTTPResponse(401, [("cache-control", "no-store")])
    user_session, refresh = found
    headers = [("cache-control", "no-store"), *identity.for_user(user_session.user)]
    return HTTPResponse(202, headers + ([("set-cookie", refresh)] if refresh else []))
