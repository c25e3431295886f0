"""The three apps this project was made from, as three connections of one instance (ASGI and WSGI).

Each customer has its own dev IdP (own key, own tenant, own entity ID, own users):

* **Upsales-style** (``upsales``, contoso.com): the IdP pasted in as Login URL + Microsoft Entra
  Identifier + certificate; the user is the NameID e-mail; SP-initiated from the sign-in page by
  the e-mail's domain.
* **Upwork-style** (``upwork``, fabrikam.com): IdP-initiated login allowed for this connection
  only; users created just in time from FirstName / LastName / Country / Email.
* **TOPdesk-style** (``topdesk``, globex.com, ``topdesk.app.test``): the IdP's uploaded Federation
  Metadata XML; its own SP key pair (AuthnRequests signed with it and verified by the IdP,
  assertions encrypted to it); the e-mail from the ``emailaddress`` claim; provisioned users
  only (a CSV with a ``tenant`` column); reached by its host.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.connections import Connection, MemoryRegistry
from saml_middleware.devidp import DevIdP, auto_post_form_fields, generate_keypair
from saml_middleware.devidp.users import DevUser

from ..support.asgiclient import asgi_client
from ..support.harness import APP, Clock, client_for
from ..support.tenants import LiveLookup, TenantBrowser, Visits, tenant_asgi_app, tenant_wsgi_app

UPSALES_IDP = "http://idp-upsales.test"
UPWORK_IDP = "http://idp-upwork.test"
TOPDESK_IDP = "http://idp-topdesk.test"
TOPDESK_HOST = "topdesk.app.test"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"

UPWORK_USERS = tuple(
    DevUser(
        email,
        given_name=first,
        surname=last,
        country=country,
        extra={"FirstName": [first], "LastName": [last], "Country": [country], "Email": [email]},
    )
    for email, first, last, country in (
        ("ann.lee@fabrikam.com", "Ann", "Lee", "NL"),
        ("raj.patel@fabrikam.com", "Raj", "Patel", "IN"),
    )
)
TOPDESK_USERS = (
    DevUser("pat.doe@globex.com", given_name="Pat", surname="Doe"),
    DevUser("sam.roe@globex.com", given_name="Sam", surname="Roe"),  # never provisioned
)


@dataclass
class ThreeApps:
    app: Any
    visits: Visits
    upsales: DevIdP
    upwork: DevIdP
    topdesk: DevIdP
    topdesk_sp_cert: str
    browser: Callable[[], TenantBrowser]
    idp_client: Callable[[DevIdP], httpx.Client]


@pytest.fixture(scope="module")
def more_keys() -> tuple[tuple[str, str], tuple[str, str]]:
    """The TOPdesk customer's IdP key pair, and the key pair TOPdesk's connection signs with."""
    return generate_keypair("topdesk customer IdP"), generate_keypair("topdesk SP")


@pytest.fixture
def three(
    adapter: str,
    clock: Clock,
    idp_keys: tuple[str, str],
    second_idp_keys: tuple[str, str],
    more_keys: tuple[tuple[str, str], tuple[str, str]],
    clients: list[httpx.Client],
    tmp_path: Path,
) -> Iterator[ThreeApps]:
    (td_key, td_cert), (sp_key, sp_cert) = more_keys
    upsales = DevIdP(UPSALES_IDP, tenant_id="a1a1a1a1-0000-4000-8000-000000000001",
                     key_pem=idp_keys[0], cert_pem=idp_keys[1], clock=clock)  # fmt: skip
    upwork = DevIdP(
        UPWORK_IDP,
        tenant_id="b2b2b2b2-0000-4000-8000-000000000002",
        users=UPWORK_USERS,
        key_pem=second_idp_keys[0],
        cert_pem=second_idp_keys[1],
        sp_acs_url=f"{APP}/saml/c/upwork/acs",  # the "My Apps" launch of IdP-initiated login
        sp_entity_id=f"{APP}/saml/c/upwork/metadata",
        clock=clock,
    )
    topdesk = DevIdP(
        TOPDESK_IDP,
        tenant_id="c3c3c3c3-0000-4000-8000-000000000003",
        users=TOPDESK_USERS,
        key_pem=td_key,
        cert_pem=td_cert,
        sp_cert_pem=sp_cert,  # requests must be signed with TOPdesk's own key
        encrypt_for=sp_cert,  # and assertions are encrypted to it
        sp_acs_url=f"http://{TOPDESK_HOST}/saml/c/topdesk/acs",
        sp_entity_id=f"http://{TOPDESK_HOST}/saml/c/topdesk/metadata",
        clock=clock,
    )
    provisioned = tmp_path / "topdesk-users.csv"
    provisioned.write_text(
        "email,tenant,role\n"
        "pat.doe@globex.com,globex-topdesk,operator\n"
        "sam.roe@globex.com,someone-else,operator\n"  # another tenant's row admits nobody here
    )
    registry = MemoryRegistry(
        [
            Connection(
                "upsales",
                name="Contoso (Upsales-style)",
                domains=("contoso.com",),
                idp_sso_url=upsales.sso_url,  # pasted: Login URL
                idp_entity_id=upsales.entity_id,  # Microsoft Entra Identifier
                idp_cert=(upsales.cert_pem,),  # Certificate (Base64)
                settings={"email_attribute": "nameid"},
            ),
            Connection(
                "upwork",
                name="Fabrikam (Upwork-style)",
                domains=("fabrikam.com",),
                idp_metadata=upwork.metadata_xml().decode(),
                settings={"allow_idp_initiated": True, "users": "assertion", "email_attribute": "Email"},
            ),
            Connection(
                "topdesk",
                name="Globex (TOPdesk-style)",
                tenant="globex-topdesk",
                domains=("globex.com",),
                hosts=(TOPDESK_HOST,),
                idp_metadata=topdesk.metadata_xml().decode(),  # uploaded Federation Metadata XML
                settings={
                    "sp_key": sp_key,
                    "sp_cert": sp_cert,
                    "require_encryption": True,
                    "email_attribute": EMAIL_CLAIM,
                    "users": f"file:{provisioned}",
                },
            ),
        ]
    )
    settings = Settings(base_url=APP, secret_key=("test-secret-key-0123456789abcdef",))
    options: dict[str, Any] = {"clock": clock, "connections": LiveLookup(registry)}
    visits = Visits()
    if adapter == "asgi":
        app: Any = SAMLMiddleware(tenant_asgi_app(visits), settings=settings, **options)
    else:
        app = SAMLWSGIMiddleware(tenant_wsgi_app(visits), settings=settings, **options)
    idp_clients = {idp.base_url: asgi_client(idp.app, idp.base_url) for idp in (upsales, upwork, topdesk)}
    clients.extend(idp_clients.values())

    def browser() -> TenantBrowser:
        made = client_for(app, adapter)
        clients.append(made)
        return TenantBrowser(made, [(idp, idp_clients[idp.base_url]) for idp in (upsales, upwork, topdesk)])

    yield ThreeApps(
        app, visits, upsales, upwork, topdesk, sp_cert, browser, lambda i: idp_clients[i.base_url]
    )


def query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def launch(three: ThreeApps, idp: DevIdP, email: str) -> tuple[str, dict[str, str]]:
    """IdP-initiated: the user clicks the app's tile in "My Apps"; the auto-post form it gets."""
    page = three.idp_client(idp).get(f"/{idp.tenant_id}/launch", params={"email": email})
    assert page.status_code == 200, page.text
    return auto_post_form_fields(page.text)


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def test_upsales_style_pasted_idp_and_nameid_email_from_the_sign_in_page(three: ThreeApps) -> None:
    browser = three.browser()
    first = browser.get("/deals")
    assert first.status_code == 302 and first.headers["location"] == f"{APP}/saml/login?next=/deals"
    to_idp = browser.get("/saml/login", params={"email": "adele.vance@contoso.com", "next": "/deals"})
    assert to_idp.status_code == 302 and to_idp.headers["location"].startswith(three.upsales.sso_url)
    assert query(to_idp)["login_hint"] == "adele.vance@contoso.com"
    assert "Signature" not in query(to_idp)  # no SP key for this connection: unsigned requests
    action, fields = browser.at_idp(to_idp, "adele.vance@contoso.com")
    assert action == f"{APP}/saml/c/upsales/acs"
    landed = browser.post(action, fields)
    assert landed.status_code == 303 and landed.headers["location"] == "/deals"
    seen = browser.get("/deals").json()
    assert (seen["user"], seen["connection"], seen["tenant"]) == (
        "adele.vance@contoso.com",
        "upsales",
        "upsales",
    )
    # IdP-initiated is not allowed here: an unsolicited response from its own IdP is refused
    unsolicited = three.upsales.issue_response(
        "b.simon@contoso.com", acs_url=f"{APP}/saml/c/upsales/acs", audience=f"{APP}/saml/c/upsales/metadata"
    )
    fresh = three.browser()
    refused = fresh.post(
        f"{APP}/saml/c/upsales/acs", {"SAMLResponse": base64.b64encode(unsolicited).decode()}
    )
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert fresh.get("/deals").status_code == 302


def test_upwork_style_idp_initiated_with_just_in_time_users(three: ThreeApps) -> None:
    for user in UPWORK_USERS:  # neither was known to the app before: created just in time
        email, first, last, country = user.email, user.given_name, user.surname, user.country
        browser = three.browser()
        action, fields = launch(three, three.upwork, email)
        assert action == f"{APP}/saml/c/upwork/acs" and "RelayState" not in fields
        landed = browser.post(action, fields)
        assert landed.status_code == 303 and landed.headers["location"] == "/"
        seen = browser.get("/jobs").json()
        assert (seen["user"], seen["connection"], seen["tenant"]) == (email, "upwork", "upwork")
        attributes = seen["attributes"]
        assert attributes["FirstName"] == [first] and attributes["LastName"] == [last]
        assert attributes["Country"] == [country] and attributes["Email"] == [email]
    # SP-initiated works for the same connection too
    browser = three.browser()
    to_idp = browser.get("/saml/login", params={"email": "ann.lee@fabrikam.com", "next": "/jobs"})
    assert to_idp.headers["location"].startswith(three.upwork.sso_url)
    assert browser.login(to_idp, "ann.lee@fabrikam.com").headers["location"] == "/jobs"


def test_the_app_sees_the_upwork_users_name(three: ThreeApps) -> None:
    browser = three.browser()
    browser.post(*launch(three, three.upwork, "raj.patel@fabrikam.com"))
    browser.get("/profile")
    user = three.app.gate.authenticate(dict(browser.app.cookies.items()))
    assert user is not None and user.display_name == "Raj Patel" and user.tenant == "upwork"
    assert user.attributes["FirstName"] == ["Raj"] and user.email == "raj.patel@fabrikam.com"


def test_topdesk_style_metadata_own_key_pair_host_routing_and_provisioned_users(three: ThreeApps) -> None:
    browser = three.browser()
    metadata = browser.app.get(f"http://{TOPDESK_HOST}/saml/c/topdesk/metadata")
    assert metadata.status_code == 200
    assert f'entityID="http://{TOPDESK_HOST}/saml/c/topdesk/metadata"' in metadata.text
    assert 'AuthnRequestsSigned="true"' in metadata.text
    assert pem_body(three.topdesk_sp_cert) in metadata.text  # its own certificate, for Entra
    challenge = browser.get("/incidents", host=TOPDESK_HOST)  # the host picks the connection: no page
    assert challenge.status_code == 302 and challenge.headers["location"].startswith(three.topdesk.sso_url)
    assert {"Signature", "SigAlg"} <= set(query(challenge))  # signed with TOPdesk's key
    action, fields = browser.at_idp(challenge, "pat.doe@globex.com")  # the IdP checked the signature
    assert action == f"http://{TOPDESK_HOST}/saml/c/topdesk/acs"
    assert b"EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"])
    landed = browser.post(action, fields)
    assert landed.status_code == 303 and landed.headers["location"] == "/incidents"
    seen = browser.get("/incidents", host=TOPDESK_HOST).json()
    assert (seen["user"], seen["connection"], seen["tenant"]) == (
        "pat.doe@globex.com",
        "topdesk",
        "globex-topdesk",
    )
    assert seen["attributes"]["role"] == ["operator"]  # from the provisioned row
    # the session is bound to TOPdesk's host
    assert browser.get("/incidents").status_code == 302


def test_a_tampered_authn_request_is_refused_by_the_topdesk_idp(three: ThreeApps) -> None:
    browser = three.browser()
    challenge = browser.get("/incidents", host=TOPDESK_HOST)
    location = challenge.headers["location"].replace("SigAlg=", "SigAlg=x", 1)
    answer = three.idp_client(three.topdesk).get(location.removeprefix(TOPDESK_IDP))
    assert answer.status_code == 400


def test_provisioned_only_refuses_an_unknown_user_while_just_in_time_admits_one(three: ThreeApps) -> None:
    refused = three.browser()
    challenge = refused.get("/incidents", host=TOPDESK_HOST)
    answer = refused.login(challenge, "sam.roe@globex.com")  # signed in at its IdP, never provisioned
    assert answer.status_code == 403 and "saml_session=" not in answer.headers.get("set-cookie", "")
    assert refused.get("/incidents", host=TOPDESK_HOST).status_code == 302
    admitted = three.browser()
    assert admitted.post(*launch(three, three.upwork, "raj.patel@fabrikam.com")).status_code == 303
    assert admitted.get("/").json()["user"] == "raj.patel@fabrikam.com"
    assert [c["user"] for c in three.visits.calls] == ["raj.patel@fabrikam.com"]


def test_idp_initiated_is_allowed_for_its_connection_only(three: ThreeApps) -> None:
    # TOPdesk's own IdP launching the app: SP-initiated only there, refused
    browser = three.browser()
    action, fields = launch(three, three.topdesk, "pat.doe@globex.com")
    assert browser.post(action, fields).status_code == 403
    assert browser.get("/incidents", host=TOPDESK_HOST).status_code == 302


def refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(connection, reason) of every refusal in the audit log."""
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "saml_middleware.audit"]
    return [(line["connection"], line["reason"]) for line in lines if line["event"] == "refusal"]


def test_a_response_for_one_connection_is_refused_at_anothers_acs(
    three: ThreeApps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware.audit")
    browser = three.browser()
    # Upwork's launch, posted to Upsales's ACS instead of Upwork's
    _, fields = launch(three, three.upwork, "ann.lee@fabrikam.com")
    assert browser.post(f"{APP}/saml/c/upsales/acs", fields).status_code in (400, 403)
    # made out for Upsales (its ACS and audience) by Upwork's IdP: not Upsales's IdP, refused
    forged = three.upwork.issue_response(
        "ann.lee@fabrikam.com", acs_url=f"{APP}/saml/c/upsales/acs", audience=f"{APP}/saml/c/upsales/metadata"
    )
    posted = browser.post(f"{APP}/saml/c/upsales/acs", {"SAMLResponse": base64.b64encode(forged).decode()})
    assert posted.status_code in (400, 403) and "set-cookie" not in posted.headers
    # Upsales's IdP answering for Upwork's ACS (which takes IdP-initiated): not Upwork's IdP, refused
    forged = three.upsales.issue_response(
        "b.simon@contoso.com", acs_url=f"{APP}/saml/c/upwork/acs", audience=f"{APP}/saml/c/upwork/metadata"
    )
    posted = browser.post(f"{APP}/saml/c/upwork/acs", {"SAMLResponse": base64.b64encode(forged).decode()})
    assert posted.status_code in (400, 403) and "set-cookie" not in posted.headers
    assert browser.get("/").status_code == 302 and three.visits.calls == []
    # each checked only against the IdP of the connection whose ACS received it
    assert refusals(caplog) == [("upsales", "signature_invalid")] * 2 + [("upwork", "signature_invalid")]
