"""Small apps served by ``saml-middleware run`` in the drop-in tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket


async def _whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "kind": "asgi",
            "user": getattr(user, "email", None),
            "name": getattr(user, "display_name", None),
            "root_path": request.scope.get("root_path", ""),
        }
    )


asgi_app = Starlette(routes=[Route("/{path:path}", _whoami)])


def make_asgi_app() -> Starlette:
    """A factory, for ``--factory``."""
    return Starlette(routes=[Route("/{path:path}", _whoami)])


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    user = environ.get("saml.user")
    body = json.dumps(
        {"kind": "wsgi", "user": environ.get("REMOTE_USER"), "name": getattr(user, "display_name", None)}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


async def _ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello " + websocket.headers.get("x-remote-user", "nobody"))
    while True:
        message = await websocket.receive_text()
        if message == "bye":
            await websocket.close(4001)
            return
        await websocket.send_text(message.upper())


ws_upstream = Starlette(routes=[WebSocketRoute("/ws", _ws_echo)])


async def path_asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Answers every request with the path, method and user it was handed (security tests)."""
    if scope["type"] != "http":
        return
    user = scope.get("user")
    body = json.dumps(
        {
            "kind": "asgi",
            "method": scope["method"],
            "path": scope["path"],
            "user": getattr(user, "email", None),
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def path_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The WSGI twin of :func:`path_asgi_app` (the path is ``SCRIPT_NAME`` + ``PATH_INFO``)."""
    path = (
        (environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]).encode("latin-1").decode("utf-8", "replace")
    )
    body = json.dumps(
        {
            "kind": "wsgi",
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "user": environ.get("REMOTE_USER"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def already_wrapped_app() -> Any:
    """An app that wraps itself (as examples/starlette_app.py does), for `run --factory`."""
    from saml_middleware import SAMLMiddleware, Settings

    settings = Settings(base_url="http://localhost:8000", secret_key=("a-secret-key-of-at-least-32-bytes!!",))
    return SAMLMiddleware(asgi_app, settings=settings)
