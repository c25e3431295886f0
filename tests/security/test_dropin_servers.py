"""Hostile request targets, paths, framing and headers against the real ``proxy`` and ``run``
commands, on uvicorn with both HTTP parsers (``--http h11`` and ``--http httptools``).

Requests go over a raw socket (httpx would normalise the targets under test). The upstream of
``proxy`` and a second "internal service" record every request they get, which proves what
never reached them; the apps ``run`` serves answer with the path they were handed. One server
per mode and parser serves all of a test module's cases.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support.servers import CLI, free_port, login, reply_json, server, sp_env
from .test_dropin_paths import BAD_PATHS, ENCODED_SEPARATORS, PUBLIC_DOT

PARSERS = ["h11", "httptools"]
#: uvicorn's own answer when its parser refuses a request (a 400 too, before any app)
PARSER_REFUSAL = b"Invalid HTTP request received."


class _Recorder(BaseHTTPRequestHandler):
    """Records every request (method, path, header pairs) and answers 200 with a secret."""

    protocol_version = "HTTP/1.1"
    records: list[dict[str, Any]]

    def _any(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        self.records.append({"method": self.command, "path": self.path, "headers": self.headers.items()})
        reply_json(self, {"path": self.path, "secret": "SECRET-FILE"}, body=self.command != "HEAD")

    do_GET = do_HEAD = do_POST = do_OPTIONS = do_CONNECT = _any

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    port: int
    log: Path
    cookie: bytes = b""
    upstream: list[dict[str, Any]] = field(default_factory=list)
    internal: list[dict[str, Any]] = field(default_factory=list)
    internal_port: int = 0

    def send(self, method: str, target: str | bytes, *headers: str, signed_in: bool = False) -> Response:
        """One request exactly as written, on its own connection; the parsed answer."""
        lines = [
            method.encode() + b" " + (target if isinstance(target, bytes) else target.encode()) + b" HTTP/1.1"
        ]
        if not any(h.lower().startswith("host:") for h in headers):
            lines.append(b"Host: 127.0.0.1:%d" % self.port)
        if not any(h.lower().startswith("connection:") for h in headers):
            lines.append(b"Connection: close")
        lines += [h.encode("latin-1") for h in headers]
        if signed_in:
            lines.append(b"Cookie: " + self.cookie)
        body = b""
        if method == "POST" and not any(
            h.lower().startswith(("content-length", "transfer-encoding")) for h in headers
        ):
            lines.append(b"Content-Length: 3")
            body = b"a=1"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, content = data.partition(b"\r\n\r\n")
        return Response(int(head.split(b" ", 2)[1]), content)


@dataclass
class Response:
    status: int
    body: bytes

    def refused(self, status: int, reason: str) -> bool:
        """The middleware's refusal with ``reason``, or uvicorn's parser refusing first (400)."""
        if status == 400 and self.body == PARSER_REFUSAL:
            return self.status == 400
        return self.status == status and json.loads(self.body)["error"] == reason


def _signed_in(base: str) -> bytes:
    with httpx.Client(base_url=base) as browser:
        login(browser, f"{base}/start")
        return "; ".join(f"{k}={v}" for k, v in browser.cookies.items()).encode()


class Sites:
    """Servers started on first use and kept until the module ends (one per mode and parser)."""

    def __init__(self, dev_idp: str, tmp: pytest.TempPathFactory, stack: ExitStack) -> None:
        self.dev_idp, self.tmp, self.stack = dev_idp, tmp, stack
        self.started: dict[tuple[str, str], Site] = {}

    def get(self, mode: str, parser: str) -> Site:
        if (mode, parser) not in self.started:
            self.started[mode, parser] = self._start(mode, parser)
        return self.started[mode, parser]

    def _start(self, mode: str, parser: str) -> Site:
        site = Site(free_port(), self.tmp.mktemp(mode) / "log.txt")
        base = f"http://127.0.0.1:{site.port}"
        if mode == "proxy":
            upstream_port = self._recorder(site.upstream)
            site.internal_port = self._recorder(site.internal)
            args = [*CLI, "proxy", f"http://127.0.0.1:{upstream_port}"]
        else:
            args = [*CLI, "run", f"tests.support.dropin_apps:path_{mode.removeprefix('run-')}_app"]
        args += ["--port", str(site.port), "--http", parser]
        env = sp_env(base, self.dev_idp, SAML_PUBLIC_PATHS="/public")
        self.stack.enter_context(server(args, f"{base}/saml/health", site.log, env=env))
        site.cookie = _signed_in(base)
        site.upstream.clear()  # the login's landing page
        return site

    def _recorder(self, records: list[dict[str, Any]]) -> int:
        handler = type("Recorder", (_Recorder,), {"records": records})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.stack.callback(httpd.server_close)
        self.stack.callback(httpd.shutdown)
        return int(httpd.server_address[1])


@pytest.fixture(scope="module")
def sites(dev_idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    with ExitStack() as stack:
        yield Sites(dev_idp, tmp_path_factory, stack)


@pytest.fixture(params=[(m, p) for m in ("proxy", "run-asgi", "run-wsgi") for p in PARSERS], ids="-".join)
def site(request: pytest.FixtureRequest, sites: Sites) -> Iterator[Site]:
    yield sites.get(*request.param)
    _no_server_error(sites.get(*request.param))


@pytest.fixture(params=PARSERS)
def proxy_site(request: pytest.FixtureRequest, sites: Sites) -> Iterator[Site]:
    yield sites.get("proxy", request.param)
    _no_server_error(sites.get("proxy", request.param))


def _no_server_error(site: Site) -> None:
    """No request of the test made the server fail (a 500, an exception in the app or proxy)."""
    log = site.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def _untouched(site: Site) -> None:
    assert site.upstream == [] and site.internal == [], "a refused request reached a service"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_a_public_prefix_never_opens_another_path(site: Site, method: str) -> None:
    for target in [*PUBLIC_DOT, *ENCODED_SEPARATORS]:
        answer = site.send(method, target)
        assert answer.status == 401, (target, answer)
        assert b"SECRET" not in answer.body and b'"kind"' not in answer.body
    _untouched(site)


def test_malformed_paths_and_targets_are_refused(site: Site) -> None:
    internal = f"127.0.0.1:{site.internal_port or 1}"
    cases: list[tuple[str, bytes, str]] = [("GET", t, "bad_path") for t in BAD_PATHS]
    cases += [("GET", b"/public\\..\\private\\secret.txt", "bad_path"), ("GET", b"/x%zz", "bad_path")]
    for target in (f"@{internal}/x", "*", "%2Fpublic/x", internal):
        cases.append(("GET", target.encode(), "bad_request_target"))
    cases += [("OPTIONS", b"*", "bad_request_target"), ("CONNECT", internal.encode(), "bad_request_target")]
    cases += [("CONNECT", b"/public/x", "bad_request_target")]  # a tunnel, whatever the target
    for method, target, reason in cases:
        for signed_in in (False, True):
            answer = site.send(method, target, signed_in=signed_in)
            assert answer.refused(400, reason), (method, target, signed_in, answer)
    _untouched(site)


def test_ambiguous_framing_is_refused(site: Site) -> None:
    chunked = ("Content-Length: 3", "Transfer-Encoding: chunked")
    for headers in (chunked, ("Content-Length: 3", "Content-Length: 4")):
        answer = site.send("POST", "/public/upload", *headers, signed_in=True)
        assert answer.refused(400, "bad_framing"), (headers, answer)
    _untouched(site)


def test_an_absolute_form_target_never_reaches_the_host_it_names(proxy_site: Site) -> None:
    target = f"http://127.0.0.1:{proxy_site.internal_port}/public/x"
    answer = proxy_site.send("GET", target, signed_in=True)
    if answer.status == 400:  # h11 hands the whole target on: refused
        assert answer.refused(400, "bad_request_target")
    else:  # httptools reduces it to its path before the middleware sees it: judged as "/public/x"
        assert answer.status == 200 and [r["path"] for r in proxy_site.upstream] == ["/public/x"]
        proxy_site.upstream.clear()
    _untouched(proxy_site)


def test_a_line_break_in_the_path_cannot_forge_a_log_line(site: Site) -> None:
    forged = '127.0.0.1:1 - admin@contoso.com "GET /forged HTTP/1.1" 200'
    target = "/x%0d%0a" + forged.replace(" ", "%20").replace('"', "%22")
    assert site.send("GET", target).refused(400, "bad_path")
    escaped = '/x\\r\\n127.0.0.1:1 - admin@contoso.com \\"GET /forged HTTP/1.1\\" 200 HTTP/1.1" 400'
    deadline = time.monotonic() + 10  # the access log is written just after the response
    while escaped not in site.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = site.log.read_text().splitlines()
    assert any(line.endswith(escaped) for line in lines)
    assert not any(line.startswith(forged[:20]) for line in lines)


def test_the_path_judged_is_the_path_served(site: Site) -> None:
    for target in (b"/public/../private/secret.txt", b"/public/%2e%2e/private/secret.txt"):
        answer = site.send("GET", target, signed_in=True)
        assert answer.status == 200, answer
        assert json.loads(answer.body)["path"] == "/private/secret.txt"
    anonymous = site.send("GET", b"/private/%2E%2E/public/page")
    assert anonymous.status == 200 and json.loads(anonymous.body)["path"] == "/public/page"
    if site.upstream:
        assert [r["path"] for r in site.upstream] == ["/private/secret.txt"] * 2 + ["/public/page"]
        site.upstream.clear()


def test_the_proxy_refuses_encoded_separators_even_when_signed_in(proxy_site: Site) -> None:
    for target in ENCODED_SEPARATORS:
        assert proxy_site.send("GET", target, signed_in=True).refused(400, "bad_path"), target
    _untouched(proxy_site)


def test_forwarding_and_identity_headers_come_from_the_proxy_only(proxy_site: Site) -> None:
    spoof = [
        "X_Remote_User: admin@contoso.com",
        "X-Remote_Email: admin@contoso.com",
        "x_remote_attr_role: admin",
        "Forwarded: for=6.6.6.6;host=evil.example;proto=https",
        "X-Real-IP: 6.6.6.6",
        "X_Real_IP: 6.6.6.6",
        "X-Forwarded-For: 6.6.6.6",
        "X-Forwarded-Host: evil.example",
        "X_Forwarded_Host: evil.example",
        "X-Forwarded-Proto: https",
        "Host: evil.example",
        "X-Original-URL: /admin",  # IIS-style upstreams route on these: a path not judged
        "X_Rewrite_URL: /admin",
        "True-Client-IP: 6.6.6.6",
        "X-Client-IP: 6.6.6.6",
        "CF-Connecting-IP: 6.6.6.6",
    ]
    for signed_in in (True, False):
        target = "/who" if signed_in else "/public/who"
        assert proxy_site.send("GET", target, *spoof, signed_in=signed_in).status == 200
    signed, anonymous = ({k.lower(): v for k, v in r["headers"]} for r in proxy_site.upstream)
    names = [k.lower() for r in proxy_site.upstream for k, _ in r["headers"]]
    dropped = ("forwarded", "x-real-ip", "x-original-url", "x-rewrite-url", "true-client-ip", "x-client-ip")
    assert not [n for n in names if "_" in n or n in (*dropped, "cf-connecting-ip")]
    assert signed["x-remote-user"] == signed["x-remote-email"] == "b.simon@contoso.com"
    assert "x-remote-attr-role" not in signed and not any(k.startswith("x-remote-") for k in anonymous)
    for seen in (signed, anonymous):
        assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-proto"] == "http"
        assert seen["x-forwarded-host"] == f"127.0.0.1:{proxy_site.port}"  # SAML_BASE_URL's host
    proxy_site.upstream.clear()


def test_websockets_get_the_same_rules(proxy_site: Site) -> None:
    upgrade = (
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    )
    for target, signed_in in (("/public/..;/ws", True), ("/ws%2Fx", True), ("/public/../ws", False)):
        answer = proxy_site.send("GET", target, *upgrade, signed_in=signed_in)
        assert answer.status in (400, 403), (target, answer)  # refused before any upstream connection
    assert "WebSocket refused reason=bad_path" in proxy_site.log.read_text()  # the proxy's own check
    _untouched(proxy_site)
