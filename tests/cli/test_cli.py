"""The saml-middleware command: metadata, check, verify, keygen, and the demo over real HTTP."""

from __future__ import annotations

import base64
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware.cli import main
from saml_middleware.devidp import auto_post_form_fields

from ..support.harness import SECRET
from ..support.interop import INTEROP


def test_metadata_prints_the_sp_metadata(env, capsys) -> None:
    assert main(["metadata"]) == 0
    out = capsys.readouterr().out
    assert 'entityID="http://app.test/saml/metadata"' in out and 'Location="http://app.test/saml/acs"' in out


def test_check_prints_what_to_paste_into_the_idp(env, capsys, idp) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Identifier (Entity ID):    http://app.test/saml/metadata" in out
    assert "Reply URL (ACS URL):       http://app.test/saml/acs" in out
    assert idp.entity_id in out and "Signing certificate:" in out and "expires" in out


def test_check_lists_every_problem_and_exits_1(env, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SAML_SECRET_KEY")
    monkeypatch.setenv("SAML_CLOCK_SKEW", "-5")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "SAML_SECRET_KEY is required" in err and "SAML_CLOCK_SKEW must not be negative" in err


def test_verify_accepts_a_good_capture_and_prints_the_identity(env, capsys, idp, clock) -> None:
    xml = idp.issue_response(
        "b.simon@contoso.com",
        acs_url="http://app.test/saml/acs",
        audience="http://app.test/saml/metadata",
        in_response_to="_req1",
    )
    capture = env / "capture.b64"
    capture.write_text(base64.b64encode(xml).decode())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 10))
    assert main(["verify", str(capture), "--now", now, "--request-id", "_req1"]) == 0
    out = capsys.readouterr().out
    assert '"email": "b.simon@contoso.com"' in out and "rsa-sha256" in out
    assert '"not_on_or_after": "' in out and f'"issuer": "{idp.entity_id}"' in out


def test_verify_explains_a_refusal_with_a_hint(env, capsys, idp, clock) -> None:
    xml = idp.issue_response(
        "b.simon@contoso.com",
        acs_url="http://app.test/saml/acs",
        audience="https://wrong.example/entity",
        in_response_to="_req1",
    )
    capture = env / "capture.xml"
    capture.write_bytes(xml)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 10))
    assert main(["verify", str(capture), "--now", now, "--request-id", "_req1"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REFUSED audience:")
    assert "hint: set the Identifier (Entity ID) in the IdP" in out


def test_verify_a_real_entra_capture(monkeypatch, capsys) -> None:
    for name in list(os.environ):
        if name.startswith("SAML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAML_BASE_URL", "https://devpg.tercen.com")
    monkeypatch.setenv("SAML_ACS_PATH", "/_service/sso/auth/saml")
    monkeypatch.setenv("SAML_SP_ENTITY_ID", "https://devpg.tercen.com/_service/sso/auth/saml")
    monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAML_IDP_SSO_URL", "https://login.microsoftonline.com/x/saml2")
    monkeypatch.setenv("SAML_IDP_ENTITY_ID", "https://sts.windows.net/5b5c94c6-14cf-42da-85bc-4e08722b253b/")
    monkeypatch.setenv("SAML_IDP_CERT", str(INTEROP / "03_entra_tercen_signing_cert.pem"))
    args = ["verify", str(INTEROP / "03_entra_tercen_response.xml"), "--now", "2022-02-23T17:50:00Z"]
    assert main([*args, "--request-id", "id6491e192-e2d9-4970-ab03-e38ffda6e033"]) == 0
    assert "test@alexandremaurelgmail.onmicrosoft.com" in capsys.readouterr().out
    assert main(args) == 1
    assert "hint: pass --request-id" in capsys.readouterr().out


def test_keygen_writes_a_private_key_only_the_owner_can_read(tmp_path: Path, capsys) -> None:
    assert main(["keygen", "--out-dir", str(tmp_path)]) == 0
    key = tmp_path / "sp-key.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "sp-cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert re.search(r"SAML_SECRET_KEY=\S{40,}", capsys.readouterr().out)
    assert main(["keygen", "--out-dir", str(tmp_path)]) == 1  # never overwrite silently


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_logs_in_over_real_http(tmp_path: Path) -> None:
    """`saml-middleware demo` as a user runs it: two real servers, a browser-like client."""
    port, idp_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "saml_middleware.cli",
            "demo",
            "--port",
            str(port),
            "--idp-port",
            str(idp_port),
            "--public-host",
            "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"open {base}/" in banner
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/saml/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with httpx.Client() as browser:
            to_idp = browser.get(f"{base}/", headers={"accept": "text/html"})
            assert to_idp.status_code == 302
            location = to_idp.headers["location"]
            assert location.startswith(f"http://127.0.0.1:{idp_port}/")
            query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            picked = browser.post(
                location.split("?")[0] + "/login", data={**query, "email": "b.simon@contoso.com"}
            )
            action, fields = auto_post_form_fields(picked.text)
            landed = browser.post(action, data=fields)
            assert landed.status_code == 303
            page = browser.get(f"{base}{landed.headers['location']}")
            assert (
                page.status_code == 200
                and "b.simon@contoso.com" in page.text
                and "Hello, B.Simon" in page.text
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _interop_env(monkeypatch: pytest.MonkeyPatch, case: tuple) -> None:
    from urllib.parse import urlsplit as split

    _, cert, acs, audience, issuer, _, _, _, options = case
    for var in list(os.environ):
        if var.startswith("SAML_"):
            monkeypatch.delenv(var)
    parts = split(acs)
    monkeypatch.setenv("SAML_BASE_URL", f"{parts.scheme}://{parts.netloc}")
    monkeypatch.setenv("SAML_ACS_PATH", parts.path or "/")
    monkeypatch.setenv("SAML_SP_ENTITY_ID", audience)
    monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAML_IDP_SSO_URL", "https://idp.example/sso")
    monkeypatch.setenv("SAML_IDP_ENTITY_ID", issuer)
    monkeypatch.setenv("SAML_IDP_CERT", str(INTEROP / cert))
    for key, value in options.items():
        monkeypatch.setenv(
            f"SAML_{key.upper()}", str(value).lower() if isinstance(value, bool) else str(value)
        )


def _cases() -> list[tuple]:
    from ..support.interop import CASES

    return CASES


@pytest.mark.parametrize("case", _cases(), ids=[c[0] for c in _cases()])
def test_verify_gives_every_interop_file_its_documented_verdict(monkeypatch, capsys, case: tuple) -> None:
    _interop_env(monkeypatch, case)
    name, _, _, _, _, request_id, freeze, expected, _ = case
    args = ["verify", str(INTEROP / name), "--now", freeze]
    if request_id:
        args += ["--request-id", request_id]
    code = main(args)
    out = capsys.readouterr().out
    if "@" in expected:
        assert code == 0 and f'"email": "{expected}"' in out.lower()
    else:
        assert code == 1 and out.startswith(f"REFUSED {expected}:")


def test_verify_tells_a_keycloak_admin_to_include_the_authn_statement(monkeypatch, capsys) -> None:
    """The Keycloak capture whose client had "Include AuthnStatement" off: refused, with the switch named."""
    case = next(c for c in _cases() if c[0].startswith("13_keycloak"))
    _interop_env(monkeypatch, case)
    args = ["verify", str(INTEROP / case[0]), "--now", case[6], "--request-id", case[5]]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert out.startswith("REFUSED authn_statement:") and "Include AuthnStatement" in out


def test_check_verifies_the_proxy_upstream(env, capsys) -> None:
    """`check --upstream URL` (proxy mode): a live upstream passes, a dead one fails the check."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        live = f"http://127.0.0.1:{server.server_address[1]}/"
        assert main(["check", "--upstream", live]) == 0
        assert f"Upstream {live}: reachable (HTTP 404)" in capsys.readouterr().out
    finally:
        server.shutdown()
        server.server_close()
    dead = f"http://127.0.0.1:{_free_port()}/"
    assert main(["check", "--upstream", dead]) == 1
    assert "NOT reachable" in capsys.readouterr().err


def test_dev_idp_takes_port_as_well_as_idp_port() -> None:
    """`demo` has --port, so users try `dev-idp --port` too: the same as --idp-port there."""
    from saml_middleware.cli import _parser

    parser = _parser()
    assert parser.parse_args(["dev-idp", "--port", "9001"]).idp_port == 9001
    assert parser.parse_args(["dev-idp", "--idp-port", "9002"]).idp_port == 9002
    assert parser.parse_args(["dev-idp"]).idp_port == 8001
    assert parser.parse_args(["demo", "--port", "9003"]).idp_port == 8001  # demo's --port is the app's
