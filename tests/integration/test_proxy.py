"""``saml-middleware proxy URL`` in front of a non-Python-style upstream, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from saml_middleware.serve.proxy import strip_hop_by_hop

from ..support.servers import CLI, echo_upstream, free_port, login, reply_json, server, sp_env

CHUNK = bytes(range(256)) * 4096


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with echo_upstream(tmp_path_factory.mktemp("echo")) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(dev_idp: str, upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = sp_env(base, dev_idp, SAML_PUBLIC_PATHS="/public", SAML_HEADER_ATTRIBUTES="given_name")
    log = tmp_path_factory.mktemp("proxy") / "log.txt"
    with server([*CLI, "proxy", upstream, "--port", str(port)], f"{base}/saml/health", log, env=env):
        yield base


@pytest.fixture(scope="module")
def browser(proxy: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy) as client:
        landed = login(client, f"{proxy}/start")
        assert landed.headers["location"] == "/start"
        yield client


SPOOF = {
    "X-Remote-User": "admin@contoso.com",
    "x-REMOTE-email": "admin@contoso.com",
    "X-Remote-Attr-Role": "admin",
    "X-Remote-Name": "Admin",
}


def test_upstream_gets_the_identity_and_never_a_client_sent_one(browser: httpx.Client) -> None:
    seen = browser.get("/who?a=1", headers=SPOOF).json()
    assert seen["path"] == "/who?a=1"
    headers = seen["headers"]
    assert headers["x-remote-user"] == "b.simon@contoso.com"
    assert headers["x-remote-email"] == "b.simon@contoso.com"
    assert headers["x-remote-name"] == "B.Simon"
    assert headers["x-remote-attr-given-name"] == "B."
    assert "x-remote-attr-role" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"


def test_anonymous_spoofer_reaches_nothing_or_reaches_it_anonymously(proxy: str) -> None:
    with httpx.Client(base_url=proxy) as anonymous:
        assert anonymous.get("/who", headers=SPOOF).status_code == 401
        public = anonymous.get("/public/page", headers=SPOOF).json()
        assert not any(k.startswith("x-remote-") for k in public["headers"])


def test_hop_by_hop_headers_are_not_forwarded(browser: httpx.Client) -> None:
    seen = browser.get("/who", headers={"Connection": "keep-alive, X-Hop", "X-Hop": "1", "TE": "trailers"})
    assert seen.json()["hop_by_hop"] == {}
    assert "keep-alive" not in seen.headers


def test_a_large_download_streams_through_intact(browser: httpx.Client) -> None:
    digest, size = hashlib.sha256(), 0
    with browser.stream("GET", "/big?mb=24") as response:
        assert response.status_code == 200 and response.headers["content-length"] == str(24 * len(CHUNK))
        for chunk in response.iter_raw():
            digest.update(chunk)
            size += len(chunk)
    assert size == 24 * len(CHUNK)
    assert digest.hexdigest() == hashlib.sha256(CHUNK * 24).hexdigest()


def test_a_large_upload_streams_through_intact(browser: httpx.Client) -> None:
    body = CHUNK * 6
    seen = browser.post("/upload", content=body, headers={"content-type": "application/octet-stream"})
    assert seen.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_redirects_and_cookies_from_the_upstream_pass_back_intact(browser: httpx.Client) -> None:
    response = browser.get("/redirect")
    assert response.status_code == 302 and response.headers["location"] == "/landed"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/; HttpOnly", "b=2; Path=/"]


def test_upstream_down_gives_a_502_page(dev_idp: str, tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = sp_env(base, dev_idp, SAML_PUBLIC_PATHS="/public")
    args = [*CLI, "proxy", f"http://127.0.0.1:{dead}", "--port", str(port)]
    with server(args, f"{base}/saml/health", tmp_path / "log.txt", env=env):
        response = httpx.get(f"{base}/public/x")
        assert response.status_code == 502 and "Bad gateway" in response.text


class _BodyEcho(BaseHTTPRequestHandler):
    """Answers any GET with its method, path, content type and the body it received."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        received = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen = {"method": self.command, "path": self.path, "type": self.headers.get("Content-Type")}
        reply_json(self, {**seen, "body": received.decode()})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def body_echo() -> Iterator[str]:
    with ThreadingHTTPServer(("127.0.0.1", 0), _BodyEcho) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join()


def test_a_get_with_a_body_reaches_the_upstream_with_it(dev_idp: str, body_echo: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    query = {"query": {"match": {"title": "saml"}}}  # an Elasticsearch-style search
    args = [*CLI, "proxy", body_echo, "--port", str(port)]
    with (
        server(args, f"{base}/saml/health", tmp_path / "log.txt", env=sp_env(base, dev_idp)),
        httpx.Client(base_url=base) as client,
    ):
        login(client, f"{base}/")
        response = client.request("GET", "/books/_search?size=1", json=query)
        assert response.status_code == 200, response.text
        seen = response.json()
        assert json.loads(seen.pop("body")) == query
        assert seen == {"method": "GET", "path": "/books/_search?size=1", "type": "application/json"}
    log = (tmp_path / "log.txt").read_text()
    assert '- b.simon@contoso.com "GET /books/_search?size=1 HTTP/1.1" 200' in log  # access log with e-mail


def test_websockets_pass_through_for_signed_in_users(dev_idp: str, tmp_path: Path) -> None:
    from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, connect_ws

    up_port, port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    up_args = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.support.dropin_apps:ws_upstream",
        "--port",
        str(up_port),
    ]
    env = sp_env(base, dev_idp)
    args = [*CLI, "proxy", f"http://127.0.0.1:{up_port}", "--port", str(port)]
    with (
        server(up_args, f"http://127.0.0.1:{up_port}/", tmp_path / "up.txt", env=env),
        server(args, f"{base}/saml/health", tmp_path / "log.txt", env=env),
        httpx.Client(base_url=base) as client,
    ):
        with pytest.raises(WebSocketUpgradeError), connect_ws(f"{base}/ws", client):  # anonymous: refused
            pass
        login(client, f"{base}/")
        with connect_ws(f"{base}/ws", client) as ws:
            assert ws.receive_text() == "hello b.simon@contoso.com"
            ws.send_text("ping")
            assert ws.receive_text() == "PING"
            ws.send_text("bye")
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 4001


def test_strip_hop_by_hop() -> None:
    headers = [(b"Connection", b"close, X-Secret"), (b"x-secret", b"1"), (b"Proxy-Authorization", b"x")]
    headers += [(b"Keep-Alive", b"5"), (b"Transfer-Encoding", b"chunked"), (b"Accept", b"*/*")]
    assert strip_hop_by_hop(headers) == [(b"Accept", b"*/*")]
