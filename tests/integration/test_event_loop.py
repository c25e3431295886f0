"""The ASGI event loop is never blocked by ACS work (XML, crypto, store, user directory).

A real uvicorn server (in a thread, on a free loopback port) runs the wrapped app.
An ACS request is held inside a slow stage - a user directory or a replay cache
that does not answer until the test says so - and meanwhile an authenticated
request to the app must be served. Had the ACS run on the event loop, the
authenticated request would wait for it (and time out here); the assertion is
on ordering, not on absolute timings: the authenticated request completes while
the ACS is still in progress, and the ACS then completes normally.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

from saml_middleware import SAMLMiddleware, SAMLUser, Settings
from saml_middleware.devidp import DevIdP
from saml_middleware.stores import MemoryReplayCache

#: how long a slow stage waits at most for the test to release it
HOLD = 15.0
#: the authenticated request's own timeout: well under HOLD, so a blocked loop fails the test
AUTHED_TIMEOUT = 5.0


class Gatekeeper:
    """A slow stage: signals when the ACS reaches it, then waits to be released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def hold(self) -> None:
        self.calls += 1
        self.entered.set()
        self.release.wait(HOLD)


class SlowDirectory:
    """A user directory (e.g. a database or LDAP hook) that takes its time: sync."""

    def __init__(self, gate: Gatekeeper) -> None:
        self.gate = gate

    def lookup(self, user: SAMLUser) -> SAMLUser:
        self.gate.hold()
        return user


class SlowAsyncDirectory:
    """The same as an ``async`` hook: it runs on the event loop, and must only await."""

    def __init__(self, gate: Gatekeeper) -> None:
        self.gate = gate

    async def lookup(self, user: SAMLUser) -> SAMLUser:
        self.gate.calls += 1
        self.gate.entered.set()
        deadline = time.monotonic() + HOLD
        while not self.gate.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return user


class SlowReplayCache(MemoryReplayCache):
    """A replay store that is slow to answer, in the middle of response validation."""

    def __init__(self, gate: Gatekeeper) -> None:
        super().__init__()
        self.gate = gate

    def add(self, key: str, expires_at: float) -> bool:
        if "|assertion|" in key:
            self.gate.hold()
        return super().add(key, expires_at)


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    user = scope.get("user")
    body = f"hello {getattr(user, 'email', 'nobody')}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def loopback_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def serve(app: Any, sock: socket.socket) -> Iterator[None]:
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, http="h11", loop="asyncio", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.mark.parametrize("slow_stage", ["sync directory", "async directory", "replay cache"])
def test_slow_acs_does_not_delay_an_authenticated_request(
    slow_stage: str, loopback_socket: socket.socket, idp_keys: tuple[str, str]
) -> None:
    port = loopback_socket.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    key, cert = idp_keys
    idp = DevIdP("http://idp.test", key_pem=key, cert_pem=cert)
    settings = Settings(
        base_url=base,
        secret_key=("test-secret-key-0123456789abcdef",),
        idp_metadata=idp.metadata_xml().decode(),
    )
    gatekeeper = Gatekeeper()
    options: dict[str, Any] = {
        "sync directory": {"directory": SlowDirectory(gatekeeper)},
        "async directory": {"directory": SlowAsyncDirectory(gatekeeper)},
        "replay cache": {"replay": SlowReplayCache(gatekeeper)},
    }[slow_stage]
    app = SAMLMiddleware(hello, settings, **options)
    assert app.gate is not None
    _, set_cookie = app.gate.sessions.create(SAMLUser("b.simon@contoso.com", "b.simon@contoso.com"))
    session = set_cookie.split(";")[0]

    with (
        serve(app, loopback_socket),
        httpx.Client(base_url=base, timeout=HOLD + 10) as browser,
        httpx.Client(base_url=base, timeout=AUTHED_TIMEOUT) as other_user,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # browser A: the login redirect, then the IdP's response posted to the ACS
        redirect = browser.get("/saml/login", params={"next": "/"})
        assert redirect.status_code == 302
        query = parse_qs(urlsplit(redirect.headers["location"]).query)
        request_id = idp.parse_authn_request(query["SAMLRequest"][0]).id
        login_cookie = redirect.headers["set-cookie"].split(";")[0]
        xml = idp.issue_response(
            "b.simon@contoso.com",
            acs_url=settings.acs_url,
            audience=settings.sp_entity_id,
            in_response_to=request_id,
        )
        form = {"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": query["RelayState"][0]}
        browser.cookies.clear()
        acs = pool.submit(browser.post, "/saml/acs", data=form, headers={"cookie": login_cookie})
        try:
            assert gatekeeper.entered.wait(HOLD), "the ACS never reached the slow stage"

            # browser B, logged in, while the ACS is still held in its slow stage
            page = other_user.get("/", headers={"cookie": session})
            acs_still_running = not acs.done()
        finally:
            gatekeeper.release.set()
        done = acs.result(timeout=HOLD + 10)

    assert page.status_code == 200 and page.text == "hello b.simon@contoso.com"
    assert acs_still_running, "the authenticated request waited for the slow ACS"
    assert gatekeeper.calls == 1
    assert done.status_code == 303, done.text
    assert any(c.startswith("saml_session=") for c in done.headers.get_list("set-cookie"))
