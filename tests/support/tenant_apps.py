"""Apps served by ``saml-middleware run`` in the many-tenants server tests: each answers with the
user, connection and tenant it was handed (ASGI: ``request.user``; WSGI: ``environ``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from saml_middleware import SAMLUser


async def _whoami(request: Request) -> JSONResponse:
    user = request.scope.get("user")
    signed_in = isinstance(user, SAMLUser)
    return JSONResponse(
        {
            "kind": "asgi",
            "user": user.email if signed_in else None,
            "connection": user.connection if signed_in else None,
            "tenant": user.tenant if signed_in else None,
        }
    )


asgi_app = Starlette(routes=[Route("/{path:path}", _whoami)])


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    user = environ.get("saml.user")
    body = json.dumps(
        {
            "kind": "wsgi",
            "user": environ.get("REMOTE_USER"),
            "connection": user.connection if isinstance(user, SAMLUser) else None,
            "tenant": environ.get("saml.tenant"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
