"""The apps started as real server processes by tests/test_scaleout.py.

Configured by ``SAML_*`` environment variables only::

    uvicorn --factory tests.support.scaleout_app:make_asgi
    waitress-serve --call tests.support.scaleout_app:make_wsgi

Each answers JSON naming the user and the process, so a test can tell the instances apart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from saml_middleware import SAMLMiddleware, SAMLUser, SAMLWSGIMiddleware


def _body(user: Any, logout_url: Any) -> dict[str, Any]:
    return {
        "user": user.email if isinstance(user, SAMLUser) else None,
        "pid": os.getpid(),
        "logout_url": logout_url,
    }


def make_asgi() -> SAMLMiddleware:
    async def page(request: Request) -> JSONResponse:
        return JSONResponse(_body(request.scope.get("user"), request.scope.get("saml.logout_url")))

    return SAMLMiddleware(Starlette(routes=[Route("/{path:path}", page)]))


def make_wsgi() -> SAMLWSGIMiddleware:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps(_body(environ.get("saml.user"), environ.get("saml.logout_url"))).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return SAMLWSGIMiddleware(app)
