"""nginx ``auth_request`` in front of a service, with the documented config, against a real nginx.

``needs("nginx")``: a missing or unstartable nginx fails the test under ``CI=true``; elsewhere it is
skipped (tests/support/needs.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..support.needs import find_program, unavailable
from ..support.servers import CLI, ECHO, ROOT, free_port, login, server, sp_env

pytestmark = pytest.mark.needs("nginx")

EXAMPLE = ROOT / "examples" / "nginx" / "auth_request.conf"


def _config(tmp: Path, port: int, saml_port: int, service_port: int) -> Path:
    site = EXAMPLE.read_text()
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{saml_port}")
    site = site.replace("127.0.0.1:8080", f"127.0.0.1:{service_port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temps = "".join(
        f"{name}_temp_path {tmp}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\naccess_log {tmp}/access.log;\n{temps}\n{site}\n}}\n"
    )
    return conf


@pytest.fixture
def nginx_site(dev_idp: str, tmp_path: Path) -> Iterator[str]:
    binary = find_program("nginx")
    assert binary is not None  # needs("nginx") found it
    port, saml_port, service_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    conf = _config(tmp_path, port, saml_port, service_port)
    echo = [sys.executable, str(ECHO), str(service_port)]
    saml = [*CLI, "proxy", f"http://127.0.0.1:{service_port}", "--port", str(saml_port)]
    with (
        server(echo, f"http://127.0.0.1:{service_port}/", tmp_path / "echo.txt"),
        server(
            saml,
            f"http://127.0.0.1:{saml_port}/saml/health",
            tmp_path / "saml.txt",
            env=sp_env(base, dev_idp),
        ),
    ):
        try:
            with server(
                [binary, "-p", str(tmp_path), "-c", str(conf)], f"{base}/saml/health", tmp_path / "nginx.txt"
            ):
                yield base
        except AssertionError as exc:
            error_log = tmp_path / "error.log"
            detail = f"{exc}\n{error_log.read_text() if error_log.exists() else ''}"
            unavailable(f"nginx did not start: {detail[:2000]}")


def test_nginx_auth_request_logs_in_and_passes_the_identity(nginx_site: str) -> None:
    with httpx.Client(base_url=nginx_site) as browser:
        api = browser.get("/report", headers={"accept": "application/json"})
        assert api.status_code == 302 and api.headers["location"].endswith("/saml/login?next=/report")
        to_login = browser.get("/report?q=1", headers={"accept": "text/html"})
        assert to_login.status_code == 302
        landed = login(browser, to_login.headers["location"])
        assert landed.headers["location"] == "/report?q=1"
        spoof = {
            "X-Remote-User": "admin@contoso.com",
            "X-Remote-Email": "admin@contoso.com",
            "X-Remote-Jwt": "forged.token.here",
        }
        page = browser.get("/report?q=1", headers=spoof)
        assert page.status_code == 200, page.text
        seen = page.json()
        assert seen["path"] == "/report?q=1"
        assert seen["headers"]["x-remote-user"] == "b.simon@contoso.com"
        assert seen["headers"]["x-remote-email"] == "b.simon@contoso.com"
        assert seen["headers"]["x-remote-name"] == "B.Simon"
        assert "x-remote-jwt" not in seen["headers"]  # SAML_JWT is off: nginx clears the client's


def test_the_documented_config_is_valid_nginx(tmp_path: Path) -> None:
    binary = find_program("nginx")
    assert binary is not None  # needs("nginx") found it
    conf = _config(tmp_path, free_port(), free_port(), free_port())
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _raw_get(base: str, target: str, cookie: str) -> tuple[int, bytes]:
    """A GET with the target exactly as written (httpx would normalise it)."""
    host, port = base.removeprefix("http://").split(":")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_nginx_auth_request_refuses_path_tricks_it_would_forward(nginx_site: str) -> None:
    with httpx.Client(base_url=nginx_site) as browser:
        login(browser, browser.get("/report", headers={"accept": "text/html"}).headers["location"])
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        assert _raw_get(nginx_site, "/report", cookie)[0] == 200
    for target in ("/report/..;/admin", "/report/%252e%252e/admin", "/report/..%5Cadmin", "/x%0d%0aforged"):
        for who in (cookie, ""):
            status, body = _raw_get(nginx_site, target, who)
            assert status in (400, 403), (target, status)  # 403 from /saml/auth; 400 when nginx refuses first
            assert b"x-remote-user" not in body  # the service never answered
