"""Pending-login cookies never pile up (issue 12, item 9).

A page that makes a browser start login after login (``<img src=/saml/login>``, a redirect
loop, a protected page reloaded) used to leave one cookie per login: 120 visits gave a 16 KB
``Cookie`` header, which nginx refuses by default. Now each browser keeps at most
``MAX_PENDING`` pending logins within ``MAX_PENDING_BYTES``, the oldest expired in the response
that starts a new one. The newest login always completes; a dropped one is refused at the ACS
like any login whose cookie is gone (``in_response_to``). The same holds for SP-initiated
logouts waiting for the IdP. Every case runs through the ASGI and the WSGI adapter.
"""

from __future__ import annotations

import logging
import random
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from saml_middleware import Settings
from saml_middleware.gate.pending import MAX_PENDING, MAX_PENDING_BYTES, PendingCookies

from ..support.harness import APP, Browser
from .helpers import EMAIL, session_cookies_set

#: the index cookie: MAX_PENDING entries of a 24-character key and a size
INDEX_BYTES = len("saml_logins=") + MAX_PENDING * len("x" * 24 + ":9999.")


def _jar(client: httpx.Client, prefix: str) -> dict[str, str]:
    return {c.name: c.value or "" for c in client.cookies.jar if c.name.startswith(prefix)}


def _sent_to(client: httpx.Client, method: str, path: str) -> str:
    """The ``Cookie`` header this browser sends with ``method path``."""
    return client.build_request(method, path).headers.get("cookie", "")


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.saml_reason for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]  # type: ignore[attr-defined]


@pytest.fixture
def hammered(
    make_app: Callable[..., Any], browser_factory: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> Callable[..., tuple[Browser, list[httpx.Response], Any]]:
    """``hammered(visits, start)``: one browser starts ``visits`` logins; returns (browser, 302s, seen)."""
    caplog.set_level(logging.INFO, logger="saml_middleware")

    def run(
        visits: int, start: Callable[[Browser, int], httpx.Response]
    ) -> tuple[Browser, list[httpx.Response], Any]:
        app, seen = make_app()
        browser = browser_factory(app)
        redirects = [start(browser, i) for i in range(visits)]
        assert {r.status_code for r in redirects} == {302}
        return browser, redirects, seen

    return run


STARTS: dict[str, Callable[[Browser, int], httpx.Response]] = {
    "/saml/login": lambda b, i: b.app.get("/saml/login", params={"next": f"/page/{i}"}),
    "a protected page": lambda b, i: b.get(f"/page/{i}"),
}


@pytest.mark.parametrize("how", STARTS)
def test_120_logins_leave_a_bounded_cookie_header_and_the_last_completes(hammered, caplog, how: str) -> None:
    browser, redirects, seen = hammered(120, STARTS[how])
    pending = _jar(browser.app, "saml_login_")
    assert len(pending) == MAX_PENDING
    header = _sent_to(browser.app, "POST", "/saml/acs")
    assert header.count("saml_login_") == MAX_PENDING
    assert len(header) <= MAX_PENDING_BYTES + INDEX_BYTES  # was 16 KB; nginx allows 8 KB a line
    assert len(_sent_to(browser.app, "GET", "/")) <= INDEX_BYTES  # pages carry the index only

    action, fields = browser.idp_form(redirects[-1])
    caplog.clear()
    done = browser.post_acs(action, fields)
    assert done.status_code == 303 and done.headers["location"] == "/page/119"
    assert len(session_cookies_set(done)) == 1 and _refusals(caplog) == []
    assert browser.get("/").json()["user"] == EMAIL
    assert len(_jar(browser.app, "saml_login_")) == MAX_PENDING - 1  # the consumed one deleted

    # another tab's login started just before still completes (several tabs may sign in at once)
    action, fields = browser.idp_form(redirects[-2])
    assert browser.post_acs(action, fields).headers["location"] == "/page/118"

    # a login dropped as the oldest fails like any login whose cookie is gone
    action, fields = browser.idp_form(redirects[0])
    caplog.clear()
    seen.calls.clear()
    dropped = browser.post_acs(action, fields)
    assert dropped.status_code == 400 and "Reference:" in dropped.text
    assert _refusals(caplog) == ["in_response_to"]
    assert session_cookies_set(dropped) == [] and seen.calls == []


def test_long_return_paths_stay_within_the_byte_bound(hammered, caplog) -> None:
    # random letters: the signed cookie compresses its payload, so a repetitive path would not do
    rng = random.Random(12)
    long_path = "/" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(2000))

    def start(browser: Browser, i: int) -> httpx.Response:
        return browser.app.get("/saml/login", params={"next": f"{long_path}{i}"})

    browser, redirects, _ = hammered(20, start)
    header = _sent_to(browser.app, "POST", "/saml/acs")
    assert len(header) <= MAX_PENDING_BYTES + INDEX_BYTES
    assert 1 <= header.count("saml_login_") < MAX_PENDING
    action, fields = browser.idp_form(redirects[-1])
    done = browser.post_acs(action, fields)
    assert done.status_code == 303 and done.headers["location"] == f"{long_path}19"


def test_a_tampered_index_cannot_grow_the_header(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    junk = ".".join(f"{'k' * 20}{i:04d}:{i}" for i in range(500)) + ".not an entry.:"
    browser.app.cookies.set("saml_logins", junk, domain=urlsplit(APP).hostname, path="/")
    for _ in range(10):
        assert browser.app.get("/saml/login").status_code == 302
    assert len(_jar(browser.app, "saml_login_")) == MAX_PENDING
    assert len(_sent_to(browser.app, "POST", "/saml/acs")) <= MAX_PENDING_BYTES + INDEX_BYTES


def test_pending_logouts_are_bounded_too(make_app, browser_factory, caplog) -> None:
    caplog.set_level(logging.INFO, logger="saml_middleware")
    app, _ = make_app()
    browser = browser_factory(app)
    outs = []
    for _ in range(MAX_PENDING + 3):  # each SP-initiated logout waits for the IdP's answer
        assert browser.login().status_code == 303
        out = browser.app.post("/saml/logout")
        assert out.status_code == 303 and "SAMLRequest=" in out.headers["location"]
        outs.append(out)
    assert len(_jar(browser.app, "saml_logout_")) == MAX_PENDING
    assert _sent_to(browser.app, "GET", "/saml/sls").count("saml_logout_") == MAX_PENDING

    def answered(out: httpx.Response) -> httpx.Response:
        at_idp = browser.idp_client.get(_local(out.headers["location"]))
        assert at_idp.status_code == 302
        caplog.clear()
        return browser.app.get(_local(at_idp.headers["location"]))

    back = answered(outs[-1])
    assert back.status_code == 200 and "signed out" in back.text
    dropped = answered(outs[0])
    assert dropped.status_code == 400 and _refusals(caplog) == ["logout_in_response_to"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def test_https_names_and_attributes(settings_factory) -> None:
    settings: Settings = settings_factory(base_url="https://app.example.com")
    pending = PendingCookies(settings, "login", settings.acs_path)
    first, index = pending.start(None, "a" * 24, "v")
    assert first.startswith("__Secure-saml_login_" + "a" * 24 + "=v; Path=/saml/acs; Max-Age=600")
    assert "Secure" in first and "SameSite=None" in first and "HttpOnly" in first
    assert index.startswith("__Host-saml_logins=" + "a" * 24 + ":") and "Path=/;" in index
    header = "; ".join(h.split(";")[0] for h in (first, index))
    for i in range(MAX_PENDING):
        headers = pending.start(header, f"{i:024d}", "v")
        header = "; ".join(h.split(";")[0] for h in headers if "Max-Age=0" not in h)
    # the sixth login expired the first, on its own path
    assert any(h.startswith("__Secure-saml_login_" + "a" * 24 + "=;") and "Max-Age=0" in h for h in headers)
    assert "a" * 24 not in header
