"""``/saml/auth`` for Traefik ``ForwardAuth`` and Caddy ``forward_auth`` (``X-Forwarded-*``),
beside nginx ``auth_request`` (``X-Original-URI``), through both adapters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from saml_middleware.http import HTTPRequest, HTTPResponse
from saml_middleware.sessions import Session

#: what Traefik and Caddy send for a browser asking for https://app.test/reports?q=1
TRAEFIK = {
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "app.test",
    "X-Forwarded-Uri": "/reports?q=1",
    "accept": "text/html,application/xhtml+xml",
}
API = {**TRAEFIK, "accept": "application/json"}


def _next(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def test_a_browser_without_a_session_goes_to_the_login_and_back(make_app, browser_factory) -> None:
    app, seen = make_app()
    browser = browser_factory(app)
    response = browser.get("/saml/auth", headers=TRAEFIK)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("http://app.test/saml/login?") and _next(location) == "/reports?q=1"
    assert "set-cookie" not in response.headers  # the login endpoint starts the login, not /auth
    # the login it names returns to the original URI after sign-in
    action, fields = browser.idp_form(browser.get(urlsplit(location).path + "?" + urlsplit(location).query))
    landed = browser.post_acs(action, fields)
    assert landed.status_code == 303 and landed.headers["location"] == "/reports?q=1"
    assert seen.calls == []


def test_an_api_client_without_a_session_gets_401_naming_the_login(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    for headers in (API, {**TRAEFIK, "X-Forwarded-Method": "POST"}, {**TRAEFIK, "X-Requested-With": "fetch"}):
        response = browser.get("/saml/auth", headers=headers)
        assert response.status_code == 401 and "location" not in response.headers
        body = response.json()
        assert body["error"] == "authentication_required"
        assert _next(body["login_url"]) == "/reports?q=1"


def test_a_signed_in_user_gets_200_and_the_identity(make_app, browser_factory) -> None:
    app, seen = make_app()
    browser = browser_factory(app)
    browser.login()
    response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Remote-User": "admin@contoso.com"})
    assert response.status_code == 200  # Traefik and Caddy need a 2xx
    assert response.headers["x-remote-user"] == "b.simon@contoso.com"
    assert response.headers["x-remote-name"] == "B.Simon"
    assert response.headers["cache-control"] == "no-store"
    assert "x-remote-jwt" not in response.headers  # SAML_JWT is off by default
    assert seen.calls == []


def test_an_attacker_named_host_never_becomes_a_redirect(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    for host in ("evil.example", "app.test.evil.example", "evil.example, app.test"):
        response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Host": host})
        assert response.status_code == 403 and "location" not in response.headers
    # the configured host, however spelt, is served; the default port is the same host
    for host in ("APP.test", "app.test:80"):
        response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Host": host})
        assert response.status_code == 302 and response.headers["location"].startswith("http://app.test/")


def test_a_return_target_that_is_no_path_here_lands_on_the_default(make_app, browser_factory) -> None:
    app, _ = make_app(default_redirect="/home")
    browser = browser_factory(app)
    for uri in ("https://evil.example/x", "//evil.example/x", "/%2F%2Fevil.example"):
        response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Uri": uri})
        if response.status_code == 302:
            assert _next(response.headers["location"]) == "/home", uri
        else:  # refused by canonical_path before any redirect
            assert response.status_code == 403, uri


def test_path_tricks_in_the_forwarded_uri_are_refused_for_everybody(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    tricks = ("/reports/..;/admin", "/reports/%252e%252e/admin", "/reports/..%5Cadmin", "/x%0d%0aforged")
    for who in ("anonymous", "signed in"):
        if who == "signed in":
            browser.login()
        for uri in tricks:
            response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Uri": uri})
            assert response.status_code == 403, (who, uri)
            assert "x-remote-user" not in response.headers and "location" not in response.headers


def test_nginx_mode_wins_when_x_original_uri_is_set(make_app, browser_factory) -> None:
    """nginx sets X-Original-URI over the client's; a client-sent X-Forwarded-Uri changes nothing."""
    app, _ = make_app()
    browser = browser_factory(app)
    nginx = {**TRAEFIK, "X-Original-URI": "/reports"}
    assert browser.get("/saml/auth", headers=nginx).status_code == 401  # not a 302: nginx redirects
    browser.login()
    response = browser.get("/saml/auth", headers=nginx)
    assert response.status_code == 202 and response.headers["x-remote-user"] == "b.simon@contoso.com"


def test_the_access_decision_sees_the_original_method_and_canonical_path(make_app, browser_factory) -> None:
    app, _ = make_app()
    asked: list[tuple[str, str, str]] = []

    def decide(request: HTTPRequest, method: str, path: str, session: Session) -> HTTPResponse | None:
        asked.append((method, path, session.user.email))
        return HTTPResponse.json(403, {"error": "forbidden"}) if path.startswith("/admin") else None

    gate: Any = app.gate
    gate.forward_auth.decide = decide
    browser = browser_factory(app)
    browser.login()
    allowed = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Method": "delete"})
    refused = browser.get("/saml/auth", headers={**TRAEFIK, "X-Forwarded-Uri": "/reports/../admin/x?y=1"})
    by_nginx = browser.get("/saml/auth", headers={"X-Original-URI": "/admin", "X-Original-Method": "PUT"})
    assert allowed.status_code == 200
    assert refused.status_code == 403 and refused.json() == {"error": "forbidden"}
    assert by_nginx.status_code == 403 and "x-remote-user" not in by_nginx.headers
    assert asked == [
        ("DELETE", "/reports", "b.simon@contoso.com"),
        ("GET", "/admin/x", "b.simon@contoso.com"),
        ("PUT", "/admin", "b.simon@contoso.com"),
    ]
    # nginx without X-Original-URI: the decision gets "/" and the request without the header, so
    # the access rules can refuse it (AccessGuard.forward does when path rules are in force)
    blind = browser.get("/saml/auth")
    assert blind.status_code == 202 and asked[-1] == ("GET", "/", "b.simon@contoso.com")


def test_public_paths_are_the_proxys_own(make_app, browser_factory) -> None:
    """SAML_PUBLIC_PATHS does not open /saml/auth: its headers only ever refuse."""
    app, _ = make_app(public_paths=("/public",))
    browser = browser_factory(app)
    response = browser.get("/saml/auth", headers={**API, "X-Forwarded-Uri": "/public/page"})
    assert response.status_code == 401
    assert browser.get("/saml/auth", headers={"X-Original-URI": "/public/page"}).status_code == 401


def test_an_expired_session_is_asked_to_sign_in_again(make_app, browser_factory, clock) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    clock.advance(3601)
    response = browser.get("/saml/auth", headers=TRAEFIK)
    assert response.status_code == 302 and _next(response.headers["location"]) == "/reports?q=1"
