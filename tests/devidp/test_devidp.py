"""The dev IdP: Entra-shaped metadata, responses, signatures and web flow."""

from __future__ import annotations

import asyncio
import base64
import datetime
import itertools
import json
import zlib
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from saml_middleware.devidp import (
    AuthnRequestInfo,
    DevIdP,
    DevUser,
    auto_post_form_fields,
    generate_keypair,
    load_users,
)
from saml_middleware.devidp.users import DEFAULT_USERS

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"saml": SAML, "samlp": SAMLP, "md": MD, "ds": DS}
TENANT = "11111111-2222-4333-8444-555555555555"
SP_ENTITY = "http://localhost:8000/saml/metadata"
SP_ACS = "http://localhost:8000/saml/acs"
T0 = 1700000000.5  # 2023-11-14T22:13:20.500Z
BASE = "http://idp.test"


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture
def idp(keypair: tuple[str, str]) -> DevIdP:
    key_pem, cert_pem = keypair
    return DevIdP(
        BASE,
        tenant_id=TENANT,
        key_pem=key_pem,
        cert_pem=cert_pem,
        sp_acs_url=SP_ACS,
        sp_entity_id=SP_ENTITY,
    )


def cert_body(cert_pem: str) -> str:
    return "".join(line for line in cert_pem.strip().splitlines() if "-----" not in line)


def verify_signatures(xml: bytes, cert_pem: str) -> list[str]:
    """Verify every ds:Signature with the pinned cert; the local names of the signed elements."""
    root = etree.fromstring(xml)
    xmlsec.tree.add_ids(root, ["ID"])
    signed = []
    for signature in root.iter(f"{{{DS}}}Signature"):
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        ctx.verify(signature)
        parent = signature.getparent()
        assert parent is not None
        ref = signature.find("ds:SignedInfo/ds:Reference", NS)
        assert ref is not None and ref.get("URI") == "#" + parent.get("ID", "")
        signed.append(etree.QName(parent).localname)
    return signed


def deflate_b64(xml: str) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()


def authn_request(
    request_id: str = "id-req-42",
    issuer: str = SP_ENTITY,
    acs: str | None = SP_ACS,
    extra_attrs: str = "",
    children: str = "",
) -> str:
    acs_attr = f' AssertionConsumerServiceURL="{acs}"' if acs else ""
    return (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{request_id}" '
        f'Version="2.0" IssueInstant="2023-11-14T22:13:00Z"{acs_attr}{extra_attrs}>'
        f"<saml:Issuer>{issuer}</saml:Issuer>{children}</samlp:AuthnRequest>"
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


# --- keys and users -------------------------------------------------------------------


def test_generate_keypair_is_entra_like(keypair: tuple[str, str]) -> None:
    key_pem, cert_pem = keypair
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.issuer == cert.subject
    assert "saml-middleware dev IdP" in cert.subject.rfc4514_string()
    assert cert.serial_number > 0
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=3 * 365 - 1) <= lifetime <= datetime.timedelta(days=3 * 366)
    assert generate_keypair("Other")[1] != cert_pem


def test_default_users_include_b_simon() -> None:
    simon = DEFAULT_USERS[0]
    assert (simon.email, simon.given_name, simon.surname, simon.display_name) == (
        "b.simon@contoso.com",
        "B.",
        "Simon",
        "B.Simon",
    )
    assert len(DEFAULT_USERS) >= 4
    assert len({u.object_id for u in DEFAULT_USERS}) == len(DEFAULT_USERS)
    assert all(u.email.endswith("@contoso.com") for u in DEFAULT_USERS)


def test_shipped_users_json_loads_as_the_defaults() -> None:
    import saml_middleware.devidp as package

    path = f"{package.__path__[0]}/users.json"
    assert tuple(load_users(path)) == DEFAULT_USERS


def test_dev_user_defaults_are_stable() -> None:
    user = DevUser(email="pat@example.com", given_name="Pat", surname="Lee", groups=["g1"])  # type: ignore[arg-type]
    assert user.display_name == "Pat Lee"
    assert user.object_id == DevUser(email="PAT@example.com").object_id
    assert user.groups == ("g1",)
    assert isinstance(hash(user), int)  # usable in sets although extra is a mapping


def test_load_users_reads_a_file(tmp_path: Any) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps([{"email": "x@y.test", "extra": {"role": ["a", "b"]}}]))
    (user,) = load_users(path)
    assert user.email == "x@y.test" and user.display_name == "x@y.test"
    assert dict(user.extra) == {"role": ["a", "b"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([{"email": "a@b.test"}, {"given_name": "No mail"}], "entry 1: 'email' is required"),
        ([{"email": "not-an-address"}], "entry 0 ('not-an-address')"),
        ([{"email": "a@b.test", "groups": "g"}], "groups must be a list"),
        ([{"email": "a@b.test", "object_id": "nope"}], "not a UUID"),
        ([{"email": "a@b.test", "colour": "red"}], "unknown keys ['colour']"),
        ([{"email": "a@b.test"}, {"email": "A@b.test"}], "duplicate email"),
        ({"email": "a@b.test"}, "expected a JSON list"),
        (["a@b.test"], "entry 0: expected an object"),
    ],
)
def test_load_users_rejects_bad_entries(tmp_path: Any, content: Any, message: str) -> None:
    path = tmp_path / "people.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as info:
        load_users(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_load_users_rejects_invalid_json(tmp_path: Any) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        load_users(path)


# --- construction -----------------------------------------------------------------------


def test_urls_have_entra_shapes(idp: DevIdP) -> None:
    assert idp.entity_id == f"https://sts.windows.net/{TENANT}/"
    assert idp.sso_url == f"{BASE}/{TENANT}/saml2"
    assert idp.slo_url == idp.sso_url
    assert idp.metadata_url == f"{BASE}/{TENANT}/federationmetadata/2007-06/federationmetadata.xml"
    assert DevIdP("http://h.test/", key_pem=idp.key_pem, cert_pem=idp.cert_pem).sso_url.startswith(
        "http://h.test/"
    )


def test_generates_a_key_when_none_given() -> None:
    idp = DevIdP()
    assert idp.cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert idp.base_url == "http://127.0.0.1:8001"
    assert idp.users == DEFAULT_USERS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_pem": "x"}, "both key_pem and cert_pem"),
        ({"sign": "everything"}, "sign must be one of"),
        ({"algorithm": "md5"}, "algorithm must be one of"),
        ({"tenant_id": "contoso"}, "tenant_id must be a GUID"),
        ({"base_url": "localhost:8001"}, "base_url must be an absolute"),
        ({"users": []}, "users must not be empty"),
        ({"users": [DevUser(email="a@b.test"), DevUser(email="A@B.test")]}, "two users"),
        ({"sp_acs_url": "/acs"}, "sp_acs_url must be an absolute"),
    ],
)
def test_constructor_rejects_bad_settings(
    keypair: tuple[str, str], kwargs: dict[str, Any], message: str
) -> None:
    settings: dict[str, Any] = {"key_pem": keypair[0], "cert_pem": keypair[1], **kwargs}
    if "key_pem" in kwargs:
        del settings["cert_pem"]
    with pytest.raises(ValueError, match=message):
        DevIdP(**settings)


def test_constructor_rejects_a_cert_for_another_key(keypair: tuple[str, str]) -> None:
    other_cert = generate_keypair()[1]
    with pytest.raises(ValueError, match="does not certify"):
        DevIdP(key_pem=keypair[0], cert_pem=other_cert)


# --- metadata ---------------------------------------------------------------------------


def test_metadata_is_entra_shaped_and_signed(idp: DevIdP) -> None:
    xml = idp.metadata_xml()
    assert xml.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><EntityDescriptor')
    root = etree.fromstring(xml)
    assert root.tag == f"{{{MD}}}EntityDescriptor"
    assert root.get("entityID") == idp.entity_id
    assert etree.QName(root[0]).localname == "Signature"  # right after the root's start
    roles = root.findall("md:RoleDescriptor", NS)
    assert [r.get(f"{{{XSI}}}type") for r in roles] == [
        "fed:SecurityTokenServiceType",
        "fed:ApplicationServiceType",
    ]
    for role in roles:
        assert role.nsmap["fed"] == "http://docs.oasis-open.org/wsfed/federation/200706"
        assert role.find("md:KeyDescriptor[@use='signing']", NS) is not None
    (sso,) = root.findall("md:IDPSSODescriptor", NS)
    assert sso.get("protocolSupportEnumeration") == SAMLP
    certs = sso.findall("md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert [c.text for c in certs] == [cert_body(idp.cert_pem)]
    bindings = {
        (e.get("Binding", "").rsplit(":", 1)[-1], e.get("Location"))
        for e in sso.findall("md:SingleSignOnService", NS)
    }
    assert bindings == {("HTTP-Redirect", idp.sso_url), ("HTTP-POST", idp.sso_url)}
    slo = sso.find("md:SingleLogoutService", NS)
    assert slo is not None and slo.get("Location") == idp.slo_url
    assert verify_signatures(xml, idp.cert_pem) == ["EntityDescriptor"]


def test_tampered_metadata_fails_verification(idp: DevIdP) -> None:
    xml = idp.metadata_xml().replace(b"/saml2", b"/evil2", 1)
    with pytest.raises(xmlsec.Error):
        verify_signatures(xml, idp.cert_pem)


# --- responses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("assertion", ["Assertion"]),
        ("response", ["Response"]),
        ("both", ["Response", "Assertion"]),
    ],
)
def test_signing_modes(idp: DevIdP, mode: Any, expected: list[str]) -> None:
    xml = idp.issue_response("b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY, sign=mode)
    assert verify_signatures(xml, idp.cert_pem) == expected
    root = etree.fromstring(xml)
    for signature in root.iter(f"{{{DS}}}Signature"):
        previous = signature.getprevious()
        assert previous is not None and previous.tag == f"{{{SAML}}}Issuer"  # Entra's placement
        assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == (  # type: ignore[union-attr]
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        )
        transforms = [t.get("Algorithm") for t in signature.iterfind(".//ds:Transform", NS)]
        assert transforms == [
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
        ]
        cert = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
        assert cert is not None and cert.text == cert_body(idp.cert_pem)


def test_instance_default_is_assertion_only_and_both_covers_the_assertion(
    keypair: tuple[str, str],
) -> None:
    idp = DevIdP(key_pem=keypair[0], cert_pem=keypair[1], sign="both")
    xml = idp.issue_response("b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY)
    assert verify_signatures(xml, idp.cert_pem) == ["Response", "Assertion"]
    forged = xml.replace(b">b.simon@contoso.com<", b">mallory@contoso.com<")
    with pytest.raises(xmlsec.Error):
        verify_signatures(forged, idp.cert_pem)
    plain = DevIdP(key_pem=keypair[0], cert_pem=keypair[1])
    xml = plain.issue_response("b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY)
    assert verify_signatures(xml, plain.cert_pem) == ["Assertion"]


def test_sha1_signatures_on_request(keypair: tuple[str, str]) -> None:
    idp = DevIdP(key_pem=keypair[0], cert_pem=keypair[1], algorithm="sha1", sign="both")
    for xml in (
        idp.issue_response("b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY),
        DevIdP(key_pem=keypair[0], cert_pem=keypair[1]).issue_response(
            "b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY, algorithm="sha1"
        ),
    ):
        root = etree.fromstring(xml)
        methods = {e.get("Algorithm") for e in root.iterfind(".//ds:SignatureMethod", NS)}
        digests = {e.get("Algorithm") for e in root.iterfind(".//ds:DigestMethod", NS)}
        assert methods == {"http://www.w3.org/2000/09/xmldsig#rsa-sha1"}
        assert digests == {"http://www.w3.org/2000/09/xmldsig#sha1"}
        assert verify_signatures(xml, idp.cert_pem)


def test_frozen_clock_and_ids_give_exact_values(keypair: tuple[str, str]) -> None:
    counter = itertools.count(1)
    idp = DevIdP(
        tenant_id=TENANT,
        key_pem=keypair[0],
        cert_pem=keypair[1],
        clock=lambda: T0,
        id_factory=lambda: f"_id{next(counter)}",
    )
    xml = idp.issue_response(
        "B.Simon@Contoso.com", acs_url=SP_ACS, audience=SP_ENTITY, in_response_to="id-req-42"
    )
    root = etree.fromstring(xml)

    def attr(path: str, name: str) -> str | None:
        element = root if path == "." else root.find(path, NS)
        assert element is not None, path
        return element.get(name)

    assert (attr(".", "ID"), attr(".", "IssueInstant")) == ("_id1", "2023-11-14T22:13:20.500Z")
    assert (attr(".", "Destination"), attr(".", "InResponseTo")) == (SP_ACS, "id-req-42")
    assert attr(".", "Version") == "2.0"
    assert attr("saml:Assertion", "ID") == "_id2"
    assert attr("saml:Assertion", "IssueInstant") == "2023-11-14T22:13:20.500Z"
    data = "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
    assert attr(data, "NotOnOrAfter") == "2023-11-14T22:18:20.500Z"
    assert (attr(data, "Recipient"), attr(data, "InResponseTo")) == (SP_ACS, "id-req-42")
    assert attr("saml:Assertion/saml:Conditions", "NotBefore") == "2023-11-14T22:08:20.500Z"
    assert attr("saml:Assertion/saml:Conditions", "NotOnOrAfter") == "2023-11-14T23:13:20.500Z"
    authn = "saml:Assertion/saml:AuthnStatement"
    assert (attr(authn, "AuthnInstant"), attr(authn, "SessionIndex")) == (
        "2023-11-14T22:13:20.500Z",
        "_id3",
    )
    assert root.findtext("saml:Issuer", namespaces=NS) == idp.entity_id
    assert root.findtext("saml:Assertion/saml:Issuer", namespaces=NS) == idp.entity_id
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    assert status is not None and status.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success"
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None and name_id.text == "b.simon@contoso.com"
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert root.findtext(f"{authn}/saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS) == (
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    )
    later = etree.fromstring(
        idp.issue_response("b.simon@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY, now=T0 + 60)
    )
    assert later.get("IssueInstant") == "2023-11-14T22:14:20.500Z"
    assert later.get("InResponseTo") is None
    assert later.find(f".//{{{SAML}}}SubjectConfirmationData").get("InResponseTo") is None  # type: ignore[union-attr]


def claims(xml: bytes) -> dict[str, list[str]]:
    root = etree.fromstring(xml)
    return {
        a.get("Name", ""): [v.text or "" for v in a.iterfind("saml:AttributeValue", NS)]
        for a in root.iterfind(".//saml:Attribute", NS)
    }


def test_entra_claims(idp: DevIdP) -> None:
    simon = idp.get_user("b.simon@contoso.com")
    got = claims(idp.issue_response(simon, acs_url=SP_ACS, audience=SP_ENTITY))
    ms, ws = "http://schemas.microsoft.com", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
    assert got[f"{ms}/identity/claims/tenantid"] == [TENANT]
    assert got[f"{ms}/identity/claims/objectidentifier"] == [simon.object_id]
    assert got[f"{ms}/identity/claims/displayname"] == ["B.Simon"]
    assert got[f"{ms}/identity/claims/identityprovider"] == [idp.entity_id]
    assert got[f"{ms}/claims/authnmethodsreferences"]
    assert got[f"{ws}/givenname"] == ["B."]
    assert got[f"{ws}/surname"] == ["Simon"]
    assert got[f"{ws}/emailaddress"] == got[f"{ws}/name"] == ["b.simon@contoso.com"]
    assert got[f"{ws}/country"] == [simon.country]
    assert got[f"{ms}/ws/2008/06/identity/claims/groups"] == list(simon.groups)
    user = DevUser(email="plain@contoso.com", extra={"urn:example:role": ["Reader", "Writer"]})
    got = claims(idp.issue_response(user, acs_url=SP_ACS, audience=SP_ENTITY))
    assert f"{ws}/country" not in got
    assert f"{ms}/ws/2008/06/identity/claims/groups" not in got
    assert got["urn:example:role"] == ["Reader", "Writer"]


def test_unknown_user_is_refused(idp: DevIdP) -> None:
    with pytest.raises(ValueError, match=r"nobody@contoso\.com"):
        idp.issue_response("nobody@contoso.com", acs_url=SP_ACS, audience=SP_ENTITY)


# --- AuthnRequests ----------------------------------------------------------------------


def test_parse_authn_request(idp: DevIdP) -> None:
    info = idp.parse_authn_request(deflate_b64(authn_request()))
    assert info == AuthnRequestInfo(
        id="id-req-42",
        issuer=SP_ENTITY,
        acs_url=SP_ACS,
        force_authn=False,
        has_requested_authn_context=False,
    )
    context = (
        '<samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>'
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"
    )
    xml = authn_request(acs=None, extra_attrs=' ForceAuthn="true"', children=context)
    info = idp.parse_authn_request(deflate_b64(xml))
    assert info.acs_url is None and info.force_authn and info.has_requested_authn_context
    # The HTTP-POST binding sends plain base64.
    assert idp.parse_authn_request(base64.b64encode(authn_request().encode()).decode()).id == ("id-req-42")


@pytest.mark.parametrize(
    ("saml_request", "message"),
    [
        ("", "empty"),
        ("!!!not base64!!!", "not valid base64"),
        (base64.b64encode(b"\x00\x01garbage").decode(), "neither raw DEFLATE nor XML"),
        (deflate_b64("<unclosed>"), "malformed_xml"),
        (
            deflate_b64(f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" ID="x"/>'),
            "LogoutRequest, not an AuthnRequest",
        ),
        (
            deflate_b64(authn_request().replace(f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>", "")),
            "Issuer",
        ),
        (deflate_b64(authn_request(request_id="")), "no ID"),
        (
            deflate_b64('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + authn_request()),
            "DOCTYPE",
        ),
    ],
)
def test_parse_authn_request_rejects_garbage(idp: DevIdP, saml_request: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        idp.parse_authn_request(saml_request)


# --- the web app ------------------------------------------------------------------------


def decode_response(fields: dict[str, str]) -> etree._Element:
    return etree.fromstring(base64.b64decode(fields["SAMLResponse"]))


def test_app_serves_metadata(idp: DevIdP) -> None:
    async def scenario() -> None:
        async with await browser(idp.app) as client:
            response = await client.get(urlsplit(idp.metadata_url).path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/xml")
            assert response.content == idp.metadata_xml()
            other_tenant = "99999999-2222-4333-8444-555555555555"
            wrong = await client.get(urlsplit(idp.metadata_url).path.replace(TENANT, other_tenant))
            assert wrong.status_code == 404

    run(scenario())


def test_sp_initiated_sign_in(idp: DevIdP) -> None:
    saml_request = deflate_b64(authn_request())

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            query = urlencode({"SAMLRequest": saml_request, "RelayState": "/after?x=1&y=<2>"})
            page = await client.get(f"/{TENANT}/saml2?{query}")
            assert page.status_code == 200
            assert "Sign in — saml-middleware dev IdP (Entra-shaped)" in page.text
            assert SP_ENTITY in page.text and SP_ACS in page.text
            for user in idp.users:
                assert user.email in page.text
            assert "<2>" not in page.text  # escaped
            action, fields = auto_post_form_fields(page.text)
            assert action == f"/{TENANT}/saml2/login"
            assert fields == {
                "SAMLRequest": saml_request,
                "RelayState": "/after?x=1&y=<2>",
                "email": "b.simon@contoso.com",
            }
            done = await client.post(action, data={**fields, "email": "adele.vance@contoso.com"})
            assert done.status_code == 200
            assert done.headers["cache-control"] == "no-store"
            assert "<noscript>" in done.text
            acs, posted = auto_post_form_fields(done.text)
            assert acs == SP_ACS
            assert posted["RelayState"] == "/after?x=1&y=<2>"
            response = decode_response(posted)
            assert response.get("InResponseTo") == "id-req-42"
            assert response.get("Destination") == SP_ACS
            assert response.findtext(".//saml:Audience", namespaces=NS) == SP_ENTITY
            assert response.findtext(".//saml:NameID", namespaces=NS) == "adele.vance@contoso.com"
            xml = base64.b64decode(posted["SAMLResponse"])
            assert verify_signatures(xml, idp.cert_pem) == ["Assertion"]

    run(scenario())


def test_sign_in_without_relay_state_or_request_acs(idp: DevIdP) -> None:
    saml_request = deflate_b64(authn_request(acs=None))

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            form = {"SAMLRequest": saml_request, "email": "b.simon@contoso.com"}
            done = await client.post(f"/{TENANT}/saml2/login", data=form)
            acs, posted = auto_post_form_fields(done.text)
            assert acs == SP_ACS  # falls back to sp_acs_url
            assert "RelayState" not in posted
            assert decode_response(posted).get("Destination") == SP_ACS
            # The HTTP-POST binding to the SSO URL shows the same login page.
            page = await client.post(f"/{TENANT}/saml2", data={"SAMLRequest": saml_request})
            assert page.status_code == 200 and "b.simon@contoso.com" in page.text

    run(scenario())


def test_sign_in_errors_are_400_pages(keypair: tuple[str, str], idp: DevIdP) -> None:
    no_sp = DevIdP(BASE, tenant_id=TENANT, key_pem=keypair[0], cert_pem=keypair[1])
    good = deflate_b64(authn_request())
    without_acs = deflate_b64(authn_request(acs=None))

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            missing = await client.get(f"/{TENANT}/saml2")
            assert missing.status_code == 400 and "no SAMLRequest" in missing.text
            garbage = await client.get(f"/{TENANT}/saml2", params={"SAMLRequest": "%%%"})
            assert garbage.status_code == 400 and "not valid base64" in garbage.text
            unknown = await client.post(
                f"/{TENANT}/saml2/login", data={"SAMLRequest": good, "email": "eve@evil.test"}
            )
            assert unknown.status_code == 400 and "eve@evil.test" in unknown.text
            bad = await client.post(f"/{TENANT}/saml2/login", data={"SAMLRequest": "x", "email": "b"})
            assert bad.status_code == 400
        async with await browser(no_sp.app) as client:
            form = {"SAMLRequest": without_acs, "email": "b.simon@contoso.com"}
            no_acs = await client.post(f"/{TENANT}/saml2/login", data=form)
            assert no_acs.status_code == 400 and "ACS" in no_acs.text
            page = await client.get(f"/{TENANT}/saml2", params={"SAMLRequest": without_acs})
            assert page.status_code == 400

    run(scenario())


def test_login_page_escapes_the_sp_issuer(idp: DevIdP) -> None:
    evil = deflate_b64(authn_request(issuer="&lt;script&gt;alert(1)&lt;/script&gt;"))

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            page = await client.get(f"/{TENANT}/saml2", params={"SAMLRequest": evil})
            assert page.status_code == 200
            assert "<script>alert" not in page.text
            assert "&lt;script&gt;alert(1)" in page.text

    run(scenario())


def test_idp_initiated_launch(idp: DevIdP) -> None:
    async def scenario() -> None:
        async with await browser(idp.app) as client:
            for path in ("/", "/myapps"):
                home = await client.get(path)
                assert home.status_code == 200 and idp.metadata_url in home.text
            home = await client.get("/myapps")
            href = f"/{TENANT}/launch?email=b.simon%40contoso.com"
            assert f'href="{href}"' in home.text
            done = await client.get(href)
            assert done.status_code == 200
            acs, posted = auto_post_form_fields(done.text)
            assert acs == SP_ACS and set(posted) == {"SAMLResponse"}
            response = decode_response(posted)
            assert response.get("InResponseTo") is None
            assert response.findtext(".//saml:Audience", namespaces=NS) == SP_ENTITY
            assert verify_signatures(base64.b64decode(posted["SAMLResponse"]), idp.cert_pem)
            unknown = await client.get(f"/{TENANT}/launch", params={"email": "x@y.test"})
            assert unknown.status_code == 400

    run(scenario())


def test_launch_needs_a_configured_sp(keypair: tuple[str, str]) -> None:
    idp = DevIdP(BASE, tenant_id=TENANT, key_pem=keypair[0], cert_pem=keypair[1])

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            response = await client.get(f"/{TENANT}/launch", params={"email": "b.simon@contoso.com"})
            assert response.status_code == 400 and "sp_acs_url" in response.text

    run(scenario())


def test_logout_answers_the_sp_with_a_logout_response(idp: DevIdP) -> None:
    logout_request = deflate_b64(
        f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="lr1" Version="2.0">'
        f"<saml:Issuer>{SP_ENTITY}</saml:Issuer></samlp:LogoutRequest>"
    )
    sls = SP_ACS.rsplit("/", 1)[0] + "/sls"

    async def scenario() -> None:
        async with await browser(idp.app) as client:
            plain = await client.get(f"/{TENANT}/saml2/logout")
            assert plain.status_code == 200 and "You have signed out" in plain.text
            params = {"SAMLRequest": logout_request, "RelayState": "k"}
            slo = await client.get(f"/{TENANT}/saml2", params=params)
            assert slo.status_code == 302 and slo.headers["location"].startswith(sls + "?SAMLResponse=")
            assert "&RelayState=k&SigAlg=" in slo.headers["location"]
            assert "&Signature=" in slo.headers["location"]
            started = await client.get(f"/{TENANT}/saml2/logout", params={"email": idp.users[0].email})
            assert started.status_code == 302
            assert started.headers["location"].startswith(sls + "?SAMLRequest=")
            answered = await client.get(f"/{TENANT}/saml2", params={"SAMLResponse": "x"})
            assert answered.status_code == 200 and "You have signed out" in answered.text

    run(scenario())


def test_links_follow_a_base_url_path(keypair: tuple[str, str]) -> None:
    idp = DevIdP(f"{BASE}/idp", tenant_id=TENANT, key_pem=keypair[0], cert_pem=keypair[1])

    async def scenario() -> None:
        # Served under /idp by whoever mounts it; the links carry the prefix.
        async with await browser(idp.app) as client:
            page = await client.get(f"/{TENANT}/saml2", params={"SAMLRequest": deflate_b64(authn_request())})
            action, _ = auto_post_form_fields(page.text)
            assert action == f"/idp/{TENANT}/saml2/login"

    run(scenario())


def test_auto_post_form_fields() -> None:
    html = (
        '<p>x</p><form method="post" action="https://sp.test/acs?a=1&amp;b=2">'
        '<input type="hidden" name="SAMLResponse" value="a&quot;b">'
        '<input type="text" name="ignored" value="z"></form>'
        '<form action="/second"><input type="hidden" name="other" value="1"></form>'
    )
    assert auto_post_form_fields(html) == ("https://sp.test/acs?a=1&b=2", {"SAMLResponse": 'a"b'})
    with pytest.raises(ValueError, match="no <form>"):
        auto_post_form_fields("<p>nothing</p>")
