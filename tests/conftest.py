"""Shared fixtures: the dev IdP, a frozen clock, both adapters, and a browser that logs in."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from saml_middleware import SAMLMiddleware, SAMLUser, SAMLWSGIMiddleware, Settings
from saml_middleware.devidp import DevIdP, auto_post_form_fields

from .asgiclient import asgi_client
from .redisserver import RedisServer

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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def idp_keys() -> tuple[str, str]:
    from saml_middleware.devidp import generate_keypair

    return generate_keypair("test IdP")


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


@pytest.fixture
def idp(clock: Clock, idp_keys: tuple[str, str]) -> DevIdP:
    return tenant_idp(idp_keys, clock)


@pytest.fixture
def settings_factory(idp: DevIdP) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "base_url": APP,
            "secret_key": ("test-secret-key-0123456789abcdef",),
            "idp_metadata": idp.metadata_xml().decode("utf-8"),
            "public_paths": ("/public",),
        }
        values.update(overrides)
        return Settings(**values)

    return make


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
    import json

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


AdapterFactory = Callable[..., tuple[Any, Seen]]


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_app(adapter: str, clock: Clock, settings_factory: Callable[..., Settings]) -> AdapterFactory:
    """Build the wrapped app for the current adapter: ``make_app(**settings) -> (app, seen)``."""

    def make(directory: Any = None, **overrides: Any) -> tuple[Any, Seen]:
        seen = Seen()
        settings = settings_factory(**overrides)
        options: dict[str, Any] = {"clock": clock}
        if directory is not None:
            options["directory"] = directory
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, **options), seen
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, **options), seen

    return make


def client_for(app: Any, adapter: str, base_url: str = APP) -> httpx.Client:
    if adapter == "asgi":
        return asgi_client(app, base_url)
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=base_url, follow_redirects=False)


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    """Clients to close at teardown (an ASGI client owns an event-loop thread)."""
    made: list[httpx.Client] = []
    yield made
    for c in made:
        c.close()


@pytest.fixture
def browser_factory(adapter: str, idp: DevIdP, clients: list[httpx.Client]) -> Callable[..., Browser]:
    """``browser_factory(app, idp=None)``: a new browser (own cookie jar) for ``app``."""

    def make(app: Any, other_idp: DevIdP | None = None) -> Browser:
        the_idp = other_idp or idp
        app_client = client_for(app, adapter)
        idp_client = asgi_client(the_idp.app, IDP)
        clients.extend([app_client, idp_client])
        return Browser(app_client, idp_client, the_idp)

    return make


#: the interop corpus of real IdP output, shipped in the repository (sources and licences:
#: tests/data/interop/README.md)
INTEROP = Path(__file__).resolve().parent / "data" / "interop"


__all__ = [
    "APP",
    "HTML",
    "IDP",
    "INTEROP",
    "Browser",
    "Clock",
    "PlainTextResponse",
    "Seen",
    "tenant_idp",
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, idp: DevIdP, tmp_path: Path) -> Path:
    """A clean ``SAML_*`` environment for commands: base URL, secret key, the dev IdP's metadata file."""
    for name in list(os.environ):
        if name.startswith("SAML_"):
            monkeypatch.delenv(name)
    metadata = tmp_path / "FederationMetadata.xml"
    metadata.write_bytes(idp.metadata_xml())
    monkeypatch.setenv("SAML_BASE_URL", "http://app.test")
    monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAML_IDP_METADATA_FILE", str(metadata))
    return tmp_path


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, one per test module (fails under CI=true if absent)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
