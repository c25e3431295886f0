"""What every kind of test shares: the test tenant's addresses, a frozen clock, the apps the
middleware wraps (ASGI and WSGI, recording what they saw), and a browser that logs in through
the dev IdP. The fixtures built on them are in tests/conftest.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from saml_middleware import SAMLUser
from saml_middleware.devidp import DevIdP, auto_post_form_fields

from .asgiclient import asgi_client
from .interop import INTEROP

__all__ = [
    "APP",
    "HTML",
    "IDP",
    "INTEROP",
    "SECRET",
    "START",
    "AdapterFactory",
    "Browser",
    "Clock",
    "Seen",
    "asgi_app",
    "client_for",
    "tenant_idp",
    "wsgi_app",
]

APP = "http://app.test"
IDP = "http://idp.test"
HTML = {"accept": "text/html,application/xhtml+xml"}
START = 1_750_000_000.0


#: the secret key of the `env` fixture's environment
SECRET = "cli-secret-key-0123456789"


@dataclass
class Clock:
    """A frozen clock tests move by hand."""

    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tenant_idp(keys: tuple[str, str], clock: Clock) -> DevIdP:
    """The test tenant's dev IdP signing with ``keys`` (key, certificate), set up for ``APP``."""
    key, cert = keys
    return DevIdP(
        IDP,
        key_pem=key,
        cert_pem=cert,
        clock=clock,
        sp_acs_url=f"{APP}/saml/acs",
        sp_entity_id=f"{APP}/saml/metadata",
    )


@dataclass
class Seen:
    """What the wrapped app saw: one entry per call."""

    calls: list[dict[str, Any]] = field(default_factory=list)


def asgi_app(seen: Seen) -> Starlette:
    async def page(request: Request) -> JSONResponse:
        user = request.scope.get("user")
        entry = {
            "path": request.url.path,
            "user": user.email if isinstance(user, SAMLUser) else None,
            "authenticated": bool(getattr(user, "is_authenticated", False)),
            "display_name": getattr(user, "display_name", None),
            "attributes": dict(user.attributes) if isinstance(user, SAMLUser) else {},
            "scopes": list(request.auth.scopes) if "auth" in request.scope else [],
            "logout_url": request.scope.get("saml.logout_url"),
        }
        seen.calls.append(entry)
        return JSONResponse(entry)

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        user = websocket.scope.get("user")
        await websocket.send_text(user.email if isinstance(user, SAMLUser) else "anonymous")
        await websocket.close()

    return Starlette(
        routes=[
            Route("/{path:path}", page, methods=["GET", "POST", "HEAD"]),
            WebSocketRoute("/ws", ws),
        ]
    )


def wsgi_app(seen: Seen) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        user = environ.get("saml.user")
        entry = {
            "path": environ["PATH_INFO"],
            "user": environ.get("REMOTE_USER"),
            "authenticated": user is not None,
            "display_name": getattr(user, "display_name", None),
            "attributes": dict(user.attributes) if isinstance(user, SAMLUser) else {},
            "scopes": ["authenticated"] if user is not None else [],
            "logout_url": environ.get("saml.logout_url"),
        }
        seen.calls.append(entry)
        body = json.dumps(entry).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


class Browser:
    """Plays a browser between the wrapped app and the dev IdP, with its own cookie jar."""

    def __init__(self, app: httpx.Client, idp_client: httpx.Client, idp: DevIdP) -> None:
        self.app = app
        self.idp_client = idp_client
        self.idp = idp

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**HTML, **kwargs.pop("headers", {})}
        return self.app.get(path, headers=headers, **kwargs)

    def start(self, path: str = "/") -> httpx.Response:
        """Ask for a protected page; return the 302 to the IdP."""
        response = self.get(path)
        assert response.status_code == 302, response.text
        assert response.headers["location"].startswith(self.idp.sso_url)
        return response

    def idp_form(
        self, redirect: httpx.Response, email: str = "b.simon@contoso.com"
    ) -> tuple[str, dict[str, str]]:
        """At the IdP: open the login page, pick the user, get the auto-post form."""
        url = urlsplit(redirect.headers["location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        page = self.idp_client.get(url.path + "?" + url.query)
        assert page.status_code == 200 and email in page.text
        data = {"SAMLRequest": query["SAMLRequest"], "email": email}
        if "RelayState" in query:
            data["RelayState"] = query["RelayState"]
        posted = self.idp_client.post(url.path + "/login", data=data)
        assert posted.status_code == 200, posted.text
        return auto_post_form_fields(posted.text)

    def post_acs(self, action: str, fields: dict[str, str]) -> httpx.Response:
        return self.app.post(urlsplit(action).path, data=fields)

    def login(self, path: str = "/", email: str = "b.simon@contoso.com") -> httpx.Response:
        action, fields = self.idp_form(self.start(path), email)
        return self.post_acs(action, fields)


def client_for(app: Any, adapter: str, base_url: str = APP) -> httpx.Client:
    if adapter == "asgi":
        return asgi_client(app, base_url)
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=base_url, follow_redirects=False)


AdapterFactory = Callable[..., tuple[Any, Seen]]
