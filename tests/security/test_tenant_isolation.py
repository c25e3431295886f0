"""Isolation between tenants: customer B's IdP can never sign anyone into customer A.

Contoso (connection ``acme``, contoso.com, IdP A) and Fabrikam (connection ``beta``,
fabrikam.com, IdP B) live in one deployment; IdP B has a ``b.simon@contoso.com`` account
too (a hostile or careless tenant). Every refusal is a 4xx with no session cookie.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware.http import HTTPRequest, HTTPResponse

from ..support.harness import APP
from ..support.tenants import ACME_HOST, GLOBEX_HOST, TenantBrowser, Tenants
from .helpers import session_cookies_set

MakeApp = Callable[..., tuple[Any, Any, Tenants]]
NewBrowser = Callable[[Any, Tenants], TenantBrowser]
ACME_ACS = f"{APP}/saml/c/acme/acs"
ACME_ENTITY = f"{APP}/saml/c/acme/metadata"


def refusal_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.saml_reason for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]  # type: ignore[attr-defined]


def request_id(redirect: httpx.Response) -> str:
    """The ID of the AuthnRequest in a redirect to the IdP (deflated, base64)."""
    import zlib

    value = parse_qs(urlsplit(redirect.headers["location"]).query)["SAMLRequest"][0]
    xml = zlib.decompress(base64.b64decode(value), -15).decode()
    return xml.split(' ID="', 1)[1].split('"', 1)[0]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="saml_middleware")
    return caplog


def test_idp_b_response_posted_to_acme_acs_is_refused(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, logs: pytest.LogCaptureFixture
) -> None:
    """Signed by B's key, made out for A's ACS and audience, answering A's login: still refused,
    because A's ACS checks only against A's IdP."""
    app, visits, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    to_a = browser.get("/saml/login?email=b.simon@contoso.com")
    relay = parse_qs(urlsplit(to_a.headers["location"]).query)["RelayState"][0]
    forged = tenants.idp_b.issue_response(
        "b.simon@contoso.com", acs_url=ACME_ACS, audience=ACME_ENTITY, in_response_to=request_id(to_a)
    )
    response = browser.post(
        ACME_ACS, {"SAMLResponse": base64.b64encode(forged).decode(), "RelayState": relay}
    )
    assert response.status_code == 400
    assert refusal_reasons(logs) == ["signature_invalid"]  # A's certificate does not verify B's signature
    assert session_cookies_set(response) == []
    assert browser.get("/").status_code == 302 and visits.calls == []


def test_idp_b_cannot_sign_in_a_contoso_address_even_at_its_own_acs(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, logs: pytest.LogCaptureFixture
) -> None:
    app, visits, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    to_b = browser.get("/saml/c/beta/login")
    response = browser.login(to_b, "b.simon@contoso.com")
    assert response.status_code == 403
    assert refusal_reasons(logs) == ["domain_not_allowed"]
    assert session_cookies_set(response) == []
    assert browser.get("/").status_code == 302 and visits.calls == []


def test_a_session_is_bound_to_its_connections_hosts(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app(hosts=True)
    browser = tenant_browser(app, tenants)
    action, fields = browser.at_idp(browser.get("/", host=ACME_HOST), "b.simon@contoso.com")
    assert browser.post(action, fields).status_code == 303
    cookie = browser.app.cookies.get("saml_session", domain=ACME_HOST)
    assert cookie
    assert browser.get("/", host=ACME_HOST).status_code == 200
    # the same cookie presented on Fabrikam's host: not signed in there, sent to B's IdP
    elsewhere = browser.app.get(
        f"http://{GLOBEX_HOST}/", headers={"accept": "text/html", "cookie": f"saml_session={cookie}"}
    )
    assert elsewhere.status_code == 302 and elsewhere.headers["location"].startswith(tenants.idp_b.sso_url)
    auth = browser.app.get(f"http://{GLOBEX_HOST}/saml/auth", headers={"cookie": f"saml_session={cookie}"})
    assert auth.status_code == 401


def test_disabling_a_connection_ends_its_sessions_and_its_hosts_pass_through(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, visits, tenants = make_tenant_app(hosts=True)
    browser = tenant_browser(app, tenants)
    action, fields = browser.at_idp(browser.get("/", host=ACME_HOST), "b.simon@contoso.com")
    browser.post(action, fields)
    assert browser.get("/x", host=ACME_HOST).json()["user"] == "b.simon@contoso.com"
    tenants.update("acme", enabled=False)
    untouched = browser.get("/x", host=ACME_HOST)  # as SAML_ENABLED=false: the app, no user
    assert untouched.status_code == 200 and untouched.json()["user"] is None
    assert browser.get("/saml/login", host=ACME_HOST).json()["path"] == "/saml/login"
    assert browser.app.post(ACME_ACS.replace(APP, f"http://{ACME_HOST}"), data=fields).json()["user"] is None
    tenants.update("acme", enabled=True)
    assert browser.get("/x", host=ACME_HOST).json()["user"] == "b.simon@contoso.com"
    assert len(visits.calls) == 5


def test_a_removed_connection_leaves_no_session_and_no_endpoints(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    browser.login(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    assert browser.get("/").status_code == 200
    assert tenants.registry.remove("beta")
    assert browser.get("/").status_code == 302
    assert browser.app.get("/saml/c/beta/metadata").status_code == 404
    assert browser.app.get("/saml/auth").status_code == 401


def test_a_users_directory_cannot_move_a_user_to_another_tenant(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    from dataclasses import replace

    from saml_middleware import SAMLUser

    class Mover:
        def lookup(self, user: SAMLUser) -> SAMLUser:
            assert user.tenant in ("contoso-tenant", "beta")  # hooks see the tenant
            return replace(user, connection="acme", tenant="contoso-tenant")

    app, _, tenants = make_tenant_app(gate={"directory": Mover()})
    browser = tenant_browser(app, tenants)
    browser.login(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    seen = browser.get("/").json()
    assert (seen["connection"], seen["tenant"]) == ("beta", "beta")


class RecordingSetup:
    """A set-up page plugged into the gate (the contract conn-setup implements)."""

    def __init__(self) -> None:
        self.tests: list[str] = []

    def handles(self, path: str) -> bool:
        return path.endswith("/setup")

    def __call__(self, request: HTTPRequest, resolve: object) -> HTTPResponse:
        return HTTPResponse.html(200, f"setup page of {request.path}".encode())

    def consume_test(self, request: HTTPRequest, resolve: object) -> HTTPResponse | None:
        if b"RelayState=test-" not in request.body:
            return None
        self.tests.append(request.path)
        return HTTPResponse.html(200, b"test sign-in result")

    def max_body_for(self, path: str) -> int | None:
        return None


def test_a_test_sign_in_reaches_the_setup_page_even_for_a_disabled_connection(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    setup = RecordingSetup()
    app, visits, tenants = make_tenant_app(gate={"setup": setup})
    tenants.update("beta", enabled=False)
    browser = tenant_browser(app, tenants)
    assert browser.app.get("/saml/c/beta/setup").text == "setup page of /saml/c/beta/setup"
    tested = browser.app.post("/saml/c/beta/acs", data={"SAMLResponse": "x", "RelayState": "test-1"})
    assert tested.status_code == 200 and tested.text == "test sign-in result"
    assert setup.tests == ["/saml/c/beta/acs"]
    other = browser.app.post("/saml/c/beta/acs", data={"SAMLResponse": "x", "RelayState": "r"})
    assert other.status_code == 403 and "turned off" in other.text  # a real sign-in: refused
    assert visits.calls == []
