"""First-contact mistakes that used to pass ``check`` or give unhelpful messages.

Each one is now an error or a warning that names the fix, in ``Settings`` (so the app refuses
to start) and in ``saml-middleware check``.
"""

from __future__ import annotations

import base64
import http.server
import logging
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from saml_middleware import ConfigError, SAMLMiddleware, Settings
from saml_middleware.cli import main
from saml_middleware.devidp import generate_keypair

from ..support.harness import APP, SECRET
from ..support.processes import free_port

BASE = {"SAML_BASE_URL": "https://app.example.com", "SAML_SECRET_KEY": SECRET}


def _problems(**env: str) -> str:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, **env})
    return "\n".join(info.value.problems)


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("/static /health", "separate paths with commas: /static,/health"),
        ("/static;/health", "separate paths with commas: /static,/health"),
        ("/static/*", "a path already covers everything below it: write /static"),
        ("https://app.example.com/static", "is a URL; give only its path: /static"),
        ('["/static", "/health"]', "not JSON: e.g. SAML_PUBLIC_PATHS=/static,/health"),
    ],
)
def test_public_paths_that_mean_something_else_are_refused(value: str, fix: str) -> None:
    assert fix in _problems(SAML_PUBLIC_PATHS=value)


def test_the_whole_app_public_is_a_warning_naming_the_fix(clean_env, monkeypatch, capsys) -> None:
    for value in ("/", "/static,//"):
        monkeypatch.setenv("SAML_PUBLIC_PATHS", value)
        assert main(["check"]) == 0
        err = capsys.readouterr().err
        assert "warning: SAML_PUBLIC_PATHS lists '/', which makes every page public" in err
        assert "list only the public prefixes (e.g. SAML_PUBLIC_PATHS=/static,/health)" in err
        assert "to turn sign-in off, set SAML_ENABLED=false instead" in err


def test_public_path_prefixes_are_still_accepted() -> None:
    settings = Settings.from_env({**BASE, "SAML_PUBLIC_PATHS": "/static, /health/,favicon.ico"})
    assert settings.public_paths == ("/static", "/health/", "/favicon.ico")


def test_a_base_url_with_a_path_is_refused_with_the_settings_that_work() -> None:
    text = _problems(SAML_BASE_URL="https://host.example.com/myapp")
    assert "SAML_BASE_URL must be the site's origin without a path" in text
    assert "SAML_BASE_URL=https://host.example.com and SAML_PATH_PREFIX=/myapp/saml" in text
    assert Settings.from_env({**BASE, "SAML_BASE_URL": "https://host.example.com/"}).acs_url == (
        "https://host.example.com/saml/acs"
    )


@pytest.fixture
def clean_env(env, monkeypatch):
    """``env`` (a complete configuration on the dev IdP) with an https base URL: no warnings."""
    monkeypatch.setenv("SAML_BASE_URL", "https://app.example.com")
    return env


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("SAML_ALLOWED_DOMAIN", "SAML_ALLOWED_DOMAINS"),
        ("SAML_PUBLIC_PATH", "SAML_PUBLIC_PATHS"),
        ("SAML_ADMIN_EMAIL", "SAML_ADMIN_EMAILS"),
        ("SAML_IDP_METADATA_URL_FILE_X", "SAML_IDP_METADATA_URL_FILE"),
    ],
)
def test_check_names_the_variable_a_misspelling_meant(clean_env, monkeypatch, capsys, name, meant) -> None:
    monkeypatch.setenv(name, "contoso.com")
    assert main(["check"]) == 0  # a warning, the configuration is otherwise valid
    err = capsys.readouterr().err
    assert f"warning: {name} is not a saml-middleware variable and is ignored: did you mean {meant}?" in err


def test_a_misspelled_idp_variable_is_named_beside_the_to_do(clean_env, monkeypatch, capsys) -> None:
    metadata = monkeypatch.delenv("SAML_IDP_METADATA_FILE") or str(clean_env / "FederationMetadata.xml")
    monkeypatch.setenv("SAML_IDP_METADATA_FLE", metadata)
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert "did you mean SAML_IDP_METADATA_FILE?" in captured.err and "To do" in captured.out


def test_a_misspelling_is_named_beside_the_error_it_causes(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SAML_SECRET_KEY")
    monkeypatch.setenv("SAML_SECRETKEY", SECRET)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert (
        "SAML_SECRETKEY is not a saml-middleware variable and is ignored: did you mean SAML_SECRET_KEY?"
        in err
    )
    assert "SAML_SECRET_KEY is required" in err


def test_unknown_variables_are_logged_once_at_start_up(idp, monkeypatch, caplog) -> None:
    monkeypatch.setenv("SAML_HEADER_USR", "X-User")
    settings = Settings(
        base_url="https://app.example.com", secret_key=SECRET, idp_metadata=idp.metadata_xml().decode()
    )
    with caplog.at_level(logging.WARNING, logger="saml_middleware"):
        SAMLMiddleware(lambda *a: None, settings=settings)  # type: ignore[arg-type]
        SAMLMiddleware(lambda *a: None, settings=settings)  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records if "SAML_HEADER_USR" in r.getMessage()]
    assert lines == [
        "SAML configuration: SAML_HEADER_USR is not a saml-middleware variable and is ignored: "
        "did you mean SAML_HEADER_USER?"
    ]


def test_plain_http_is_a_warning_except_on_loopback(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SAML_BASE_URL", "http://app.example.com")
    assert main(["check"]) == 0
    assert "SAML_BASE_URL 'http://app.example.com' is plain http" in capsys.readouterr().err
    for local in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        monkeypatch.setenv("SAML_BASE_URL", local)
        assert main(["check"]) == 0
        assert "plain http" not in capsys.readouterr().err


@pytest.mark.needs("redis-server")
def test_check_pings_the_store(clean_env, monkeypatch, capsys, redis_server) -> None:
    monkeypatch.setenv("SAML_STORE_URL", redis_server.url)
    assert main(["check"]) == 0
    capsys.readouterr()
    closed = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("SAML_STORE_URL", closed)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    port = closed.rsplit(":", 1)[1]
    assert f"SAML_STORE_URL=redis://:***@127.0.0.1:{port}: the store does not answer" in err
    assert "hunter2" not in err


# -- messages that name the problem ---------------------------------------------------------------

CERT = generate_keypair("test IdP")[1]
BODY = "".join(CERT.strip().splitlines()[1:-1])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (CERT.replace("\n", "\\n"), "this looks like PEM text whose line breaks were written as \\n"),
        (CERT.split("\n", 1)[1], "the PEM text lacks its '-----BEGIN ...-----' line: copy the whole file"),
        (CERT[:300], "the PEM text stops before its '-----END ...-----' line (cut off?): copy"),
        (CERT[:200] + "\n-----END CERTIFICATE-----", "the certificate does not decode to a whole X.509"),
        (generate_keypair()[0], "this is a PEM 'PRIVATE KEY', not a certificate"),
    ],
)
def test_a_badly_pasted_certificate_is_named_not_echoed(value: str, message: str) -> None:
    text = _problems(
        SAML_IDP_SSO_URL="https://login.microsoftonline.com/t/saml2",
        SAML_IDP_ENTITY_ID="https://sts.windows.net/t/",
        SAML_IDP_CERT=value,
    )
    assert f"SAML_IDP_CERT: {message}" in text
    assert BODY[40:80] not in text and len(text) < 400  # no 1 KB of base64 echoed back


def test_a_certificate_given_as_its_base64_body_is_accepted() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "SAML_IDP_SSO_URL": "https://login.microsoftonline.com/t/saml2",
            "SAML_IDP_ENTITY_ID": "https://sts.windows.net/t/",
            "SAML_IDP_CERT": BODY,
        }
    )
    assert settings.idp_cert == (CERT,)


def test_a_key_with_literal_newlines_is_named() -> None:
    key, cert = generate_keypair()
    text = _problems(SAML_SP_KEY=key.replace("\n", "\\n"), SAML_SP_CERT=cert)
    assert (
        "SAML_SP_KEY / SAML_SP_CERT: this looks like PEM text whose line breaks were written as \\n" in text
    )


def test_a_refused_metadata_url_is_named(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SAML_IDP_METADATA_FILE")
    url = f"http://127.0.0.1:{free_port()}/federationmetadata.xml"
    monkeypatch.setenv("SAML_IDP_METADATA_URL", url)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert f"SAML_IDP_METADATA_URL: cannot load the IdP metadata from {url}: cannot connect" in err
    assert "check the host name and that this machine can reach it" in err


@pytest.fixture
def not_found_server():
    """A real HTTP server on loopback that answers 404 to everything."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args) -> None: ...

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_metadata_url_answering_404_names_the_status_and_the_fix(
    clean_env, monkeypatch, capsys, not_found_server
) -> None:
    monkeypatch.delenv("SAML_IDP_METADATA_FILE")
    url = f"{not_found_server}/federationmetadata.xml?appid=x"
    monkeypatch.setenv("SAML_IDP_METADATA_URL", url)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "the server answered HTTP 404: copy the whole App Federation Metadata Url again" in err
    assert "developer.mozilla.org" not in err  # httpx's second line would break the list


def test_a_metadata_url_without_a_scheme_says_so(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SAML_IDP_METADATA_FILE")
    monkeypatch.setenv("SAML_IDP_METADATA_URL", "login.microsoftonline.com/t/federationmetadata.xml")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "login.microsoftonline.com/t/federationmetadata.xml: not an http(s) URL: give the whole URL" in err


def test_a_wrong_idp_entity_id_shows_the_metadatas(clean_env, monkeypatch, capsys, idp) -> None:
    monkeypatch.setenv("SAML_IDP_ENTITY_ID", "https://sts.windows.net/another-tenant/")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert f"the metadata's IdP entityID is '{idp.entity_id}'" in err
    assert "set SAML_IDP_ENTITY_ID to it, or leave it unset" in err


def test_verify_on_a_missing_file_is_one_line(env, capsys, tmp_path: Path) -> None:
    assert main(["verify", str(tmp_path / "nope.b64")]) == 1
    err = capsys.readouterr().err
    assert err == f"verify: cannot read {str(tmp_path / 'nope.b64')!r}: No such file or directory\n"


@pytest.mark.parametrize("form", ["field", "value"])
def test_verify_decodes_a_url_encoded_paste(env, capsys, idp, clock, form: str) -> None:
    xml = idp.issue_response(
        "b.simon@contoso.com",
        acs_url=f"{APP}/saml/acs",
        audience=f"{APP}/saml/metadata",
        in_response_to="_r1",
    )
    encoded = quote(base64.b64encode(xml).decode(), safe="")
    assert "%2B" in encoded or "%2F" in encoded or "%3D" in encoded
    capture = env / "capture.txt"
    capture.write_text(f"SAMLResponse={encoded}&RelayState=abc" if form == "field" else encoded)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 10))
    assert main(["verify", str(capture), "--now", now, "--request-id", "_r1"]) == 0
    captured = capsys.readouterr()
    assert '"email": "b.simon@contoso.com"' in captured.out
    assert "note:" in captured.err and ("URL-encoded" in captured.err)
