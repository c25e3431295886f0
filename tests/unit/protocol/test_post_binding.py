"""The binding each IdP gets (``SAML_AUTHN_REQUEST_BINDING``) and messages on the HTTP-POST
binding, without HTTP: Google Workspace's and OneLogin's real metadata (HTTP-POST only) are
taken, and their AuthnRequests are base64 XML signed inside the message."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import xmlsec
from lxml import etree

from saml_middleware.config import Settings
from saml_middleware.errors import ConfigError, ResponseRejected
from saml_middleware.gate.metadata_refresh import load_idp
from saml_middleware.protocol.keys import generate_keypair
from saml_middleware.protocol.metadata import choose, parse_idp_metadata
from saml_middleware.protocol.signatures import SignatureVerifier
from saml_middleware.protocol.sp import ServiceProvider
from saml_middleware.protocol.xml import parse_untrusted, q
from saml_middleware.stores import MemoryReplayCache
from saml_middleware.user import SAMLUser

from ...support.interop import INTEROP

GOOGLE = INTEROP / "11_google_crewjam_IDPMetadata.xml"
GOOGLE_SSO = "https://accounts.google.com/o/saml2/idp?idpid=C02dfl1r1"
ONELOGIN = INTEROP / "16_onelogin_crewjam_IDPMetadata.xml"
ONELOGIN_SSO = "https://app.onelogin.com/trust/saml2/http-post/sso/503983"
KEYCLOAK = INTEROP / "13_keycloak_ssoready_metadata.xml"  # Redirect and POST, SSO and SLO
SP_KEYS = generate_keypair("post-binding SP")


def _settings(metadata: bytes, **extra: object) -> Settings:
    return Settings(
        base_url="https://app.example",
        secret_key=("post-binding-secret-0123456789",),
        idp_metadata=metadata.decode("utf-8"),
        **extra,  # type: ignore[arg-type]
    )


def _sp(metadata: bytes, **extra: object) -> ServiceProvider:
    settings = _settings(metadata, **extra)
    return ServiceProvider(settings, load_idp(settings), MemoryReplayCache(), random_id=lambda: "_req1")


def _xml(form: dict[str, str] | None, field: str = "SAMLRequest") -> etree._Element:
    assert form is not None
    return parse_untrusted(base64.b64decode(form[field], validate=True))


def _verify(root: etree._Element, cert: str) -> str:
    signature = root.find(q("ds", "Signature"))
    assert signature is not None and signature.getparent() is root
    xmlsec.tree.add_ids(root, ["ID"])
    return SignatureVerifier([cert])(signature)


@pytest.mark.parametrize(("path", "sso"), [(GOOGLE, GOOGLE_SSO), (ONELOGIN, ONELOGIN_SSO)])
def test_post_only_metadata_is_taken_with_the_post_binding(path: Path, sso: str) -> None:
    """Refused at start-up before ("no HTTP-Redirect SingleSignOnService"); now HTTP-POST."""
    info = parse_idp_metadata(path.read_bytes())
    assert (info.sso_url, info.sso_binding) == (sso, "post")
    assert info.certificates


def test_auto_prefers_redirect_when_both_are_offered() -> None:
    info = parse_idp_metadata(KEYCLOAK.read_bytes())
    assert info.sso_binding == info.slo_binding == "redirect"
    forced = parse_idp_metadata(KEYCLOAK.read_bytes(), binding="post")
    assert forced.sso_binding == forced.slo_binding == "post"
    assert forced.sso_url == "http://localhost:8085/realms/master/protocol/saml"


def test_choose_per_setting() -> None:
    both = {"redirect": "https://r", "post": "https://p"}
    assert choose("auto", both) == ("https://r", "redirect")
    assert choose("redirect", both) == ("https://r", "redirect")
    assert choose("post", both) == ("https://p", "post")
    with pytest.raises(ValueError, match=r"SAML_AUTHN_REQUEST_BINDING=post, but .* no HTTP-POST"):
        choose("post", {"redirect": "https://r"})
    with pytest.raises(ValueError, match="no HTTP-Redirect or HTTP-POST SingleSignOnService"):
        choose("auto", {})


def test_forcing_redirect_on_post_only_metadata_is_a_config_error_naming_the_setting() -> None:
    settings = _settings(GOOGLE.read_bytes(), authn_request_binding="redirect")
    with pytest.raises(ConfigError) as info:
        load_idp(settings)
    (problem,) = info.value.problems
    assert problem.startswith("SAML_IDP_METADATA: SAML_AUTHN_REQUEST_BINDING=redirect")
    assert (
        "no HTTP-Redirect SingleSignOnService" in problem and "set SAML_AUTHN_REQUEST_BINDING=auto" in problem
    )


def test_a_javascript_location_is_never_an_endpoint() -> None:
    hostile = KEYCLOAK.read_bytes().replace(
        b'Location="http://localhost:8085', b'Location="javascript:alert(1)//'
    )
    with pytest.raises(ValueError, match=r"with an http\(s\) Location"):
        parse_idp_metadata(hostile)


def test_authn_request_on_post_is_base64_xml_signed_inside_when_keyed() -> None:
    key, cert = SP_KEYS
    login = _sp(GOOGLE.read_bytes(), sp_key=key, sp_cert=cert).build_login("relay-key")
    assert login.url == GOOGLE_SSO and login.request_id == "_req1"
    assert login.form is not None and set(login.form) == {"SAMLRequest", "RelayState"}
    assert login.form["RelayState"] == "relay-key"
    root = _xml(dict(login.form))  # plain base64 of XML: never deflated on this binding
    assert root.tag == q("samlp", "AuthnRequest") and root.get("ID") == "_req1"
    assert root.get("Destination") == GOOGLE_SSO
    assert root.get("AssertionConsumerServiceURL") == "https://app.example/saml/acs"
    assert root[0].tag == q("saml", "Issuer") and root[1].tag == q("ds", "Signature")  # schema order
    assert _verify(root, cert) == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    signature = root[1]
    transforms = [t.get("Algorithm") for t in signature.iter(q("ds", "Transform"))]
    assert transforms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]


def test_the_signature_covers_the_request() -> None:
    key, cert = SP_KEYS
    login = _sp(GOOGLE.read_bytes(), sp_key=key, sp_cert=cert).build_login("relay-key")
    assert login.form is not None
    xml = base64.b64decode(login.form["SAMLRequest"])
    tampered = parse_untrusted(xml.replace(b"https://app.example/saml/acs", b"https://evil.example/acs"))
    with pytest.raises(ResponseRejected) as info:
        _verify(tampered, cert)
    assert info.value.reason == "signature_invalid"


def test_authn_request_on_post_without_a_key_is_unsigned() -> None:
    login = _sp(ONELOGIN.read_bytes()).build_login("k")
    root = _xml(dict(login.form or {}))
    assert root.find(q("ds", "Signature")) is None and login.url == ONELOGIN_SSO


def test_post_forced_with_manual_idp_settings() -> None:
    settings = Settings(
        base_url="https://app.example",
        secret_key=("post-binding-secret-0123456789",),
        idp_sso_url="https://idp.example/sso",
        idp_entity_id="https://idp.example",
        idp_cert=(SP_KEYS[1],),
        authn_request_binding="post",
    )
    idp = load_idp(settings)
    assert idp.sso_binding == "post"
    login = ServiceProvider(settings, idp, MemoryReplayCache()).build_login("k")
    assert login.url == "https://idp.example/sso" and login.form is not None


def test_redirect_binding_is_unchanged_when_offered() -> None:
    login = _sp(KEYCLOAK.read_bytes()).build_login("k")
    assert login.form is None and login.url.startswith(
        "http://localhost:8085/realms/master/protocol/saml?SAMLRequest="
    )


def test_logout_messages_go_by_post_to_a_post_only_slo_endpoint() -> None:
    key, cert = SP_KEYS
    redirect = b'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"'
    post_slo_only = KEYCLOAK.read_bytes().replace(
        b"<md:SingleLogoutService " + redirect, b"<md:X " + redirect
    )
    sp = _sp(post_slo_only, sp_key=key, sp_cert=cert)
    assert (sp.idp.sso_binding, sp.idp.slo_binding) == ("redirect", "post")
    user = SAMLUser(email="a@example.org", name_id="a@example.org", session_index="s1")
    request = sp.build_logout(user, sp.idp.slo_url or "", "relay")
    root = _xml(dict(request.form or {}))
    assert root.tag == q("samlp", "LogoutRequest") and _verify(root, cert)
    answer = sp.build_logout_response(sp.idp.slo_url or "", "_their_request", "their-relay")
    assert answer.form is not None and answer.form["RelayState"] == "their-relay"
    root = _xml(dict(answer.form), "SAMLResponse")
    assert root.tag == q("samlp", "LogoutResponse") and root.get("InResponseTo") == "_their_request"
    assert _verify(root, cert)
