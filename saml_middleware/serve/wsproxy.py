"""WebSocket pass-through for :class:`~saml_middleware.serve.proxy.ReverseProxy` (httpx-ws).

Only signed-in users get here: the middleware closes anonymous WebSockets with 1008 first.
The upstream sees the same identity headers as for plain HTTP, and the same canonical path
on a URL built from parts (a refused path closes the WebSocket with 1008 before any upstream
connection). Messages flow both ways until either side closes; the close code is passed on.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio
import httpx
import wsproto.events
from httpx_ws import AsyncWebSocketSession, HTTPXWSException, WebSocketDisconnect, aconnect_ws

from ..masking import redact
from ..paths import BadPath
from ..types import Receive, Scope, Send


class Upstream(Protocol):
    """What the pass-through needs of :class:`~saml_middleware.serve.proxy.ReverseProxy`."""

    @property
    def client(self) -> httpx.AsyncClient: ...

    def url_for(self, scope: Scope) -> httpx.URL: ...

    def headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]: ...


__all__ = ["Upstream", "forward_websocket"]

logger = logging.getLogger("saml_middleware.proxy")  # the logger name is public: keep it


async def forward_websocket(proxy: Upstream, scope: Scope, receive: Receive, send: Send) -> None:
    """Connect to the upstream, accept the client, and pump messages until one side closes."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    headers = [
        (k, v)
        for k, v in proxy.headers_for(scope)
        if not k.lower().startswith(b"sec-websocket-") and k.lower() != b"host"
    ]
    try:
        url = proxy.url_for(scope)
    except BadPath as exc:
        logger.warning("WebSocket refused reason=%s detail=%r", exc.reason, exc.detail)
        await send({"type": "websocket.close", "code": 1008, "reason": exc.reason})
        return
    try:
        async with aconnect_ws(
            str(url),
            proxy.client,
            subprotocols=list(scope.get("subprotocols") or []) or None,
            headers=httpx.Headers(headers),
            session_class=AsyncWebSocketSession,
        ) as upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            async with anyio.create_task_group() as tasks:

                async def client_to_upstream() -> None:
                    while True:
                        event = await receive()
                        if event["type"] == "websocket.disconnect":
                            await upstream.close(int(event.get("code", 1000)))
                            tasks.cancel_scope.cancel()
                            return
                        if event.get("text") is not None:
                            await upstream.send_text(event["text"])
                        elif event.get("bytes") is not None:
                            await upstream.send_bytes(event["bytes"])

                async def upstream_to_client() -> None:
                    try:
                        while True:
                            event = await upstream.receive()
                            if isinstance(event, wsproto.events.TextMessage):
                                await send({"type": "websocket.send", "text": event.data})
                            elif isinstance(event, wsproto.events.BytesMessage):
                                await send({"type": "websocket.send", "bytes": bytes(event.data)})
                    except WebSocketDisconnect as exc:
                        await send({"type": "websocket.close", "code": exc.code, "reason": exc.reason or ""})
                    tasks.cancel_scope.cancel()

                tasks.start_soon(client_to_upstream)
                tasks.start_soon(upstream_to_client)
    except (HTTPXWSException, httpx.TransportError) as exc:
        logger.warning("upstream WebSocket %s failed: %s", redact(str(url)), redact(repr(exc)))
        await send({"type": "websocket.close", "code": 1011, "reason": "upstream unavailable"})
