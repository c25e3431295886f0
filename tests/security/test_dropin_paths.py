"""Hostile request targets and paths against the in-process adapters (ASGI and WSGI).

Requests are built by hand (an ASGI scope as uvicorn's h11 parser makes it; a WSGI environ
as gunicorn makes it, with ``RAW_URI``, and as wsgiref makes it, without), because httpx
would normalise the very targets under test. Every case asserts the status, the reason code
and that the wrapped app was never handed a request it should not see. The same cases over
real ``run`` and ``proxy`` servers are in ``test_dropin_servers.py``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import anyio
import pytest

from ..support.harness import Browser

PUBLIC_DOT = [
    b"/public/../private/secret.txt",
    b"/public/%2e%2e/private/secret.txt",
    b"/public/.%2E/private/secret.txt",
    b"/public/./../private/secret.txt",
]
#: never public; ASGI/WSGI keep %2F/%5C opaque for signed-in users, so anonymous ones are challenged
ENCODED_SEPARATORS = [b"/public%2F..%2Fprivate/secret.txt", b"/public/..%2fprivate", b"/public/..%5Cprivate"]
BAD_PATHS = [
    b"/public/..;/private/secret.txt",
    b"/public/.;x/private",
    b"/public/%252e%252e/private/secret.txt",
    b"/public/..%252Fprivate",
    # the same with the escape's own digits escaped: %25%32%65 is %2e once decoded (review finding)
    b"/public/%25%32%65%25%32%65/private/secret.txt",
    b"/public/..%25%32%46private",
    b"/public/..%25%35%43private",
    b"/public/..%3B/private",  # ..; with the ; escaped
    b"/public/%2e%2e%3b/private",
    b"/x%0d%0a127.0.0.1:1 - admin@contoso.com forged",
    b"/x%00",
]
BAD_TARGETS = [b"@127.0.0.1:1/x", b"http://127.0.0.1:1/x", b"*", b"%2Fpublic/x", b"127.0.0.1:1"]
CONFLICTING = [
    [(b"content-length", b"3"), (b"transfer-encoding", b"chunked")],
    [(b"content-length", b"3"), (b"content-length", b"4")],
]


def _asgi(app: Any, method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    path, _, query = target.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("app.test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _environ(method: str, path_info: str, query: str = "") -> dict[str, Any]:
    """A WSGI environ as a server that gives ``PATH_INFO`` (and no raw target) makes it."""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "app.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }


def _wsgi(
    app: Any, method: str, target: bytes, headers: list[tuple[bytes, bytes]], *, raw_uri: bool
) -> tuple[int, bytes]:
    path, _, query = target.partition(b"?")
    environ = _environ(method, unquote(path.decode("latin-1"), encoding="latin-1"), query.decode("latin-1"))
    if raw_uri:
        environ["RAW_URI"] = target.decode("latin-1")
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        key = key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text  # repeated: joined
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), body


@pytest.fixture(params=["asgi", "wsgi-raw-uri", "wsgi-decoded-only"])
def flavour(request: pytest.FixtureRequest) -> str:
    """ASGI; WSGI with the raw target (gunicorn's ``RAW_URI``); WSGI with ``PATH_INFO`` only."""
    return str(request.param)


@pytest.fixture
def adapter(flavour: str) -> str:
    return flavour.split("-")[0]


@pytest.fixture
def call(flavour: str, adapter: str) -> Callable[..., tuple[int, bytes]]:
    """``call(app, target, method="GET", headers=())``: the ASGI or WSGI app, the target as sent."""

    def run(app: Any, target: bytes, method: str = "GET", headers: Any = ()) -> tuple[int, bytes]:
        pairs = [(b"host", b"app.test"), *headers]
        if adapter == "asgi":
            return _asgi(app, method, target, pairs)
        return _wsgi(app, method, target, pairs, raw_uri=flavour == "wsgi-raw-uri")

    return run


def _cookie(browser: Browser) -> list[tuple[bytes, bytes]]:
    jar = "; ".join(f"{k}={v}" for k, v in browser.app.cookies.items())
    return [(b"cookie", jar.encode())]


@pytest.mark.parametrize("target", PUBLIC_DOT + ENCODED_SEPARATORS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_a_public_prefix_never_opens_another_path(make_app, call, target: bytes, method: str) -> None:
    app, seen = make_app()
    status, body = call(app, target, method)
    assert status == 401 and json.loads(body)["error"] == "authentication_required"
    assert seen.calls == []


@pytest.mark.parametrize("target", BAD_PATHS)
def test_malformed_paths_are_refused_with_bad_path(make_app, call, target: bytes, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    app, seen = make_app()
    status, body = call(app, target)
    assert (status, json.loads(body)) == (400, {"error": "bad_path"})
    assert seen.calls == []
    refused = [r.getMessage() for r in caplog.records if "reason=bad_path" in r.getMessage()]
    assert len(refused) == 1 and "\n" not in refused[0] and "\r" not in refused[0]


def test_a_raw_backslash_is_refused_or_at_least_never_public(make_app, call, flavour: str) -> None:
    app, seen = make_app()
    status, body = call(app, b"/public\\..\\private\\secret.txt")
    if flavour == "wsgi-decoded-only":  # PATH_INFO alone cannot tell "\\" from "%5C": kept opaque
        assert (status, json.loads(body)["error"]) == (401, "authentication_required")
    else:
        assert (status, json.loads(body)) == (400, {"error": "bad_path"})
    assert seen.calls == []


@pytest.mark.parametrize("target", BAD_TARGETS)
@pytest.mark.parametrize("flavour", ["asgi", "wsgi-raw-uri"])  # a server that gives only PATH_INFO parsed it
def test_targets_that_are_not_paths_are_refused(make_app, call, target: bytes) -> None:
    app, seen = make_app()
    status, body = call(app, target)
    assert (status, json.loads(body)) == (400, {"error": "bad_request_target"})
    assert seen.calls == []


def test_a_tunnel_request_is_refused(make_app, call) -> None:
    app, seen = make_app()
    status, body = call(app, b"/public/x", "CONNECT")
    assert (status, json.loads(body)) == (400, {"error": "bad_request_target"})
    assert seen.calls == []


@pytest.mark.parametrize("headers", CONFLICTING)
def test_ambiguous_framing_is_refused(make_app, call, headers) -> None:
    app, seen = make_app()
    status, body = call(app, b"/public/upload", "POST", headers)
    assert (status, json.loads(body)) == (400, {"error": "bad_framing"})
    assert seen.calls == []


def test_the_app_serves_the_path_that_was_judged(make_app, browser_factory, call) -> None:
    app, seen = make_app()
    assert call(app, b"/private/../public/page")[0] == 200  # public once resolved: served as such
    assert seen.calls[-1]["path"] == "/public/page" and seen.calls[-1]["user"] is None
    browser = browser_factory(app)
    browser.login("/")
    status, body = call(app, b"/public/%2e%2e/private/secret.txt", headers=_cookie(browser))
    assert status == 200 and json.loads(body)["user"] == "b.simon@contoso.com"
    assert seen.calls[-1]["path"] == "/private/secret.txt"
    status, body = call(app, b"/api/group%2Fname", headers=_cookie(browser))
    assert status == 200, "a signed-in user keeps an encoded slash (opaque, never public)"
    assert call(app, b"/public/..;/private", headers=_cookie(browser))[0] == 400
    assert call(app, b"/public/../saml/health")[0] == 200  # the canonical path decides endpoints too


@pytest.mark.parametrize("flavour", ["wsgi-raw-uri"])
def test_a_path_climbing_out_of_the_mount_point_is_refused(make_app) -> None:
    app, seen = make_app()
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app", "PATH_INFO": "/../application/x"}
    environ |= {"RAW_URI": "/app/../application/x", "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status == ["400 Bad Request"] and json.loads(body) == {"error": "bad_path"}
    assert seen.calls == []


@pytest.mark.parametrize("flavour", ["asgi"])  # WebSockets are ASGI only
def test_a_websocket_with_a_bad_path_is_closed_before_the_app(make_app) -> None:
    app, seen = make_app()
    sent: list[dict[str, Any]] = []
    scope = {"type": "websocket", "path": "/public/..;/ws", "raw_path": b"/public/..;/ws", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "bad_path"}]
    assert seen.calls == []


def test_saml_auth_refuses_an_original_uri_it_would_not_judge(make_app, browser_factory, call) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login("/")
    for who in ([], _cookie(browser)):
        for bad in (b"/public/..;/private", b"/public%2F..%2Fprivate", b"@127.0.0.1:1/x"):
            assert call(app, b"/saml/auth", headers=[(b"x-original-uri", bad), *who])[0] == 403
    # the header only ever refuses: sent by a client, it never makes a request public
    assert call(app, b"/saml/auth", headers=[(b"x-original-uri", b"/public/x")])[0] == 401
    signed_in = [(b"x-original-uri", b"/public/../x"), *_cookie(browser)]
    assert call(app, b"/saml/auth", headers=signed_in)[0] == 202


@pytest.mark.parametrize("flavour", ["wsgi-decoded-only"])
def test_a_wsgi_server_that_decoded_the_path_itself_gets_no_server_error(make_app) -> None:
    """PEP 3333 says PATH_INFO holds latin-1 text; a server that hands over decoded Unicode
    (characters above U+00FF) must not turn a request into a 500."""
    app, _seen = make_app(public_paths=("/public",))
    environ = _environ("GET", "/public/\u043a\u0430\u0442\u0430\u043b\u043e\u0433")  # decoded by the server
    status: list[str] = []
    b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("200")  # public, served: judged as /public/каталог
    environ["PATH_INFO"] = "/private/\u043a"
    status.clear()
    b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status[0].startswith(("302", "401"))  # protected: a login, never a 500


def test_an_encoded_space_or_letter_is_an_ordinary_path_judged_decoded(make_app, call, adapter) -> None:
    """``%20`` and UTF-8 escapes are neither control characters nor tricks: the path is served,
    a public prefix written with a non-ASCII letter covers its encoded form, and the app sees the
    decoded path (WSGI: its UTF-8 bytes as latin-1 text, as PEP 3333 has it)."""
    app, seen = make_app(public_paths=("/café",))
    for target, path in [(b"/caf%C3%A9/a%20b.pdf", "/café/a b.pdf"), (b"/caf%c3%a9", "/café")]:
        assert call(app, target)[0] == 200, target
        expected = path if adapter == "asgi" else path.encode().decode("latin-1")
        assert seen.calls[-1]["path"] == expected and seen.calls[-1]["user"] is None
    calls = len(seen.calls)
    assert call(app, b"/caf%C3%A9x/a%20b")[0] == 401  # only the prefix and below are public
    assert len(seen.calls) == calls  # challenged, the app never called
