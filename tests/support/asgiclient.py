"""A synchronous httpx client for ASGI apps: httpx's ASGITransport run on an anyio portal.

(starlette's TestClient now warns about httpx; this is the same idea in a few lines.)
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import anyio.from_thread
import httpx


class PortalASGITransport(httpx.BaseTransport):
    """Runs every request through ``httpx.ASGITransport`` on one event-loop thread."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._stack = ExitStack()
        self.portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def run() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            async_request = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self._inner.handle_async_request(async_request)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        status, headers, content = self.portal.call(run)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._stack.close()


def asgi_client(app: Any, base_url: str) -> httpx.Client:
    return httpx.Client(transport=PortalASGITransport(app), base_url=base_url, follow_redirects=False)
