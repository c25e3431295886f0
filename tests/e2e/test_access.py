"""Access rules end to end over ASGI and WSGI: groups, roles, e-mails, domains, methods, first match,
step-up (ForceAuthn, frozen clock), the Entra groups overage, 403 HTML/JSON, WebSocket 1008, auth."""

from __future__ import annotations

import base64
import json
import logging
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest

from saml_middleware import SAMLMiddleware
from saml_middleware.devidp import DevIdP, DevUser

from ..support.asgiclient import asgi_client
from ..support.harness import APP, IDP, Browser, Seen, asgi_app

FINANCE = "5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"  # b.simon and adele.vance
SALES = "9a8b7c6d-5e4f-4a3b-8c2d-bb22cc33dd02"  # adele.vance and megan.bowen (role Admin)
JSON = {"accept": "application/json"}

RULES = f"""
[[rule]]
name = "admins"
path = "/admin"
roles = ["Admin"]

[[rule]]
path = "/reports/**"
methods = ["POST", "DELETE"]
groups = ["{SALES}"]

[[rule]]
path = "/reports"
groups = ["{FINANCE.upper()}"]

[[rule]]
path = "/boss/*.pdf"
emails = ["Alex.Wilber@contoso.com"]

[[rule]]
path = "/settings"
anyone = true
max_auth_age = 600

[[rule]]
path = "/"
domains = ["contoso.com"]
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "access.toml"
    path.write_text(RULES)
    return path


def _login(browser_factory, app, email: str, path: str = "/") -> Browser:
    browser = browser_factory(app)
    assert browser.login(path, email).status_code == 303
    return browser


def _authn_request(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    return zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()


def test_global_groups_admit_members_and_refuse_others_with_a_helpful_403(make_app, browser_factory) -> None:
    app, seen = make_app(allowed_groups=(FINANCE, "Finance-Admins"))
    member = _login(browser_factory, app, "b.simon@contoso.com")
    assert member.get("/page").status_code == 200
    outsider = _login(browser_factory, app, "alex.wilber@contoso.com")
    seen.calls.clear()
    page = outsider.get("/page")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "needs one of: group " in page.text and "group Finance-Admins" in page.text
    assert "/saml/logout?token=" in page.text and "location" not in page.headers
    api = outsider.app.get("/page", headers=JSON)
    assert api.status_code == 403
    assert api.json()["error"] == "forbidden" and api.json()["reason"] == "forbidden"
    assert "Finance-Admins" in api.json()["needs"]
    assert seen.calls == []  # the app never saw a refused request


def test_a_public_path_stays_public_for_a_refused_user(make_app, browser_factory) -> None:
    """SAML_PUBLIC_PATHS: a signed-in user the rules refuse gets the public page as anyone
    signed out does (the app never sees a user the rules refuse)."""
    app, seen = make_app(allowed_groups=("nobody",))  # public_paths=/public (settings_factory)
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    assert browser.get("/public/logo.png").status_code == 200
    assert seen.calls[-1]["user"] is None and seen.calls[-1]["authenticated"] is False
    assert browser.get("/private").status_code == 403


def test_global_roles(make_app, browser_factory) -> None:
    app, _ = make_app(allowed_roles=("Admin",))
    assert _login(browser_factory, app, "megan.bowen@contoso.com").get("/x").status_code == 200
    refused = _login(browser_factory, app, "b.simon@contoso.com").get("/x")
    assert refused.status_code == 403 and "needs role Admin" in refused.text


def test_each_rule_kind_and_first_match(make_app, browser_factory, rules_file) -> None:
    app, seen = make_app(access_rules=str(rules_file), allowed_groups=("nobody",))
    simon = _login(browser_factory, app, "b.simon@contoso.com")  # FINANCE
    megan = _login(browser_factory, app, "megan.bowen@contoso.com")  # SALES, role Admin
    alex = _login(browser_factory, app, "alex.wilber@contoso.com")  # no groups
    # roles
    assert megan.get("/admin/users").status_code == 200
    assert simon.get("/admin").status_code == 403
    # groups (a GUID in any case), and a methods rule first: POST needs SALES, GET needs FINANCE
    assert simon.get("/reports/q1").status_code == 200
    assert megan.get("/reports/q1").status_code == 403
    assert megan.app.post("/reports/q1", headers=JSON).status_code == 200
    assert simon.app.post("/reports/q1", headers=JSON).status_code == 403
    # e-mails (compared as identities), with a glob
    assert alex.get("/boss/plan.pdf").status_code == 200
    assert simon.get("/boss/plan.pdf").status_code == 403
    assert simon.get("/boss/plan.txt").status_code == 200  # no match there: the domain rule
    # domains: the last rule covers everything else, the global groups never apply
    assert alex.get("/anything").status_code == 200
    assert [c["path"] for c in seen.calls] == [
        "/admin/users", "/reports/q1", "/reports/q1", "/boss/plan.pdf", "/boss/plan.txt", "/anything",
    ]  # fmt: skip


def test_the_refusal_is_audited_once_with_rule_and_reason(
    make_app, browser_factory, rules_file, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")
    app, _ = make_app(access_rules=str(rules_file))
    simon = _login(browser_factory, app, "b.simon@contoso.com")
    caplog.clear()
    assert simon.get("/admin").status_code == 403
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "saml_middleware.audit"]
    assert len(lines) == 1
    assert lines[0]["event"] == "access_denied" and lines[0]["reason"] == "forbidden"
    assert lines[0]["rule"] == "admins" and lines[0]["email"] == "b.simon@contoso.com"


def test_step_up_forces_a_fresh_login_and_returns_to_the_page(
    make_app, browser_factory, rules_file, clock
) -> None:
    app, seen = make_app(access_rules=str(rules_file))
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    assert browser.get("/settings").status_code == 200  # signed in just now
    clock.advance(700)
    api = browser.app.get("/settings?tab=keys", headers=JSON)
    assert api.status_code == 401 and api.json()["error"] == "step_up_required"
    assert api.json()["login_url"] == f"{APP}/saml/login?next=/settings%3Ftab%3Dkeys"
    redirect = browser.get("/settings?tab=keys")
    assert redirect.status_code == 302 and 'ForceAuthn="true"' in _authn_request(redirect.headers["location"])
    plain = browser_factory(app).start("/")  # other logins are not forced
    assert "ForceAuthn" not in _authn_request(plain.headers["location"])
    old_cookie = browser.app.cookies.get("saml_session")
    done = browser.post_acs(*browser.idp_form(redirect, "b.simon@contoso.com"))
    assert done.status_code == 303 and done.headers["location"] == "/settings?tab=keys"
    assert browser.app.cookies.get("saml_session") != old_cookie  # the new session replaces the old
    assert browser.get("/settings?tab=keys").status_code == 200
    assert seen.calls[-1]["path"] == "/settings"


def test_a_step_up_ends_the_server_session_it_replaces(make_app, browser_factory, rules_file, clock) -> None:
    app, _ = make_app(access_rules=str(rules_file), session_store="server")
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    old = browser.app.cookies.get("saml_session")
    clock.advance(700)
    redirect = browser.get("/settings")
    assert browser.post_acs(*browser.idp_form(redirect)).status_code == 303
    assert browser.get("/settings").status_code == 200
    stale = browser.app.get("/x", headers={"cookie": f"saml_session={old}", "accept": "application/json"})
    assert stale.status_code == 401  # the replaced session is gone from the store


def test_the_login_endpoint_steps_up_for_its_next_page(make_app, browser_factory, rules_file, clock) -> None:
    """nginx's "401 -> /saml/login?next=..." gets the ForceAuthn login too (never a loop)."""
    app, _ = make_app(access_rules=str(rules_file))
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    clock.advance(700)
    redirect = browser.get("/saml/login?next=/settings")
    assert redirect.status_code == 302 and 'ForceAuthn="true"' in _authn_request(redirect.headers["location"])
    assert "ForceAuthn" not in _authn_request(browser.get("/saml/login?next=/other").headers["location"])


def test_step_up_with_a_still_old_authn_instant_is_refused_not_looped(
    make_app, browser_factory, rules_file, clock, idp
) -> None:
    app, _ = make_app(access_rules=str(_write(rules_file, "/settings", 60)))
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    clock.advance(100)
    redirect = browser.get("/settings")
    assert redirect.status_code == 302
    action, fields = browser.idp_form(redirect)
    request_id = _authn_request(redirect.headers["location"]).split(' ID="', 1)[1].split('"', 1)[0]
    # an IdP that ignores ForceAuthn: its answer (issued 120 s ago, still valid) says the user
    # authenticated 120 s ago, twice the rule's 60 s
    xml = idp.issue_response(
        "b.simon@contoso.com",
        acs_url=f"{APP}/saml/acs",
        audience=f"{APP}/saml/metadata",
        in_response_to=request_id,
        now=clock.now - 120,
    )
    fields["SAMLResponse"] = base64.b64encode(xml).decode()
    refused = browser.post_acs(action, fields)
    assert refused.status_code == 403 and "fresh sign-in" in refused.text
    assert "location" not in refused.headers


def _write(path: Path, prefix: str, age: int) -> Path:
    other = path.with_name("step-up.toml")
    other.write_text(f'[[rule]]\npath = "{prefix}"\nanyone = true\nmax_auth_age = {age}\n')
    return other


def test_groups_overage_is_refused_with_its_reason(make_app, browser_factory, idp_keys, clock) -> None:
    link = "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"
    overage = DevUser(
        "big.group@contoso.com", extra={"http://schemas.microsoft.com/claims/groups.link": [link]}
    )
    roles = DevUser(
        "role.user@contoso.com",
        extra={
            "http://schemas.microsoft.com/claims/groups.link": [link],
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["Reader"],
        },
    )
    key, cert = idp_keys
    other = DevIdP(
        IDP, users=[overage, roles], key_pem=key, cert_pem=cert, clock=clock,
        sp_acs_url=f"{APP}/saml/acs", sp_entity_id=f"{APP}/saml/metadata",
    )  # fmt: skip
    app, _ = make_app(allowed_groups=(FINANCE,), allowed_roles=("Reader",))
    browser = browser_factory(app, other)
    assert browser.login("/", "big.group@contoso.com").status_code == 303
    refused = browser.app.get("/", headers=JSON)
    assert refused.status_code == 403 and refused.json()["reason"] == "groups_overage"
    assert "groups link" in browser.get("/").text
    with_role = browser_factory(app, other)
    assert with_role.login("/", "role.user@contoso.com").status_code == 303
    assert with_role.get("/").status_code == 200  # an app role still admits


def test_auth_endpoint_applies_the_rules_to_the_original_uri(make_app, browser_factory, rules_file) -> None:
    app, _ = make_app(access_rules=str(rules_file))
    simon = _login(browser_factory, app, "b.simon@contoso.com")
    assert simon.get("/saml/auth", headers={"x-original-uri": "/reports/q1?x=1"}).status_code == 202
    refused = simon.get("/saml/auth", headers={"x-original-uri": "/ADMIN/../admin/"})
    assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
    assert simon.get("/saml/auth").status_code == 403  # rules in force, the path unknown
    post = {"x-original-uri": "/reports/q1", "x-original-method": "POST"}
    assert simon.get("/saml/auth", headers=post).status_code == 403
    # Traefik / Caddy: the same rules on X-Forwarded-Method + X-Forwarded-Uri (canonical path)
    host = urlsplit(APP).netloc
    traefik = {"x-forwarded-method": "GET", "x-forwarded-host": host, "x-forwarded-proto": "http"}
    reports = simon.get("/saml/auth", headers={**traefik, "x-forwarded-uri": "/reports/q1"})
    assert reports.status_code == 200 and reports.headers["x-remote-user"] == "b.simon@contoso.com"
    admin = simon.get("/saml/auth", headers={**traefik, **JSON, "x-forwarded-uri": "/reports/../ADMIN/"})
    assert admin.status_code == 403 and admin.json()["reason"] == "forbidden"
    assert "x-remote-user" not in admin.headers
    page = simon.get("/saml/auth", headers={**traefik, "x-forwarded-uri": "/admin", "accept": "text/html"})
    assert page.status_code == 403 and "Access denied" in page.text  # the page the browser is shown


def test_websocket_refused_by_a_rule_is_closed_1008(
    clock, settings_factory, idp, clients, rules_file
) -> None:
    app = SAMLMiddleware(
        asgi_app(Seen()), settings=settings_factory(access_rules=str(rules_file)), clock=clock
    )
    browser = Browser(asgi_client(app, APP), asgi_client(idp.app, IDP), idp)
    clients.extend([browser.app, browser.idp_client])
    browser.login("/", "b.simon@contoso.com")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.app.cookies.items())

    async def connect(path: str) -> list[dict]:
        sent: list[dict] = []
        inbox = [{"type": "websocket.connect"}]

        async def receive() -> dict:
            return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [(b"cookie", cookie.encode())], "scheme": "ws", "server": ("app.test", 80),
            "client": ("127.0.0.1", 1), "root_path": "", "subprotocols": [], "asgi": {"version": "3.0"},
        }  # fmt: skip
        await app(scope, receive, send)
        return sent

    assert anyio.run(connect, "/admin/ws") == [
        {"type": "websocket.close", "code": 1008, "reason": "forbidden"}
    ]
    assert any(m.get("text") == "b.simon@contoso.com" for m in anyio.run(connect, "/ws"))


def test_no_rules_no_change(make_app, browser_factory) -> None:
    app, _ = make_app()
    assert app.gate.access.active is False
    assert _login(browser_factory, app, "alex.wilber@contoso.com").get("/admin").status_code == 200


def test_the_acs_records_authn_instant(make_app, browser_factory, clock) -> None:
    app, _ = make_app()
    browser = _login(browser_factory, app, "b.simon@contoso.com")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.app.cookies.items())
    user = app.gate.authenticate(cookie)
    assert user is not None and user.authn_instant == clock.now


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (("all",), f"{FINANCE},{SALES}"),
        (("none",), None),
        ((SALES.upper(),), SALES),
        (("rules",), FINANCE),  # only the groups SAML_ALLOWED_GROUPS and the rules name
    ],
)
def test_x_remote_groups_passes_the_chosen_groups(make_app, browser_factory, choice, expected) -> None:
    app, _ = make_app(header_groups=choice, allowed_groups=(FINANCE,))
    adele = _login(browser_factory, app, "adele.vance@contoso.com")
    answer = adele.get("/saml/auth", headers={"x-remote-groups": "forged-admins"})
    assert answer.status_code == 202
    assert answer.headers.get("x-remote-groups") == expected


def test_x_remote_groups_is_capped_and_encodes_commas(make_app, browser_factory, idp_keys, clock) -> None:
    many = DevUser(
        "many@contoso.com", groups=tuple(f"{i:08d}-0000-4000-8000-000000000000" for i in range(300))
    )
    odd = DevUser("odd@contoso.com", groups=("Sales, EMEA", "100%"))
    key, cert = idp_keys
    other = DevIdP(
        IDP, users=[many, odd], key_pem=key, cert_pem=cert, clock=clock,
        sp_acs_url=f"{APP}/saml/acs", sp_entity_id=f"{APP}/saml/metadata",
    )  # fmt: skip
    app, _ = make_app(session_store="server")
    browser = browser_factory(app, other)
    assert browser.login("/", "many@contoso.com").status_code == 303
    answer = browser.get("/saml/auth")
    value = answer.headers["x-remote-groups"]
    assert len(value) <= 4096 and len(value.split(",")) == 4096 // 37  # whole groups only
    assert value.split(",")[:2] == [
        "00000000-0000-4000-8000-000000000000",
        "00000001-0000-4000-8000-000000000000",
    ]
    assert answer.headers["x-remote-groups-truncated"] == "true"
    browser = browser_factory(app, other)
    assert browser.login("/", "odd@contoso.com").status_code == 303
    assert browser.get("/saml/auth").headers["x-remote-groups"] == "Sales%2C EMEA,100%25"


def test_header_groups_keywords_stand_alone(settings_factory) -> None:
    from saml_middleware.errors import ConfigError
    from saml_middleware.gate.identity_headers import IdentityHeaders

    with pytest.raises(ConfigError, match="SAML_HEADER_GROUPS"):
        IdentityHeaders(settings_factory(header_groups=("all", "Sales")))
