"""Real responses from real IdPs (tests/data/interop) through the protocol core, clock frozen."""

from __future__ import annotations

import base64

import pytest

from saml_middleware.config import Settings
from saml_middleware.errors import ResponseRejected
from saml_middleware.pem import load_certificates
from saml_middleware.protocol.checks import parse_instant
from saml_middleware.protocol.metadata import IdPInfo, parse_idp_metadata
from saml_middleware.protocol.sp import ServiceProvider
from saml_middleware.stores import MemoryReplayCache

from ...support.interop import CASES, INTEROP


def _core(cert: str, acs: str, audience: str, issuer: str, freeze: str, **options: object) -> ServiceProvider:
    base, _, path = acs.partition("://")
    host, _, acs_path = path.partition("/")
    settings = Settings(
        base_url=f"{base}://{host}",
        secret_key=("interop-secret-key-0123456789",),
        acs_path="/" + acs_path,
        sp_entity_id=audience,
        idp_sso_url="https://idp.example/sso",
        idp_entity_id=issuer,
        idp_cert=tuple(load_certificates((INTEROP / cert).read_text())),
        **options,  # type: ignore[arg-type]
    )
    now = parse_instant(freeze, "freeze")
    idp = IdPInfo(issuer, "https://idp.example/sso", settings.idp_cert)
    return ServiceProvider(settings, idp, MemoryReplayCache(clock=lambda: now), clock=lambda: now)


def _read(name: str) -> str | bytes:
    data = (INTEROP / name).read_bytes()
    return data if data.lstrip().startswith(b"<") else data.decode()


def test_pingone_user_is_identified_when_the_email_attribute_is_configured() -> None:
    """A UUID NameID is fine once SAML_EMAIL_ATTRIBUTE names a claim that holds an e-mail...
    PingOne's capture has none, so the refusal names the setting to change."""
    case = next(c for c in CASES if c[0].startswith("19_"))
    sp = _core(case[1], case[2], case[3], case[4], case[6], email_attribute="saml_subject", **case[8])
    with pytest.raises(ResponseRejected) as info:
        sp.process_response(_read(case[0]), case[5])
    assert info.value.reason == "no_email" and "SAML_EMAIL_ATTRIBUTE" in info.value.detail


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_interop_verdicts(case: tuple) -> None:
    name, cert, acs, audience, issuer, request_id, freeze, expected, options = case
    sp = _core(cert, acs, audience, issuer, freeze, **options)
    if "@" in expected:
        verified = sp.process_response(_read(name), request_id)
        assert verified.user.email.casefold() == expected.casefold() or expected in str(
            verified.user.attributes
        )
    else:
        with pytest.raises(ResponseRejected) as info:
            sp.process_response(_read(name), request_id)
        assert info.value.reason == expected


def test_entra_response_user_carries_claims_and_aliases() -> None:
    case = CASES[1]
    sp = _core(case[1], case[2], case[3], case[4], case[6])
    user = sp.process_response(_read(case[0]), case[5]).user
    assert user.email == "test@alexandremaurelgmail.onmicrosoft.com"
    assert user.name_id == user.email
    assert user.attributes["tenant_id"] == ["5b5c94c6-14cf-42da-85bc-4e08722b253b"]
    assert "http://schemas.microsoft.com/identity/claims/objectidentifier" in user.attributes
    assert (
        user.attributes["object_id"]
        == user.attributes["http://schemas.microsoft.com/identity/claims/objectidentifier"]
    )


def test_entra_b2b_guest_email_comes_from_the_emailaddress_claim() -> None:
    """01's NameID is a guest UPN with #EXT#: not an e-mail, so the claim is used."""
    case = CASES[0]
    sp = _core(case[1], case[2], case[3], case[4], case[6], **case[8])
    user = sp.process_response(_read(case[0]), None).user
    assert "#EXT#" in user.name_id
    assert user.email == "ulysse.carion@codomaindata.com"


def test_interop_real_response_is_refused_once_the_clock_moves_on() -> None:
    case = CASES[1]
    sp = _core(case[1], case[2], case[3], case[4], "2022-02-23T19:00:00Z")
    with pytest.raises(ResponseRejected) as info:
        sp.process_response(_read(case[0]), case[5])
    assert info.value.reason == "expired"


def test_interop_response_replayed_is_refused() -> None:
    case = CASES[1]
    sp = _core(case[1], case[2], case[3], case[4], case[6])
    sp.process_response(_read(case[0]), case[5])
    with pytest.raises(ResponseRejected) as info:
        sp.process_response(_read(case[0]), case[5])
    assert info.value.reason == "replayed"


def test_sha1_onelogin_response_is_accepted_only_when_allowed() -> None:
    case = CASES[4]
    sp = _core(case[1], case[2], case[3], case[4], case[6], allow_sha1=True)
    assert sp.process_response(_read(case[0]), case[5]).user.email == "ross@kndr.org"


def test_keycloak_without_authn_statement_is_accepted_only_when_allowed() -> None:
    """INDEX.md calls 13 valid; the strict profile refuses it by default (see docs/security.md),
    and SAML_ALLOW_MISSING_AUTHN_STATEMENT is the matching configuration that accepts it."""
    case = next(c for c in CASES if c[0].startswith("13_"))
    sp = _core(case[1], case[2], case[3], case[4], case[6], allow_missing_authn_statement=True)
    verified = sp.process_response(_read(case[0]), case[5])
    assert verified.user.email == "ulysse.carion@ssoready.com"
    assert verified.user.session_index in (None, "")  # no AuthnStatement, so no session index


def test_allowing_a_missing_authn_statement_still_checks_those_present() -> None:
    from lxml import etree

    from saml_middleware.protocol.subject import check_authn_statements

    ns = "urn:oasis:names:tc:SAML:2.0:assertion"
    broken = etree.fromstring(
        f'<a:Assertion xmlns:a="{ns}"><a:AuthnStatement AuthnInstant="x"/></a:Assertion>'
    )
    with pytest.raises(ResponseRejected) as info:
        check_authn_statements(broken, 0.0, 180.0, allow_missing=True)
    assert info.value.reason == "authn_statement"
    check_authn_statements(etree.fromstring(f'<a:Assertion xmlns:a="{ns}"/>'), 0.0, 180.0, allow_missing=True)
    with pytest.raises(ResponseRejected):
        check_authn_statements(etree.fromstring(f'<a:Assertion xmlns:a="{ns}"/>'), 0.0, 180.0)


def test_entra_federation_metadata_with_bom_parses() -> None:
    info = parse_idp_metadata((INTEROP / "02_entra_ssoready_FederationMetadata.xml").read_bytes())
    assert info.entity_id == "https://sts.windows.net/a9054a0f-2011-4e31-b3ac-fd8c354146ec/"
    assert info.sso_url.startswith("https://login.microsoftonline.com/a9054a0f-")
    pinned = load_certificates((INTEROP / "01_entra_ssoready_signing_cert.pem").read_text())
    assert info.certificates == tuple(pinned)


def test_adfs_metadata_takes_the_signing_key_not_the_encryption_key_listed_first() -> None:
    info = parse_idp_metadata((INTEROP / "08_adfs2016_v4_FederationMetadata.xml").read_bytes())
    assert info.certificates == tuple(
        load_certificates((INTEROP / "08_adfs2016_v4_signing_cert.pem").read_text())
    )


def test_base64_capture_decodes_like_a_browser_posts_it() -> None:
    raw = (INTEROP / "07_adfs_gosaml2_response.b64").read_text()
    assert base64.b64decode("".join(raw.split())).lstrip().startswith(b"<")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_interop_verdicts_through_the_http_acs(case: tuple) -> None:
    """The same files posted to /acs over HTTP, as the browser would, with the login cookie
    the SP set when it sent the AuthnRequest the response answers."""
    from urllib.parse import urlsplit

    import httpx

    from saml_middleware import REASONS, SAMLWSGIMiddleware

    name, cert, acs, audience, issuer, request_id, freeze, expected, options = case
    parts = urlsplit(acs)
    now = parse_instant(freeze, "freeze")
    settings = Settings(
        base_url=f"{parts.scheme}://{parts.netloc}",
        acs_path=parts.path or "/",
        sp_entity_id=audience,
        secret_key=("interop-secret-key-0123456789",),
        idp_sso_url="https://idp.example/sso",
        idp_entity_id=issuer,
        idp_cert=tuple(load_certificates((INTEROP / cert).read_text())),
        **options,
    )

    def app(environ: dict, start_response) -> list[bytes]:  # pragma: no cover - must never run
        raise AssertionError("the wrapped app was called during the ACS")

    middleware = SAMLWSGIMiddleware(app, settings=settings, clock=lambda: now)
    assert middleware.gate is not None
    relay = "interop-relay-state-0001"
    raw = (INTEROP / name).read_bytes()
    b64 = base64.b64encode(raw).decode() if raw.lstrip().startswith(b"<") else "".join(raw.decode().split())
    with httpx.Client(transport=httpx.WSGITransport(app=middleware), base_url=settings.base_url) as client:
        if request_id:
            cookie = middleware.gate.codec.dump_login({"r": request_id, "n": "/landing"})
            client.cookies.set(middleware.gate.acs.pending.name(relay), cookie)
        response = client.post(settings.acs_path, data={"SAMLResponse": b64, "RelayState": relay})
    if "@" in expected:
        assert response.status_code == 303
        assert response.headers["location"] == ("/landing" if request_id else "/")
    else:
        assert response.status_code == REASONS[expected][0]
        assert "saml_session=" not in response.headers.get("set-cookie", "")


def test_entra_common_metadata_with_three_signing_keys() -> None:
    """Azure AD /common metadata (2017): three signing certificates in the IDPSSODescriptor, all trusted,
    and the literal `{tenantid}` entity ID that SAML_IDP_ENTITY_ID must replace for a real tenant."""
    info = parse_idp_metadata((INTEROP / "04_aad_common_FederationMetadata_2017.xml").read_bytes())
    assert info.entity_id == "https://sts.windows.net/{tenantid}/"
    assert len(info.certificates) == 3
    pinned = load_certificates((INTEROP / "04_aad_2017_signing_cert.pem").read_text())
    assert pinned[0] in info.certificates
