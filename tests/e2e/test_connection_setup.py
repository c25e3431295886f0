"""The customer IT admin's set-up of one connection, end to end over real HTTP (ASGI and WSGI),
with the dev IdP as their Entra tenant: open the link, read the values for Entra, give the IdP,
test sign-in, enable SSO."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from saml_middleware.connections import Connection, MemoryRegistry
from saml_middleware.devidp import DevIdP, generate_keypair

from ..support.harness import APP, Clock
from ..support.setupflow import SetupSite, csrf_of, pem_body_only

GIVEN_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"


@pytest.fixture
def site(adapter: str, idp: DevIdP, clock: Clock) -> Iterator[SetupSite]:
    made = SetupSite(adapter, idp, clock)
    yield made
    made.close()


@pytest.fixture
def asgi_site(idp: DevIdP, clock: Clock) -> Iterator[SetupSite]:
    made = SetupSite("asgi", idp, clock)
    yield made
    made.close()


def test_admin_pastes_login_url_and_certificate_tests_and_enables(site: SetupSite, idp: DevIdP) -> None:
    page = site.open()
    # step 2: the values for Entra's Basic SAML Configuration, each with a copy button
    for label, value in [
        ("Identifier (Entity ID)", f"{APP}/saml/c/acme/metadata"),
        ("Reply URL (Assertion Consumer Service URL)", f"{APP}/saml/c/acme/acs"),
        ("Sign on URL", f"{APP}/saml/c/acme/login"),
        ("Logout URL (optional)", f"{APP}/saml/c/acme/sls"),
    ]:
        assert re.search(
            re.escape(label) + r"</th><td><code id=[\w-]+>" + re.escape(value) + "</code><button", page
        )
    assert "@contoso.com" in page  # step 3: the claims, and the domain the e-mails must be in
    metadata = site.client.get("/saml/c/acme/setup/sp-metadata.xml")
    assert metadata.status_code == 200 and "attachment" in metadata.headers["content-disposition"]
    assert f'entityID="{APP}/saml/c/acme/metadata"'.encode() in metadata.content

    # step 4: Login URL + Microsoft Entra Identifier + Certificate (Base64) without PEM armour
    saved = site.paste(csrf_of(page), pem_body_only(idp.cert_pem))
    assert saved.status_code == 303 and saved.headers["location"] == "/saml/c/acme/setup?done=idp"
    acme = site.registry.get("acme")
    assert acme is not None and acme.idp_sso_url == idp.sso_url and acme.idp_entity_id == idp.entity_id
    assert acme.enabled is False
    page = site.client.get(saved.headers["location"]).text
    assert "Identity provider saved" in page and idp.entity_id in page

    # step 6: a real login through the new set-up, marked as a test
    result = site.test_sign_in(csrf_of(page))
    assert result.status_code == 200, result.text
    assert "Test sign-in succeeded" in result.text and "b.simon@contoso.com" in result.text
    assert GIVEN_NAME in result.text  # the claims received
    assert not any("saml_session" in c for c in result.headers.get_list("set-cookie"))  # nobody signed in
    assert site.seen.calls == []  # the app never saw it
    assert site.registry.get("acme").enabled is False  # type: ignore[union-attr]

    # step 7: Enable SSO
    enabled = site.client.post("/saml/c/acme/setup/enable", data={"csrf": csrf_of(page), "enabled": "true"})
    assert enabled.status_code == 303 and enabled.headers["location"].endswith("done=on")
    assert site.registry.get("acme").enabled is True  # type: ignore[union-attr]
    assert site.registry.get("beta").enabled is False  # type: ignore[union-attr]
    changes = [(e.event, e.connection, e.change) for e in site.audited]
    assert changes[-1] == ("setup", "acme", "sso enabled")
    assert [c for _, _, c in changes][:2] == ["setup link opened", changes[1][2]]
    assert changes[1][2].startswith("idp set from login URL and certificate: entity " + idp.entity_id)
    assert ("setup", "acme", "test sign-in accepted for b.simon@contoso.com") in changes
    assert all("BEGIN CERTIFICATE" not in (c or "") and pem_body_only(idp.cert_pem)[:40] not in (c or "")
               for _, _, c in changes)  # fmt: skip


def test_wrong_certificate_shows_signature_invalid(asgi_site: SetupSite) -> None:
    page = asgi_site.open()
    _, other_cert = generate_keypair("someone else")
    assert asgi_site.paste(csrf_of(page), other_cert).status_code == 303
    result = asgi_site.test_sign_in(csrf_of(page))
    assert result.status_code == 400
    assert "Test sign-in refused" in result.text and "<code>signature_invalid</code>" in result.text
    assert "Certificate (Base64)" in result.text  # what to change in Entra
    assert not any("saml_session" in c for c in result.headers.get_list("set-cookie"))
    assert asgi_site.audited[-1].change == "test sign-in refused: signature_invalid"


def test_test_sign_in_outside_the_domains_shows_the_reason(asgi_site: SetupSite, idp: DevIdP) -> None:
    page = asgi_site.open()
    assert asgi_site.paste(csrf_of(page), idp.cert_pem).status_code == 303
    outsider = asgi_site.registry.get("acme")
    assert outsider is not None
    asgi_site.registry.put(replace(outsider, domains=("acme.example",)))
    result = asgi_site.test_sign_in(csrf_of(page))
    assert result.status_code == 403 and "<code>domain_not_allowed</code>" in result.text
    assert "contoso.com" in result.text  # the detail names the domain that came


def test_uploaded_federation_metadata_then_test_sign_in(asgi_site: SetupSite, idp: DevIdP) -> None:
    page = asgi_site.open()
    files = {"metadata_file": ("Acme SSO.xml", b"\xef\xbb\xbf" + idp.metadata_xml(), "text/xml")}
    saved = asgi_site.post_idp(files=files, csrf=csrf_of(page), source="xml")
    assert saved.status_code == 303, saved.text
    acme = asgi_site.registry.get("acme")
    assert acme is not None and idp.entity_id in acme.idp_metadata and not acme.idp_sso_url
    assert asgi_site.audited[-1].change.startswith("idp set from uploaded metadata XML")  # type: ignore[union-attr]
    result = asgi_site.test_sign_in(csrf_of(page), "adele.vance@contoso.com")
    assert result.status_code == 200 and "adele.vance@contoso.com" in result.text


def test_metadata_upload_over_two_megabytes_is_refused_413(site: SetupSite, idp: DevIdP) -> None:
    asgi_site = site
    page = asgi_site.open()
    for size in (2 * 1024 * 1024 + 1, 3 * 1024 * 1024):  # within the form cap, and beyond it
        big = b"<x>" + b"a" * (size - 7) + b"</x>"
        files = {"metadata_file": ("FederationMetadata.xml", big, "text/xml")}
        refused = asgi_site.post_idp(files=files, csrf=csrf_of(page), source="xml")
        assert refused.status_code == 413 and "2 MB" in refused.text
    assert asgi_site.registry.get("acme").idp_metadata == ""  # type: ignore[union-attr]


def test_bad_metadata_and_bad_certificate_are_explained_and_nothing_saved(asgi_site: SetupSite) -> None:
    page = asgi_site.open()
    files = {"metadata_file": ("x.xml", b"<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", "text/xml")}
    refused = asgi_site.post_idp(files=files, csrf=csrf_of(page), source="xml")
    assert refused.status_code == 400 and "DOCTYPE" in refused.text
    for text in (
        "/etc/passwd",
        "not a certificate at all",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ):
        refused = asgi_site.paste(csrf_of(page), text)
        assert refused.status_code == 400 and "certificate" in refused.text.lower()
        assert "root:" not in refused.text  # never read as a file
    assert not asgi_site.registry.get("acme").idp_configured  # type: ignore[union-attr]
    assert [e.change for e in asgi_site.audited] == ["setup link opened"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://idp.test/federationmetadata.xml", "must start with https://"),
        ("https://127.0.0.1/federationmetadata.xml", "127.0.0.1 is a loopback address"),
        ("https://localhost:8443/federationmetadata.xml", "is a loopback address"),
        ("https://10.1.2.3/federationmetadata.xml", "10.1.2.3 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://[::ffff:192.168.0.1]/md.xml", "is a private address"),
    ],
)
def test_metadata_url_to_inside_addresses_is_refused(asgi_site: SetupSite, url: str, why: str) -> None:
    page = asgi_site.open()
    refused = asgi_site.post_idp(csrf=csrf_of(page), source="url", metadata_url=url)
    assert refused.status_code == 400 and why in refused.text
    assert not asgi_site.registry.get("acme").idp_configured  # type: ignore[union-attr]


def test_the_setting_allows_a_loopback_metadata_url(idp: DevIdP, clock: Clock) -> None:
    """With SAML_SETUP_ALLOW_PRIVATE_METADATA the address passes (then TLS is still checked)."""
    site = SetupSite("asgi", idp, clock, setup_allow_private_metadata=True)
    try:
        page = site.open()
        refused = site.post_idp(
            csrf=csrf_of(page), source="url", metadata_url="https://127.0.0.1:9/federationmetadata.xml"
        )
        assert refused.status_code == 400
        assert "loopback" not in refused.text and "cannot fetch from 127.0.0.1" in refused.text
    finally:
        site.close()


def test_certificate_given_as_the_downloaded_cer_file(asgi_site: SetupSite, idp: DevIdP) -> None:
    page = asgi_site.open()
    files = {
        "certificate_file": (
            "Acme SSO.cer",
            idp.cert_pem.replace("\n", "\r\n").encode(),
            "application/x-x509-ca-cert",
        )
    }
    saved = asgi_site.post_idp(
        files=files, csrf=csrf_of(page), source="manual", sso_url=idp.sso_url, idp_entity_id=idp.entity_id
    )
    assert saved.status_code == 303, saved.text
    assert asgi_site.test_sign_in(csrf_of(page)).status_code == 200


def test_a_stored_set_up_this_deployment_cannot_use_is_a_409_not_a_500(idp: DevIdP, clock: Clock) -> None:

    broken = Connection(
        "acme", idp_sso_url="https://idp.example/sso", idp_entity_id="e", idp_cert=("garbage",)
    )
    site = SetupSite("asgi", idp, clock, MemoryRegistry([broken]))
    try:
        url = site.link("acme")
        opened = site.client.get(url.replace(APP, ""))
        assert opened.status_code == 303
        page = site.client.get("/saml/c/acme/setup")
        assert page.status_code == 409 and "operator" in page.text
    finally:
        site.close()
