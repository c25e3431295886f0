"""Many tenants, the sign-in details: ``?email=`` on a connection's host goes to its IdP as
``login_hint`` too, and ``{PREFIX}/setup`` is the deployment admins' page (ASGI and WSGI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.connections import Connection, ConnectionIndex, ConnectionLookup

from ..support.harness import APP, Clock
from ..support.tenants import (
    ACME_HOST,
    GLOBEX_HOST,
    TenantBrowser,
    Tenants,
    Visits,
    tenant_asgi_app,
    tenant_wsgi_app,
)

MakeApp = Callable[..., tuple[Any, Any, Tenants]]
NewBrowser = Callable[[Any, Tenants], TenantBrowser]


def query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_an_email_on_a_connections_host_goes_to_its_idp_as_login_hint(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, visits, tenants = make_tenant_app(hosts=True)
    browser = tenant_browser(app, tenants)
    to_idp = browser.get("/saml/login?email=Kim@fabrikam.com&next=/inbox", host=GLOBEX_HOST)
    assert to_idp.status_code == 302
    assert to_idp.headers["location"].startswith(tenants.idp_b.sso_url)
    assert query(to_idp)["login_hint"] == "Kim@fabrikam.com"
    landed = browser.login(to_idp, "kim@fabrikam.com")
    assert landed.status_code == 303 and landed.headers["location"] == "/inbox"
    assert browser.get("/inbox", host=GLOBEX_HOST).json()["connection"] == "beta"
    # the host decides the IdP, not the e-mail's domain; no e-mail, or not one: no hint
    other = browser.get("/saml/login?email=b.simon@contoso.com", host=GLOBEX_HOST)
    assert other.headers["location"].startswith(tenants.idp_b.sso_url)
    for bad in ("", "?email=not-an-address", "?email=" + "a" * 321 + "@x.com"):
        plain = browser.get(f"/saml/login{bad}", host=ACME_HOST)
        assert plain.status_code == 302 and plain.headers["location"].startswith(tenants.idp_a.sso_url)
        assert "login_hint" not in query(plain)
    assert len(visits.calls) == 1


ADMIN = "b.simon@contoso.com"
SECRET = "test-secret-key-0123456789abcdef"  # the key make_tenant_app gives the deployment


def signed_in(browser: TenantBrowser, email: str) -> TenantBrowser:
    landed = browser.login(browser.get(f"/saml/login?email={email}"), email)
    assert landed.status_code == 303
    return browser


def test_the_deployment_admins_page_lists_every_connection_with_its_values(
    adapter: str,
    clock: Clock,
    idp_keys: tuple[str, str],
    second_idp_keys: tuple[str, str],
    tenant_browser: NewBrowser,
) -> None:
    # Fabrikam's own admin (its connection's admin_emails) is not the deployment's
    fabrikam_admin = {"settings": {"admin_emails": ("kim@fabrikam.com",)}}
    tenants = Tenants.make(idp_keys, second_idp_keys, clock, beta=fabrikam_admin)
    tenants.registry.put(Connection("gamma", name="Gamma & Co", domains=("gamma.example",), enabled=False))
    settings = Settings(base_url=APP, secret_key=(SECRET,), admin_emails=(ADMIN,))
    index = ConnectionIndex(tenants.registry.all())  # a lookup that can list its connections
    wrap = SAMLMiddleware if adapter == "asgi" else SAMLWSGIMiddleware
    visits = Visits()
    app = wrap(
        (tenant_asgi_app if adapter == "asgi" else tenant_wsgi_app)(visits),
        settings=settings,
        connections=index,
        clock=clock,
    )
    visitor = tenant_browser(app, tenants)
    first = visitor.get("/saml/setup")
    assert first.status_code == 302 and first.headers["location"] == f"{APP}/saml/login?next=/saml/setup"
    other = signed_in(tenant_browser(app, tenants), "kim@fabrikam.com").get("/saml/setup")
    assert other.status_code == 403 and "kim@fabrikam.com, which is not in SAML_ADMIN_EMAILS" in other.text
    admin = signed_in(tenant_browser(app, tenants), ADMIN)
    page = admin.get("/saml/setup")
    assert page.status_code == 200 and "<h1>SAML setup: connections</h1>" in page.text
    assert "Connections (3)" in page.text
    assert f"Identifier: <code>{APP}/saml/c/acme/metadata</code>" in page.text
    assert f"Reply URL: <code>{APP}/saml/c/beta/acs</code>" in page.text
    assert f"Logout URL: <code>{APP}/saml/c/beta/sls</code>" in page.text
    assert "<code>gamma</code><br>Gamma &amp; Co" in page.text and "not set up yet" in page.text
    assert "contoso.com" in page.text and "fabrikam.com" in page.text and "gamma.example" in page.text
    # nothing secret: no setup link, no key, no certificate
    assert "token=" not in page.text and SECRET not in page.text and "BEGIN CERTIFICATE" not in page.text
    assert "connections setup-link ID" in page.text
    assert admin.app.post("/saml/setup").status_code == 405
    assert visits.calls == []  # the page is the middleware's, never the app's


class AppLookup:
    """A lookup an app writes over its own tenant table: finds, cannot list."""

    def __init__(self, inner: ConnectionLookup) -> None:
        self.inner = inner

    def get(self, connection_id: str) -> Connection | None:
        return self.inner.get(connection_id)

    def by_host(self, host: str) -> Connection | None:
        return self.inner.by_host(host)

    def by_domain(self, domain: str) -> Connection | None:
        return self.inner.by_domain(domain)


def test_a_lookup_that_cannot_list_gets_a_page_naming_the_command(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, clock: Clock
) -> None:
    built, _, tenants = make_tenant_app(admin_emails=(ADMIN,))
    # the same app over an app's own lookup (the ConnectionLookup Protocol only)
    app = type(built)(built.app, settings=built.settings, clock=clock, connections=AppLookup(tenants.lookup))
    page = signed_in(tenant_browser(app, tenants), ADMIN).get("/saml/setup")
    assert page.status_code == 200
    assert "use <code>saml-middleware connections list</code>" in page.text
