"""Operating it, through both adapters with the dev IdP: the audit log, /saml/metrics and /saml/setup."""

from __future__ import annotations

import json
import logging

import pytest

from saml_middleware.http import HTTPRequest
from saml_middleware.masking import redact
from saml_middleware.ops.audit import AuditEvent, emit
from saml_middleware.ops.metrics import metrics_access
from saml_middleware.ops.setup_page import masked_settings

from ..support.harness import START

ADMIN = "Adele.Vance@contoso.com"
FIELDS = ["time", "event", "email", "idp", "reason", "ref", "client", "user_agent"]


def _audit(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "saml_middleware.audit"]


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return None


def test_audit_line_for_login_refusal_and_logout(make_app, browser_factory, idp, caplog) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")
    app, _ = make_app()
    browser = browser_factory(app)
    browser.app.headers["user-agent"] = "AuditTest/1.0"
    assert browser.login("/").status_code == 303
    refused = browser.app.post("/saml/acs", data={"SAMLResponse": "bm90IHhtbA=="})
    assert refused.status_code == 400
    assert browser.app.post("/saml/logout", headers={"origin": "http://app.test"}).status_code == 303

    lines = _audit(caplog)
    assert [line["event"] for line in lines] == ["login", "refusal", "logout"]
    for line in lines:
        assert list(line) == FIELDS
        assert line["time"] == "2025-06-15T15:06:40.000Z"  # the frozen clock
        assert line["idp"] == idp.entity_id
        assert line["client"] == "127.0.0.1"
    login, refusal, logout = lines
    assert login["email"] == "b.simon@contoso.com" and login["reason"] is None and login["ref"]
    assert login["user_agent"] == "AuditTest/1.0"
    assert refusal["reason"] in ("malformed_xml", "bad_encoding")
    assert refusal["email"] is None and refusal["ref"] in refused.text
    assert logout["email"] == "b.simon@contoso.com"


def test_audit_refusal_names_the_user_when_known(make_app, browser_factory, caplog) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")

    class Nobody:
        def lookup(self, user):
            return None

    app, _ = make_app(directory=Nobody())
    done = browser_factory(app).login("/", email="alex.wilber@contoso.com")
    assert done.status_code == 403
    (line,) = _audit(caplog)
    assert (line["event"], line["reason"], line["email"]) == (
        "refusal",
        "unknown_user",
        "alex.wilber@contoso.com",
    )
    assert line["ref"] in done.text


def test_audit_event_json_is_fixed_and_unknown_events_are_refused() -> None:
    event = AuditEvent("revocation", START, email="a@b.c")
    assert json.loads(event.to_json()) == dict.fromkeys(FIELDS) | {
        "time": "2025-06-15T15:06:40.000Z",
        "event": "revocation",
        "email": "a@b.c",
    }
    with pytest.raises(ValueError):
        emit(AuditEvent("bogus", START))


def test_metrics_count_logins_refusals_and_certificates(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login("/")
    browser.app.post("/saml/acs", data={"SAMLResponse": "%%%"})
    response = browser.app.get("/saml/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert _sample(text, "saml_logins_total", result="accepted", reason="") == 1.0
    assert any(
        line.startswith('saml_logins_total{reason="bad_encoding",result="refused"}')
        for line in text.splitlines()
    )
    assert _sample(text, "saml_acs_duration_seconds_count") == 2.0
    assert _sample(text, "saml_idp_metadata_age_seconds") == 0.0
    assert _sample(text, "saml_idp_metadata_refresh_failures_total") == 0.0
    assert _sample(text, "saml_store_errors_total") == 0.0
    days = [line for line in text.splitlines() if line.startswith('saml_certificate_expiry_days{role="idp"')]
    assert len(days) == 1 and float(days[0].rsplit(" ", 1)[1]) > 300
    assert "saml_active_sessions" not in text  # cookie sessions: nothing to count


def test_metrics_active_sessions_with_the_server_store(make_app, browser_factory, clock) -> None:
    app, _ = make_app(session_store="server")
    browser_factory(app).login("/")
    browser_factory(app).login("/", email="megan.bowen@contoso.com")
    clock.advance(30)
    text = browser_factory(app).app.get("/saml/metrics").text
    assert _sample(text, "saml_active_sessions") == 2.0
    assert _sample(text, "saml_idp_metadata_age_seconds") == 30.0


def test_metrics_need_the_token_when_one_is_set(make_app, browser_factory) -> None:
    app, _ = make_app(metrics_token="scrape-me-0123456789")
    client = browser_factory(app).app
    assert client.get("/saml/metrics").status_code == 401
    assert client.get("/saml/metrics", headers={"authorization": "Bearer nope"}).status_code == 403
    ok = client.get("/saml/metrics", headers={"authorization": "Bearer scrape-me-0123456789"})
    assert ok.status_code == 200 and "saml_logins_total" in ok.text


def test_metrics_without_token_are_loopback_only() -> None:
    def request(client: str | None, auth: str = "") -> HTTPRequest:
        return HTTPRequest("GET", "/saml/metrics", headers={"authorization": auth}, client=client)

    assert metrics_access(request("127.0.0.1"), "") is None
    assert metrics_access(request("::1"), "") is None
    assert metrics_access(request("203.0.113.7"), "").status == 403
    assert metrics_access(request(None), "").status == 403
    assert metrics_access(request("testclient"), "").status == 403
    assert metrics_access(request("203.0.113.7", "Bearer t0ken"), "t0ken") is None
    assert metrics_access(request("127.0.0.1"), "t0ken").status == 401


def test_two_middlewares_keep_separate_registries(make_app, browser_factory) -> None:
    first, _ = make_app()
    second, _ = make_app()
    browser_factory(first).login("/")
    text = browser_factory(second).app.get("/saml/metrics").text
    assert _sample(text, "saml_logins_total", result="accepted", reason="") is None


def test_setup_page_sends_anonymous_browsers_to_log_in_then_shows_it(make_app, browser_factory, idp) -> None:
    app, _ = make_app(
        admin_emails=(ADMIN,),
        store_url="memory://",
        metrics_token="metrics-secret-value",
    )
    browser = browser_factory(app)
    browser.start("/saml/setup")  # 302 to the IdP
    browser.app.post("/saml/acs", data={"SAMLResponse": "%%%"})  # a refusal to list
    done = browser.login("/saml/setup", email="adele.vance@contoso.com")
    assert done.status_code == 303 and done.headers["location"] == "/saml/setup"
    page = browser.get("/saml/setup")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'name=viewport content="width=device-width' in html
    for value in ("http://app.test/saml/metadata", "http://app.test/saml/acs", "http://app.test/"):
        assert f">{value}</code><button type=button data-copy=" in html
    assert 'href="/saml/metadata" download' in html
    assert idp.entity_id in html and idp.sso_url in html
    assert "CN=test IdP" in html and "SHA-256 fingerprint" in html
    assert "bad_encoding" in html or "malformed" in html
    assert "test-secret-key" not in html and "metrics-secret-value" not in html
    assert "SAML_METRICS_TOKEN</th><td><code>*** (1 set)" in html
    assert "navigator.clipboard.writeText" in html


def test_setup_page_is_403_for_users_not_in_admin_emails(make_app, browser_factory) -> None:
    app, _ = make_app(admin_emails=(ADMIN,))
    browser = browser_factory(app)
    browser.login("/")
    page = browser.get("/saml/setup")
    assert page.status_code == 403 and "not in SAML_ADMIN_EMAILS" in page.text
    assert "Identifier" not in page.text


def test_setup_page_without_html_accept_gets_401(make_app, browser_factory) -> None:
    app, _ = make_app(admin_emails=(ADMIN,))
    assert browser_factory(app).app.get("/saml/setup").status_code == 401


def test_refusal_ring_keeps_the_last_50_newest_first(make_app, browser_factory) -> None:
    app, _ = make_app()
    client = browser_factory(app).app
    for _ in range(55):
        client.post("/saml/acs", data={"SAMLResponse": "%%%"})
    refusals = list(app.gate.ops.refusals)
    assert len(refusals) == 50 and len({r.ref for r in refusals}) == 50


def test_masked_settings_hide_secrets_and_url_passwords(settings_factory) -> None:
    settings = settings_factory(
        store_url="redis://:hunter2@cache:6379/0", users="sql:postgresql://u:pw@db/x", user_query="select 1"
    )
    shown = dict(masked_settings(settings))
    assert shown["SAML_SECRET_KEY"] == "*** (1 set)"
    assert shown["SAML_STORE_URL"] == "redis://:***@cache:6379/0"
    assert shown["SAML_USERS"] == "sql:postgresql://u:***@db/x"
    assert shown["SAML_SP_KEY"] == "(not set)"
    assert redact("https://host/x") == "https://host/x"


def test_operations_doc_covers_every_reason_code_and_metric(make_app, browser_factory) -> None:
    from pathlib import Path

    from saml_middleware.errors import REASONS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    assert [code for code in REASONS if f"| `{code}` |" not in doc] == []
    app, _ = make_app(session_store="server")
    text = browser_factory(app).app.get("/saml/metrics").text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    documented = {n.removesuffix("_total") for n in names if not n.endswith("_created")}
    assert [n for n in documented if f"`{n}" not in doc] == []
