"""Many tenants end to end (ASGI and WSGI): the sign-in page routes each work e-mail to its
organisation's IdP, per-connection endpoints, host routing, and what the app is told.

Two customer organisations: Contoso (connection ``acme``, contoso.com, IdP A) and Fabrikam
(connection ``beta``, fabrikam.com, IdP B), each IdP with its own key and entity ID.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware.gate.tenantpool import ConnectionReplay
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

from ..support.harness import APP, Clock
from ..support.tenants import ACME_HOST, GLOBEX_HOST, TenantBrowser, Tenants

MakeApp = Callable[..., tuple[Any, Any, Tenants]]
NewBrowser = Callable[[Any, Tenants], TenantBrowser]


def query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_a_browser_is_asked_for_its_work_email_and_lands_signed_in_with_its_tenant(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, visits, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    first = browser.get("/reports?q=1")
    assert first.status_code == 302
    assert first.headers["location"] == f"{APP}/saml/login?next=/reports%3Fq%3D1"
    form = browser.get("/saml/login?next=/reports%3Fq%3D1")
    assert form.status_code == 200
    assert "Sign in with your work e-mail" in form.text and "name=email" in form.text
    assert 'value="/reports?q=1"' in form.text  # next travels with the form
    to_idp = browser.get("/saml/login", params={"email": "Adele.Vance@contoso.com", "next": "/reports?q=1"})
    assert to_idp.status_code == 302
    assert to_idp.headers["location"].startswith(tenants.idp_a.sso_url)
    assert query(to_idp)["login_hint"] == "Adele.Vance@contoso.com"
    landed = browser.login(to_idp, "adele.vance@contoso.com")
    assert landed.status_code == 303 and landed.headers["location"] == "/reports?q=1"
    page = browser.get("/reports")
    assert page.status_code == 200
    assert page.json()["user"] == "adele.vance@contoso.com"
    assert page.json()["connection"] == "acme" and page.json()["tenant"] == "contoso-tenant"
    assert visits.calls[-1]["tenant"] == "contoso-tenant"


def test_the_last_used_email_is_offered_next_time(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    assert browser.get("/saml/login?email=kim@fabrikam.com").status_code == 302
    again = browser.get("/saml/login")
    assert again.status_code == 200 and 'value="kim@fabrikam.com"' in again.text


def test_the_sign_in_form_posted_only_redirects(make_tenant_app: MakeApp, tenant_browser: NewBrowser) -> None:
    app, visits, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    posted = browser.app.post("/saml/login", data={"email": "kim@fabrikam.com", "next": "/x"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/saml/login?email=kim%40fabrikam.com&next=%2Fx"
    assert "set-cookie" not in posted.headers and visits.calls == []


@pytest.mark.parametrize(
    ("email", "status", "message"),
    [
        ("someone@unknown.example", 400, "No organisation signs in with unknown.example addresses here."),
        ("not-an-address", 400, "That is not an e-mail address."),
    ],
)
def test_an_email_no_connection_owns_gets_the_page_again_with_the_reason(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, email: str, status: int, message: str
) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    response = browser.get("/saml/login", params={"email": email})
    assert response.status_code == status
    assert message in response.text and "name=email" in response.text
    assert "set-cookie" not in response.headers


def test_a_disabled_connection_sends_nobody_to_its_idp(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    tenants.update("beta", enabled=False)
    browser = tenant_browser(app, tenants)
    response = browser.get("/saml/login?email=kim@fabrikam.com")
    assert response.status_code == 403
    assert "Single sign-on for Fabrikam is turned off" in response.text
    assert browser.get("/saml/c/beta/login").status_code == 403


def test_path_routing_and_per_connection_endpoints(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    to_b = browser.get("/saml/c/beta/login?next=/b")
    assert to_b.status_code == 302 and to_b.headers["location"].startswith(tenants.idp_b.sso_url)
    metadata = browser.app.get("/saml/c/beta/metadata")
    assert metadata.status_code == 200
    assert f'entityID="{APP}/saml/c/beta/metadata"' in metadata.text
    assert f'Location="{APP}/saml/c/beta/acs"' in metadata.text
    assert browser.app.get("/saml/c/nobody/login").status_code == 404
    # the customer admin's set-up page is there, and asks for a setup link
    assert browser.app.get("/saml/c/beta/setup").status_code == 403
    landed = browser.login(to_b, "kim@fabrikam.com")
    assert landed.status_code == 303 and landed.headers["location"] == "/b"
    assert browser.get("/b").json()["tenant"] == "beta"


def test_path_routing_can_be_turned_off(make_tenant_app: MakeApp, tenant_browser: NewBrowser) -> None:
    app, _, tenants = make_tenant_app(connection_routing=("domain",))
    assert tenant_browser(app, tenants).get("/saml/c/beta/login").status_code == 404


def test_host_routing_goes_straight_to_the_hosts_idp(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, visits, tenants = make_tenant_app(hosts=True)
    browser = tenant_browser(app, tenants)
    challenge = browser.get("/dash", host=ACME_HOST)
    assert challenge.status_code == 302 and challenge.headers["location"].startswith(tenants.idp_a.sso_url)
    action, fields = browser.at_idp(challenge, "b.simon@contoso.com")
    assert action == f"http://{ACME_HOST}/saml/c/acme/acs"  # from the connection's host, not a header
    landed = browser.post(action, fields)
    assert landed.status_code == 303 and landed.headers["location"] == "/dash"
    assert browser.get("/dash", host=ACME_HOST).json()["connection"] == "acme"
    # the host's /saml/login skips the page too
    assert browser.get("/saml/login", host=GLOBEX_HOST).headers["location"].startswith(tenants.idp_b.sso_url)
    assert len(visits.calls) == 1


def test_api_clients_get_401_naming_the_sign_in_page(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    response = tenant_browser(app, tenants).app.get("/api/items", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_required",
        "login_url": f"{APP}/saml/login?next=/api/items",
    }


def test_global_logout_signs_out_through_the_sessions_connection(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser
) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    browser.login(browser.get("/saml/login?email=b.simon@contoso.com"), "b.simon@contoso.com")
    assert browser.get("/").status_code == 200
    out = browser.app.post("/saml/logout")
    assert out.status_code == 303  # on to single logout at Contoso's IdP, not Fabrikam's
    location = out.headers["location"]
    assert location.startswith(f"{tenants.idp_a.base_url}/") and "SAMLRequest=" in location
    assert browser.get("/").status_code == 302
    assert browser.app.get("/saml/logout").status_code == 200  # nothing left to end


def test_audit_and_metrics_carry_the_connection(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    browser.login(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "saml_middleware.audit"]
    assert [(line["event"], line["connection"], line["email"]) for line in lines] == [
        ("login", "beta", "kim@fabrikam.com")
    ]
    metrics = browser.app.get("/saml/metrics").text
    assert 'saml_connection_logins_total{connection="beta",reason="",result="accepted"} 1.0' in metrics


def test_replay_keys_and_server_sessions_carry_the_connection(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, clock: Clock
) -> None:
    replay, store = MemoryReplayCache(clock=clock), MemorySessionStore(clock=clock)
    app, _, tenants = make_tenant_app(session_store="server", gate={"replay": replay, "session_store": store})
    browser = tenant_browser(app, tenants)
    action, fields = browser.at_idp(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    assert browser.post(action, fields).status_code == 303
    (sid,) = store.sessions("kim@fabrikam.com")
    assert sid.startswith("beta.")  # store keys name the connection: revocable per connection
    assert browser.get("/").json()["connection"] == "beta"
    # the response's IDs went into beta's part of the shared cache, none into acme's
    for key in ("_assertion", "_request"):
        assert ConnectionReplay(replay, "acme").add(key, 2e9)
    assert browser.post(action, fields).status_code == 400  # replayed at beta: refused


def test_auth_request_names_the_tenant(make_tenant_app: MakeApp, tenant_browser: NewBrowser) -> None:
    app, _, tenants = make_tenant_app()
    browser = tenant_browser(app, tenants)
    assert browser.app.get("/saml/auth").status_code == 401
    browser.login(browser.get("/saml/login?email=b.simon@contoso.com"), "b.simon@contoso.com")
    answer = browser.app.get("/saml/auth", headers={"X-Remote-Tenant": "evil"})
    assert answer.status_code == 202
    assert answer.headers["x-remote-tenant"] == "contoso-tenant"
    assert answer.headers["x-remote-email"] == "b.simon@contoso.com"
