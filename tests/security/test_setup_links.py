"""A setup link opens one connection's page and nothing else: expired, tampered and other
connections' links and cookies get 403, forms need their CSRF token, a test cookie signs nobody in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from saml_middleware import Settings
from saml_middleware.connections.setuplink import SetupLinkRefused, check_setup_token, issue_setup_link
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.connection_setup_page import CSP
from saml_middleware.ops.audit import emit

from ..support.harness import APP, Clock
from ..support.setupflow import KEY, SetupSite, csrf_of


@pytest.fixture
def site(idp: DevIdP, clock: Clock) -> Iterator[SetupSite]:
    made = SetupSite("asgi", idp, clock)
    yield made
    made.close()


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_link_is_valid_for_the_ttl_then_refused_403(site: SetupSite, clock: Clock) -> None:
    link = site.link("acme")
    clock.advance(86400 - 1)
    assert site.client.get(_target(link)).status_code == 303
    site.client.cookies.clear()
    clock.advance(1)
    refused = site.client.get(_target(link))
    assert refused.status_code == 403 and "expired" in refused.text
    assert "set-cookie" not in refused.headers


def test_the_ttl_setting_is_honoured() -> None:
    settings = Settings(base_url=APP, secret_key=(KEY,), setup_link_ttl=60)
    token = issue_setup_link(settings, "acme", now=1000).split("token=")[1]
    assert check_setup_token(settings, token, "acme", now=1059) == 1060
    with pytest.raises(SetupLinkRefused, match="expired"):
        check_setup_token(settings, token, "acme", now=1060)


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "not valid"),
        (lambda t: t.replace(".", "x", 1), "not valid"),
        (lambda t: "", "whole link"),
    ],
)
def test_tampered_token_403(site: SetupSite, mangle, why: str) -> None:  # type: ignore[no-untyped-def]
    token = site.link("acme").split("token=")[1]
    refused = site.client.get("/saml/c/acme/setup", params={"token": mangle(token)})
    assert refused.status_code == 403 and why in refused.text


def test_another_deployments_key_or_salt_does_not_open_it(site: SetupSite) -> None:
    other = Settings(base_url=APP, secret_key=("another-deployment-key-0123456789",))
    refused = site.client.get(_target(issue_setup_link(other, "acme", now=site.clock())))
    assert refused.status_code == 403
    elsewhere = Settings(base_url="https://other.example", secret_key=(KEY,))  # same key, other site
    token = issue_setup_link(elsewhere, "acme", now=site.clock()).split("token=")[1]
    assert site.client.get("/saml/c/acme/setup", params={"token": token}).status_code == 403


def test_a_link_for_beta_opens_nothing_of_acme(site: SetupSite) -> None:
    token = site.link("beta").split("token=")[1]
    refused = site.client.get("/saml/c/acme/setup", params={"token": token})
    assert refused.status_code == 403 and "another connection" in refused.text


def test_acme_admin_cookie_cannot_read_or_change_beta(site: SetupSite) -> None:
    page = site.open("acme")
    cookie = next(c for c in site.client.cookies.jar if c.name == "saml_setup")
    assert cookie.path == "/saml/c/acme/setup"  # the browser never sends it to beta
    forged = {"cookie": f"saml_setup={cookie.value}"}
    assert site.client.get("/saml/c/beta/setup", headers=forged).status_code == 403
    changed = site.client.post(
        "/saml/c/beta/setup/enable", data={"csrf": csrf_of(page), "enabled": "true"}, headers=forged
    )
    assert changed.status_code == 403
    assert site.registry.get("beta").enabled is False  # type: ignore[union-attr]


def test_no_cookie_no_page(site: SetupSite) -> None:
    for path in ("/saml/c/acme/setup", "/saml/c/acme/setup/sp-metadata.xml", "/saml/c/unknown/setup"):
        refused = site.client.get(path)
        assert refused.status_code == 403 and "setup link" in refused.text


def test_admin_cookie_expires(site: SetupSite, clock: Clock) -> None:
    site.open("acme")
    clock.advance(3600)
    assert site.client.get("/saml/c/acme/setup").status_code == 403


def test_forms_need_the_csrf_token_of_this_session(site: SetupSite, idp: DevIdP) -> None:
    page = site.open("acme")
    fields = {"source": "manual", "sso_url": idp.sso_url, "idp_entity_id": idp.entity_id,
              "certificate": idp.cert_pem}  # fmt: skip
    assert site.post_idp(**fields).status_code == 403
    assert site.post_idp(csrf="x" * 64, **fields).status_code == 403
    assert site.client.post("/saml/c/acme/setup/enable", data={"enabled": "true"}).status_code == 403
    assert site.client.get("/saml/c/acme/setup/test").status_code == 403
    stale = csrf_of(page)
    site.open("acme")  # a new session: the old page's token no longer counts
    assert site.post_idp(csrf=stale, **fields).status_code == 403
    cross = site.client.post(
        "/saml/c/acme/setup/idp", data={"csrf": csrf_of(site.open("acme")), **fields},
        headers={"origin": "https://evil.example"},
    )  # fmt: skip
    assert cross.status_code == 403
    assert not site.registry.get("acme").idp_configured  # type: ignore[union-attr]


def test_enable_needs_an_idp_and_is_audited(site: SetupSite, idp: DevIdP, caplog) -> None:  # type: ignore[no-untyped-def]
    page = site.open("acme")
    refused = site.client.post("/saml/c/acme/setup/enable", data={"csrf": csrf_of(page), "enabled": "true"})
    assert refused.status_code == 400 and "identity provider" in refused.text
    assert site.paste(csrf_of(page), idp.cert_pem).status_code == 303
    assert (
        site.client.post(
            "/saml/c/acme/setup/enable", data={"csrf": csrf_of(page), "enabled": "true"}
        ).status_code
        == 303
    )
    assert site.audited[-1].to_dict()["change"] == "sso enabled"
    assert site.audited[-1].to_dict()["connection"] == "acme"
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")
    emit(site.audited[-1])
    assert '"event":"setup"' in caplog.text and '"change":"sso enabled"' in caplog.text


def test_pages_carry_a_strict_csp(site: SetupSite) -> None:
    site.open("acme")
    page = site.client.get("/saml/c/acme/setup")
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert "<script src" not in page.text and "http" not in page.text.split("<script>")[1]


def test_a_test_response_is_not_a_session_and_cannot_be_replayed(site: SetupSite, idp: DevIdP) -> None:
    page = site.open("acme")
    assert site.paste(csrf_of(page), idp.cert_pem).status_code == 303
    started = site.client.get("/saml/c/acme/setup/test", params={"csrf": csrf_of(page)})
    test_cookie = next(c for c in site.client.cookies.jar if c.name == "saml_setuptest")
    assert test_cookie.path == "/saml/c/acme/acs"
    action, fields = site.browser.idp_form(started)
    assert site.browser.post_acs(action, fields).status_code == 200
    again = site.client.post(
        "/saml/c/acme/acs", data=fields, headers={"cookie": f"saml_setuptest={test_cookie.value}"}
    )
    assert again.status_code == 400 and "<code>replayed</code>" in again.text
    # without the test cookie the post is no test: it goes on to the ACS, which signs nobody in here
    plain = site.client.post("/saml/c/acme/acs", data=fields)
    assert "Test sign-in" not in plain.text
    assert not any("saml_session" in c for c in plain.headers.get_list("set-cookie"))


def test_unreadable_forms_get_a_clear_4xx_and_change_nothing(site: SetupSite) -> None:
    csrf = csrf_of(site.open("acme"))
    as_json = site.client.post("/saml/c/acme/setup/idp", json={"csrf": csrf, "source": "url"})
    assert as_json.status_code == 415
    twice = site.client.post("/saml/c/acme/setup/enable", content=f"csrf={csrf}&csrf={csrf}&enabled=true",
                             headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert twice.status_code == 400 and "twice" in twice.text
    latin1 = site.post_idp(files={"metadata_file": ("md.xml", "<x>é</x>".encode("latin-1"), "text/xml")},
                           csrf=csrf, source="xml")  # fmt: skip
    assert latin1.status_code == 400 and "UTF-8" in latin1.text
    many = site.client.post("/saml/c/acme/setup/idp", data={f"f{i}": "x" for i in range(30)} | {"csrf": csrf})
    assert many.status_code == 400
    assert site.client.delete("/saml/c/acme/setup/idp").status_code == 405
    assert site.client.get("/saml/c/acme/setup/nothing").status_code == 404
    acme = site.registry.get("acme")
    assert acme is not None and not acme.idp_configured and not acme.enabled


def test_the_operator_setting_is_read_from_the_environment() -> None:
    env = {"SAML_BASE_URL": APP, "SAML_SECRET_KEY": KEY, "SAML_SETUP_ALLOW_PRIVATE_METADATA": "true",
           "SAML_SETUP_LINK_TTL": "600"}  # fmt: skip
    settings = Settings.from_env(env)
    assert settings.setup_allow_private_metadata is True and settings.setup_link_ttl == 600
    assert (
        Settings.from_env({**env, "SAML_SETUP_ALLOW_PRIVATE_METADATA": ""}).setup_allow_private_metadata
        is False
    )


def test_only_the_upload_form_takes_a_large_body(site: SetupSite) -> None:
    csrf = csrf_of(site.open("acme"))
    padding = "x" * (300 * 1024)  # over SAML_MAX_BODY (256 KiB), far under the upload cap
    form = {"csrf": csrf, "enabled": "true", "pad": padding}
    big = site.client.post("/saml/c/acme/setup/enable", data=form)
    assert big.status_code == 413 and "too large" in big.text
    assert site.setup.max_body_for("/saml/c/acme/setup/enable") is None
    assert site.setup.max_body_for("/saml/c/acme/setup/idp") == 2 * 1024 * 1024 + 64 * 1024
    assert site.registry.get("acme").enabled is False  # type: ignore[union-attr]
