"""pysaml2's own IdP (``saml2.server.Server``, as SATOSA runs it) signing and encrypting for us.

pysaml2 signs with the ``xmlsec1`` binary, re-serialises the assertion with its own prefixes
(``encas0:``...) inside an ``EncryptedAssertion`` of a Response that says ``ns0:``/``ns1:``, and
encrypts with Triple-DES-CBC and RSA-OAEP: a different code path from the dev IdP and
SimpleSAMLphp. Issue 12 item 4: such an assertion used to fail with ``signature_invalid``.
"""

from __future__ import annotations

import base64
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.utils import CryptographyDeprecationWarning

from saml_middleware.devidp import generate_keypair

from ..support.harness import HTML, Clock, client_for
from ..support.needs import find_program

pytestmark = pytest.mark.needs("xmlsec1")

with warnings.catch_warnings():  # pysaml2 7.5 still names modes.CFB at import
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.server import Server
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

IDP_ENTITY_ID = "https://satosa.test/idp"
EMAIL = "b.simon@contoso.com"


@pytest.fixture(scope="module")
def xmlsec1() -> str:
    """pysaml2 signs and encrypts with the ``xmlsec1`` binary (scripts/system-deps.sh installs it)."""
    found = find_program("xmlsec1")
    assert found is not None  # needs("xmlsec1") found it
    return found


@pytest.fixture(scope="module")
def sp_keys() -> tuple[str, str]:
    return generate_keypair("pysaml2 test SP")


@pytest.fixture(scope="module")
def idp_config(xmlsec1: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], IdPConfig]:
    """``idp_config(sp_metadata_xml)``: a pysaml2 IdP configuration with its own key pair."""
    folder = tmp_path_factory.mktemp("pysaml2-idp")
    key, cert = generate_keypair("pysaml2 IdP")
    (folder / "key.pem").write_text(key)
    (folder / "cert.pem").write_text(cert)

    def make(sp_metadata: str) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": IDP_ENTITY_ID,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                ("https://satosa.test/sso/redirect", BINDING_HTTP_REDIRECT),
                                ("https://satosa.test/sso/post", BINDING_HTTP_POST),
                            ]
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {"default": {"lifetime": {"minutes": 15}, "attribute_restrictions": None}},
                    }
                },
                "key_file": str(folder / "key.pem"),
                "cert_file": str(folder / "cert.pem"),
                "xmlsec_binary": xmlsec1,
                "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            }
        )
        return config

    return make


def _idp_metadata(config: IdPConfig) -> str:
    return str(entity_descriptor(config))


def _answer(
    client: httpx.Client, server: Server, sp_cert: str, identity: dict[str, list[str]], **signing: bool
) -> tuple[dict[str, str], str, str]:
    """Start a login at ``/deep`` in ``client``; let pysaml2 answer it, signed and encrypted.

    :returns: the login's query (SAMLRequest, RelayState), the ACS URL, the response XML.
    """
    start = client.get("/deep", headers=HTML)
    assert start.status_code == 302, start.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        request = server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT).message
        response = server.create_authn_response(
            identity=identity,
            in_response_to=request.id,
            destination=request.assertion_consumer_service_url,
            sp_entity_id=request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=EMAIL),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=True,
            encrypt_assertion=True,
            encrypt_cert_assertion=sp_cert,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **signing,
        )
    return query, request.assertion_consumer_service_url, str(response)


def _login(
    client: httpx.Client, server: Server, sp_cert: str, *, sign_response: bool
) -> tuple[httpx.Response, str]:
    """Start a login at ``/deep``; let pysaml2 answer it; post its response to the ACS."""
    identity = {"mail": [EMAIL], "givenName": ["B."], "sn": ["Simon"]}
    query, acs, xml = _answer(client, server, sp_cert, identity, sign_response=sign_response)
    form = {"SAMLResponse": base64.b64encode(xml.encode()).decode(), "RelayState": query["RelayState"]}
    return client.post(urlsplit(acs).path, data=form), xml


@pytest.mark.parametrize("sign_response", [False, True], ids=["assertion signed", "both signed"])
def test_pysaml2_idp_encrypted_signed_assertion_signs_the_user_in(
    make_app: Callable[..., tuple[Any, Any]],
    adapter: str,
    clock: Clock,
    clients: list[httpx.Client],
    sp_keys: tuple[str, str],
    idp_config: Callable[[str], IdPConfig],
    sign_response: bool,
) -> None:
    clock.now = time.time()  # pysaml2 stamps the real time
    key, cert = sp_keys
    app, seen = make_app(sp_key=key, sp_cert=cert, idp_metadata=_idp_metadata(idp_config("")))
    client = client_for(app, adapter)
    clients.append(client)
    server = Server(config=idp_config(client.get("/saml/metadata").text))
    done, xml = _login(client, server, cert, sign_response=sign_response)
    # pysaml2's shape: its own prefixes, Triple-DES content, no plain Assertion in sight
    assert "<ns0:Response" in xml and "<ns1:EncryptedAssertion>" in xml and "tripledes-cbc" in xml
    assert "Assertion " not in xml.replace("EncryptedAssertion", "")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/deep"
    page = client.get("/deep", headers=HTML)
    assert page.status_code == 200 and page.json()["user"] == EMAIL
    assert seen.calls[-1]["path"] == "/deep"


def test_pysaml2_response_swapped_between_logins_is_refused(
    make_app: Callable[..., tuple[Any, Any]],
    adapter: str,
    clock: Clock,
    clients: list[httpx.Client],
    sp_keys: tuple[str, str],
    idp_config: Callable[[str], IdPConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The decrypted assertion's InResponseTo is still checked: posted from another browser
    (whose login cookie names another request), pysaml2's valid response is refused."""
    clock.now = time.time()
    caplog.set_level(logging.INFO, logger="saml_middleware")
    key, cert = sp_keys
    app, seen = make_app(sp_key=key, sp_cert=cert, idp_metadata=_idp_metadata(idp_config("")))
    victim, attacker = client_for(app, adapter), client_for(app, adapter)
    clients.extend([victim, attacker])
    server = Server(config=idp_config(victim.get("/saml/metadata").text))
    assert attacker.get("/", headers=HTML).status_code == 302  # the attacker's own login cookie
    query, _, xml = _answer(victim, server, cert, {"mail": [EMAIL]})
    refused = attacker.post(
        "/saml/acs",
        data={"SAMLResponse": base64.b64encode(xml.encode()).decode(), "RelayState": query["RelayState"]},
    )
    reasons = [r.saml_reason for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]  # type: ignore[attr-defined]
    assert (refused.status_code, reasons) == (400, ["in_response_to"])
    assert not any(
        c.startswith(("saml_session=", "__Host-saml_session="))
        for c in refused.headers.get_list("set-cookie")
    )
    assert attacker.get("/", headers=HTML).status_code == 302
    assert seen.calls == []
