"""The interop corpus of real IdP output, shipped in the repository (sources and licences:
tests/data/interop/README.md), and the verdict each file gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CASES", "INTEROP"]

INTEROP = Path(__file__).resolve().parents[1] / "data" / "interop"

# name, cert, ACS (Destination/Recipient), Audience, Issuer, InResponseTo, freeze, e-mail or reason, options
CASES: list[tuple[Any, ...]] = [
    (
        "01_entra_ssoready_response.xml",
        "01_entra_ssoready_signing_cert.pem",
        "http://localhost:8080/accounts/8155d0cc-d51b-461a-a062-821b6bd574b1/saml/acs",
        "http://localhost:8080/accounts/8155d0cc-d51b-461a-a062-821b6bd574b1/saml",
        "https://sts.windows.net/a9054a0f-2011-4e31-b3ac-fd8c354146ec/",
        None,
        "2023-11-17T18:40:00Z",
        "ulysse.carion@codomaindata.com",
        {"allow_idp_initiated": True},
    ),
    (
        "03_entra_tercen_response.xml",
        "03_entra_tercen_signing_cert.pem",
        "https://devpg.tercen.com/_service/sso/auth/saml",
        "https://devpg.tercen.com/_service/sso/auth/saml",
        "https://sts.windows.net/5b5c94c6-14cf-42da-85bc-4e08722b253b/",
        "id6491e192-e2d9-4970-ab03-e38ffda6e033",
        "2022-02-23T17:50:00Z",
        "test@alexandremaurelgmail.onmicrosoft.com",
        {},
    ),
    (
        "07_adfs_gosaml2_response.b64",
        "07_adfs_gosaml2_signing_cert.pem",
        "https://saml.test.nope/session/sso/saml/acs/dknhyszjl7",
        "https://saml.test.nope/session/sso/saml/spentityid/dknhyszjl7",
        "http://fs.spstest2.com/adfs/services/trust",
        "_5988bf45-1cc8-4228-b3e8-1aa8590e63d3",
        "2017-09-21T23:28:00Z",
        "paul@spstest2.com",
        {},
    ),
    (
        "10_okta_ssoready_response_BROKEN_RESPONSE_SIG.xml",
        "10_okta_ssoready_signing_cert.pem",
        "http://localhost:8080/x",
        "x",
        "http://www.okta.com/x",
        None,
        "2024-04-25T20:32:00Z",
        "signature_invalid",
        {"allow_idp_initiated": True},
    ),
    (
        "16_onelogin_crewjam_response.b64",
        "16_onelogin_crewjam_signing_cert.pem",
        "https://29ee6d2e.ngrok.io/saml/acs",
        "https://29ee6d2e.ngrok.io/saml/metadata",
        "https://app.onelogin.com/saml/metadata/503983",
        "id-d40c15c104b52691eccf0a2a5c8a15595be75423",
        "2016-01-05T17:53:12Z",
        "weak_algorithm",
        {},
    ),
    (
        "17_onelogin_crewjam_XSW1_INVALID.b64",
        "16_onelogin_crewjam_signing_cert.pem",
        "https://29ee6d2e.ngrok.io/saml/acs",
        "https://29ee6d2e.ngrok.io/saml/metadata",
        "https://app.onelogin.com/saml/metadata/503983",
        "id-d40c15c104b52691eccf0a2a5c8a15595be75423",
        "2016-01-05T17:53:12Z",
        "multiple_assertions",
        {"allow_sha1": True},
    ),
    (
        "18_onelogin_crewjam_XSW2_INVALID.b64",
        "16_onelogin_crewjam_signing_cert.pem",
        "https://29ee6d2e.ngrok.io/saml/acs",
        "https://29ee6d2e.ngrok.io/saml/metadata",
        "https://app.onelogin.com/saml/metadata/503983",
        "id-d40c15c104b52691eccf0a2a5c8a15595be75423",
        "2016-01-05T17:53:12Z",
        "multiple_assertions",
        {"allow_sha1": True},
    ),
    (
        "05_aad_wsfed_saml2_assertion_valid.xml",
        "04_aad_2017_signing_cert.pem",
        "https://x/acs",
        "spn:fe78e0b4-6fe7-47e6-812c-fb75cee266a4",
        "https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/",
        None,
        "2017-03-20T16:00:00Z",
        "not_a_response",
        {},
    ),
]


# More IdPs: Okta (both signed), Google (Response only / Assertion only), Keycloak, PingOne.
CASES += [
    (
        "09_okta_gosaml2_response.xml",
        "09_okta_gosaml2_signing_cert.pem",
        "http://localhost:8080/v1/_saml_callback",
        '"123"',
        "http://www.okta.com/exk659aytfMeNI49v0h7",
        "_15f66d2d-628b-4d9b-a99e-089d8da862e1",
        "2016-07-25T23:21:00Z",
        "no_email",
        {},
    ),  # valid, but its NameID "russellhaering" is not an e-mail and no claim carries one
    (
        "11_google_crewjam_response.b64",
        "11_google_crewjam_signing_cert.pem",
        "https://29ee6d2e.ngrok.io/saml/acs",
        "https://29ee6d2e.ngrok.io/saml/metadata",
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1",
        "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6",
        "2016-01-05T16:56:00Z",
        "ross@octolabs.io",
        {},
    ),
    (
        "12_google_ssoready_response.xml",
        "12_google_ssoready_signing_cert.pem",
        "https://example.com/accounts/bfeb03a0-6022-4862-9bbf-5a4d7608db35/saml/acs",
        "https://localhost:8080/accounts/bfeb03a0-6022-4862-9bbf-5a4d7608db35/saml",
        "https://accounts.google.com/o/saml2?idpid=C029op2ga",
        None,
        "2023-11-16T21:21:00Z",
        "ulysse.carion@codomaindata.com",
        {"allow_idp_initiated": True},
    ),
    (
        "13_keycloak_ssoready_response.xml",
        "13_keycloak_ssoready_signing_cert.pem",
        "http://localhost:8080/v1/saml/saml_conn_7o6ylycayrere4h9kg76vqc0k/acs",
        "http://localhost:8080/v1/saml/saml_conn_7o6ylycayrere4h9kg76vqc0k",
        "http://localhost:8085/realms/master",
        "saml_flow_95q1hli3z0vohj0d55l4j4yo1",
        "2024-05-20T21:11:00Z",
        "authn_statement",
        {},
    ),  # signed and otherwise valid, but no AuthnStatement: Keycloak's "Include AuthnStatement" was off
    (
        "14_keycloak_tercen_response.xml",
        "14_keycloak_tercen_signing_cert.pem",
        "http://127.0.0.1:5400/_service/sso/auth/saml",
        "http://127.0.0.1:5400/_service/sso/auth/saml",
        "http://127.0.0.1:8080/auth/realms/tercen",
        "id43ae8ce140146bb195885df8410176ca",
        "2022-02-18T10:41:30Z",
        "alexandre.maurel@gmail.com",
        {},
    ),
    (
        "19_pingone_ssoready_response.xml",
        "19_pingone_ssoready_signing_cert.pem",
        "http://localhost",
        "ssoready-entity-id",
        "https://auth.pingone.com/3030059e-440b-4ad0-9217-44326f1757f6",
        None,
        "2023-11-18T16:21:00Z",
        "no_email",
        {"allow_idp_initiated": True},
    ),  # NameID is a UUID
    (
        "06_aad_wsfed_saml2_assertion_reformatted_INVALID.xml",
        "04_aad_2017_signing_cert.pem",
        "https://x/acs",
        "spn:fe78e0b4-6fe7-47e6-812c-fb75cee266a4",
        "https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/",
        None,
        "2017-03-20T16:00:00Z",
        "not_a_response",
        {},
    ),
    (
        "15_shibboleth_testshib_encrypted_response.xml",
        "15_shibboleth_testshib_signing_cert.pem",
        "https://15661444.ngrok.io/saml2/acs",
        "https://15661444.ngrok.io/saml2/metadata",
        "https://idp.testshib.org/idp/shibboleth",
        "id-9e61753d64e928af5a7a341a97f420c9",
        "2015-12-01T01:57:09Z",
        "myself@testshib.org",
        {
            "sp_key": str(INTEROP / "15_crewjam_sp_decryption_key.pem"),
            "sp_cert": str(INTEROP / "15_crewjam_sp_cert.pem"),
            "email_attribute": "eduPersonPrincipalName",
        },
    ),  # decrypted with the SP key crewjam's test suite uses
]
