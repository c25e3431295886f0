"""The three applications saml-middleware was created from, as the recipes in docs/recipes/ set them up.

Each test configures the middleware only by the ``SAML_*`` environment the recipe tells an admin
to set (read by ``Settings.from_env``), then logs in through the dev IdP with both adapters.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from examples.recipes import upwork_users
from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.cli import main as cli_main
from saml_middleware.devidp import DevIdP, DevUser, auto_post_form_fields, generate_keypair

from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app, wsgi_app

SECRET = "recipe-secret-key-0123456789abcdef"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"

Recipe = Callable[[dict[str, str]], tuple[Any, Seen]]


@pytest.fixture
def recipe(adapter: str, clock: Clock) -> Recipe:
    """``recipe(env) -> (app, seen)``: the test app wrapped with settings read from ``env`` only."""

    def make(env: dict[str, str]) -> tuple[Any, Seen]:
        seen = Seen()
        settings = Settings.from_env({"SAML_SECRET_KEY": SECRET, **env})
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock), seen
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock), seen

    return make


def _dev_idp(clock: Clock, keys: tuple[str, str], users: list[DevUser] | None = None, **kw: str) -> DevIdP:
    key, cert = keys
    acs = kw.pop("acs", f"{APP}/saml/acs")
    entity = kw.pop("entity", f"{APP}/saml/metadata")
    return DevIdP(
        IDP, key_pem=key, cert_pem=cert, clock=clock, users=users, sp_acs_url=acs, sp_entity_id=entity
    )


def _launch(browser: Browser, email: str) -> httpx.Response:
    """IdP-initiated: the user clicks the app's tile in My Apps; the response is posted to the ACS."""
    tile = browser.idp_client.get(f"/{browser.idp.tenant_id}/launch", params={"email": email})
    assert tile.status_code == 200, tile.text
    return browser.post_acs(*auto_post_form_fields(tile.text))


# -- Upsales-style ---------------------------------------------------------------------------------


def _upsales_env(idp: DevIdP, *certs: str, enabled: str = "true") -> dict[str, str]:
    """What the admin pastes into the app: Entra's Login URL, Microsoft Entra Identifier, the PEM."""
    return {
        "SAML_BASE_URL": APP,
        "SAML_IDP_SSO_URL": idp.sso_url,
        "SAML_IDP_ENTITY_ID": idp.entity_id,
        "SAML_IDP_CERT": "\n".join(certs),
        "SAML_ENABLED": enabled,
    }


def test_upsales_metadata_download_pasted_idp_and_the_sso_switch(recipe, browser_factory, idp) -> None:
    off, seen = recipe(_upsales_env(idp, idp.cert_pem, enabled="false"))
    browser = browser_factory(off)
    untouched = browser.get("/reports")
    assert untouched.status_code == 200 and untouched.json()["user"] is None  # SSO off: app as before
    assert browser.get("/saml/metadata").status_code == 200  # the app's own route now, not ours
    assert seen.calls[-1]["path"] == "/saml/metadata"

    on, _ = recipe(_upsales_env(idp, idp.cert_pem))
    browser = browser_factory(on)
    metadata = browser.get("/saml/metadata")  # the file the admin uploads in Entra
    assert metadata.status_code == 200
    root = etree.fromstring(metadata.content)
    assert root.get("entityID") == f"{APP}/saml/metadata"
    acs = root.find(f"{{{MD}}}SPSSODescriptor/{{{MD}}}AssertionConsumerService")
    assert acs is not None and acs.get("Location") == f"{APP}/saml/acs"

    landed = browser.login("/reports?period=q3")
    assert landed.status_code == 303 and landed.headers["location"] == "/reports?period=q3"
    me = browser.get("/reports").json()
    assert me["user"] == "b.simon@contoso.com"  # matched on the NameID, user.mail in Entra


def test_upsales_certificate_rollover_new_added_before_it_is_made_active(
    recipe, browser_factory, idp, clock, idp_keys
) -> None:
    new_keys = generate_keypair("test IdP, new certificate")
    rekeyed = _dev_idp(clock, new_keys)  # the same tenant after "Make new certificate active"
    old_pem, new_pem = idp_keys[1], new_keys[1]

    def logs_in(env: dict[str, str], signer: DevIdP) -> bool:
        app, _ = recipe(env)
        return bool(browser_factory(app, signer).login().status_code == 303)

    # 1. Entra: "New certificate"; the admin adds it to the app beside the active one
    both = _upsales_env(idp, old_pem, new_pem)
    assert logs_in(both, idp)
    # 2. Entra: "Make new certificate active"; both are still listed, so nobody notices
    assert logs_in(both, rekeyed)
    # 3. the old certificate is removed from the app
    only_new = _upsales_env(idp, new_pem)
    assert logs_in(only_new, rekeyed)
    assert not logs_in(only_new, idp)  # a response signed with the retired key is refused
    # without step 1, activating the new certificate would have locked everyone out
    assert not logs_in(_upsales_env(idp, old_pem), rekeyed)


# -- Upwork-style ----------------------------------------------------------------------------------

UPWORK_USERS = [
    DevUser(
        "b.simon@contoso.com",
        extra={
            "FirstName": ["B."],
            "LastName": ["Simon"],
            "Country": ["United States"],
            "Email": ["b.simon@contoso.com"],
        },
    ),
    DevUser(
        "adele.vance@contoso.com",
        extra={
            "FirstName": ["Adele"],
            "LastName": ["Vance"],
            "Country": ["Netherlands"],
            "Email": ["adele.vance@contoso.com"],
        },
    ),
    DevUser("no.claims@contoso.com"),  # the claims were never added in Entra for this one
]


def _upwork_env(idp: DevIdP) -> dict[str, str]:
    return {
        "SAML_BASE_URL": APP,
        "SAML_IDP_METADATA": idp.metadata_xml().decode("utf-8"),  # or SAML_IDP_METADATA_URL
        "SAML_ALLOW_IDP_INITIATED": "true",
        "SAML_USERS": "python:examples.recipes.upwork_users:create_or_update",
    }


def test_upwork_sp_and_idp_initiated_login_create_users_just_in_time(
    recipe, browser_factory, clock, idp_keys, monkeypatch
) -> None:
    monkeypatch.setattr(upwork_users, "ACCOUNTS", {})
    idp = _dev_idp(clock, idp_keys, UPWORK_USERS)
    app, _ = recipe(_upwork_env(idp))

    sp_started = browser_factory(app, idp)  # from the app's "Log in with SSO"
    assert sp_started.login("/jobs/42").headers["location"] == "/jobs/42"
    me = sp_started.get("/jobs/42").json()
    assert me["user"] == "b.simon@contoso.com" and me["display_name"] == "B. Simon"
    assert me["attributes"]["country"] == ["United States"]
    assert upwork_users.ACCOUNTS["b.simon@contoso.com"]["logins"] == 1

    idp_started = browser_factory(app, idp)  # from the tile in My Apps
    landed = _launch(idp_started, "adele.vance@contoso.com")
    assert landed.status_code == 303 and landed.headers["location"] == "/"
    me = idp_started.get("/").json()
    assert me["display_name"] == "Adele Vance" and me["attributes"]["country"] == ["Netherlands"]
    assert me["attributes"]["FirstName"] == ["Adele"]  # the IdP's claims stay visible to the app

    again = browser_factory(app, idp)  # an existing account: updated, not created twice
    assert _launch(again, "b.simon@contoso.com").status_code == 303
    assert upwork_users.ACCOUNTS["b.simon@contoso.com"]["logins"] == 2
    assert sorted(upwork_users.ACCOUNTS) == ["adele.vance@contoso.com", "b.simon@contoso.com"]

    refused = browser_factory(app, idp).login(email="no.claims@contoso.com")
    assert refused.status_code == 403 and "no.claims@contoso.com" in refused.text
    assert "no.claims@contoso.com" not in upwork_users.ACCOUNTS


# -- TOPdesk-style ---------------------------------------------------------------------------------

TOPDESK_IDENTIFIER = f"{APP}/tas/secure/login/saml"
TOPDESK_REPLY_PATH = "/tas/public/login/saml"


@pytest.fixture
def topdesk_sp(tmp_path: Path) -> tuple[Path, Path]:
    """The app's own RSA key pair: the key as PKCS#8 DER (as the app exports it), the certificate PEM."""
    key_pem, cert_pem = generate_keypair("topdesk.app.test")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "sp-key.der").write_bytes(der)
    (tmp_path / "sp-cert.pem").write_text(cert_pem)
    return tmp_path / "sp-key.der", tmp_path / "sp-cert.pem"


def _topdesk_env(metadata_file: Path, key: Path, cert: Path, users: str, **extra: str) -> dict[str, str]:
    return {
        "SAML_BASE_URL": APP,
        "SAML_SP_ENTITY_ID": TOPDESK_IDENTIFIER,  # Entra: Identifier (Entity ID)
        "SAML_ACS_PATH": TOPDESK_REPLY_PATH,  # Entra: Reply URL (Assertion Consumer Service URL)
        "SAML_IDP_METADATA_FILE": str(metadata_file),  # Entra: Federation Metadata XML, downloaded
        "SAML_SP_KEY": str(key),
        "SAML_SP_CERT": str(cert),
        "SAML_EMAIL_ATTRIBUTE": EMAIL_CLAIM,
        "SAML_USERS": users,
        **extra,
    }


def _verify_redirect_signature(location: str, cert_pem: str) -> None:
    """Check an HTTP-Redirect binding signature as the IdP does: over the query as sent, in order."""
    query = urlsplit(location).query
    parts = dict(p.split("=", 1) for p in query.split("&"))
    assert unquote(parts["SigAlg"]) == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    signed = "&".join(f"{n}={parts[n]}" for n in ("SAMLRequest", "RelayState", "SigAlg") if n in parts)
    public = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    signature = base64.b64decode(parse_qs(query)["Signature"][0])
    public.verify(signature, signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())  # raises if bad


@pytest.mark.parametrize("directory", ["file", "sql"])
def test_topdesk_sp_initiated_only_with_metadata_file_own_key_and_provisioned_users(
    recipe, browser_factory, idp, topdesk_sp, tmp_path, directory, caplog, monkeypatch, capsys
) -> None:
    metadata = tmp_path / "federationmetadata.xml"
    metadata.write_bytes(idp.metadata_xml())
    if directory == "file":
        (tmp_path / "operators.csv").write_text("email,operator_group\nb.simon@contoso.com,First line\n")
        users, extra = f"file:{tmp_path / 'operators.csv'}", {}
    else:
        with sqlite3.connect(tmp_path / "topdesk.db") as db:
            db.execute("CREATE TABLE operators (email TEXT, operator_group TEXT)")
            db.execute("INSERT INTO operators VALUES ('b.simon@contoso.com', 'First line')")
        db.close()
        users = f"sql:sqlite:///{tmp_path / 'topdesk.db'}"
        query = "SELECT email, operator_group FROM operators WHERE lower(email) = lower(:email)"
        extra = {"SAML_USER_QUERY": query}
    key, cert = topdesk_sp
    env = _topdesk_env(metadata, key, cert, users, **extra)

    # what `saml-middleware check` tells the admin to enter in Entra's Basic SAML Configuration
    for name, value in {"SAML_SECRET_KEY": SECRET, **env}.items():
        monkeypatch.setenv(name, value)
    assert cli_main(["check"]) == 0
    shown = capsys.readouterr().out
    assert f"Identifier (Entity ID):    {TOPDESK_IDENTIFIER}" in shown
    assert f"Reply URL (ACS URL):       {APP}{TOPDESK_REPLY_PATH}" in shown
    assert f"Sign on URL:               {APP}/" in shown

    app, seen = recipe(env)
    browser = browser_factory(app)
    to_idp = browser.start("/tas/secure/incidents")
    _verify_redirect_signature(to_idp.headers["location"], cert.read_text())
    info = idp.parse_authn_request(parse_qs(urlsplit(to_idp.headers["location"]).query)["SAMLRequest"][0])
    assert info.issuer == TOPDESK_IDENTIFIER and info.acs_url == f"{APP}{TOPDESK_REPLY_PATH}"
    landed = browser.post_acs(*browser.idp_form(to_idp))
    assert landed.status_code == 303 and landed.headers["location"] == "/tas/secure/incidents"
    me = browser.get("/tas/secure/incidents").json()
    assert me["user"] == "b.simon@contoso.com" and me["attributes"]["operator_group"] == ["First line"]

    stranger = browser_factory(app)
    refused = stranger.login(email="adele.vance@contoso.com")  # signed in at Entra, not provisioned here
    assert refused.status_code == 403 and "adele.vance@contoso.com" in refused.text
    assert stranger.get("/tas/secure/incidents").status_code == 302

    calls = len(seen.calls)
    with caplog.at_level(logging.WARNING, logger="saml_middleware"):
        tile = browser_factory(app)  # an IdP-initiated response, as a My Apps tile would post it
        tile_response = idp.issue_response(
            "b.simon@contoso.com", acs_url=f"{APP}{TOPDESK_REPLY_PATH}", audience=TOPDESK_IDENTIFIER
        )
        unsolicited = tile.app.post(
            TOPDESK_REPLY_PATH, data={"SAMLResponse": base64.b64encode(tile_response).decode("ascii")}
        )
    assert unsolicited.status_code == 403 and "Start from the application" in unsolicited.text
    assert any(getattr(r, "saml_reason", None) == "unsolicited" for r in caplog.records)
    assert len(seen.calls) == calls and tile.get("/tas/secure/incidents").status_code == 302
