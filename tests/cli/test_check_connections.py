"""``saml-middleware check`` with ``SAML_CONNECTIONS``: the registry opened, every connection listed
and validated (its IdP loaded when inline), the deployment-wide values printed; broken enabled
connections fail the check, disabled ones only warn."""

from __future__ import annotations

from pathlib import Path

import pytest

from saml_middleware.cli import main
from saml_middleware.devidp import DevIdP

from ..support.metadataserver import MetadataServer


@pytest.fixture
def registry_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAML_CONNECTIONS", f"sqlite:///{env / 'connections.db'}")
    return env


def connections(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    status = main(["connections", *argv])
    _, err = capsys.readouterr()
    assert status == 0, err


def value(text: str, label: str) -> str:
    """The value printed on the line ``  {label}:    value`` (the first one in ``text``)."""
    for line in text.splitlines():
        if line.startswith(f"  {label}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {label!r} line in {text!r}")


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["check", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_every_connection_is_listed_and_its_inline_idp_loaded(
    registry_env: Path, capsys: pytest.CaptureFixture[str], idp: DevIdP
) -> None:
    (registry_env / "idp-cert.pem").write_text(idp.cert_pem)
    metadata = str(registry_env / "FederationMetadata.xml")
    connections(
        capsys, "add", "acme", "--name", "Acme Corp", "--domain", "acme.com", "--metadata-file", metadata
    )
    cert = str(registry_env / "idp-cert.pem")
    connections(capsys, "add", "beta", "--domain", "beta.com", "--host", "beta.app.test",
                "--sso-url", idp.sso_url, "--idp-entity-id", idp.entity_id, "--idp-cert", cert)  # fmt: skip
    connections(capsys, "add", "gamma", "--domain", "gamma.com",
                "--metadata-url", "https://login.example.invalid/t/federationmetadata.xml")  # fmt: skip
    connections(capsys, "add", "delta", "--domain", "delta.com", "--disabled")
    status, out, err = check(capsys)
    assert status == 0, err
    assert "Configuration OK (deployment-wide)" in out
    assert "(4 connections, 3 with SSO on)" in out
    assert value(out, "Sign-in page") == "http://app.test/saml/login"
    assert value(out, "Changes live within") == "5 s (SAML_CONNECTIONS_REFRESH)"
    assert "Connection acme (Acme Corp): SSO on" in out and "Connection delta (delta): SSO off" in out
    acme = out.split("Connection acme")[1].split("Connection beta")[0]
    assert value(acme, "Domains") == "acme.com" and "metadata XML (" in acme
    assert value(acme, "IdP entity ID") == idp.entity_id
    assert value(acme, "IdP login URL") == idp.sso_url
    assert value(acme, "Reply URL (ACS URL)") == "http://app.test/saml/c/acme/acs"
    assert value(acme, "Check") == "OK"
    beta = out.split("Connection beta")[1].split("Connection delta")[0]
    assert value(beta, "Hosts") == "beta.app.test" and "login URL http" in beta
    assert value(beta, "Reply URL (ACS URL)") == "http://beta.app.test/saml/c/beta/acs"  # on its host
    assert value(beta, "IdP entity ID") == idp.entity_id and "Certificate:" in beta
    gamma = out.split("Connection gamma")[1]
    assert "fetched from its metadata URL on first use (check --fetch loads it now)" in gamma
    delta = out.split("Connection delta")[1].split("Connection gamma")[0]
    assert "none yet: its admin gives it (saml-middleware connections setup-link delta)" in delta
    assert "4 connections checked: 4 without problems, 0 broken" in out
    assert "error" not in err


def test_a_broken_enabled_connection_fails_the_check_and_a_disabled_one_warns(
    registry_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = str(registry_env / "FederationMetadata.xml")
    (registry_env / "junk.xml").write_text("this is not metadata")
    connections(capsys, "add", "acme", "--domain", "acme.com", "--metadata-file", metadata)
    junk = str(registry_env / "junk.xml")
    connections(capsys, "add", "junk", "--domain", "junk.com", "--metadata-file", junk, "--disabled")
    connections(capsys, "add", "lost", "--domain", "lost.com", "--metadata-file", metadata,
                "--set", f"users=file:{registry_env / 'missing.csv'}")  # fmt: skip
    status, out, err = check(capsys)
    assert status == 1
    assert "3 connections checked: 2 without problems, 1 broken" in out
    junk = out.split("Connection junk")[1]
    assert value(junk, "Check") == "1 problem(s), listed on stderr (SSO off: a warning)"
    assert "error: connection lost: " in err and "missing.csv" in err
    assert "warning: connection junk (disabled): " in err and "error: connection junk" not in err
    assert "error: connection acme" not in err
    # switched on, the junk one fails the check too
    connections(capsys, "update", "lost", "--unset", "users")
    connections(capsys, "enable", "junk")
    status, out, err = check(capsys)
    assert status == 1 and "error: connection junk: its IdP metadata XML: not usable XML metadata" in err
    assert "error: connection lost" not in err


def test_a_registry_that_cannot_be_opened_is_named_with_its_password_masked(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAML_CONNECTIONS", "postgresql://app:hunter2-secret@127.0.0.1:1/app")
    status, out, err = check(capsys)
    assert status == 1 and out == ""
    assert "error: SAML_CONNECTIONS=postgresql://app:" in err and "127.0.0.1:1" in err
    assert "hunter2-secret" not in err + out


def test_no_connection_yet_is_a_to_do(registry_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = check(capsys)
    assert status == 2
    assert "(0 connections, 0 with SSO on)" in out
    assert "add a connection per customer: saml-middleware connections add ID --domain DOMAIN" in out


def test_fetch_loads_metadata_urls_now_through_the_ssrf_guard(
    registry_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--fetch`` loads metadata URLs as a connection's first sign-in does: https, public
    addresses only unless the operator allows private ones (here: an https server on loopback
    whose certificate the process trusts through ``SSL_CERT_FILE``)."""
    metadata = (registry_env / "FederationMetadata.xml").read_bytes()
    server = MetadataServer(metadata, tmp_path)
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "tls-cert.pem"))
        connections(capsys, "add", "live", "--domain", "live.com", "--metadata-url", server.url("/md"))
        connections(capsys, "add", "gone", "--domain", "gone.com", "--metadata-url", server.url("/nothing"))
        status, out, err = check(capsys)
        assert status == 0 and out.count("fetched from its metadata URL on first use") == 2
        assert server.hits == []  # nothing fetched without --fetch
        status, out, err = check(capsys, "--fetch")
        assert status == 1 and server.hits == []  # loopback: refused before any connection
        assert "error: connection live: " in err and "loopback" in err
        monkeypatch.setenv("SAML_SETUP_ALLOW_PRIVATE_METADATA", "true")
        status, out, err = check(capsys, "--fetch")
        assert status == 1
        live = out.split("Connection live")[1]
        assert value(live, "IdP entity ID").startswith("https://sts.windows.net/")
        assert "error: connection gone: " in err and "error: connection live" not in err
        assert sorted(server.hits) == ["/md", "/nothing"]  # each fetched once, in registry order
    finally:
        server.close()


def test_user_is_judged_by_the_rules_of_the_connection_owning_the_domain(
    registry_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = str(registry_env / "FederationMetadata.xml")
    connections(capsys, "add", "acme", "--domain", "acme.com", "--metadata-file", metadata,
                "--set", "allowed_groups=finance")  # fmt: skip
    connections(capsys, "add", "beta", "--domain", "beta.com", "--metadata-file", metadata)
    status, out, _ = check(capsys, "--user", "alice@acme.com", "--path", "/ledger")
    assert status == 0
    access = out.split("Access for alice@acme.com: connection acme's rules")[1]
    assert "GET /ledger for alice@acme.com" in access and "=> refused: forbidden" in access
    _, out, _ = check(capsys, "--user", "alice@acme.com", "--groups", "finance", "--path", "/ledger")
    assert "=> allowed" in out.split("connection acme's rules")[1]
    _, out, _ = check(capsys, "--user", "bob@beta.com", "--path", "/ledger")
    assert "Access: every signed-in user reaches every path" in out.split("connection beta's rules")[1]
    _, out, _ = check(capsys, "--user", "eve@elsewhere.com")
    assert "Access for eve@elsewhere.com: no connection has its domain" in out
