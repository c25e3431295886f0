"""The HTTP-POST binding with real processes: ``saml-middleware dev-idp --sso-binding post
--sp-cert ...`` (metadata listing HTTP-POST only, every request's XML signature checked) in
front of ``run`` (an ASGI and a WSGI app) and ``proxy``, over real HTTP on loopback ports."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from saml_middleware.devidp import auto_post_form_fields, generate_keypair

from ..support.servers import CLI, ECHO, free_port, post_login, server, sp_env


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The SP key pair every app signs with; the dev IdP holds the certificate."""
    tmp = tmp_path_factory.mktemp("sp-keys")
    key, cert = generate_keypair("post-binding SP")
    (tmp / "sp-key.pem").write_text(key)
    (tmp / "sp-cert.pem").write_text(cert)
    return tmp / "sp-key.pem", tmp / "sp-cert.pem"


@pytest.fixture(scope="module")
def post_idp(keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev IdP, HTTP-POST only; yields its metadata URL."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("post-idp")
    args = [*CLI, "dev-idp", "--idp-port", str(port), "--public-host", "127.0.0.1"]
    args += ["--key-dir", str(tmp), "--sso-binding", "post", "--sp-cert", str(keys[1])]
    with server(args, f"http://127.0.0.1:{port}/", tmp / "log.txt"):
        banner = (tmp / "log.txt").read_text()
        url = next(w for w in banner.split() if w.endswith("federationmetadata.xml"))
        metadata = httpx.get(url).text
        assert "HTTP-POST" in metadata and "HTTP-Redirect" not in metadata
        yield url


def _serve(
    command: list[str], post_idp: str, keys: tuple[Path, Path]
) -> tuple[list[str], str, dict[str, str]]:
    """The command line, base URL and environment of a wrapped app signing with ``keys``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = sp_env(base, post_idp, SAML_SP_KEY=str(keys[0]), SAML_SP_CERT=str(keys[1]))
    return [*CLI, *command, "--port", str(port)], base, env


@pytest.mark.parametrize(
    "target", ["tests.support.dropin_apps:asgi_app", "tests.support.dropin_apps:wsgi_app"]
)
def test_run_logs_in_and_out_by_post(
    target: str, post_idp: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    args, base, env = _serve(["run", target], post_idp, keys)
    with server(args, f"{base}/saml/health", tmp_path / "run.log", env=env), httpx.Client() as browser:
        landed = post_login(browser, f"{base}/whoami?x=1")
        assert landed.headers["location"] == "/whoami?x=1"
        page = browser.get(f"{base}/whoami", headers={"accept": "application/json"})
        assert page.status_code == 200 and page.json()["user"] == "b.simon@contoso.com"
        out = browser.post(f"{base}/saml/logout")
        assert out.status_code == 200 and "content-security-policy" in out.headers
        action, fields = auto_post_form_fields(out.text)
        assert b"LogoutRequest" in base64.b64decode(fields["SAMLRequest"])
        at_idp = browser.post(action, data=fields)  # its signature checked by the IdP
        assert at_idp.status_code == 200 and "You have signed out" in at_idp.text
        after = browser.get(f"{base}/whoami", headers={"accept": "application/json"})
        assert after.status_code == 401


def test_proxy_logs_in_by_post(post_idp: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    args, base, env = _serve(["proxy", upstream], post_idp, keys)
    with (
        server([sys.executable, str(ECHO), str(upstream_port)], f"{upstream}/", tmp_path / "echo.log"),
        server(args, f"{base}/saml/health", tmp_path / "proxy.log", env=env),
        httpx.Client() as browser,
    ):
        landed = post_login(browser, f"{base}/reports")
        assert landed.headers["location"] == "/reports"
        seen = browser.get(f"{base}/reports").json()
        assert seen["path"] == "/reports" and seen["headers"]["x-remote-user"] == "b.simon@contoso.com"
