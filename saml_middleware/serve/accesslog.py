"""Access logs in uvicorn's shape, with the signed-in user's e-mail in the "user" column.

``127.0.0.1:52114 - b.simon@contoso.com "GET /reports?q=1 HTTP/1.1" 200``

:class:`AccessLog` wraps the whole stack (outside the middleware) and writes one record per
HTTP request to the ``saml_middleware.access`` logger. The user is found by a marker placed
inside the middleware: :func:`asgi_marker` for ASGI apps, :func:`wsgi_marker` for WSGI apps
served through a2wsgi. Both write into a dict the outer layer put in the scope, so they work
although the middleware hands the app a copy of the scope.

Every field is passed through :func:`escape_control` (CR, LF, other control characters,
``"`` and ``\\`` escaped), so a request cannot write a forged line into the log.
``run`` and ``proxy`` print every other record through :func:`escape_message` too
(``saml_middleware.serve.runner.EscapingFormatter``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from ..types import ASGIApp, Message, Receive, Scope, Send
from ..user import SAMLUser

__all__ = ["NOTE", "AccessLog", "asgi_marker", "escape_control", "escape_message", "wsgi_marker"]

#: The scope key of the dict the markers fill in (``{"user": email}``).
NOTE = "saml_middleware.access"
logger = logging.getLogger("saml_middleware.access")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')
#: what :func:`escape_message` escapes: every control character but TAB, and Unicode line breaks
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control(text: str) -> str:
    r"""``text`` with control characters, ``"`` and ``\`` escaped, for one field of a log line.

    >>> escape_control('/x\r\n127.0.0.1 - admin "GET /')
    '/x\\r\\n127.0.0.1 - admin \\"GET /'
    """
    return _UNSAFE.sub(_escape, text)


def escape_message(text: str) -> str:
    r"""``text`` on one line: control characters (CR, LF, ...) escaped, quotes kept.

    >>> escape_message("user a\r\nforged line")
    'user a\\r\\nforged line'
    """
    return _CONTROLS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\r": "\\r", "\n": "\\n", "\t": "\\t", '"': '\\"', "\\": "\\\\"}.get(
        char, f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


class AccessLog:
    """One ``saml_middleware.access`` INFO record per HTTP request, after the response started.

    :param app: the ASGI application (normally the middleware around the user's app).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note: dict[str, str] = {}
        scope[NOTE] = note
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            client = scope.get("client")
            query = scope.get("query_string", b"").decode("latin-1")
            logger.info(
                '%s - %s "%s %s HTTP/%s" %d',
                escape_control(f"{client[0]}:{client[1]}" if client else "-"),
                escape_control(note.get("user", "-")),
                escape_control(scope.get("method", "GET")),
                escape_control(scope.get("root_path", "") + scope["path"] + ("?" + query if query else "")),
                escape_control(scope.get("http_version", "1.1")),
                status,
            )


def note_user(scope: Scope, user: Any) -> None:
    """Record the user for :class:`AccessLog` (a no-op outside it)."""
    note = scope.get(NOTE)
    if note is not None and isinstance(user, SAMLUser):
        note["user"] = user.email


def asgi_marker(app: ASGIApp) -> ASGIApp:
    """Put inside :class:`~saml_middleware.SAMLMiddleware`: notes ``scope["user"]``."""

    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        note_user(scope, scope.get("user"))
        await app(scope, receive, send)

    return marked


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_marker(app: WSGIApp) -> WSGIApp:
    """Put inside :class:`~saml_middleware.SAMLWSGIMiddleware` under a2wsgi: notes ``saml.user``."""

    def marked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scope = environ.get("asgi.scope")
        if isinstance(scope, dict):
            note_user(scope, environ.get("saml.user"))
        return app(environ, start_response)

    return marked
