"""docs/entra-id.md and every recipe in docs/recipes/, followed in the order they are written.

Each guide has the admin start with only ``SAML_BASE_URL`` and ``SAML_SECRET_KEY``, give Entra
the SP's values (``saml-middleware metadata`` or ``check``), and only then paste the IdP's
values into the app. The dev IdP stands in for Entra; the app is driven through both adapters.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree

from examples.recipes import upwork_users
from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.cli import main

from ..support.harness import APP, HTML, Browser, Clock, Seen, asgi_app, client_for, wsgi_app
from .test_recipes import (
    EMAIL_CLAIM,
    TOPDESK_IDENTIFIER,
    TOPDESK_REPLY_PATH,
    UPWORK_USERS,
    _dev_idp,
    _launch,
    topdesk_sp,
)

__all__ = ["topdesk_sp"]

SECRET = "guide-secret-key-0123456789abcdef"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


class Admin:
    """The admin at a shell: the app's environment, the commands, and the app built from it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: Any, adapter: str, clock: Clock) -> None:
        for name in list(os.environ):
            if name.startswith("SAML_"):
                monkeypatch.delenv(name)
        self.monkeypatch, self.capsys, self.adapter, self.clock = monkeypatch, capsys, adapter, clock
        self.env: dict[str, str] = {}
        self.set(SAML_SECRET_KEY=SECRET)

    def set(self, **values: str) -> None:
        self.env.update(values)
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def run(self, *args: str) -> tuple[int, str]:
        status = main(list(args))
        return status, self.capsys.readouterr().out

    def app(self, *, real_clock: bool = False) -> tuple[Any, Seen]:
        """The wrapped test app; ``real_clock`` when the IdP is a real server with the real time."""
        seen = Seen()
        settings = Settings.from_env(self.env)
        clock = time.time if real_clock else self.clock
        if self.adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock), seen
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock), seen


@pytest.fixture
def admin(monkeypatch, capsys, adapter, clock) -> Admin:
    return Admin(monkeypatch, capsys, adapter, clock)


def _sp_values_before_the_idp(admin: Admin, clients: list[httpx.Client], entity: str, acs: str) -> None:
    """What every guide does first: the SP's values from the commands and the running app."""
    status, xml = admin.run("metadata")  # entra-id.md step 2: "saml-middleware metadata > sp-metadata.xml"
    assert status == 0
    root = etree.fromstring(xml.encode())
    found = root.find(f"{{{MD}}}SPSSODescriptor/{{{MD}}}AssertionConsumerService")
    assert root.get("entityID") == entity and found is not None and found.get("Location") == acs

    status, shown = admin.run("check")
    assert status == 2 and shown.startswith("Configuration incomplete: no IdP yet")
    assert f"Identifier (Entity ID):    {entity}" in shown and f"Reply URL (ACS URL):       {acs}" in shown
    assert "To do" in shown and "SAML_IDP_METADATA_URL" in shown

    app, seen = admin.app()  # the app is deployed and running meanwhile
    client = client_for(app, admin.adapter)
    clients.append(client)
    assert client.get("/saml/metadata").text == xml.strip()  # "curl -o sp-metadata.xml ..."
    waiting = client.get("/", headers=HTML)
    assert waiting.status_code == 503 and "Sign-in is being set up" in waiting.text
    assert seen.calls == []


def _real_idp_browser(app: Any, adapter: str, metadata_url: str, clients: list[httpx.Client]) -> Browser:
    """A browser between the in-process app and the ``saml-middleware dev-idp`` server."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(metadata_url))
    tenant = urlsplit(metadata_url).path.split("/")[1]
    app_client, idp_client = client_for(app, adapter), httpx.Client(base_url=origin)
    clients.extend([app_client, idp_client])
    return Browser(app_client, idp_client, SimpleNamespace(sso_url=f"{origin}/{tenant}/saml2"))  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["A metadata URL", "B metadata file", "C manual"])
def test_entra_id_guide_in_the_order_written(
    admin, option, idp, browser_factory, clients, tmp_path: Path, request
) -> None:
    admin.set(SAML_BASE_URL=APP)
    _sp_values_before_the_idp(admin, clients, f"{APP}/saml/metadata", f"{APP}/saml/acs")

    # step 4: the IdP's details, one of three ways
    if option.startswith("A"):
        metadata_url = request.getfixturevalue("dev_idp")  # a real server standing in for Entra
        admin.set(SAML_IDP_METADATA_URL=metadata_url)
    elif option.startswith("B"):
        (tmp_path / "FederationMetadata.xml").write_bytes(idp.metadata_xml())
        admin.set(SAML_IDP_METADATA_FILE=str(tmp_path / "FederationMetadata.xml"))
    else:
        (tmp_path / "MyApp.cer").write_text(idp.cert_pem)
        admin.set(SAML_IDP_CERT=str(tmp_path / "MyApp.cer"), SAML_IDP_SSO_URL=idp.sso_url)
        admin.set(SAML_IDP_ENTITY_ID=idp.entity_id)

    status, shown = admin.run("check")  # step 6
    assert status == 0 and shown.startswith("Configuration OK") and "IdP as loaded" in shown

    app, _ = admin.app(real_clock=option.startswith("A"))  # restarted with the new environment
    browser = (
        _real_idp_browser(app, admin.adapter, metadata_url, clients)
        if option.startswith("A")
        else browser_factory(app)
    )
    landed = browser.login("/reports")
    assert landed.status_code == 303 and landed.headers["location"] == "/reports"
    assert browser.get("/reports").json()["user"] == "b.simon@contoso.com"


def test_upsales_recipe_in_the_order_written(admin, idp, browser_factory, clients) -> None:
    admin.set(SAML_BASE_URL=APP, SAML_ENABLED="false")  # "In the app's environment"
    app, seen = admin.app()
    off = client_for(app, admin.adapter)
    clients.append(off)
    assert off.get("/reports", headers=HTML).json()["user"] is None  # the switch is off: app as before
    assert [c["path"] for c in seen.calls] == ["/reports"]

    status, xml = admin.run("metadata")  # step 1: "works while off"
    assert status == 0 and f'entityID="{APP}/saml/metadata"' in xml
    status, shown = admin.run("check")
    assert status == 2 and "SAML_IDP_SSO_URL + SAML_IDP_ENTITY_ID + SAML_IDP_CERT" in shown

    # step 3: paste the Login URL, the Microsoft Entra Identifier and the PEM text
    admin.set(SAML_IDP_SSO_URL=idp.sso_url, SAML_IDP_ENTITY_ID=idp.entity_id, SAML_IDP_CERT=idp.cert_pem)
    assert admin.run("check")[0] == 0

    admin.set(SAML_ENABLED="true")  # step 4: turn SSO on, restart
    app, _ = admin.app()
    browser = browser_factory(app)
    assert browser.login("/reports?period=q3").headers["location"] == "/reports?period=q3"
    assert browser.get("/reports").json()["user"] == "b.simon@contoso.com"


def test_upwork_recipe_in_the_order_written(
    admin, clock, idp_keys, browser_factory, clients, monkeypatch
) -> None:
    monkeypatch.setattr(upwork_users, "ACCOUNTS", {})
    admin.set(SAML_BASE_URL=APP)
    _sp_values_before_the_idp(admin, clients, f"{APP}/saml/metadata", f"{APP}/saml/acs")  # step 1

    entra = _dev_idp(clock, idp_keys, UPWORK_USERS)  # step 2: the claims are added in Entra
    admin.set(  # step 3: the app's environment
        SAML_IDP_METADATA=entra.metadata_xml().decode("utf-8"),  # the metadata URL's document
        SAML_ALLOW_IDP_INITIATED="true",
        SAML_DEFAULT_REDIRECT="/",
        SAML_USERS="python:examples.recipes.upwork_users:create_or_update",
    )
    assert admin.run("check")[0] == 0
    app, _ = admin.app()
    browser = browser_factory(app, entra)
    assert browser.login("/jobs/42").headers["location"] == "/jobs/42"
    assert browser.get("/jobs/42").json()["display_name"] == "B. Simon"
    tile = browser_factory(app, entra)  # the My Apps tile
    assert _launch(tile, "adele.vance@contoso.com").headers["location"] == "/"
    assert sorted(upwork_users.ACCOUNTS) == ["adele.vance@contoso.com", "b.simon@contoso.com"]


def test_topdesk_recipe_in_the_order_written(
    admin, idp, browser_factory, clients, topdesk_sp, tmp_path
) -> None:
    key, cert = topdesk_sp
    admin.set(  # step 1: the app's own paths and key, no IdP yet
        SAML_BASE_URL=APP,
        SAML_SP_ENTITY_ID=TOPDESK_IDENTIFIER,
        SAML_ACS_PATH=TOPDESK_REPLY_PATH,
        SAML_SP_KEY=str(key),
        SAML_SP_CERT=str(cert),
    )
    # step 2: `check` prints what to type into Entra's Basic SAML Configuration
    _sp_values_before_the_idp(admin, clients, TOPDESK_IDENTIFIER, f"{APP}{TOPDESK_REPLY_PATH}")

    admin.set(SAML_EMAIL_ATTRIBUTE=EMAIL_CLAIM)  # step 3
    (tmp_path / "FederationMetadata.xml").write_bytes(idp.metadata_xml())  # step 4
    admin.set(SAML_IDP_METADATA_FILE=str(tmp_path / "FederationMetadata.xml"))
    (tmp_path / "operators.csv").write_text("email,operator_group\nb.simon@contoso.com,First line\n")
    admin.set(SAML_USERS=f"file:{tmp_path / 'operators.csv'}")  # step 6
    assert admin.run("check")[0] == 0

    app, _ = admin.app()
    browser = browser_factory(app)
    landed = browser.login("/tas/secure/incidents")
    assert landed.status_code == 303 and landed.headers["location"] == "/tas/secure/incidents"
    me = browser.get("/tas/secure/incidents").json()
    assert me["user"] == "b.simon@contoso.com" and me["attributes"]["operator_group"] == ["First line"]
    assert browser_factory(app).login(email="adele.vance@contoso.com").status_code == 403  # not provisioned
