"""A newcomer's first hour: the demo (busy port, Ctrl-C, its setup page), `check`, `keygen`,
the setup page's settings table, what git ignores, and the Entra guide against the real output."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware.cli import main
from saml_middleware.devidp import auto_post_form_fields

from ..support.harness import INTEROP, SECRET
from ..support.processes import free_port, stop, wait_ready
from .test_expiry import DAY, make_cert

ROOT = Path(__file__).resolve().parents[2]
DEMO_ADMIN = "b.simon@contoso.com"  # the first user of saml_middleware/devidp/users.json


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "saml_middleware.cli", *args]


def _demo_args(port: int, idp_port: int) -> list[str]:
    return _command("demo", "--port", str(port), "--idp-port", str(idp_port), "--public-host", "127.0.0.1")


@contextmanager
def _running_demo() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``saml-middleware demo`` on free ports, ready: ``(process, app base URL)``."""
    port, idp_port = free_port(), free_port()
    proc = subprocess.Popen(
        _demo_args(port, idp_port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/saml/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_ready(proc, ready), proc.communicate(timeout=10)
        yield proc, base
    finally:
        if proc.poll() is None:
            stop(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _demo_login(browser: httpx.Client, base: str, path: str, email: str) -> httpx.Response:
    """Sign in at the demo through its dev IdP, as ``email``; the page at ``path`` afterwards."""
    to_idp = browser.get(f"{base}{path}", headers={"accept": "text/html"})
    assert to_idp.status_code == 302
    location = to_idp.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    picked = browser.post(location.split("?")[0] + "/login", data={**query, "email": email})
    action, fields = auto_post_form_fields(picked.text)
    landed = browser.post(action, data=fields)
    assert landed.status_code == 303 and landed.headers["location"] == path
    return browser.get(f"{base}{path}", headers={"accept": "text/html"})


@pytest.mark.parametrize("taken", ["--port", "--idp-port"])
def test_demo_on_a_busy_port_names_the_port_and_the_option(taken: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = (port, free_port()) if taken == "--port" else (free_port(), port)
        done = subprocess.run(_demo_args(*ports), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stdout == ""  # no URL printed for a demo that isn't up
    assert done.stderr.strip().splitlines() == [
        f"saml-middleware: port {port} on 127.0.0.1 is already in use: "
        f"choose another with {taken}, e.g. {taken} {port + 10}"
    ]


def test_demo_stops_cleanly_on_ctrl_c() -> None:
    """Also: the banner names the setup page and who may open it."""
    with _running_demo() as (proc, base):
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert out.splitlines()[-1] == "saml-middleware demo: stopped"
        assert f"setup page (sign in as {DEMO_ADMIN}): {base}/saml/setup" in out
        with pytest.raises(httpx.TransportError):  # both servers are gone
            httpx.get(f"{base}/saml/health", timeout=2)


def test_the_demo_admin_opens_the_setup_page_and_nobody_else_does() -> None:
    with _running_demo() as (_, base):
        with httpx.Client() as browser:
            home = _demo_login(browser, base, "/", DEMO_ADMIN)
            assert home.status_code == 200 and 'href="/saml/setup"' in home.text
            setup = browser.get(f"{base}/saml/setup", headers={"accept": "text/html"})
            assert setup.status_code == 200 and "<h1>SAML setup</h1>" in setup.text
            assert f"{base}/saml/acs</code>" in setup.text and f"{base}/saml/sls</code>" in setup.text
            # booleans as they are written in the environment, not Python's True/False
            assert "SAML_ALLOW_IDP_INITIATED</th><td><code>true</code>" in setup.text
            assert "<code>True</code>" not in setup.text and "<code>False</code>" not in setup.text
        with httpx.Client() as other:
            home = _demo_login(other, base, "/", "adele.vance@contoso.com")
            assert "Sign in as <strong>b.simon@contoso.com</strong> (the demo admin)" in home.text
            assert other.get(f"{base}/saml/setup", headers={"accept": "text/html"}).status_code == 403


def test_setup_page_shows_booleans_as_written_in_the_environment(make_app, browser_factory) -> None:
    app, _ = make_app(admin_emails=("b.simon@contoso.com",), allow_idp_initiated=True, allow_sha1=False)
    browser = browser_factory(app)
    browser.login("/saml/setup")
    html = browser.get("/saml/setup").text
    assert "SAML_ALLOW_IDP_INITIATED</th><td><code>true</code>" in html
    assert "SAML_ALLOW_SHA1</th><td><code>false</code>" in html
    assert not re.search(r"<code>(True|False)</code>", html)


def test_check_prints_the_logout_url_entra_asks_for(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SAML_PATH_PREFIX", "/sso")
    assert main(["check"]) == 0
    assert "  Logout URL:                http://app.test/sso/sls\n" in capsys.readouterr().out


def test_check_reports_an_expiring_certificate_once(tmp_path: Path) -> None:
    """In a real process (no pytest log handlers): the start-up log line is not repeated."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
    environ.update(
        SAML_BASE_URL="https://app.test",
        SAML_SECRET_KEY=SECRET,
        SAML_IDP_SSO_URL="https://idp.example/sso",
        SAML_IDP_ENTITY_ID="https://idp.example/",
        SAML_IDP_CERT=make_cert("Expiring IdP", time.time() + 20 * DAY)[1],
    )
    done = subprocess.run(_command("check"), capture_output=True, text=True, env=environ, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("CN=Expiring IdP") == 1
    assert done.stderr.startswith("warning: IdP signing certificate CN=Expiring IdP expires on ")


def test_keygen_prints_absolute_paths(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keygen", "--out-dir", "keys"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"^SAML_SP_KEY=(.+)$", out, re.M)
    cert = re.search(r"^SAML_SP_CERT=(.+)$", out, re.M)
    assert key and cert
    assert key[1] == str(tmp_path.resolve() / "keys" / "sp-key.pem") and Path(key[1]).is_file()
    assert cert[1] == str(tmp_path.resolve() / "keys" / "sp-cert.pem") and Path(cert[1]).is_file()


def test_git_ignores_the_files_documented_commands_make() -> None:
    """`dev-idp --key-dir .devidp` (a private key), the Django example's database, `make dist`."""
    made = [".devidp/idp-key.pem", "examples/django_project/db.sqlite3", "dist/x-py3-none-any.whl"]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.split() == made


def test_entra_guide_shows_what_check_and_verify_really_print(monkeypatch, capsys) -> None:
    guide = (ROOT / "docs" / "entra-id.md").read_text()
    # step 6: every line `check` gives for the IdP is in the guide's sample output
    for name in list(os.environ):
        if name.startswith("SAML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAML_BASE_URL", "https://app.example.com")
    monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAML_IDP_METADATA_FILE", str(INTEROP / "02_entra_ssoready_FederationMetadata.xml"))
    main(["check"])
    out = capsys.readouterr().out
    to_give = out.split("Give these to the IdP (Entra: Basic SAML Configuration):\n")[1].split("\n\n")[0]
    for line in to_give.splitlines():
        assert line in guide, line
    # step 7: the fields named for an accepted response are the ones `verify` prints
    monkeypatch.setenv("SAML_BASE_URL", "https://devpg.tercen.com")
    monkeypatch.setenv("SAML_ACS_PATH", "/_service/sso/auth/saml")
    monkeypatch.setenv("SAML_SP_ENTITY_ID", "https://devpg.tercen.com/_service/sso/auth/saml")
    monkeypatch.delenv("SAML_IDP_METADATA_FILE")
    monkeypatch.setenv("SAML_IDP_SSO_URL", "https://login.microsoftonline.com/x/saml2")
    monkeypatch.setenv("SAML_IDP_ENTITY_ID", "https://sts.windows.net/5b5c94c6-14cf-42da-85bc-4e08722b253b/")
    monkeypatch.setenv("SAML_IDP_CERT", str(INTEROP / "03_entra_tercen_signing_cert.pem"))
    args = ["verify", str(INTEROP / "03_entra_tercen_response.xml"), "--now", "2022-02-23T17:50:00Z"]
    assert main([*args, "--request-id", "id6491e192-e2d9-4970-ab03-e38ffda6e033"]) == 0
    printed = set(json.loads(capsys.readouterr().out)) - {"result"}
    step7 = guide.split("## 7.")[1].split("## 8.")[0]
    bullet = step7.split("- It prints the identity as JSON")[1].split("\n- ")[0]
    assert set(re.findall(r"`([a-z_]+)`", bullet)) == printed
    # the manual path says how signing out reaches Entra
    assert "SAML_IDP_SLO_URL=https://login.microsoftonline.com/<tenant-id>/saml2" in guide
    assert "through the Logout URL in the Federation Metadata" not in guide
