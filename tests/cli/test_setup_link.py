"""``saml-middleware connections setup-link ID``: prints a link that opens that connection's setup page."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from saml_middleware import Settings
from saml_middleware.cli import main
from saml_middleware.cli.setuplink import print_setup_link
from saml_middleware.devidp import DevIdP

from ..support.harness import APP, Clock
from ..support.setupflow import KEY, SetupSite, registry_of_two


def test_prints_a_link_that_opens_the_setup_page(
    idp: DevIdP, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    site = SetupSite("wsgi", idp, clock)
    try:
        assert print_setup_link(site.settings, site.registry, "acme", now=clock()) == 0
        url, note = capsys.readouterr().out.splitlines()
        assert url.startswith(f"{APP}/saml/c/acme/setup?token=")
        assert "valid until 2025-06-16" in note and "Acme Corp" in note
        opened = site.client.get(urlsplit(url).path + "?" + urlsplit(url).query)
        assert opened.status_code == 303
        assert "Single sign-on set-up: Acme Corp" in site.client.get(opened.headers["location"]).text
    finally:
        site.close()


def test_refuses_an_unknown_connection(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(base_url=APP, secret_key=(KEY,))
    assert print_setup_link(settings, registry_of_two(), "acmee", now=0) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no connection 'acmee' (known: acme, beta)" in captured.err


def test_the_verb_needs_saml_connections(env, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["connections", "setup-link", "acme"]) == 1
    assert "needs SAML_CONNECTIONS" in capsys.readouterr().err


def test_the_verb_opens_the_registry_saml_connections_names(  # type: ignore[no-untyped-def]
    env, monkeypatch, tmp_path, capsys
) -> None:
    monkeypatch.setenv("SAML_CONNECTIONS", f"sqlite:///{tmp_path}/connections.db")
    assert main(["connections", "add", "beta", "--name", "Beta", "--domain", "beta.com"]) == 0
    capsys.readouterr()
    assert main(["connections", "setup-link", "beta"]) == 0
    assert capsys.readouterr().out.startswith("http://app.test/saml/c/beta/setup?token=")
    assert main(["connections", "setup-link", "gamma"]) == 1
    assert "no connection 'gamma' (known: beta)" in capsys.readouterr().err
