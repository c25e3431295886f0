"""Access rules over the real ``run`` (ASGI and WSGI apps) and ``proxy`` commands on uvicorn, with a
real dev IdP process: each rule kind, path tricks over a raw socket, the groups overage,
``X-Remote-Groups`` to the upstream, and a step-up login (ForceAuthn) on the wall clock."""

from __future__ import annotations

import json
import socket
import threading
import time
from base64 import b64decode
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zlib import decompress

import httpx
import pytest

from saml_middleware.devidp import auto_post_form_fields

from ..support.servers import CLI, free_port, login, reply_json, server, sp_env

FINANCE = "5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"  # b.simon, adele.vance
SALES = "9a8b7c6d-5e4f-4a3b-8c2d-bb22cc33dd02"  # adele.vance, megan.bowen (role Admin)
STEP_UP = 6  # seconds: max_auth_age of /settings, on the wall clock of the real server
RULES = f"""
[[rule]]
path = "/admin"
roles = ["Admin"]

[[rule]]
path = "/finance"
groups = ["{FINANCE}"]

[[rule]]
path = "/settings"
anyone = true
max_auth_age = {STEP_UP}

[[rule]]
path = "/"
domains = ["contoso.com"]
"""
USERS = [
    {"email": "b.simon@contoso.com", "groups": [FINANCE]},
    {"email": "megan.bowen@contoso.com", "groups": [SALES], "extra": {
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["Admin"]}},
    {"email": "big.group@contoso.com", "extra": {
        "http://schemas.microsoft.com/claims/groups.link": ["https://graph.microsoft.com/v1.0/x"]}},
]  # fmt: skip


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    records: list[dict[str, Any]]

    def do_GET(self) -> None:
        self.records.append({"path": self.path, "headers": dict(self.headers.items())})
        reply_json(self, {"path": self.path})

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    mode: str
    base: str
    upstream: list[dict[str, Any]] = field(default_factory=list)

    def raw(self, target: bytes, cookie: bytes) -> int:
        """One GET exactly as written (httpx would normalise the path); the status."""
        port = urlsplit(self.base).port or 80
        request = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        request += b"Accept: application/json\r\nCookie: " + cookie + b"\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return int(data.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    tmp = tmp_path_factory.mktemp("access-servers")
    (tmp / "access.toml").write_text(RULES)
    (tmp / "users.json").write_text(json.dumps(USERS))
    with ExitStack() as stack:
        idp_port = free_port()
        args = [*CLI, "dev-idp", "--idp-port", str(idp_port), "--public-host", "127.0.0.1"]
        args += ["--key-dir", str(tmp), "--users", str(tmp / "users.json")]
        stack.enter_context(server(args, f"http://127.0.0.1:{idp_port}/", tmp / "idp.log"))
        banner = (tmp / "idp.log").read_text()
        metadata = next(w for w in banner.split() if w.endswith("federationmetadata.xml"))
        out: dict[str, Site] = {}
        for mode in ("proxy", "run-asgi", "run-wsgi"):
            port = free_port()
            site = Site(mode, f"http://127.0.0.1:{port}")
            if mode == "proxy":
                handler = type("Recorder", (_Recorder,), {"records": site.upstream})
                httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
                threading.Thread(target=httpd.serve_forever, daemon=True).start()
                stack.callback(httpd.server_close)
                stack.callback(httpd.shutdown)
                args = [*CLI, "proxy", f"http://127.0.0.1:{httpd.server_address[1]}"]
            else:
                args = [*CLI, "run", f"tests.support.dropin_apps:path_{mode.removeprefix('run-')}_app"]
            env = sp_env(site.base, metadata, SAML_ACCESS_RULES=str(tmp / "access.toml"))
            log = tmp / f"{mode}.log"
            stack.enter_context(
                server([*args, "--port", str(port)], f"{site.base}/saml/health", log, env=env)
            )
            out[mode] = site
        yield out


@pytest.fixture(params=["proxy", "run-asgi", "run-wsgi"])
def site(request: pytest.FixtureRequest, sites: dict[str, Site]) -> Site:
    return sites[str(request.param)]


@contextmanager
def _browser(site: Site, email: str) -> Iterator[httpx.Client]:
    """A browser signed in as ``email`` (its own cookie jar)."""
    with httpx.Client(base_url=site.base) as browser:
        login(browser, f"{site.base}/start", email)
        yield browser


def _cookie(browser: httpx.Client) -> bytes:
    return "; ".join(f"{k}={v}" for k, v in browser.cookies.items()).encode()


def test_each_rule_kind_over_real_servers(site: Site) -> None:
    with _browser(site, "b.simon@contoso.com") as simon, _browser(site, "megan.bowen@contoso.com") as megan:
        site.upstream.clear()
        refused = simon.get("/admin/x", headers={"accept": "text/html"})
        assert (
            refused.status_code == 403 and "needs role Admin" in refused.text and "Sign out" in refused.text
        )
        assert simon.get("/admin", headers={"accept": "application/json"}).json()["error"] == "forbidden"
        assert site.upstream == []  # the proxy's upstream never saw it
        assert megan.get("/admin/x").status_code == 200
        assert simon.get("/finance").status_code == 200  # a group rule
        assert megan.get("/finance").status_code == 403
        assert simon.get("/other").status_code == 200  # the domain rule


def test_path_tricks_over_a_raw_socket(site: Site) -> None:
    with _browser(site, "b.simon@contoso.com") as simon:
        cookie = _cookie(simon)
        site.upstream.clear()
        for target in (b"//admin", b"/ADMIN", b"/x/../admin", b"/%61dmin/", b"/admin;x=1", b"/x/..%2Fadmin"):
            assert site.raw(target, cookie) in (400, 403), target
        assert site.upstream == []
        assert site.raw(b"/x//../admin", cookie) == 200  # /x/admin once canonical


def test_groups_overage_and_x_remote_groups(sites: dict[str, Site]) -> None:
    proxy = sites["proxy"]
    with _browser(proxy, "big.group@contoso.com") as big:
        answer = big.get("/finance")
        assert answer.status_code == 403 and answer.json()["reason"] == "groups_overage"
    with _browser(proxy, "megan.bowen@contoso.com") as megan:
        proxy.upstream.clear()
        assert megan.get("/admin", headers={"X-Remote-Groups": FINANCE}).status_code == 200
        headers = {k.lower(): v for k, v in proxy.upstream[-1]["headers"].items()}
        assert headers["x-remote-groups"] == SALES  # the forged value was stripped


def test_step_up_over_real_servers(site: Site) -> None:
    with _browser(site, "b.simon@contoso.com") as simon:
        assert simon.get("/settings").status_code == 200
        time.sleep(STEP_UP + 1.5)
        api = simon.get("/settings", headers={"accept": "application/json"})
        assert api.status_code == 401 and api.json()["error"] == "step_up_required"
        to_idp = simon.get("/settings", headers={"accept": "text/html"})
        assert to_idp.status_code == 302
        location = to_idp.headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert b'ForceAuthn="true"' in decompress(b64decode(query["SAMLRequest"]), -15)
        picked = simon.post(location.split("?")[0] + "/login", data={**query, "email": "b.simon@contoso.com"})
        action, fields = auto_post_form_fields(picked.text)
        landed = simon.post(action, data=fields)
        assert landed.status_code == 303 and landed.headers["location"] == "/settings"
        assert simon.get("/settings").status_code == 200


def test_no_server_error(sites: dict[str, Site], tmp_path_factory: pytest.TempPathFactory) -> None:
    for path in Path(tmp_path_factory.getbasetemp()).glob("access-servers*/*.log"):
        text = path.read_text()
        assert "Traceback" not in text and "Exception in ASGI application" not in text, text[-2000:]
