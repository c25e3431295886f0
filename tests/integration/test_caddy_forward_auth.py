"""Caddy ``forward_auth`` in front of a service, with the documented Caddyfiles (``forward_auth`` with
``copy_headers``, and its expanded form that passes the renewed session cookie on), against a real
Caddy (Debian's package) and a real ``saml-middleware proxy`` serving ``/saml/*``.

``needs("caddy")``: a missing or unstartable Caddy fails the test under ``CI=true``; elsewhere it is
skipped (tests/support/needs.py).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from ..support.needs import find_program, unavailable
from ..support.servers import CLI, ROOT, free_port, login, reply_json, server, sp_env

pytestmark = pytest.mark.needs("caddy")

EXAMPLES = ROOT / "examples" / "caddy"
JWT_SECRET = "caddy-test-jwt-secret-of-32-bytes-or-more"
#: short enough to see the session cookie renewed (every IDLE / 4 seconds) within a test
IDLE = 10


class _Recorder(BaseHTTPRequestHandler):
    """The service behind Caddy: answers every GET with its path and every header it received."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        reply_json(self, {"path": self.path, "headers": [[k, v] for k, v in self.headers.items()]})

    def log_message(self, format: str, *args: object) -> None:
        pass


def _config(tmp: Path, port: int, saml_port: int, service_port: int, example: str = "Caddyfile") -> Path:
    """The documented Caddyfile on these ports, passing X-Remote-Jwt too (SAML_JWT is on here)."""
    site = (EXAMPLES / example).read_text()
    names = "copy_headers X-Remote-User X-Remote-Email X-Remote-Name"
    name_line = "request_header X-Remote-Name {rp.header.X-Remote-Name}\n"
    jwt_line = "\t\t\t\t\trequest_header X-Remote-Jwt {rp.header.X-Remote-Jwt}\n"
    site = site.replace(names, names + " X-Remote-Jwt").replace(name_line, name_line + jwt_line)
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{saml_port}")
    site = site.replace("127.0.0.1:8080", f"127.0.0.1:{service_port}")
    site = site.replace("app.example.com {", f"http://127.0.0.1:{port} {{")
    conf = tmp / "Caddyfile"
    # no admin endpoint (its fixed port would clash between runs), no certificates
    conf.write_text("{\n\tadmin off\n\tauto_https off\n}\n\n" + site)
    return conf


@pytest.fixture(scope="module", params=["Caddyfile", "Caddyfile.expanded"])
def caddy_site(
    request: pytest.FixtureRequest, dev_idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    binary = find_program("caddy")
    assert binary is not None  # needs("caddy") found it
    tmp = tmp_path_factory.mktemp("caddy")
    port, saml_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    with ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) as service:
        threading.Thread(target=service.serve_forever, daemon=True).start()
        conf = _config(tmp, port, saml_port, service.server_address[1], request.param)
        env = sp_env(
            base,
            dev_idp,
            SAML_JWT="hs256",
            SAML_JWT_SECRET=JWT_SECRET,
            SAML_SESSION_IDLE_TIMEOUT=str(IDLE),
        )
        saml = [*CLI, "proxy", f"http://127.0.0.1:{service.server_address[1]}", "--port", str(saml_port)]
        caddy_env = {**env, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
        try:
            with (
                server(saml, f"http://127.0.0.1:{saml_port}/saml/health", tmp / "saml.txt", env=env),
                server(
                    [binary, "run", "--config", str(conf), "--adapter", "caddyfile"],
                    f"{base}/saml/health",
                    tmp / "caddy.txt",
                    env=caddy_env,
                ),
            ):
                yield base, request.param
        except AssertionError as exc:
            if "never answered" in str(exc) or "exited" in str(exc):
                unavailable(f"caddy did not start: {str(exc)[:2000]}")
            raise
        finally:
            service.shutdown()


def _received(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 200, response.text
    seen = response.json()
    headers: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return seen["path"], headers


SPOOF = {
    "X-Remote-User": "admin@contoso.com",
    "X-Remote-Email": "admin@contoso.com",
    "X-Remote-Attr-Role": "Admin",
    "X_Remote_User": "admin@contoso.com",
}


def test_a_browser_is_sent_to_the_login_and_comes_back_signed_in(caddy_site: tuple[str, str]) -> None:
    caddy_site, _ = caddy_site
    with httpx.Client(base_url=caddy_site) as browser:
        to_login = browser.get("/report?q=1", headers={"accept": "text/html"})
        assert to_login.status_code == 302
        location = to_login.headers["location"]
        assert location.startswith(f"{caddy_site}/saml/login?")
        assert parse_qs(urlsplit(location).query)["next"] == ["/report?q=1"]
        landed = login(browser, location)
        assert landed.headers["location"] == "/report?q=1"
        path, headers = _received(browser.get("/report?q=1", headers=SPOOF))
    assert path == "/report?q=1"
    # copy_headers handed the identity to the service; the client's own never arrived
    assert headers["x-remote-user"] == ["b.simon@contoso.com"]
    assert headers["x-remote-email"] == ["b.simon@contoso.com"]
    assert headers["x-remote-name"] == ["B.Simon"]
    assert "x-remote-attr-role" not in headers and "x_remote_user" not in headers
    claims = jwt.decode(headers["x-remote-jwt"][0], JWT_SECRET, algorithms=["HS256"], audience=caddy_site)
    assert claims["email"] == "b.simon@contoso.com"


def test_an_api_client_gets_401_and_never_reaches_the_service(caddy_site: tuple[str, str]) -> None:
    caddy_site, _ = caddy_site
    with httpx.Client(base_url=caddy_site) as anonymous:
        response = anonymous.get("/report", headers={"accept": "application/json", **SPOOF})
        assert response.status_code == 401
        assert response.json()["error"] == "authentication_required"
        assert "path" not in response.json()  # the service's answer never came back
        posted = anonymous.post("/report", headers={"accept": "text/html"})
        assert posted.status_code == 401  # only a GET for a page goes to the login


def test_a_forged_host_or_a_path_trick_goes_nowhere(caddy_site: tuple[str, str]) -> None:
    caddy_site, _ = caddy_site
    with httpx.Client(base_url=caddy_site) as anonymous:
        # Caddy sets X-Forwarded-Host itself: the client's is ignored (it trusts no proxy)
        forged = anonymous.get("/report", headers={"accept": "text/html", "X-Forwarded-Host": "evil.example"})
        assert forged.status_code == 302 and forged.headers["location"].startswith(caddy_site + "/saml/")
        tricked = anonymous.get("/report/..%5Cadmin", headers={"accept": "text/html"})
        assert tricked.status_code == 403 and "location" not in tricked.headers


def test_an_active_user_stays_signed_in_past_the_idle_timeout(caddy_site: tuple[str, str]) -> None:
    """Caddyfile.expanded passes on the session cookie /saml/auth renews; plain forward_auth drops it."""
    base, example = caddy_site
    with httpx.Client(base_url=base) as browser:
        login(browser, browser.get("/report", headers={"accept": "text/html"}).headers["location"])
        time.sleep(IDLE / 4 + 0.5)  # a renewal is due
        renewed = browser.get("/report")
        assert renewed.status_code == 200
        if example == "Caddyfile":  # the caveat its comment documents: the renewal never arrives
            assert "set-cookie" not in renewed.headers
            return
        assert "saml_session=" in renewed.headers.get("set-cookie", "")
        time.sleep(IDLE - IDLE / 4)  # past the idle timeout of the first cookie, not of the renewed one
        path, headers = _received(browser.get("/report"))
    assert path == "/report" and headers["x-remote-user"] == ["b.simon@contoso.com"]


@pytest.mark.parametrize("example", ["Caddyfile", "Caddyfile.expanded"])
def test_the_documented_caddyfile_is_valid(tmp_path: Path, example: str) -> None:
    binary = find_program("caddy")
    assert binary is not None
    conf = _config(tmp_path, free_port(), free_port(), free_port(), example)
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [binary, "validate", "--config", str(conf), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
