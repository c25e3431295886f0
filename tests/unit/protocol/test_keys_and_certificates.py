"""Keys and certificates in the configuration: every IdP certificate loads, the SP key pairs are
RSA and match their certificates, metadata signatures are shaped as response signatures are,
and a serial-0 IdP certificate still verifies logout messages."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from saml_middleware import ConfigError, Settings
from saml_middleware.devidp import generate_keypair
from saml_middleware.gate.identity_headers import IdentityHeaders
from saml_middleware.pem import pem_body
from saml_middleware.protocol.keys import self_signed

from ...support.harness import APP, INTEROP, Clock

_DS = "http://www.w3.org/2000/09/xmldsig#"


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return [generate_keypair(f"test SP {n}") for n in range(3)]


@pytest.fixture(scope="module")
def ec_pair() -> tuple[str, str]:
    start = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    return self_signed(key, "EC SP", start, start + datetime.timedelta(days=30))


def _manual(idp: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": APP,
        "secret_key": ("test-secret-key-0123456789abcdef",),
        "idp_sso_url": idp.sso_url,
        "idp_entity_id": idp.entity_id,
    }
    return Settings(**{**values, **overrides})


# -- SAML_IDP_CERT given as several values ------------------------------------
def test_idp_cert_tuple_loads_every_item(idp, pairs, tmp_path: Path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_text(pairs[0][1])
    second.write_text(pairs[1][1])
    two_files = _manual(idp, idp_cert=(str(first), str(second)))
    text_and_file = _manual(idp, idp_cert=(pairs[0][1], str(second)))
    expected = [pem_body(pairs[0][1]), pem_body(pairs[1][1])]
    assert [pem_body(c) for c in two_files.idp_cert] == expected
    assert [pem_body(c) for c in text_and_file.idp_cert] == expected


def test_every_bad_idp_cert_item_is_reported(idp, pairs) -> None:
    with pytest.raises(ConfigError) as info:
        _manual(idp, idp_cert=("nope.pem", pairs[0][1], "gone.pem"))
    cert_problems = [p for p in info.value.problems if p.startswith("SAML_IDP_CERT:")]
    assert len(cert_problems) == 2 and "'gone.pem'" in cert_problems[1]


# -- SP key pairs: RSA, and matching their certificates -----------------------
def test_sp_keys_must_be_rsa(settings_factory, pairs, ec_pair) -> None:
    with pytest.raises(ConfigError, match="SAML_SP_KEY must be an RSA key"):
        settings_factory(sp_key=ec_pair[0], sp_cert=ec_pair[1])
    with pytest.raises(ConfigError, match="SAML_SP_KEY_NEXT must be an RSA key"):
        settings_factory(
            sp_key=pairs[0][0], sp_cert=pairs[0][1], sp_key_next=ec_pair[0], sp_cert_next=ec_pair[1]
        )


def test_sp_keys_must_match_their_certificates(settings_factory, pairs) -> None:
    with pytest.raises(ConfigError, match="SAML_SP_KEY does not match SAML_SP_CERT"):
        settings_factory(sp_key=pairs[0][0], sp_cert=pairs[1][1])
    with pytest.raises(ConfigError, match="SAML_SP_KEY_NEXT does not match SAML_SP_CERT_NEXT"):
        settings_factory(
            sp_key=pairs[0][0], sp_cert=pairs[0][1], sp_key_next=pairs[1][0], sp_cert_next=pairs[2][1]
        )


def test_sp_key_problems_are_reported_together(settings_factory, pairs, ec_pair) -> None:
    with pytest.raises(ConfigError) as info:
        settings_factory(
            sp_key=pairs[0][0], sp_cert=pairs[1][1], sp_key_next=ec_pair[0], sp_cert_next=ec_pair[1]
        )
    names = {p.split(" ")[0] for p in info.value.problems}
    assert names == {"SAML_SP_KEY", "SAML_SP_KEY_NEXT"}


def test_matching_rsa_pairs_still_load(settings_factory, pairs) -> None:
    settings = settings_factory(
        sp_key=pairs[0][0], sp_cert=pairs[0][1], sp_key_next=pairs[1][0], sp_cert_next=pairs[1][1]
    )
    assert pem_body(settings.sp_cert_next) == pem_body(pairs[1][1])


# -- the logout verifier and serial-number-0 certificates ---------------------
def test_logout_verifier_takes_a_serial_zero_certificate(settings_factory) -> None:
    from saml_middleware.protocol.logout import LogoutVerifier

    testshib = (INTEROP / "15_shibboleth_testshib_signing_cert.pem").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verifier = LogoutVerifier(settings_factory(), "https://idp.example/", [testshib], clock=Clock())
    assert len(verifier.keys) == 1


# -- the metadata signature: shape checked as a response's ---------------------
def _with_metadata_cert(settings_factory: Callable[..., Settings], idp: Any) -> Settings:
    return settings_factory(idp_metadata_cert=(idp.cert_pem,))


def test_metadata_signature_with_a_ds_object_is_refused(settings_factory, idp) -> None:
    from saml_middleware.protocol.metadata import idp_from_metadata

    root = etree.fromstring(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    etree.SubElement(root.find(f"{{{_DS}}}Signature"), f"{{{_DS}}}Object").text = "smuggled"
    with pytest.raises(ValueError, match="ds:Object inside a signature"):
        idp_from_metadata(_with_metadata_cert(settings_factory, idp), etree.tostring(root))


# -- comma-separated header attributes -----------------------------------------
def test_header_attributes_string_is_split_by_settings(settings_factory) -> None:
    settings = settings_factory(header_attributes="given_name, groups")
    assert settings.header_attributes == ("given_name", "groups")
    assert [h for _, h in IdentityHeaders(settings).attributes] == [
        "X-Remote-Attr-Given-Name",
        "X-Remote-Attr-Groups",
    ]
