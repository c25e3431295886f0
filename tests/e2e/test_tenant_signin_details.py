"""Many tenants, the sign-in details: ``?email=`` on a connection's host goes to its IdP as
``login_hint`` too, and ``{PREFIX}/setup`` is the deployment admins' page (ASGI and WSGI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ..support.tenants import ACME_HOST, GLOBEX_HOST, TenantBrowser, Tenants

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
