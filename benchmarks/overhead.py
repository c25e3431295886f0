"""In-process cost of the middleware on an authenticated request: a tiny app, bare vs wrapped.

Same scope/environ for both, a valid session cookie with no refresh due; the ASGI
coroutines are driven by hand, so no event-loop cost is in either figure. Used by the
``hot`` section (:mod:`hot_path`).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from typing import Any

from common import Row, alternating, fresh_cookie

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Coroutine[Any, Any, None]]
StartResponse = Callable[..., object]


async def hello_asgi(scope: Message, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def hello_wsgi(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def asgi_driver(
    app: ASGIApp | SAMLMiddleware,
    paths: Sequence[str],
    headers: list[tuple[bytes, bytes]],
    statuses: list[int],
) -> Callable[[], object]:
    """One ``GET`` through ``app`` per call, cycling over ``paths``, each coroutine driven by hand
    (no event loop overhead in any figure); every status answered is appended to ``statuses``."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scopes = itertools.cycle(
        [
            {
                "type": "http",
                "method": "GET",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "headers": headers,
            }
            for path in paths
        ]
    )

    def call() -> object:
        coro = app(next(scopes), receive, send)
        try:
            coro.send(None)
        except StopIteration:
            return None
        raise SystemExit("the app awaited something real")

    return call


def interleaved(bare: Callable[[], object], wrapped: Callable[[], object], n: int) -> tuple[Row, Row]:
    """Per-call times of two callables, in alternating chunks so drift hits both alike."""
    times = alternating({"bare": bare, "wrapped": wrapped}, n)
    return ("bare", *times["bare"]), ("wrapped", *times["wrapped"])


def asgi(settings: Settings, n: int) -> tuple[Row, Row]:
    wrapped = SAMLMiddleware(hello_asgi, settings)
    if wrapped.gate is None:
        raise SystemExit("the benchmark settings left the middleware disabled")
    cookie = fresh_cookie(wrapped.gate)
    headers = [
        (b"host", b"app.example.com"),
        (b"accept", b"text/html"),
        (b"cookie", f"theme=dark; {cookie}".encode()),
    ]
    statuses: list[int] = []

    def drive(app: ASGIApp | SAMLMiddleware) -> Callable[[], object]:
        return asgi_driver(app, ["/reports"], headers, statuses)

    drive(wrapped)()
    if statuses[-1] != 200:
        raise SystemExit(f"the wrapped ASGI app answered {statuses[-1]}, not 200")
    return interleaved(drive(hello_asgi), drive(wrapped), n)


def wsgi(settings: Settings, n: int) -> tuple[Row, Row]:
    wrapped = SAMLWSGIMiddleware(hello_wsgi, settings)
    if wrapped.gate is None:
        raise SystemExit("the benchmark settings left the middleware disabled")
    cookie = fresh_cookie(wrapped.gate)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/reports",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "HTTP_HOST": "app.example.com",
        "HTTP_ACCEPT": "text/html",
        "HTTP_COOKIE": f"theme=dark; {cookie}",
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append(status)

    wrapped(dict(environ), start_response)
    if statuses[-1] != "200 OK":
        raise SystemExit(f"the wrapped WSGI app answered {statuses[-1]}, not 200")
    # both get a fresh copy of the environ, as a server makes one per request
    return interleaved(
        lambda: hello_wsgi(dict(environ), start_response),
        lambda: wrapped(dict(environ), start_response),
        n,
    )
