"""``saml-middleware proxy URL``: an authenticated reverse proxy to a service in any language.

:class:`ReverseProxy` is a plain ASGI app; :func:`proxy_app` puts the middleware in front of it.
Request and response bodies stream through (a large download never sits in memory);
hop-by-hop headers are dropped in both directions (RFC 9110 section 7.6.1); redirects and
``Set-Cookie`` from the upstream pass back untouched; an unreachable upstream gets a 502
page. Every client-sent ``X-Remote-*`` header (names compared after lower-casing and mapping
``_`` to ``-``) is removed before the identity headers of the signed-in user are added;
``Forwarded``, ``X-Real-IP`` and ``X-Forwarded-*`` come from the proxy, never the client.
Only origin-form request targets are forwarded, to the :func:`~saml_middleware.paths.canonical_path`
the middleware judged, on a URL built from parts (never by concatenation).
WebSockets of signed-in users are passed through (httpx-ws).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ..asgi import SAMLMiddleware, send_response
from ..config import Settings
from ..errors import ConfigError
from ..framing import check_request
from ..gate.identity_headers import IdentityHeaders, normal_name
from ..gate.upstream_jwt import UpstreamJWT, upstream_jwt
from ..http import HTTPResponse
from ..masking import redact
from ..pages import page
from ..paths import BadPath, canonical_path, encoded_path, log_refusal
from ..types import ASGIApp, Receive, Scope, Send
from ..user import SAMLUser
from .accesslog import AccessLog, asgi_marker

__all__ = ["HOP_BY_HOP", "ReverseProxy", "proxy_app"]

logger = logging.getLogger("saml_middleware.proxy")  # the logger name is public: keep it
#: Headers that describe one connection, never forwarded (plus those named in ``Connection``).
HOP_BY_HOP = frozenset(
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]
)
#: Set by the proxy alone, or never: a client's are dropped (names compared after lower-casing and
#: ``_`` -> ``-``). ``X-Original-URL``/``X-Rewrite-URL`` would let an IIS-style upstream route on a
#: path other than the one judged; the client-address headers would let a client name its address.
FORWARDING = frozenset(
    [
        "forwarded",
        "x-real-ip",
        "host",
        "content-length",
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "true-client-ip",
        "x-client-ip",
        "cf-connecting-ip",
    ]
)
#: query characters passed as they are (anything else is percent-encoded)
_QUERY_SAFE = "!$&'()*+,;=:@/?%-._~[]"


def strip_hop_by_hop(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` without hop-by-hop ones: the fixed list, ``Proxy-*``, and any named in Connection."""
    named = {
        token.strip().lower()
        for k, v in headers
        if k.lower() == b"connection"
        for token in v.decode("latin-1").split(",")
    }
    out = []
    for key, value in headers:
        low = key.decode("latin-1").lower()
        if low in HOP_BY_HOP or low in named or low.startswith("proxy-"):
            continue
        out.append((key, value))
    return out


def _check_upstream(upstream: str) -> str:
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            [f"the upstream must be an http(s) URL such as http://127.0.0.1:8080, got {redact(upstream)!r}"]
        )
    return upstream.rstrip("/")


class ReverseProxy:
    """Forward every request to ``upstream`` with the identity of ``scope["user"]`` as headers.

    :param upstream: ``http(s)://host:port`` with an optional base path.
    :param identity: which identity headers to add and which client headers to drop.
    :param timeout: seconds to connect, and to wait for each chunk of the answer.
    :param base_url: the public URL (``SAML_BASE_URL``): ``X-Forwarded-Host`` and
        ``X-Forwarded-Proto`` are its host and scheme; without it, the request's.
    :param jwt: signs ``X-Remote-Jwt`` for the upstream (``SAML_JWT``); ``None``: no such header.

    A request whose target is not a path, or whose path :func:`~saml_middleware.paths.canonical_path`
    refuses, gets a 400 JSON answer naming the reason (``bad_request_target``, ``bad_path``,
    ``bad_framing``) and never reaches the upstream.
    """

    def __init__(
        self,
        upstream: str,
        identity: IdentityHeaders,
        *,
        timeout: float = 60.0,
        base_url: str | None = None,
        jwt: UpstreamJWT | None = None,
    ) -> None:
        self.upstream = _check_upstream(upstream)
        parts = urlsplit(self.upstream)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        public = urlsplit(base_url) if base_url else None
        self._public_host = public.netloc.encode("latin-1") if public else None
        self._public_proto = public.scheme.encode("latin-1") if public else None
        self.identity = identity
        self.jwt = jwt
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, on the serving event loop
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=limits, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            from .wsproxy import forward_websocket

            await forward_websocket(self, scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def url_for(self, scope: Scope) -> httpx.URL:
        """The upstream URL of a request: the upstream's scheme, host and port, its base path,
        then the canonical path of the request (as judged) and the query as received.

        :raises BadPath: the target is not a path, or its path is refused.
        """
        raw = scope.get("raw_path")
        path = canonical_path(raw.decode("latin-1") if raw else encoded_path(scope["path"]))
        query = quote(scope.get("query_string", b"").decode("latin-1"), safe=_QUERY_SAFE)
        target = self._base_path + path + ("?" + query if query else "")
        try:
            return httpx.URL(scheme=self._scheme, host=self._host, port=self._port, raw_path=target.encode())
        except httpx.InvalidURL as exc:
            raise BadPath("bad_request_target", str(exc)) from None

    def headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The client's headers, cleaned, plus forwarding and identity headers."""
        out = [
            (key, value)
            for key, value in self.identity.strip(strip_hop_by_hop(list(scope["headers"])))
            if not _forwarding(key)
        ]
        client = scope.get("client")
        if client:
            out.append((b"x-forwarded-for", client[0].encode("latin-1")))
        host = self._public_host
        if host is None:
            host = next((v for k, v in scope["headers"] if k.lower() == b"host"), None)
        if host:
            out.append((b"x-forwarded-host", host))
        proto = self._public_proto or scope.get("scheme", "http").encode("latin-1")
        out.append((b"x-forwarded-proto", proto))
        user = scope.get("user")
        if isinstance(user, SAMLUser):
            out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.identity.for_user(user)]
            if self.jwt is not None:
                out.append((b"x-remote-jwt", self.jwt.token(user).encode("ascii")))
        return out

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            check_request(scope["method"], scope["headers"])
            url = self.url_for(scope)
        except BadPath as exc:
            log_refusal(logger, exc, (scope.get("client") or ("-",))[0])
            await send_response(send, HTTPResponse.json(exc.status, {"error": exc.reason}))
            return
        headers = self.headers_for(scope)
        # any method may carry a body (a GET search with JSON, as Elasticsearch takes): forward it
        length = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), None)
        chunked = any(k.lower() == b"transfer-encoding" for k, _ in scope["headers"])
        content = _body(receive) if chunked or (length is not None and length != b"0") else None
        if length is not None and not chunked:
            headers.append((b"content-length", length))  # as declared, so the upstream need not chunk
        request = self.client.build_request(scope["method"], url, headers=headers, content=content)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            logger.warning("upstream %s timed out: %s", redact(self.upstream), redact(repr(exc)))
            await send_response(
                send,
                HTTPResponse.html(504, page("Gateway timeout", "The application did not answer in time.")),
            )
            return
        except httpx.TransportError as exc:
            logger.warning("upstream %s unreachable: %s", redact(self.upstream), redact(repr(exc)))
            await send_response(
                send,
                HTTPResponse.html(
                    502, page("Bad gateway", "The application is not reachable. Try again shortly.")
                ),
            )
            return
        try:
            raw = strip_hop_by_hop(list(response.headers.raw))
            await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away: the short body makes the upstream request fail
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _forwarding(name: bytes) -> bool:
    low = normal_name(name.decode("latin-1"))
    return low in FORWARDING or low.startswith("x-forwarded-")


def proxy_app(upstream: str, settings: Settings | None = None, **gate_options: Any) -> ASGIApp:
    """The authenticated reverse proxy to ``upstream``: middleware, proxy and access log
    (with the signed-in user's e-mail, noted by :func:`~saml_middleware.serve.accesslog.asgi_marker`).

    :raises ConfigError: for a bad ``SAML_*`` setting or upstream URL.
    """
    settings = settings if settings is not None else Settings.from_env()
    jwt = upstream_jwt(settings, audience=_check_upstream(upstream))  # aud: the upstream URL by default
    proxy = ReverseProxy(upstream, IdentityHeaders(settings), base_url=settings.base_url, jwt=jwt)
    return AccessLog(SAMLMiddleware(asgi_marker(proxy), settings=settings, **gate_options))
