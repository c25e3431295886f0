"""``saml-middleware connections ...``: every verb, as an operator types it, against a real
SQLite registry (PostgreSQL: tests/integration/test_connections_postgres.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saml_middleware.cli import main
from saml_middleware.connections import open_registry
from saml_middleware.devidp import DevIdP


@pytest.fixture
def registry_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{env / 'connections.db'}"
    monkeypatch.setenv("SAML_CONNECTIONS", url)
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["connections", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_add_then_show_gives_the_values_to_paste_into_entra(registry_env, capsys) -> None:
    status, out, _ = run(
        capsys, "add", "acme", "--name", "Acme Corp", "--domain", "acme.com", "--host", "acme.app.test",
        "--metadata-url", "https://login.microsoftonline.com/t/federationmetadata/2007-06/federationmetadata.xml",
    )  # fmt: skip
    assert status == 0 and "added acme (Acme Corp), SSO on" in out
    status, out, _ = run(capsys, "show", "acme")
    assert status == 0
    # host routing: a connection with hosts has its URLs on its first host (its cookie lives there)
    assert "Identifier (Entity ID):    http://acme.app.test/saml/c/acme/metadata" in out
    assert "Reply URL (ACS URL):       http://acme.app.test/saml/c/acme/acs" in out
    assert "Sign on URL:               http://acme.app.test/saml/c/acme/login" in out
    assert "Logout URL:                http://acme.app.test/saml/c/acme/sls" in out
    assert "Domains:      acme.com" in out and "Hosts:        acme.app.test" in out
    run(capsys, "add", "beta", "--domain", "beta.com")  # no host: on SAML_BASE_URL
    status, out, _ = run(capsys, "show", "beta")
    assert "Reply URL (ACS URL):       http://app.test/saml/c/beta/acs" in out


def test_the_sign_on_url_follows_the_routing(registry_env, capsys, monkeypatch) -> None:
    """Without path routing there is no /saml/c/ID/login to give Entra: the host's (or the
    sign-in page's) /saml/login is the Sign on URL, a URL that works."""
    run(capsys, "add", "acme", "--domain", "acme.com", "--host", "acme.app.test")
    run(capsys, "add", "beta", "--domain", "beta.com")
    monkeypatch.setenv("SAML_CONNECTION_ROUTING", "host,domain")
    assert "Sign on URL:               http://acme.app.test/saml/login" in run(capsys, "show", "acme")[1]
    assert "Sign on URL:               http://app.test/saml/login" in run(capsys, "show", "beta")[1]
    monkeypatch.setenv("SAML_CONNECTION_ROUTING", "path")
    assert "Sign on URL:               http://app.test/saml/c/beta/login" in run(capsys, "show", "beta")[1]


def test_show_without_a_base_url_says_what_to_set(registry_env, capsys, monkeypatch) -> None:
    run(capsys, "add", "acme", "--domain", "acme.com")
    monkeypatch.delenv("SAML_BASE_URL")
    status, _, err = run(capsys, "show", "acme")
    assert status == 1 and "set SAML_BASE_URL" in err and "Traceback" not in err


def test_the_three_ways_to_give_the_idp(registry_env, capsys, env, idp: DevIdP) -> None:
    metadata = env / "FederationMetadata.xml"  # written by the env fixture from the dev IdP
    cert = env / "idp.pem"
    cert.write_text(idp.cert_pem)
    assert run(capsys, "add", "upsales", "--domain", "a.com", "--metadata-file", str(metadata))[0] == 0
    assert run(capsys, "add", "upwork", "--domain", "b.com", "--sso-url", idp.sso_url,
               "--idp-entity-id", idp.entity_id, "--idp-cert", str(cert))[0] == 0  # fmt: skip
    registry = open_registry(registry_env)
    assert registry.get("upsales").idp_metadata == metadata.read_text()
    manual = registry.get("upwork")
    assert (manual.idp_sso_url, manual.idp_entity_id, manual.idp_cert) == (
        idp.sso_url,
        idp.entity_id,
        (idp.cert_pem,),
    )
    status, out, _ = run(capsys, "list")
    assert status == 0
    assert out.splitlines()[1].split() == ["upsales", "upsales", "upsales", "on", "a.com", "-", "metadata"]
    assert out.splitlines()[2].split()[-1] == "login-url"


def test_per_idp_settings_are_typed_like_their_variables(registry_env, capsys) -> None:
    status, _, _ = run(
        capsys, "add", "topdesk", "--domain", "t.com", "--set", "allow_idp_initiated=true",
        "--set", "SAML_ATTRIBUTE_MAP=country=Country", "--set", "users=assertion",
    )  # fmt: skip
    assert status == 0
    settings = open_registry(registry_env).get("topdesk").settings
    assert settings["allow_idp_initiated"] is True and settings["attribute_map"] == {"country": "Country"}


def test_every_problem_of_an_add_is_listed_and_nothing_is_added(registry_env, capsys) -> None:
    status, _, err = run(
        capsys, "add", "x", "--domain", "nodot", "--set", "secret_key=abc", "--set", "force_authn=maybe"
    )
    assert status == 1
    assert "--set 'secret_key=abc'" in err and "not an e-mail domain: 'nodot'" in err
    assert "SAML_FORCE_AUTHN: expected true or false" in err
    assert open_registry(registry_env).all() == []


def test_a_domain_of_another_connection_is_refused_naming_its_owner(registry_env, capsys) -> None:
    run(capsys, "add", "acme", "--domain", "acme.com")
    status, _, err = run(capsys, "add", "rival", "--domain", "ACME.com")
    assert status == 1 and "domain acme.com belongs to connection acme" in err
    status, _, err = run(capsys, "add", "acme", "--domain", "other.com")
    assert status == 1 and "connection acme exists" in err


def test_update_changes_only_what_is_given(registry_env, capsys) -> None:
    run(capsys, "add", "acme", "--name", "Acme", "--domain", "acme.com", "--metadata-url", "https://idp/md",
        "--set", "force_authn=true")  # fmt: skip
    status, out, _ = run(capsys, "update", "acme", "--domain", "acme.com", "--domain", "acme.co.uk",
                         "--name", "Acme Corp", "--unset", "force_authn")  # fmt: skip
    assert status == 0 and "updated acme (Acme Corp)" in out
    acme = open_registry(registry_env).get("acme")
    assert acme.domains == ("acme.com", "acme.co.uk") and acme.idp_metadata_url == "https://idp/md"
    assert dict(acme.settings) == {}
    assert run(capsys, "update", "nobody", "--name", "x")[0] == 1


def test_disable_and_enable_switch_sso_and_enable_needs_an_idp(registry_env, capsys) -> None:
    run(capsys, "add", "acme", "--domain", "acme.com", "--metadata-url", "https://idp/md")
    assert run(capsys, "disable", "acme")[1] == "acme: SSO disabled\n"
    assert open_registry(registry_env).get("acme").enabled is False
    assert run(capsys, "enable", "acme")[0] == 0 and open_registry(registry_env).get("acme").enabled
    run(capsys, "add", "new", "--domain", "new.com", "--disabled")
    status, _, err = run(capsys, "enable", "new")
    assert status == 1 and "has no IdP yet" in err and open_registry(registry_env).get("new").enabled is False


def test_remove(registry_env, capsys) -> None:
    run(capsys, "add", "acme", "--domain", "acme.com")
    assert run(capsys, "remove", "acme")[:2] == (0, "removed acme\n")
    status, _, err = run(capsys, "remove", "acme")
    assert status == 1 and "no connection 'acme'" in err


def test_export_then_import_round_trips_into_another_registry(registry_env, capsys, env, monkeypatch) -> None:
    run(capsys, "add", "acme", "--name", "Acme", "--domain", "acme.com", "--host", "acme.app.test",
        "--metadata-url", "https://idp/md", "--set", "allow_idp_initiated=true")  # fmt: skip
    run(capsys, "add", "globex", "--domain", "globex.com", "--disabled")
    status, exported, _ = run(capsys, "export")
    assert status == 0 and [r["id"] for r in json.loads(exported)] == ["acme", "globex"]
    dump = env / "connections.json"
    dump.write_text(exported)
    other = f"sqlite:///{env / 'other.db'}"
    status, out, _ = run(capsys, "import", str(dump), "--connections", other)
    assert status == 0 and "imported 2 connections (2 new, 0 replaced)" in out
    again = json.loads(run(capsys, "export", "--connections", other)[1])
    strip = [{**r, "updated_at": 0} for r in json.loads(exported)]
    assert [{**r, "updated_at": 0} for r in again] == strip
    assert run(capsys, "list", "--json", "--connections", other)[1].count('"id"') == 2


def test_import_is_all_or_nothing_and_lists_every_problem(registry_env, capsys, env) -> None:
    run(capsys, "add", "acme", "--domain", "acme.com")
    bad = env / "bad.json"
    bad.write_text(json.dumps([
        {"id": "ok", "domains": ["ok.com"]},
        {"id": "Bad Id"},
        {"id": "dup", "colour": "red"},
        {"id": "rival", "domains": ["acme.com"]},
    ]))  # fmt: skip
    status, _, err = run(capsys, "import", str(bad))
    assert status == 1 and "record 2" in err and "record 3: dup: unknown connection fields: colour" in err
    clash = env / "clash.json"
    clash.write_text(
        json.dumps([{"id": "ok", "domains": ["ok.com"]}, {"id": "rival", "domains": ["acme.com"]}])
    )
    status, _, err = run(capsys, "import", str(clash))
    assert status == 1 and "domain acme.com belongs to connection acme" in err
    assert [c.id for c in open_registry(registry_env).all()] == ["acme"]  # "ok" was not imported either
    assert run(capsys, "import", str(env / "missing.json"))[0] == 1


def test_a_file_registry_is_read_only(env, capsys, monkeypatch) -> None:
    path = env / "connections.json"
    path.write_text('[{"id": "acme", "domains": ["acme.com"]}]')
    monkeypatch.setenv("SAML_CONNECTIONS", f"file:{path}")
    status, _, err = run(capsys, "add", "globex", "--domain", "globex.com")
    assert status == 1 and "read-only: edit the file" in err
    assert "acme" in run(capsys, "list")[1]


def test_no_registry_is_a_usage_error(env, capsys) -> None:
    status, _, err = run(capsys, "list")
    assert status == 2 and "set SAML_CONNECTIONS" in err
    with pytest.raises(SystemExit) as exit_:
        main(["connections", "add"])
    assert exit_.value.code == 2


def test_an_unreachable_database_is_reported_without_its_password(env, capsys, monkeypatch) -> None:
    from ..support.processes import free_port

    url = f"postgresql://saml:pg-secret-77@127.0.0.1:{free_port()}/app"
    status, out, err = run(capsys, "list", "--connections", url)
    assert status == 1 and "127.0.0.1" in err and "Traceback" not in err
    assert "pg-secret-77" not in out + err


def test_the_registry_url_may_come_from_a_file(env, capsys, monkeypatch) -> None:
    secret = env / "connections-url"
    secret.write_text(f"sqlite:///{env / 'from-file.db'}\n")
    monkeypatch.setenv("SAML_CONNECTIONS_FILE", str(secret))
    assert run(capsys, "add", "acme", "--domain", "acme.com")[0] == 0
    assert [c.id for c in open_registry(f"sqlite:///{env / 'from-file.db'}").all()] == ["acme"]


def test_a_plain_http_metadata_url_is_refused_when_saved(registry_env, capsys) -> None:
    """Sign-in would refuse it anyway (the SSRF guard fetches https only): said at once, nothing saved."""
    status, _, err = run(capsys, "add", "acme", "--domain", "acme.com", "--metadata-url", "http://idp/md")
    assert status == 1 and "--metadata-url must start with https://" in err and "--metadata-file" in err
    assert open_registry(registry_env).get("acme") is None
