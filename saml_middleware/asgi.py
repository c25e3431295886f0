"""SAMLMiddleware: pure ASGI (no BaseHTTPMiddleware), over the transport-neutral gate.

The per-request path (cookie check, scope injection) runs inline; login and
ACS work runs in a worker thread so XML and crypto never block the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import anyio.from_thread
import anyio.to_thread
from starlette.authentication import AuthCredentials, UnauthenticatedUser

from .access import Decision, overrides_in
from .config import Settings
from .connections import ConnectionLookup
from .errors import StoreUnavailable
from .framing import check_request
from .gate.surface import RequestGate, open_gate
from .http import HTTPRequest, HTTPResponse
from .paths import BadPath, canonical_path, decoded_path, encoded_path, has_encoded_separator, log_refusal
from .sessions import Session
from .types import ASGIApp, Message, Receive, Scope, Send

# the ASGI aliases stay importable from here (they moved to types.py)
__all__ = ["ASGIApp", "Message", "Receive", "SAMLMiddleware", "Scope", "Send", "send_response"]

_AUTHENTICATED = AuthCredentials(["authenticated"])
logger = logging.getLogger("saml_middleware")


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _resolve_on_loop(awaitable: Awaitable[Any]) -> Any:
    """Run an async user-directory hook on the event loop, from the worker thread."""
    return anyio.from_thread.run(_await, awaitable)


class SAMLMiddleware:
    """Put SAML single sign-on in front of any ASGI application.

    :param app: the ASGI application to protect (Starlette, FastAPI, Quart...).
    :param settings: the configuration; read from ``SAML_*`` environment
        variables when omitted.
    :param connections: many tenants: where connections are looked up (e.g. a
        :class:`~saml_middleware.connections.ConnectionIndex`); from ``SAML_CONNECTIONS`` when
        that is set; without either, the single IdP of ``SAML_IDP_*``.
    :param gate_options: passed to :class:`~saml_middleware.gate.Gate`
        (``directory=``, ``idp=``, ``replay=``, ``clock=``, ``token=``), or with connections to
        :class:`~saml_middleware.gate.tenants.TenantGate` (``setup=``, ``pool_size=`` ...).

    .. code-block:: python

        from saml_middleware import SAMLMiddleware
        app = SAMLMiddleware(app)   # request.user is now a SAMLUser

    The wrapped app sees ``scope["user"]`` (a :class:`SAMLUser`),
    ``scope["auth"]`` (``AuthCredentials(["authenticated"])``) and
    ``scope["saml.logout_url"]``; with connections the user's ``connection`` and ``tenant``
    are set. Unauthenticated WebSockets are closed with 1008 (1013
    while no IdP is configured yet).

    .. warning:: with ``SAML_ENABLED=false`` every request passes through
       untouched and ``scope["user"]`` is not set.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        *,
        connections: ConnectionLookup | None = None,
        **gate_options: Any,
    ) -> None:
        self.app = app
        self.settings = settings if settings is not None else Settings.from_env()
        self.gate: RequestGate | None = (
            open_gate(self.settings, connections, **gate_options) if self.settings.enabled else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self.gate
        kind = scope["type"]
        if gate is None or kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie = host = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value if cookie is None else cookie  # bytes: the session cache knows it undecoded
            elif name == b"host":
                host = value.decode("latin-1")
        if gate.passes_through(host):  # a disabled connection's host: as SAML_ENABLED=false
            await self.app(scope, receive, send)
            return
        try:
            scope, path = _judge(scope)
        except BadPath as exc:
            log_refusal(logger, exc, (scope.get("client") or ("-",))[0])
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": exc.reason})
            else:
                await send_response(send, HTTPResponse.json(exc.status, {"error": exc.reason}))
            return
        if kind == "http" and path is not None and gate.is_endpoint(path):
            if path == gate.health_path:  # liveness: answered on the event loop, never in a worker thread
                await send_response(send, gate.probes.health())
                return
            await self._endpoint(gate, scope, receive, send)
            return
        try:
            if cookie is not None and (
                gate.authenticate_blocks or (gate.stored_marker is not None and gate.stored_marker in cookie)
            ):
                found = await anyio.to_thread.run_sync(gate.session, cookie, host)
            else:
                found = gate.session(cookie, host)
        except StoreUnavailable as exc:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1013, "reason": "try again later"})
            else:
                await send_response(send, gate.unavailable(_request(scope, b""), exc))
            return
        access = gate.access  # who may reach what (access/): decided on the judged path
        if found is not None and access.active:
            overrides = overrides_in(scope["headers"]) if access.methods_matter else ()
            method = scope.get("method", "GET")
            decision = access.decide(method, scope["path"], found[0].user, gate.clock(), overrides)
            if not decision.allowed:
                if path is None or not gate.is_public(path):
                    await _refuse(gate, scope, send, decision, found[0])
                    return
                found = None  # a public path: served as to anyone signed out
        if found is not None:
            session, refresh = found
            # in place, as starlette's AuthenticationMiddleware does: no copy on the hot path
            scope["user"] = session.user
            scope["auth"] = _AUTHENTICATED
            scope["saml.logout_url"] = gate.logout_url(session)
            if refresh is not None and kind == "http":
                send = _add_cookie(send, refresh)
            await self.app(scope, receive, send)
        elif path is not None and gate.is_public(path):
            scope = dict(scope, user=UnauthenticatedUser(), auth=AuthCredentials())
            await self.app(scope, receive, send)
        elif kind == "websocket":  # 1013 "try again later" while no IdP is configured
            code, why = (
                (1008, "authentication required") if gate.configured else (1013, "sign-in is being set up")
            )
            await send({"type": "websocket.close", "code": code, "reason": why})
        else:
            response = await anyio.to_thread.run_sync(gate.challenge, _request(scope, b""))
            await send_response(send, response)

    async def _endpoint(self, gate: RequestGate, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        if scope["method"] == "POST":
            body = await _read_body(scope, receive, gate.max_body_for(scope["path"]))
        request = _request(scope, body)
        response = await anyio.to_thread.run_sync(gate.handle_endpoint, request, _resolve_on_loop)
        await send_response(send, response)


async def _refuse(gate: RequestGate, scope: Scope, send: Send, decision: Decision, session: Session) -> None:
    """A signed-in user the access policy refuses: 403 / step-up (gate.access), WebSocket 1008."""
    request = _request(scope, b"")
    if scope["type"] == "websocket":
        gate.access.audit(request, decision, session.user)
        await send({"type": "websocket.close", "code": 1008, "reason": decision.reason})
        return
    response = await anyio.to_thread.run_sync(gate.access.respond, request, decision, session)
    await send_response(send, response)


def _judge(scope: Scope) -> tuple[Scope, str | None]:
    """The scope the app gets, and its path for decisions (``None``: never public, never ours).

    The path decided on is :func:`~saml_middleware.paths.canonical_path` of ``raw_path``; when it
    differs from what was received, the app gets a copy of the scope carrying it, so the app
    serves exactly the path that was judged. ``%2F`` and ``%5C`` stay opaque: such a path is
    neither public nor an endpoint (a signed-in user still reaches the app with it).

    :raises BadPath: the target is not a path, its framing is ambiguous, or the path is refused.
    """
    if scope["type"] == "http":
        check_request(scope.get("method"), scope["headers"])
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if raw else encoded_path(scope["path"])
    canonical = canonical_path(text, encoded_separators=True)
    if canonical != text:
        scope = dict(scope, path=decoded_path(canonical), raw_path=canonical.encode("ascii"))
    return scope, None if has_encoded_separator(canonical) else scope["path"]


def _request(scope: Scope, body: bytes) -> HTTPRequest:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    raw = scope.get("raw_path")
    client = scope.get("client")
    return HTTPRequest(
        method=scope.get("method", "GET"),
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        client=client[0] if client else None,
        raw_path=raw.decode("latin-1") if raw else None,
    )


async def _read_body(scope: Scope, receive: Receive, cap: int) -> bytes:
    """The body, or its first ``cap + 1`` bytes (enough for the gate to refuse it)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > cap:
            return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > cap or not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_response(send: Send, response: HTTPResponse) -> None:
    """Send ``response``, complete (``Content-Length`` added), on the ASGI ``send`` channel."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _add_cookie(send: Send, set_cookie: str) -> Send:
    header = (b"set-cookie", set_cookie.encode("latin-1"))

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), header]
        await send(message)

    return wrapped
