"""End to end through both adapters: real HTTP (httpx) against the wrapped app and the dev IdP."""

from __future__ import annotations

import base64
import logging
import sys
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ..support.harness import APP, HTML, Clock


def _session_cookie(response) -> str:
    cookies = [
        c for c in response.headers.get_list("set-cookie") if c.startswith(("saml_session=", "__Host-"))
    ]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    return cookies[0]


def _authn_request(redirect) -> bytes:
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    return zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)


def test_login_round_trip_shows_the_user_to_the_app(make_app, browser_factory, idp) -> None:
    app, seen = make_app()
    browser = browser_factory(app)
    redirect = browser.start("/")
    request_xml = _authn_request(redirect)
    assert b'AssertionConsumerServiceURL="http://app.test/saml/acs"' in request_xml
    assert b"RequestedAuthnContext" not in request_xml and b"ForceAuthn" not in request_xml
    assert seen.calls == []  # the app was not called for the anonymous request

    action, fields = browser.idp_form(redirect)
    done = browser.post_acs(action, fields)
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = _session_cookie(done)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    page = browser.get("/")
    assert page.status_code == 200
    me = page.json()
    assert me["user"] == "b.simon@contoso.com" and me["authenticated"] is True
    assert me["scopes"] == ["authenticated"]
    assert me["display_name"] == "B.Simon"
    assert me["attributes"]["given_name"] == ["B."]
    assert "http://schemas.microsoft.com/identity/claims/objectidentifier" in me["attributes"]
    assert me["logout_url"].startswith("/saml/logout?token=")


def test_deep_link_returns_to_the_page_first_asked_for(make_app, browser_factory) -> None:
    app, _ = make_app()
    done = browser_factory(app).login("/reports/2024?q=a%20b&x=1")
    assert done.status_code == 303 and done.headers["location"] == "/reports/2024?q=a%20b&x=1"


def test_two_tabs_logging_in_at_once_both_land(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    tab_a = browser.idp_form(browser.start("/a"))
    tab_b = browser.idp_form(browser.start("/b"))
    done_b = browser.post_acs(*tab_b)
    done_a = browser.post_acs(*tab_a)
    assert (done_b.status_code, done_b.headers["location"]) == (303, "/b")
    assert (done_a.status_code, done_a.headers["location"]) == (303, "/a")


def test_new_session_id_at_every_login(make_app, browser_factory) -> None:
    app, _seen = make_app()
    browser = browser_factory(app)
    browser.login()
    first = browser.get("/").json()["logout_url"]
    again = browser.post_acs(*browser.idp_form(browser.app.get("/saml/login")))
    assert again.status_code == 303
    second = browser.get("/").json()["logout_url"]
    assert first != second


def test_logout_by_post_ends_the_session(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    out = browser.app.post("/saml/logout")
    assert out.status_code == 303
    assert any("Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
    assert browser.get("/").status_code == 302


def test_logout_by_get_needs_the_token(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    logout_url = browser.get("/").json()["logout_url"]
    confirm = browser.get("/saml/logout")  # e.g. a cross-site <img src>: must not log out
    assert confirm.status_code == 200 and '<form method="post"' in confirm.text
    assert browser.get("/").status_code == 200
    out = browser.get(logout_url)  # ends the local session, then on to the IdP's single logout
    assert out.status_code == 303 and "SAMLRequest=" in out.headers["location"]
    assert browser.get("/").status_code == 302


def test_idle_session_expires_with_a_frozen_clock(make_app, browser_factory, clock: Clock) -> None:
    app, _ = make_app(session_idle_timeout=600)
    browser = browser_factory(app)
    browser.login()
    clock.advance(500)
    assert browser.get("/").status_code == 200  # activity recorded, the cookie refreshed
    clock.advance(500)
    assert browser.get("/").status_code == 200
    clock.advance(601)
    assert browser.get("/").status_code == 302


def test_session_ends_at_max_age_even_when_active(make_app, browser_factory, clock: Clock) -> None:
    app, _ = make_app(session_max_age=3600, session_idle_timeout=1800)
    browser = browser_factory(app)
    browser.login()
    for _ in range(3):
        clock.advance(1000)
        assert browser.get("/").status_code == 200
    clock.advance(700)
    assert browser.get("/").status_code == 302


def test_api_request_gets_401_json_naming_the_login_url(make_app, browser_factory) -> None:
    app, seen = make_app()
    response = browser_factory(app).app.get("/api/items?x=1", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_required",
        "login_url": "http://app.test/saml/login?next=/api/items%3Fx%3D1",
    }
    assert seen.calls == []


def test_public_path_is_served_without_login(make_app, browser_factory) -> None:
    app, seen = make_app()
    response = browser_factory(app).get("/public/terms")
    assert response.status_code == 200 and response.json()["user"] is None
    assert [c["path"] for c in seen.calls] == ["/public/terms"]


def test_toggle_off_passes_everything_through(make_app, browser_factory) -> None:
    app, _seen = make_app(enabled=False)
    response = browser_factory(app).get("/anything")
    assert response.status_code == 200 and response.json()["user"] is None
    assert browser_factory(app).get("/saml/metadata").json()["path"] == "/saml/metadata"


def test_force_authn_is_sent_when_configured(make_app, browser_factory) -> None:
    app, _ = make_app(force_authn=True)
    assert b'ForceAuthn="true"' in _authn_request(browser_factory(app).start("/"))


def test_sp_metadata_is_served(make_app, browser_factory) -> None:
    app, _ = make_app()
    response = browser_factory(app).app.get("/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/samlmetadata+xml"
    assert 'entityID="http://app.test/saml/metadata"' in response.text
    assert 'Location="http://app.test/saml/acs"' in response.text


def test_health_is_public(make_app, browser_factory) -> None:
    app, _ = make_app()
    assert browser_factory(app).app.get("/saml/health").json() == {"status": "ok"}


def test_unsafe_next_falls_back_to_the_default(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    for evil in (
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
    ):
        redirect = browser.app.get("/saml/login", params={"next": evil})
        assert redirect.status_code == 302
        done = browser.post_acs(*browser.idp_form(redirect))
        assert done.headers["location"] == "/", evil


def test_manual_certificate_configuration(make_app, browser_factory, idp) -> None:
    app, _ = make_app(
        idp_metadata="",
        idp_sso_url=idp.sso_url,
        idp_entity_id=idp.entity_id,
        idp_cert=(idp.cert_pem,),
    )
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def test_metadata_file_configuration_with_bom(make_app, browser_factory, idp, tmp_path: Path) -> None:
    path = tmp_path / "FederationMetadata.xml"
    path.write_bytes(idp.metadata_xml())
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    app, _ = make_app(idp_metadata="", idp_metadata_file=str(path))
    assert browser_factory(app).login().status_code == 303


def test_https_cookies_use_host_prefix_and_secure(adapter, clock, settings_factory, idp, clients) -> None:
    from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware

    from ..support.harness import Seen, asgi_app, client_for, wsgi_app

    settings = settings_factory(base_url="https://app.test")
    seen = Seen()
    app = (
        SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock)
        if adapter == "asgi"
        else SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock)
    )
    client = client_for(app, adapter, "https://app.test")
    clients.append(client)
    redirect = client.get("/", headers=HTML)
    login_cookie = redirect.headers["set-cookie"]
    assert login_cookie.startswith("__Secure-saml_login_")
    assert "Path=/saml/acs" in login_cookie and "Secure" in login_cookie and "SameSite=None" in login_cookie
    assert "Max-Age=600" in login_cookie


def test_refused_response_gets_a_page_with_a_reference_and_one_log_record(
    make_app, browser_factory, caplog: pytest.LogCaptureFixture
) -> None:
    app, seen = make_app()
    browser = browser_factory(app)
    action, fields = browser.idp_form(browser.start("/"))
    xml = base64.b64decode(fields["SAMLResponse"]).replace(b"b.simon@contoso.com", b"b.admin@contoso.com")
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser.post_acs(action, {**fields, "SAMLResponse": base64.b64encode(xml).decode()})
    assert refused.status_code == 400
    assert "Reference:" in refused.text and "b.admin" not in refused.text
    assert not any("saml_session" in c for c in refused.headers.get_list("set-cookie"))
    records = [r for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]
    assert len(records) == 1 and records[0].saml_reason == "signature_invalid"
    assert records[0].saml_ref in refused.text
    assert seen.calls == []
    assert browser.get("/").status_code == 302


def test_replayed_response_is_refused(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    action, fields = browser.idp_form(browser.start("/"))
    assert browser.post_acs(action, fields).status_code == 303
    again = browser.post_acs(action, fields)
    assert again.status_code == 400 and "saml_session" not in again.headers.get("set-cookie", "")


def test_response_for_browser_a_posted_from_browser_b_is_refused(make_app, browser_factory) -> None:
    app, _ = make_app()
    a, b = browser_factory(app), browser_factory(app)
    action, fields = a.idp_form(a.start("/"))
    stolen = b.post_acs(action, fields)
    assert stolen.status_code == 400
    assert b.get("/").status_code == 302


def test_unsolicited_response_refused_unless_idp_initiated_is_on(make_app, browser_factory, idp) -> None:
    from saml_middleware.devidp import auto_post_form_fields

    for allowed, status in ((False, 403), (True, 303)):
        app, _ = make_app(allow_idp_initiated=allowed)
        browser = browser_factory(app)
        tile = browser.idp_client.get(f"/{idp.tenant_id}/launch", params={"email": "b.simon@contoso.com"})
        response = browser.post_acs(*auto_post_form_fields(tile.text))
        assert response.status_code == status
        if allowed:
            assert response.headers["location"] == "/"
            assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def test_acs_refuses_get_and_oversized_bodies(make_app, browser_factory) -> None:
    app, seen = make_app()
    client = browser_factory(app).app
    assert client.get("/saml/acs").status_code == 405
    big = client.post("/saml/acs", data={"SAMLResponse": "A" * 300_000})
    assert big.status_code == 413
    assert (
        client.post("/saml/acs", content=b"{}", headers={"content-type": "application/json"}).status_code
        == 415
    )
    assert client.post("/saml/acs", data={"RelayState": "x"}).status_code == 400
    assert seen.calls == []


def test_secret_key_rotation_keeps_sessions(
    make_app, browser_factory, adapter, clock, settings_factory, idp
) -> None:
    old = ("old-secret-key-0123456789abcdef",)
    app, _ = make_app(secret_key=old)
    browser = browser_factory(app)
    browser.login()
    jar = browser.app.cookies
    rotated, _ = make_app(secret_key=("new-secret-key-0123456789abcdef", *old))
    later = browser_factory(rotated)
    later.app.cookies = jar
    assert later.get("/").json()["user"] == "b.simon@contoso.com"
    dropped, _ = make_app(secret_key=("new-secret-key-0123456789abcdef",))
    gone = browser_factory(dropped)
    gone.app.cookies = jar
    assert gone.get("/").status_code == 302


def test_login_runs_no_subprocess(make_app, browser_factory) -> None:
    app, _ = make_app()
    spawned: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork"):
            spawned.append(event)

    sys.addaudithook(hook)
    for _ in range(3):
        assert browser_factory(app).login().status_code == 303
    assert spawned == []


def test_websocket_needs_a_session(clock, settings_factory, idp, clients) -> None:
    import anyio

    from saml_middleware import SAMLMiddleware

    from ..support.asgiclient import asgi_client
    from ..support.harness import IDP, Browser, Seen, asgi_app

    app = SAMLMiddleware(asgi_app(Seen()), settings=settings_factory(), clock=clock)
    browser = Browser(asgi_client(app, APP), asgi_client(idp.app, IDP), idp)
    clients.extend([browser.app, browser.idp_client])

    async def connect(cookie: str) -> list[dict]:
        sent: list[dict] = []
        inbox = [{"type": "websocket.connect"}]

        async def receive() -> dict:
            return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict) -> None:
            sent.append(message)

        headers = [(b"cookie", cookie.encode())] if cookie else []
        scope = {
            "type": "websocket",
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "headers": headers,
            "scheme": "ws",
            "server": ("app.test", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
            "subprotocols": [],
            "asgi": {"version": "3.0"},
        }
        await app(scope, receive, send)
        return sent

    refused = anyio.run(connect, "")
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "authentication required"}]
    browser.login()
    cookie = "; ".join(f"{k}={v}" for k, v in browser.app.cookies.items())
    accepted = anyio.run(connect, cookie)
    assert {"type": "websocket.send", "text": "b.simon@contoso.com"} in [
        {k: m[k] for k in ("type", "text") if k in m} for m in accepted
    ]


def test_app_url_is_ours(make_app) -> None:
    app, _ = make_app()
    assert app.settings.acs_url == APP + "/saml/acs"


def test_user_with_too_many_groups_still_gets_a_working_session(
    make_app, browser_factory, idp, idp_keys, clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Browsers drop cookies over 4 KB; the login must not loop. With SAML_SESSION_OVERFLOW=trim
    the groups are left out (and named in the log); the default refuses or uses the server
    store instead (tests/e2e/test_session_overflow.py)."""
    import uuid
    from dataclasses import replace

    from saml_middleware.devidp import DevIdP

    from ..support.harness import IDP

    groups = tuple(str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15**3) % 2**128)) for i in range(1, 201))
    many = replace(idp.get_user("b.simon@contoso.com"), groups=groups)
    key, cert = idp_keys
    big_idp = DevIdP(IDP, key_pem=key, cert_pem=cert, clock=clock, users=[many])
    app, _ = make_app(session_overflow="trim")
    browser = browser_factory(app, big_idp)
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    assert browser.login().status_code == 303
    me = browser.get("/").json()
    assert me["user"] == "b.simon@contoso.com" and "groups" not in me["attributes"]
    assert me["attributes"]["given_name"] == ["B."]  # only the groups were left out
    assert any("browsers drop cookies over 4 KB" in r.getMessage() for r in caplog.records)


def test_cross_site_post_cannot_sign_the_user_out(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    forged = browser.app.post("/saml/logout", headers={"origin": "https://evil.example"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    assert browser.get("/").status_code == 200
    own = browser.app.post("/saml/logout", headers={"origin": APP})
    assert own.status_code == 303


def test_failing_user_directory_gives_503_not_a_session(make_app, browser_factory, monkeypatch) -> None:
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "support"))
    app, seen = make_app(users="python:directory_hooks:broken_hook")
    refused = browser_factory(app).login()
    assert refused.status_code == 503 and "Reference:" in refused.text
    assert "saml_session=" not in refused.headers.get("set-cookie", "")
    assert seen.calls == []


def test_metadata_url_is_fetched_at_start(make_app, browser_factory, idp) -> None:
    """SAML_IDP_METADATA_URL (Entra's App Federation Metadata Url), served by a real HTTP server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = idp.metadata_xml()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tenant/federationmetadata/2007-06/federationmetadata.xml"
        app, _ = make_app(idp_metadata="", idp_metadata_url=url)
        assert browser_factory(app).login().status_code == 303
    finally:
        server.shutdown()
        server.server_close()
