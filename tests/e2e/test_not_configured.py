"""The "not configured yet" state: SAML_BASE_URL and SAML_SECRET_KEY, no IdP.

Every Entra guide has the admin give Entra the SP metadata first and paste the IdP's values
afterwards, so the app, ``metadata``, ``check`` and ``/saml/setup`` must work before the IdP is
known, and sign-in must answer a clear 503 instead of crashing.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import anyio
import httpx
import pytest
from lxml import etree

from saml_middleware import ConfigError, SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.cli import main

from ..support.harness import APP, HTML, SECRET, Clock, Seen, asgi_app, client_for, wsgi_app
from ..support.processes import free_port

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def _unconfigured(adapter: str, clock: Clock, **extra: Any) -> tuple[httpx.Client, Seen]:
    seen = Seen()
    settings = Settings.from_env({"SAML_BASE_URL": APP, "SAML_SECRET_KEY": SECRET, **extra})
    app: Any
    if adapter == "asgi":
        app = SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock)
    else:
        app = SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock)
    return client_for(app, adapter), seen


def test_the_app_runs_before_the_idp_is_known(adapter, clock) -> None:
    client, seen = _unconfigured(adapter, clock, SAML_PUBLIC_PATHS="/public")
    with client:
        metadata = client.get("/saml/metadata")  # what the admin uploads to Entra first
        assert metadata.status_code == 200
        root = etree.fromstring(metadata.content)
        assert root.get("entityID") == f"{APP}/saml/metadata"
        acs = root.find(f"{{{MD}}}SPSSODescriptor/{{{MD}}}AssertionConsumerService")
        assert acs is not None and acs.get("Location") == f"{APP}/saml/acs"
        assert client.get("/saml/health").json() == {"status": "ok"}

        page = client.get("/reports", headers=HTML)
        assert page.status_code == 503 and "Sign-in is being set up" in page.text
        assert page.headers["retry-after"] == "300"
        api = client.get("/api/items", headers={"accept": "application/json"})
        assert api.status_code == 503 and api.json() == {"error": "sso_not_configured"}
        login = client.get("/saml/login?next=/reports", headers=HTML)
        assert login.status_code == 503 and "Sign-in is being set up" in login.text
        assert client.get("/public/logo.png").status_code == 200  # public paths still served
        assert [c["path"] for c in seen.calls] == ["/public/logo.png"]  # nothing else reached the app


def test_the_acs_refuses_a_response_with_503_and_no_session(adapter, clock, idp) -> None:
    client, seen = _unconfigured(adapter, clock)
    xml = idp.issue_response(
        "b.simon@contoso.com", acs_url=f"{APP}/saml/acs", audience=f"{APP}/saml/metadata"
    )
    with client:
        posted = client.post("/saml/acs", data={"SAMLResponse": base64.b64encode(xml).decode()}, headers=HTML)
        assert posted.status_code == 503 and "Sign-in is being set up" in posted.text
        assert "set-cookie" not in posted.headers
        assert client.get("/reports", headers=HTML).status_code == 503
    assert seen.calls == []


def test_the_setup_page_shows_what_to_paste_and_what_is_missing(adapter, clock) -> None:
    client, _ = _unconfigured(adapter, clock, SAML_ADMIN_EMAILS="admin@contoso.com")
    with client:
        setup = client.get("/saml/setup", headers=HTML)
    assert setup.status_code == 200 and setup.headers["cache-control"] == "no-store"
    for value in (f"{APP}/saml/metadata", f"{APP}/saml/acs", f"{APP}/saml/sls", "SAML_IDP_METADATA_URL"):
        assert value in setup.text
    assert SECRET not in setup.text and "admin@contoso.com" not in setup.text


def test_sso_switched_off_passes_everything_through(adapter, clock) -> None:
    client, seen = _unconfigured(adapter, clock, SAML_ENABLED="false")
    with client:
        assert client.get("/reports", headers=HTML).status_code == 200
        assert client.get("/saml/metadata").status_code == 200  # the app's own route when off
    assert [c["path"] for c in seen.calls] == ["/reports", "/saml/metadata"]


def test_partial_manual_idp_settings_stay_an_error() -> None:
    base = {"SAML_BASE_URL": APP, "SAML_SECRET_KEY": SECRET}
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**base, "SAML_IDP_SSO_URL": "https://login.microsoftonline.com/t/saml2"})
    assert "SAML_IDP_ENTITY_ID is required" in str(info.value) and "SAML_IDP_CERT is required" in str(
        info.value
    )
    with pytest.raises(ConfigError, match="SAML_IDP_SLO_URL is set but no IdP is"):
        Settings.from_env({**base, "SAML_IDP_SLO_URL": "https://login.microsoftonline.com/t/saml2"})


@pytest.fixture
def bare_env(env, monkeypatch):
    monkeypatch.delenv("SAML_IDP_METADATA_FILE")
    return env


def test_metadata_and_check_work_without_an_idp(bare_env, capsys) -> None:
    assert main(["metadata"]) == 0
    out = capsys.readouterr().out
    assert 'entityID="http://app.test/saml/metadata"' in out and 'Location="http://app.test/saml/acs"' in out

    assert main(["check"]) == 2  # valid but incomplete
    out = capsys.readouterr().out
    assert out.startswith("Configuration incomplete: no IdP yet")
    assert "Identifier (Entity ID):    http://app.test/saml/metadata" in out
    assert "Reply URL (ACS URL):       http://app.test/saml/acs" in out
    assert "1. set SAML_IDP_METADATA_URL (Entra: App Federation Metadata Url" in out


def test_check_without_an_idp_reports_once_and_names_the_sso_switch(
    bare_env, capsys, caplog, monkeypatch
) -> None:
    """The to-do list says it: no extra "not configured" log line; and with SAML_ENABLED=false
    (the first step of the Upsales recipe) the report says that nothing answers 503."""
    with caplog.at_level("WARNING", logger="saml_middleware"):
        assert main(["check"]) == 2
    assert not [r for r in caplog.records if "not configured yet" in r.getMessage()]
    assert "SAML_ENABLED=false" not in capsys.readouterr().out
    monkeypatch.setenv("SAML_ENABLED", "false")
    assert main(["check"]) == 2
    assert "SAML_ENABLED=false: SSO is switched off" in capsys.readouterr().out


def test_verify_without_an_idp_says_what_is_missing(bare_env, capsys, idp, clock) -> None:
    capture = bare_env / "capture.b64"
    xml = idp.issue_response(
        "b.simon@contoso.com", acs_url=f"{APP}/saml/acs", audience=f"{APP}/saml/metadata"
    )
    capture.write_bytes(base64.b64encode(xml))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now))
    assert main(["verify", str(capture), "--now", now]) == 1
    assert "no IdP is configured yet: set SAML_IDP_METADATA_URL" in capsys.readouterr().err


def test_check_without_an_idp_still_checks_the_proxy_upstream(bare_env, capsys) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    assert main(["check", "--upstream", dead]) == 1  # an error outranks "incomplete"
    captured = capsys.readouterr()
    assert "To do" in captured.out and f"Upstream {dead}: NOT reachable" in captured.err


def test_a_websocket_is_told_to_come_back_later(clock) -> None:
    seen = Seen()
    app = SAMLMiddleware(asgi_app(seen), settings=Settings(base_url=APP, secret_key=SECRET), clock=clock)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b"", "root_path": ""}
    anyio.run(app, scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1013, "reason": "sign-in is being set up"}]
    assert seen.calls == []
