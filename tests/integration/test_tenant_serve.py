"""What ``saml-middleware run`` and ``proxy`` serve (``build_app``, ``proxy_app``), with
connections: the app is told the tenant (WSGI under a2wsgi: ``environ["saml.tenant"]``), the
upstream in ``X-Remote-Tenant``, never a client's.

(The commands themselves open ``SAML_CONNECTIONS`` from the environment; here the lookup is
handed in, as ``SAMLMiddleware(app, connections=...)`` takes it.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from saml_middleware import Settings
from saml_middleware.serve.proxy import proxy_app
from saml_middleware.serve.runner import build_app

from ..support.asgiclient import PortalASGITransport, asgi_client
from ..support.harness import APP, Clock
from ..support.servers import echo_upstream
from ..support.tenants import IDP_A, IDP_B, TenantBrowser, Tenants, Visits, tenant_wsgi_app


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with echo_upstream(tmp_path_factory.mktemp("echo")) as url:
        yield url


def test_the_upstream_learns_the_tenant_and_never_a_client_sent_one(
    upstream: str,
    clock: Clock,
    idp_keys: tuple[str, str],
    second_idp_keys: tuple[str, str],
    clients: list[httpx.Client],
) -> None:
    tenants = Tenants.make(idp_keys, second_idp_keys, clock)
    settings = Settings(base_url=APP, secret_key=("test-secret-key-0123456789abcdef",))
    app = proxy_app(upstream, settings, connections=tenants.lookup, clock=clock)
    made = [
        asgi_client(app, APP),
        asgi_client(tenants.idp_a.app, IDP_A),
        asgi_client(tenants.idp_b.app, IDP_B),
    ]
    clients.extend(made)
    browser = TenantBrowser(made[0], [(tenants.idp_a, made[1]), (tenants.idp_b, made[2])])
    spoof = {"X-Remote-Tenant": "contoso-tenant", "X_Remote_Tenant": "contoso-tenant"}
    assert browser.app.get("/who", headers=spoof).status_code == 401
    landed = browser.login(browser.get("/saml/login?email=kim@fabrikam.com&next=/who"), "kim@fabrikam.com")
    assert landed.status_code == 303
    seen = browser.app.get("/who", headers=spoof).json()["headers"]
    assert seen["x-remote-tenant"] == "beta"
    assert seen["x-remote-email"] == "kim@fabrikam.com"
    transport = made[0]._transport
    assert isinstance(transport, PortalASGITransport)
    transport.portal.call(shut_down, app)  # the proxy closes its upstream connections


def test_run_tells_a_wsgi_app_its_users_tenant(
    clock: Clock, idp_keys: tuple[str, str], second_idp_keys: tuple[str, str], clients: list[httpx.Client]
) -> None:
    tenants = Tenants.make(idp_keys, second_idp_keys, clock)
    settings = Settings(base_url=APP, secret_key=("test-secret-key-0123456789abcdef",))
    visits = Visits()
    app = build_app(tenant_wsgi_app(visits), "wsgi", settings, connections=tenants.lookup, clock=clock)
    made = [
        asgi_client(app, APP),
        asgi_client(tenants.idp_a.app, IDP_A),
        asgi_client(tenants.idp_b.app, IDP_B),
    ]
    clients.extend(made)
    browser = TenantBrowser(made[0], [(tenants.idp_a, made[1]), (tenants.idp_b, made[2])])
    to_idp = browser.get("/saml/login?email=alex.wilber@contoso.com&next=/home")
    assert to_idp.headers["location"].startswith(tenants.idp_a.sso_url)
    assert browser.login(to_idp, "alex.wilber@contoso.com").headers["location"] == "/home"
    seen = browser.get("/home").json()
    assert (seen["user"], seen["connection"], seen["tenant"]) == (
        "alex.wilber@contoso.com",
        "acme",
        "contoso-tenant",
    )


async def shut_down(app: Any) -> None:
    """The ASGI lifespan, started and shut down, as uvicorn does around serving."""
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        assert message["type"] in ("lifespan.startup.complete", "lifespan.shutdown.complete")

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
