"""The HTTP-POST binding end to end through both adapters: a dev IdP whose metadata lists
HTTP-POST only (as Google Workspace's and OneLogin's do) gets the AuthnRequest as an
auto-submitting form, signed inside the XML, and the login completes; logout messages to it
go the same way. Google's and OneLogin's real metadata start the middleware too."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from saml_middleware.devidp import DevIdP, auto_post_form_fields
from saml_middleware.errors import ConfigError
from saml_middleware.gate.postform import CONTENT_SECURITY_POLICY
from saml_middleware.protocol.keys import generate_keypair

from ..support.harness import APP, IDP, AdapterFactory, Browser, Clock
from ..support.interop import INTEROP

EMAIL = "b.simon@contoso.com"
SP_KEYS = generate_keypair("post-binding SP")


@pytest.fixture
def post_idp(clock: Clock, idp_keys: tuple[str, str]) -> DevIdP:
    """The test tenant's IdP listing HTTP-POST only, checking the SP's signature on requests."""
    key, cert = idp_keys
    return DevIdP(
        IDP,
        key_pem=key,
        cert_pem=cert,
        clock=clock,
        sp_acs_url=f"{APP}/saml/acs",
        sp_entity_id=f"{APP}/saml/metadata",
        sso_binding="post",
        sp_cert_pem=SP_KEYS[1],
    )


@pytest.fixture
def post_app(make_app: AdapterFactory, post_idp: DevIdP) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        options = {"sp_key": SP_KEYS[0], "sp_cert": SP_KEYS[1], **overrides}
        return make_app(idp_metadata=post_idp.metadata_xml().decode("utf-8"), **options)[0]

    return make


def _form_page(response: httpx.Response, action: str) -> dict[str, str]:
    """The page posting a message to ``action``: its fields, after checking what it is sent with."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (
        "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    )
    target, fields = auto_post_form_fields(response.text)
    assert target == action
    return fields


def _post_login(browser: Browser, path: str = "/", email: str = EMAIL) -> httpx.Response:
    """Ask for ``path``; post the form to the IdP, pick ``email``, post its answer to the ACS."""
    page = browser.get(path)
    fields = _form_page(page, browser.idp.sso_url)
    assert set(fields) == {"SAMLRequest", "RelayState"}
    # the pending-login cookie is named by the RelayState key, as on the Redirect binding
    assert f"saml_login_{fields['RelayState']}=" in page.headers["set-cookie"]
    sso = urlsplit(browser.idp.sso_url).path
    picker = browser.idp_client.post(sso, data=fields)
    assert picker.status_code == 200 and email in picker.text, picker.text
    answer = browser.idp_client.post(sso + "/login", data={**fields, "email": email})
    assert answer.status_code == 200, answer.text
    return browser.post_acs(*auto_post_form_fields(answer.text))


def test_login_through_a_post_only_idp(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    browser = browser_factory(post_app(), post_idp)
    landed = _post_login(browser, "/reports?year=2024")
    assert landed.status_code == 303 and landed.headers["location"] == "/reports?year=2024"
    seen = browser.get("/reports").json()
    assert seen["user"] == EMAIL and seen["authenticated"] is True


def test_the_idp_refuses_a_request_the_sp_did_not_sign(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    """Without SAML_SP_KEY the request goes unsigned; the dev IdP, holding the SP certificate, refuses it."""
    browser = browser_factory(post_app(sp_key="", sp_cert=""), post_idp)
    fields = _form_page(browser.get("/"), post_idp.sso_url)
    assert b"Signature" not in base64.b64decode(fields["SAMLRequest"])
    refused = browser.idp_client.post(urlsplit(post_idp.sso_url).path, data=fields)
    assert refused.status_code == 400 and "not signed" in refused.text


def test_the_idp_refuses_a_tampered_signed_request(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    browser = browser_factory(post_app(), post_idp)
    fields = _form_page(browser.get("/"), post_idp.sso_url)
    xml = base64.b64decode(fields["SAMLRequest"]).replace(
        b"http://app.test/saml/acs", b"http://evil.test/acs"
    )
    forged = {**fields, "SAMLRequest": base64.b64encode(xml).decode()}
    refused = browser.idp_client.post(urlsplit(post_idp.sso_url).path, data=forged)
    assert refused.status_code == 400 and "signature" in refused.text


@pytest.mark.parametrize(("binding", "status"), [("post", 200), ("redirect", 302), ("auto", 302)])
def test_the_setting_chooses_with_an_idp_offering_both(
    make_app: AdapterFactory, browser_factory: Callable[..., Browser], idp: DevIdP, binding: str, status: int
) -> None:
    browser = browser_factory(make_app(authn_request_binding=binding)[0])
    response = browser.get("/")
    assert response.status_code == status
    if status == 302:
        assert response.headers["location"].startswith(idp.sso_url + "?SAMLRequest=")
    else:
        assert set(_form_page(response, idp.sso_url)) == {"SAMLRequest", "RelayState"}


def test_forcing_redirect_with_a_post_only_idp_refuses_to_start(
    make_app: AdapterFactory, post_idp: DevIdP
) -> None:
    with pytest.raises(ConfigError) as info:
        make_app(idp_metadata=post_idp.metadata_xml().decode("utf-8"), authn_request_binding="redirect")
    assert "SAML_AUTHN_REQUEST_BINDING=redirect" in str(info.value)


def test_api_clients_still_get_401(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    browser = browser_factory(post_app(), post_idp)
    answer = browser.app.get("/data", headers={"accept": "application/json"})
    assert answer.status_code == 401 and answer.json()["error"] == "authentication_required"


def test_sp_initiated_logout_posts_the_logout_request(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    browser = browser_factory(post_app(), post_idp)
    assert _post_login(browser).status_code == 303
    out = browser.app.get(browser.get("/").json()["logout_url"])
    fields = _form_page(out, post_idp.slo_url)
    assert b"LogoutRequest" in base64.b64decode(fields["SAMLRequest"])
    back = browser.idp_client.post(urlsplit(post_idp.slo_url).path, data=fields)  # signature checked
    assert back.status_code == 302 and back.headers["location"].startswith(f"{APP}/saml/sls?SAMLResponse=")
    done = browser.app.get(
        urlsplit(back.headers["location"]).path + "?" + urlsplit(back.headers["location"]).query
    )
    assert done.status_code == 200 and "You are signed out" in done.text
    assert browser.app.get("/", headers={"accept": "application/json"}).status_code == 401


def test_idp_initiated_logout_answers_by_post(
    post_app: Callable[..., Any], browser_factory: Callable[..., Browser], post_idp: DevIdP
) -> None:
    browser = browser_factory(post_app(), post_idp)
    _post_login(browser)
    url = urlsplit(post_idp.logout_request_url(EMAIL))
    answered = browser.app.get(f"{url.path}?{url.query}")
    fields = _form_page(answered, post_idp.slo_url)
    assert set(fields) == {"SAMLResponse"} and b"LogoutResponse" in base64.b64decode(fields["SAMLResponse"])
    assert browser.app.get("/", headers={"accept": "application/json"}).status_code == 401
    signed_out = browser.idp_client.post(urlsplit(post_idp.slo_url).path, data=fields)
    assert signed_out.status_code == 200 and "You have signed out" in signed_out.text


@pytest.mark.parametrize(
    ("metadata", "sso"),
    [
        ("11_google_crewjam_IDPMetadata.xml", "https://accounts.google.com/o/saml2/idp?idpid=C02dfl1r1"),
        ("16_onelogin_crewjam_IDPMetadata.xml", "https://app.onelogin.com/trust/saml2/http-post/sso/503983"),
    ],
)
def test_google_and_onelogin_metadata_start_and_post_to_their_sso_url(
    make_app: AdapterFactory, browser_factory: Callable[..., Browser], metadata: str, sso: str
) -> None:
    """Both were refused at start-up before ("no HTTP-Redirect SingleSignOnService")."""
    app = make_app(idp_metadata=(INTEROP / metadata).read_text(), sp_key=SP_KEYS[0], sp_cert=SP_KEYS[1])[0]
    fields = _form_page(browser_factory(app).get("/next?x=1"), sso)
    xml = base64.b64decode(fields["SAMLRequest"])
    assert f'Destination="{sso}"'.replace("&", "&amp;").encode() in xml and b"<ds:Signature" in xml
