"""Two instances of an app on one real PostgreSQL registry, each built from its settings alone
(``Settings(connections=postgresql://...)``: the lookup opened by the middleware, nothing
injected): a connection added through instance 1 serves a complete login on instance 2 within
``SAML_CONNECTIONS_REFRESH``; switched off with the CLI, it stops there too.

Instance 1 is the ASGI adapter, instance 2 the WSGI one. ``SAML_CONNECTIONS_REFRESH=1`` and
polling (never a timed assertion): each wait ends as soon as the change is seen.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.connections import Connection, RefreshingLookup
from saml_middleware.devidp import DevIdP

from ..support.asgiclient import asgi_client
from ..support.harness import APP, client_for
from ..support.servers import CLI
from ..support.tenants import IDP_A, TenantBrowser, Visits, tenant_asgi_app, tenant_wsgi_app

pytestmark = pytest.mark.needs("postgresql")


def eventually(answer: Callable[[], httpx.Response], status: int, timeout: float = 30) -> httpx.Response:
    """``answer()`` until it has ``status`` (the registry is re-read every second), or the last one."""
    deadline = time.monotonic() + timeout
    got = answer()
    while got.status_code != status and time.monotonic() < deadline:
        time.sleep(0.2)
        got = answer()
    return got


def test_a_connection_added_on_one_instance_serves_a_login_on_the_other(
    postgres_url: str, idp_keys: tuple[str, str], clients: list[httpx.Client]
) -> None:
    idp = DevIdP(IDP_A, tenant_id="11111111-1111-4111-8111-111111111111", key_pem=idp_keys[0],
                 cert_pem=idp_keys[1])  # fmt: skip
    settings = Settings(
        base_url=APP, secret_key=("test-secret-key-0123456789abcdef",), connections=postgres_url,
        connections_refresh=1,
    )  # fmt: skip
    one_saw, two_saw = Visits(), Visits()
    one = SAMLMiddleware(tenant_asgi_app(one_saw), settings=settings)
    two = SAMLWSGIMiddleware(tenant_wsgi_app(two_saw), settings=settings)
    lookups: list[Any] = [one.gate.connections, two.gate.connections]
    assert all(isinstance(lookup, RefreshingLookup) for lookup in lookups)  # opened from the settings
    made = [client_for(one, "asgi"), client_for(two, "wsgi"), asgi_client(idp.app, IDP_A)]
    clients.extend(made)
    at_one = TenantBrowser(made[0], [(idp, made[2])])
    at_two = TenantBrowser(made[1], [(idp, made[2])])
    sign_in = "/saml/login?email=b.simon@contoso.com&next=/reports"
    try:
        assert at_two.get(sign_in).status_code == 400  # nobody signs in with contoso.com yet

        lookups[0].registry.put(  # through instance 1's own registry
            Connection(
                "acme",
                name="Contoso",
                tenant="contoso-tenant",
                domains=("contoso.com",),
                idp_metadata=idp.metadata_xml().decode(),
            )
        )
        to_idp = eventually(lambda: at_two.get(sign_in), 302)
        assert to_idp.status_code == 302 and to_idp.headers["location"].startswith(idp.sso_url)
        landed = at_two.login(to_idp, "b.simon@contoso.com")
        assert landed.status_code == 303 and landed.headers["location"] == "/reports"
        page = at_two.get("/reports")
        assert page.status_code == 200
        assert (page.json()["user"], page.json()["tenant"]) == ("b.simon@contoso.com", "contoso-tenant")
        assert two_saw.calls[-1]["connection"] == "acme" and one_saw.calls == []

        # the same session is good on instance 1 (one site, one secret): no second login
        at_one.app.cookies.update(at_two.app.cookies)
        assert eventually(lambda: at_one.get("/reports"), 200).json()["tenant"] == "contoso-tenant"

        # switched off with the CLI (a third process): instance 2 stops sending anyone to the IdP
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
        env["SAML_CONNECTIONS"] = postgres_url
        done = subprocess.run(
            [*CLI, "connections", "disable", "acme"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        refused = eventually(lambda: at_two.get(sign_in), 403)
        assert refused.status_code == 403 and "Single sign-on for Contoso is turned off" in refused.text
        assert eventually(lambda: at_two.get("/reports"), 302).status_code == 302  # its session ends too
    finally:
        for lookup in lookups:
            lookup.registry.dispose()
