"""SP key pair rollover: SAML_SP_KEY / SAML_SP_CERT (current) beside SAML_SP_KEY_NEXT / SAML_SP_CERT_NEXT."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from saml_middleware import ConfigError
from saml_middleware.devidp import DevIdP, generate_keypair

from ..support.harness import APP, IDP


@pytest.fixture(scope="module")
def current() -> tuple[str, str]:
    return generate_keypair("test SP, current")


@pytest.fixture(scope="module")
def upcoming() -> tuple[str, str]:
    return generate_keypair("test SP, next")


def _body(cert: str) -> str:
    return "".join(cert.strip().splitlines()[1:-1])


def _verifies(cert_pem: str, signed: bytes, signature: bytes) -> bool:
    key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_both_certificates_published_for_signing_and_encryption(make_app, browser_factory, current, upcoming):
    app, _ = make_app(
        sp_key=current[0], sp_cert=current[1], sp_key_next=upcoming[0], sp_cert_next=upcoming[1]
    )
    metadata = browser_factory(app).app.get("/saml/metadata").text
    for cert in (current[1], upcoming[1]):
        assert metadata.count(_body(cert)) == 2  # use="signing" and use="encryption"
    assert metadata.count('use="signing"') == 2 and metadata.count('use="encryption"') == 2


def test_authn_request_is_signed_with_the_current_key(make_app, browser_factory, current, upcoming):
    app, _ = make_app(
        sp_key=current[0], sp_cert=current[1], sp_key_next=upcoming[0], sp_cert_next=upcoming[1]
    )
    query = urlsplit(browser_factory(app).start().headers["location"]).query
    raw = dict(p.split("=", 1) for p in query.split("&"))
    signed = "&".join(f"{n}={raw[n]}" for n in ("SAMLRequest", "RelayState", "SigAlg")).encode()
    signature = base64.b64decode(unquote_plus(raw["Signature"]))
    assert dict(parse_qsl(query))["SigAlg"].endswith("rsa-sha256")
    assert _verifies(current[1], signed, signature)
    assert not _verifies(upcoming[1], signed, signature)


@pytest.mark.parametrize("encrypted_for", ["current", "next"])
def test_assertions_encrypted_for_either_certificate_decrypt(
    make_app, browser_factory, idp_keys, clock, current, upcoming, encrypted_for
):
    app, _ = make_app(
        sp_key=current[0],
        sp_cert=current[1],
        sp_key_next=upcoming[0],
        sp_cert_next=upcoming[1],
        require_encryption=True,
    )
    cert = current[1] if encrypted_for == "current" else upcoming[1]
    idp = DevIdP(IDP, key_pem=idp_keys[0], cert_pem=idp_keys[1], clock=clock, encrypt_for=cert)
    browser = browser_factory(app, idp)
    action, fields = browser.idp_form(browser.start("/deep"))
    assert b"EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"])
    done = browser.post_acs(action, fields)
    assert (done.status_code, done.headers["location"]) == (303, "/deep")
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def test_assertion_for_a_third_key_still_fails_to_decrypt(
    make_app, browser_factory, idp_keys, clock, current, upcoming
):
    app, seen = make_app(
        sp_key=current[0], sp_cert=current[1], sp_key_next=upcoming[0], sp_cert_next=upcoming[1]
    )
    other = generate_keypair("another SP")[1]
    idp = DevIdP(IDP, key_pem=idp_keys[0], cert_pem=idp_keys[1], clock=clock, encrypt_for=other)
    assert browser_factory(app, idp).login().status_code == 400
    assert seen.calls == []


def test_next_pair_settings_are_validated(settings_factory, current, upcoming) -> None:
    with pytest.raises(ConfigError, match="SAML_SP_KEY_NEXT and SAML_SP_CERT_NEXT go together"):
        settings_factory(sp_key=current[0], sp_cert=current[1], sp_key_next=upcoming[0])
    with pytest.raises(ConfigError, match="SAML_SP_KEY_NEXT needs SAML_SP_KEY"):
        settings_factory(sp_key_next=upcoming[0], sp_cert_next=upcoming[1])
    with pytest.raises(ConfigError, match="SAML_SP_KEY_NEXT / SAML_SP_CERT_NEXT"):
        settings_factory(sp_key=current[0], sp_cert=current[1], sp_key_next="junk", sp_cert_next=upcoming[1])


def test_next_pair_from_the_environment(idp, current, upcoming, tmp_path) -> None:
    from saml_middleware import Settings

    (tmp_path / "next.key").write_text(upcoming[0])
    settings = Settings.from_env(
        {
            "SAML_BASE_URL": APP,
            "SAML_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "SAML_IDP_METADATA": idp.metadata_xml().decode("utf-8"),
            "SAML_SP_KEY": current[0],
            "SAML_SP_CERT": current[1],
            "SAML_SP_KEY_NEXT": str(tmp_path / "next.key"),
            "SAML_SP_CERT_NEXT": upcoming[1],
        }
    )
    assert "PRIVATE KEY" in settings.sp_key_next and _body(settings.sp_cert_next) == _body(upcoming[1])
