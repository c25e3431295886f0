"""Many tenants in tests: two customer organisations, each with its own dev IdP (own key, own
entity ID, own users), the connections that point at them, a lookup that sees registry changes,
and apps that record the tenant they were handed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from saml_middleware import SAMLUser
from saml_middleware.connections import Connection, MemoryRegistry, RefreshingLookup
from saml_middleware.devidp import DevIdP, auto_post_form_fields
from saml_middleware.devidp.users import DevUser

from .harness import HTML, Clock

__all__ = [
    "ACME_HOST",
    "GLOBEX_HOST",
    "IDP_A",
    "IDP_B",
    "LiveLookup",
    "TenantBrowser",
    "Tenants",
    "Visits",
    "tenant_asgi_app",
    "tenant_wsgi_app",
]

IDP_A = "http://idp-a.test"
IDP_B = "http://idp-b.test"
ACME_HOST = "acme.app.test"
GLOBEX_HOST = "globex.app.test"
TENANT_A = "11111111-1111-4111-8111-111111111111"
TENANT_B = "22222222-2222-4222-8222-222222222222"
#: IdP B (Fabrikam's tenant) also has a contoso.com account: a hostile or careless tenant
FABRIKAM_USERS = (
    DevUser("kim@fabrikam.com", given_name="Kim", surname="Akers"),
    DevUser("b.simon@contoso.com", given_name="Fake", surname="Simon"),
    DevUser("lee@fabrikam.com", given_name="Lee", surname="Gu"),
)


class LiveLookup(RefreshingLookup):
    """The product's refreshing lookup over a :class:`MemoryRegistry`, checking the registry's
    version at every lookup (what ``SAML_CONNECTIONS_REFRESH`` does, without the wait)."""

    def __init__(self, registry: MemoryRegistry) -> None:
        super().__init__(registry, 1e-9)
        self.registry: MemoryRegistry = registry


@dataclass
class Tenants:
    """Contoso (connection ``acme``, IdP A) and Fabrikam (connection ``beta``, IdP B)."""

    idp_a: DevIdP
    idp_b: DevIdP
    registry: MemoryRegistry
    lookup: LiveLookup

    @classmethod
    def make(
        cls,
        keys_a: tuple[str, str],
        keys_b: tuple[str, str],
        clock: Clock,
        *,
        hosts: bool = False,
        **extra: Any,
    ) -> Tenants:
        idp_a = DevIdP(IDP_A, tenant_id=TENANT_A, key_pem=keys_a[0], cert_pem=keys_a[1], clock=clock)
        idp_b = DevIdP(
            IDP_B,
            tenant_id=TENANT_B,
            users=FABRIKAM_USERS,
            key_pem=keys_b[0],
            cert_pem=keys_b[1],
            clock=clock,
        )
        acme = Connection(
            "acme",
            name="Contoso",
            tenant="contoso-tenant",
            domains=("contoso.com",),
            hosts=(ACME_HOST,) if hosts else (),
            idp_metadata=idp_a.metadata_xml().decode(),
            **extra.get("acme", {}),
        )
        beta = Connection(
            "beta",
            name="Fabrikam",
            domains=("fabrikam.com",),
            hosts=(GLOBEX_HOST,) if hosts else (),
            idp_metadata=idp_b.metadata_xml().decode(),
            **extra.get("beta", {}),
        )
        registry = MemoryRegistry([acme, beta])
        return cls(idp_a, idp_b, registry, LiveLookup(registry))

    def update(self, connection_id: str, **changes: Any) -> None:
        current = self.registry.get(connection_id)
        assert current is not None
        self.registry.put(replace(current, **changes, updated_at=current.updated_at + 1))


@dataclass
class Visits:
    """What the wrapped app saw: one entry per call (with the tenant)."""

    calls: list[dict[str, Any]] = field(default_factory=list)


def tenant_asgi_app(visits: Visits) -> Starlette:
    async def page(request: Request) -> JSONResponse:
        user = request.scope.get("user")
        entry = {
            "path": request.url.path,
            "user": user.email if isinstance(user, SAMLUser) else None,
            "connection": user.connection if isinstance(user, SAMLUser) else None,
            "tenant": user.tenant if isinstance(user, SAMLUser) else None,
            "attributes": dict(user.attributes) if isinstance(user, SAMLUser) else {},
        }
        visits.calls.append(entry)
        return JSONResponse(entry)

    return Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])


def tenant_wsgi_app(visits: Visits) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        user = environ.get("saml.user")
        entry = {
            "path": environ["PATH_INFO"],
            "user": environ.get("REMOTE_USER"),
            "connection": user.connection if isinstance(user, SAMLUser) else None,
            "tenant": environ.get("saml.tenant"),
            "attributes": dict(user.attributes) if isinstance(user, SAMLUser) else {},
        }
        visits.calls.append(entry)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(entry).encode()]

    return app


class TenantBrowser:
    """A browser with one cookie jar for the app and a client for each IdP."""

    def __init__(self, app: httpx.Client, idps: Iterable[tuple[DevIdP, httpx.Client]]) -> None:
        self.app = app
        self.idps = list(idps)

    def get(self, path: str, *, host: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**HTML, **kwargs.pop("headers", {})}
        if host is not None:
            return self.app.get(f"http://{host}{path}", headers=headers, **kwargs)
        return self.app.get(path, headers=headers, **kwargs)

    def at_idp(self, redirect: httpx.Response, email: str) -> tuple[str, dict[str, str]]:
        """Sign in as ``email`` at the IdP ``redirect`` points to; the auto-post form's action and fields."""
        location = redirect.headers["location"]
        client = next(c for i, c in self.idps if location.startswith(i.sso_url))
        url = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        data = {"SAMLRequest": query["SAMLRequest"], "email": email}
        if "RelayState" in query:
            data["RelayState"] = query["RelayState"]
        posted = client.post(f"{url.path}/login", data=data)
        assert posted.status_code == 200, posted.text
        return auto_post_form_fields(posted.text)

    def post(self, action: str, fields: dict[str, str]) -> httpx.Response:
        """POST the IdP's form to ``action`` (its full URL: the host matters under host routing)."""
        return self.app.post(action, data=fields)

    def login(self, redirect: httpx.Response, email: str) -> httpx.Response:
        action, fields = self.at_idp(redirect, email)
        return self.post(action, fields)
