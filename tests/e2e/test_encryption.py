"""Encrypted assertions (Entra "token encryption", Shibboleth, AD FS): decrypted in process
with SAML_SP_KEY, through both adapters, in every signing mode."""

from __future__ import annotations

import logging

import pytest

from saml_middleware.devidp import DevIdP, generate_keypair

from ..support.harness import IDP


@pytest.fixture(scope="module")
def sp_keys() -> tuple[str, str]:
    return generate_keypair("test SP")


@pytest.fixture
def encrypting_idp(idp_keys, clock):
    def make(sp_cert: str, sign: str = "assertion") -> DevIdP:
        key, cert = idp_keys
        return DevIdP(IDP, key_pem=key, cert_pem=cert, clock=clock, sign=sign, encrypt_for=sp_cert)  # type: ignore[arg-type]

    return make


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_encrypted_assertion_logs_in(make_app, browser_factory, encrypting_idp, sp_keys, sign) -> None:
    key, cert = sp_keys
    app, _seen = make_app(sp_key=key, sp_cert=cert, require_encryption=True)
    browser = browser_factory(app, encrypting_idp(cert, sign))
    action, fields = browser.idp_form(browser.start("/deep"))
    import base64

    assert b"EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"])
    done = browser.post_acs(action, fields)
    assert (done.status_code, done.headers["location"]) == (303, "/deep")
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def _refusal(caplog: pytest.LogCaptureFixture) -> str:
    records = [r for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]
    assert len(records) == 1
    return str(records[0].saml_reason)


def test_unencrypted_assertion_refused_when_encryption_is_required(
    make_app, browser_factory, sp_keys, caplog
) -> None:
    key, cert = sp_keys
    app, seen = make_app(sp_key=key, sp_cert=cert, require_encryption=True)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser_factory(app).login()
    assert refused.status_code == 400 and _refusal(caplog) == "encryption_required"
    assert seen.calls == []


def test_encrypted_assertion_without_an_sp_key_is_refused(
    make_app, browser_factory, encrypting_idp, sp_keys, caplog
) -> None:
    app, _seen = make_app()
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser_factory(app, encrypting_idp(sp_keys[1])).login()
    assert refused.status_code == 400 and _refusal(caplog) == "encrypted_assertion"


def test_assertion_encrypted_for_another_sp_is_refused(
    make_app, browser_factory, encrypting_idp, sp_keys, caplog
) -> None:
    key, cert = sp_keys
    other_cert = generate_keypair("another SP")[1]
    app, seen = make_app(sp_key=key, sp_cert=cert)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser_factory(app, encrypting_idp(other_cert)).login()
    assert refused.status_code == 400 and _refusal(caplog) == "decryption_failed"
    assert seen.calls == []


def test_sp_metadata_publishes_the_encryption_certificate(make_app, browser_factory, sp_keys) -> None:
    key, cert = sp_keys
    app, _ = make_app(sp_key=key, sp_cert=cert)
    metadata = browser_factory(app).app.get("/saml/metadata").text
    body = "".join(cert.strip().splitlines()[1:-1])
    assert 'use="encryption"' in metadata and 'use="signing"' in metadata and body in metadata


def _post_mutated(browser, mutate) -> object:
    import base64

    action, fields = browser.idp_form(browser.start("/"))
    xml = mutate(base64.b64decode(fields["SAMLResponse"]))
    return browser.post_acs(action, {**fields, "SAMLResponse": base64.b64encode(xml).decode()})


def test_rsa_pkcs1_v1_5_key_transport_is_refused(
    make_app, browser_factory, encrypting_idp, sp_keys, caplog
) -> None:
    """PKCS#1 v1.5 key transport is a padding oracle (Bleichenbacher): refused before decrypting."""
    key, cert = sp_keys
    app, seen = make_app(sp_key=key, sp_cert=cert)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = _post_mutated(
        browser_factory(app, encrypting_idp(cert)),
        lambda xml: xml.replace(b"xmlenc#rsa-oaep-mgf1p", b"xmlenc#rsa-1_5"),
    )
    assert refused.status_code == 400 and _refusal(caplog) == "weak_algorithm"
    assert seen.calls == []


def test_encrypted_assertion_swapped_under_a_response_signature_is_refused(
    make_app, browser_factory, encrypting_idp, sp_keys, clock, caplog
) -> None:
    """The Response signature covers the encrypted form: another (valid) encrypted assertion
    for this SP, swapped in, breaks it."""
    import re

    key, cert = sp_keys
    app, seen = make_app(sp_key=key, sp_cert=cert)
    idp = encrypting_idp(cert, "response")
    other = idp.issue_response(
        "adele.vance@contoso.com",
        acs_url="http://app.test/saml/acs",
        audience="http://app.test/saml/metadata",
    )
    pattern = re.compile(rb"<(?:\w+:)?EncryptedAssertion\b.*</(?:\w+:)?EncryptedAssertion>", re.S)
    swapped_in = pattern.search(other)
    assert swapped_in is not None
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = _post_mutated(
        browser_factory(app, idp), lambda xml: pattern.sub(lambda _: swapped_in.group(0), xml)
    )
    assert refused.status_code == 400 and _refusal(caplog) == "signature_invalid"
    assert seen.calls == []
