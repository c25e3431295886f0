"""The dev IdP as a POST-only IdP (``sso_binding="post"``, ``dev-idp --sso-binding post``) and as
an IdP that demands signed requests (``sp_cert_pem``, ``--sp-cert``) on both bindings."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree

from saml_middleware.devidp import DevIdP, generate_keypair
from saml_middleware.pem import rsa_private_key
from saml_middleware.protocol.bindings import redirect_url, rsa_signer
from saml_middleware.protocol.xmlsign import EnvelopedSigner

from ..support.asgiclient import asgi_client

BASE = "http://idp.test"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SP_KEY, SP_CERT = generate_keypair("signing SP")
OTHER_KEY, OTHER_CERT = generate_keypair("another SP")
REQUEST = (
    b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" '
    b'IssueInstant="2026-01-01T00:00:00Z" AssertionConsumerServiceURL="http://app.test/saml/acs">'
    b"<saml:Issuer>http://app.test/saml/metadata</saml:Issuer></samlp:AuthnRequest>"
)


def _bindings(idp: DevIdP, tag: str) -> list[str]:
    root = etree.fromstring(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    return [e.get("Binding", "").rsplit(":", 1)[1] for e in root.iter(f"{{{MD}}}{tag}")]


@pytest.mark.parametrize(
    ("binding", "sso", "slo"),
    [("both", ["HTTP-Redirect", "HTTP-POST"], ["HTTP-Redirect"]), ("post", ["HTTP-POST"], ["HTTP-POST"])],
)
def test_metadata_lists_the_chosen_bindings(binding: str, sso: list[str], slo: list[str]) -> None:
    idp = DevIdP(BASE, sso_binding=binding)
    assert _bindings(idp, "SingleSignOnService") == sso and _bindings(idp, "SingleLogoutService") == slo


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="sso_binding must be one of both, post, redirect"):
        DevIdP(BASE, sso_binding="artifact")
    with pytest.raises(ValueError, match="no PEM certificate"):
        DevIdP(BASE, sp_cert_pem="not a certificate")


@pytest.fixture
def strict() -> Iterator[tuple[DevIdP, httpx.Client]]:
    idp = DevIdP(BASE, sso_binding="post", sp_cert_pem=SP_CERT)
    with asgi_client(idp.app, BASE) as client:
        yield idp, client


def _post(idp: DevIdP, client: httpx.Client, xml: bytes) -> httpx.Response:
    fields = {"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": "k"}
    return client.post(urlsplit(idp.sso_url).path, data=fields)


def _get(idp: DevIdP, client: httpx.Client, key: str | None) -> httpx.Response:
    sign = rsa_signer(rsa_private_key(key)) if key else None
    url = urlsplit(redirect_url(idp.sso_url, "SAMLRequest", REQUEST, "k", sign=sign))
    return client.get(f"{url.path}?{url.query}")


def test_post_requests_must_carry_the_sp_signature(strict: tuple[DevIdP, httpx.Client]) -> None:
    idp, client = strict
    accepted = _post(idp, client, EnvelopedSigner(SP_KEY, SP_CERT)(REQUEST))
    assert accepted.status_code == 200 and "Pick an account" in accepted.text
    unsigned = _post(idp, client, REQUEST)
    assert unsigned.status_code == 400 and "not signed" in unsigned.text
    by_another = _post(idp, client, EnvelopedSigner(OTHER_KEY, OTHER_CERT)(REQUEST))
    assert by_another.status_code == 400 and "signature_invalid" in by_another.text


def test_redirect_requests_must_carry_the_sp_signature(strict: tuple[DevIdP, httpx.Client]) -> None:
    """Served whatever the metadata lists; the query signature checked as received."""
    idp, client = strict
    assert _get(idp, client, SP_KEY).status_code == 200
    unsigned = _get(idp, client, None)
    assert unsigned.status_code == 400 and "not signed" in unsigned.text
    by_another = _get(idp, client, OTHER_KEY)
    assert by_another.status_code == 400 and "does not verify" in by_another.text


def test_without_the_sp_certificate_unsigned_requests_are_taken() -> None:
    idp = DevIdP(BASE, sso_binding="post")
    with asgi_client(idp.app, BASE) as client:
        assert _post(idp, client, REQUEST).status_code == 200
