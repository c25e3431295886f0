"""The HTTP-Redirect binding of single logout (``protocol/logout.py``), without HTTP: a message
deflated, base64-encoded and signed by ``protocol.bindings.redirect_url`` comes back out of
:meth:`LogoutVerifier.from_redirect` intact, and what must be refused is, with its reason code."""

from __future__ import annotations

import base64
import zlib
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from saml_middleware.config import Settings
from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.bindings import redirect_url, rsa_signer
from saml_middleware.protocol.keys import generate_keypair
from saml_middleware.protocol.logout import MAX_INFLATED, LogoutMessage, LogoutVerifier

from ...support.harness import APP, START

IDP = "https://idp.example/tenant/"
SLS = f"{APP}/saml/sls"


@pytest.fixture(scope="module")
def idp_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key_pem, cert_pem = generate_keypair("redirect-binding test IdP")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key, cert_pem


@pytest.fixture
def verifier(idp_pair: tuple[rsa.RSAPrivateKey, str]) -> LogoutVerifier:
    settings = Settings(
        base_url=APP,
        secret_key=("redirect-binding-secret-0123456789",),
        idp_sso_url=IDP + "saml2",
        idp_entity_id=IDP,
        idp_cert=(idp_pair[1],),
    )
    return LogoutVerifier(settings, IDP, settings.idp_cert, clock=lambda: START)


def logout_request(padding_bytes: int = 0) -> bytes:
    instant = datetime.fromtimestamp(START, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="_logout-1" Version="2.0" IssueInstant="{instant}" Destination="{SLS}">'
        f"<saml:Issuer>{IDP}</saml:Issuer>"
        "<saml:NameID>b.simon@contoso.com</saml:NameID>"
        "<samlp:SessionIndex>_session-7</samlp:SessionIndex>"
        f"{' ' * padding_bytes}</samlp:LogoutRequest>"
    ).encode()


def sls_url(xml: bytes, relay_state: str | None, key: rsa.RSAPrivateKey | None) -> str:
    """The message on the HTTP-Redirect binding to the SLS, signed with ``key`` when given."""
    return redirect_url(SLS, "SAMLRequest", xml, relay_state, sign=rsa_signer(key) if key else None)


def query_of(url: str) -> str:
    return urlsplit(url).query


def test_a_signed_logout_request_survives_the_round_trip(idp_pair, verifier: LogoutVerifier) -> None:
    url = sls_url(logout_request(), "back/to?here", idp_pair[0])
    assert url.startswith(SLS + "?SAMLRequest=")
    params = dict(parse_qsl(query_of(url)))
    assert params["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    # the message is raw DEFLATE (no zlib header), as the binding says
    assert zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15) == logout_request()
    message = verifier.from_redirect(query_of(url), None)
    assert message == LogoutMessage(
        "LogoutRequest", "_logout-1", "back/to?here", "b.simon@contoso.com", ("_session-7",)
    )


def test_a_message_that_inflates_past_the_limit_is_refused(idp_pair, verifier: LogoutVerifier) -> None:
    bomb = logout_request(padding_bytes=MAX_INFLATED)  # deflates to a few hundred bytes
    url = sls_url(bomb, None, idp_pair[0])
    assert len(url) < 2000
    with pytest.raises(ResponseRejected, match="inflates to more than") as refused:
        verifier.from_redirect(query_of(url), None)
    assert refused.value.reason == "logout_invalid"


def _signed_query(key: rsa.RSAPrivateKey, encoded: bytes) -> str:
    args = {
        "SAMLRequest": base64.b64encode(encoded).decode(),
        "SigAlg": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    }
    signature = key.sign(urlencode(args).encode(), padding.PKCS1v15(), hashes.SHA256())
    return urlencode({**args, "Signature": base64.b64encode(signature).decode()})


def test_a_zlib_wrapped_message_is_not_raw_deflate(idp_pair, verifier: LogoutVerifier) -> None:
    query = _signed_query(idp_pair[0], zlib.compress(logout_request()))
    with pytest.raises(ResponseRejected, match="not raw DEFLATE") as refused:
        verifier.from_redirect(query, None)
    assert refused.value.reason == "logout_invalid"


def test_a_changed_relay_state_breaks_the_signature(idp_pair, verifier: LogoutVerifier) -> None:
    query = query_of(sls_url(logout_request(), "/home", idp_pair[0]))
    forged = query.replace("RelayState=%2Fhome", "RelayState=" + quote_plus("https://evil.example/"))
    assert forged != query
    with pytest.raises(ResponseRejected) as refused:
        verifier.from_redirect(forged, None)
    assert refused.value.reason == "signature_invalid"


def test_an_unsigned_message_is_refused(verifier: LogoutVerifier) -> None:
    with pytest.raises(ResponseRejected) as refused:
        verifier.from_redirect(query_of(sls_url(logout_request(), None, None)), None)
    assert refused.value.reason == "logout_unsigned"


def test_a_repeated_parameter_is_refused(idp_pair, verifier: LogoutVerifier) -> None:
    query = query_of(sls_url(logout_request(), "/a", idp_pair[0]))
    with pytest.raises(ResponseRejected, match="appears twice") as refused:
        verifier.from_redirect(query + "&RelayState=%2Fb", None)
    assert refused.value.reason == "logout_invalid"
