"""Rule bypass: path and method tricks against access rules, over ASGI and WSGI (with and without
the raw target), all judged on the same canonical path the gate decides on.

Requests are built by hand (an ASGI scope as uvicorn makes it; a WSGI environ as gunicorn makes
it with ``RAW_URI``, and as wsgiref makes it without), because httpx would normalise the very
paths under test. Every trick must be refused (403 by the rule, or 400 by the canonical-path
check) and never reach the app; the plain spellings pass for a user the rule admits.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import pytest

from ..support.harness import Browser

RULES = """
[[rule]]
path = "/admin"
roles = ["Admin"]

[[rule]]
path = "/finance"
methods = ["GET"]
groups = ["Finance-Readers"]

[[rule]]
path = "/docs"
methods = ["POST", "PUT", "PATCH", "DELETE"]
roles = ["Admin"]

[[rule]]
path = "/"
anyone = true
"""

PATH_TRICKS = [
    b"/admin",
    b"/admin/",
    b"/admin/users",
    b"/ADMIN",
    b"/Admin/Users",
    b"/admin/../admin",
    b"/x/../admin",
    b"/./admin",
    b"/admin/.",
    b"//admin",
    b"///admin/x",
    b"/%61dmin",
    b"/adm%69n/",
    b"/%2e/admin",
    b"/x/%2e%2e/admin",
    b"/x/%2E%2E/%41DMIN",
    b"/admin;jsessionid=1",
    b"/admin;x/users",
    b"/admin%3Bx",
    b"/x/..%2Fadmin",
    b"/x%2F..%2Fadmin/users",
    b"/admin%2Fusers",
    b"/ADMIN%2fusers",
    b"/x%5C..%5Cadmin",
    b"/admin%5Cusers",
    b"/x/..;/admin",
    b"/x/%252e%252e/admin",
]


def _asgi(app: Any, method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    path, _, query = target.partition(b"?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(path.decode("latin-1")), "raw_path": path,
        "query_string": query, "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 5000), "server": ("app.test", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return int(sent[0]["status"])


def _wsgi(app: Any, method: str, target: bytes, headers: list[tuple[bytes, bytes]], *, raw: bool) -> int:
    path, _, query = target.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path.decode("latin-1"), encoding="latin-1"),
        "QUERY_STRING": query.decode("latin-1"), "SERVER_NAME": "app.test", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }  # fmt: skip
    if raw:
        environ["RAW_URI"] = target.decode("latin-1")
    for name, value in headers:
        environ["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode("latin-1")
    status: list[str] = []
    b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0])


@pytest.fixture(params=["asgi", "wsgi-raw-uri", "wsgi-decoded-only"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def adapter(flavour: str) -> str:
    return flavour.split("-")[0]


@pytest.fixture
def setup(make_app, browser_factory, tmp_path: Path, flavour: str) -> Callable[..., Any]:
    """``setup(email)`` -> (send, seen): ``send(target, method="GET", headers=())`` as ``email``."""
    rules = tmp_path / "access.toml"
    rules.write_text(RULES)
    app, seen = make_app(access_rules=str(rules))

    def login(email: str) -> tuple[Callable[..., int], Any]:
        browser: Browser = browser_factory(app)
        assert browser.login("/", email).status_code == 303
        seen.calls.clear()
        jar = "; ".join(f"{k}={v}" for k, v in browser.app.cookies.items())

        def send(target: bytes, method: str = "GET", headers: Any = ()) -> int:
            pairs = [(b"host", b"app.test"), (b"accept", b"application/json"), (b"cookie", jar.encode())]
            pairs += list(headers)
            if flavour == "asgi":
                return _asgi(app, method, target, pairs)
            return _wsgi(app, method, target, pairs, raw=flavour == "wsgi-raw-uri")

        return send, seen

    return login


@pytest.mark.parametrize("target", PATH_TRICKS)
def test_no_spelling_of_a_protected_path_gets_past_its_rule(setup, target: bytes) -> None:
    send, seen = setup("b.simon@contoso.com")  # no Admin role
    status = send(target)
    assert status in (400, 403), status
    assert seen.calls == []


@pytest.mark.parametrize("target", [b"/admin", b"/ADMIN/users", b"/admin/", b"/x/../admin", b"/%61dmin"])
def test_the_admitted_user_passes_every_plain_spelling(setup, target: bytes) -> None:
    send, seen = setup("megan.bowen@contoso.com")  # role Admin
    assert send(target) == 200
    assert len(seen.calls) == 1


@pytest.mark.parametrize("target", [b"/administrator", b"/admins/x", b"/x/admin", b"/x//../admin"])
def test_a_prefix_covers_whole_segments_only(setup, target: bytes) -> None:
    """``/x//../admin`` is ``/x/admin`` once canonical (``..`` removes the empty segment), and the
    app is handed exactly that path, so it is not the protected one."""
    send, seen = setup("b.simon@contoso.com")
    assert send(target) == 200 and len(seen.calls) == 1


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", b"/finance", ()),
        ("HEAD", b"/finance", ()),  # HEAD obeys the GET rule (frameworks serve it with the GET handler)
        ("get", b"/finance", ()),  # methods compare in upper case
        ("Get", b"/finance/q1", ()),
        ("POST", b"/docs", ()),
        ("post", b"/docs/page", ()),
        ("DeLeTe", b"/docs", ()),
        ("GET", b"/docs", [(b"x-http-method-override", b"DELETE")]),
        ("POST", b"/docs", [(b"x-http-method", b"put")]),
        ("GET", b"/docs", [(b"x-method-override", b"PATCH")]),
        ("POST", b"/finance", [(b"x-http-method-override", b"GET")]),
    ],
)
def test_method_tricks_are_refused(setup, method: str, target: bytes, headers: Any) -> None:
    send, seen = setup("b.simon@contoso.com")  # neither Finance-Readers nor Admin
    assert send(target, method, headers) == 403
    assert seen.calls == []


@pytest.mark.parametrize(
    ("method", "target"), [("GET", b"/docs"), ("POST", b"/finance"), ("GET", b"/docs/x")]
)
def test_methods_a_rule_does_not_name_fall_through(setup, method: str, target: bytes) -> None:
    send, seen = setup("b.simon@contoso.com")
    assert send(target, method) == 200 and len(seen.calls) == 1
