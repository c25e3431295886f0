"""A non-ASCII logout token gets the confirmation page (never a 500), both logout routes end on
the same signed-out page, and the session caches stay correct when several threads share them."""

from __future__ import annotations

import itertools
import random
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from saml_middleware.config import Settings
from saml_middleware.sessions.cookie import CookieSessionManager
from saml_middleware.sessions.cookies import CookieCodec
from saml_middleware.sessions.server import ServerSessionManager
from saml_middleware.stores import MemorySessionStore
from saml_middleware.user import SAMLUser

from ..support.harness import START


@pytest.mark.parametrize("token", ["%C3%A9", "%FF", "x%E2%82%AC"])
def test_logout_token_with_non_ascii_characters_asks_to_confirm(make_app, browser_factory, token) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    assert browser.get("/").status_code == 200
    confirm = browser.get(f"/saml/logout?token={token}")  # compare_digest refuses non-ASCII str
    assert confirm.status_code == 200 and '<form method="post"' in confirm.text
    assert "set-cookie" not in confirm.headers
    assert browser.get("/").status_code == 200  # still signed in


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_out_page_is_the_same_from_logout_and_sls(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    out = browser.app.get(browser.get("/").json()["logout_url"])
    assert out.status_code == 303  # on to the IdP's single logout, then back to /saml/sls
    at_idp = browser.idp_client.get(_local(out.headers["location"]))
    back = browser.app.get(_local(at_idp.headers["location"]))
    assert back.status_code == 200 and "You are signed out" in back.text
    again = browser.get("/saml/logout")  # no session any more: the same page from the logout endpoint
    assert again.status_code == 200 and again.content == back.content
    assert 'href="/saml/login"' in again.text


def _manager(settings: Settings, counter: Callable[[], int]) -> CookieSessionManager:
    # every clock read moves time on by 10 ms: refreshes fall due (touch_every is 60 s) while the
    # threads run, and the total stays far below the idle timeout however slow the machine
    manager = CookieSessionManager(
        settings,
        CookieCodec(settings.secret_key, audience=settings.sp_entity_id),
        clock=lambda: START + counter() * 0.01,
    )
    manager.CACHE_SIZE = 3
    return manager


def test_session_caches_survive_concurrent_threads(settings_factory) -> None:
    settings = settings_factory(session_idle_timeout=7200, session_max_age=86400)
    manager = _manager(settings, itertools.count().__next__)
    cookies = []
    for i in range(12):
        _, set_cookie = manager.create(SAMLUser(email=f"user{i}@contoso.com", name_id=f"user{i}@contoso.com"))
        cookies.append(set_cookie.split(";")[0])
    # distinct headers (other cookies after the session's: distinct tails too), bytes and str
    headers: list[str | bytes] = [f"{c}; theme=t{j:03d}" for c in cookies for j in range(8)]
    headers += [h.encode() for h in headers[::3] if isinstance(h, str)]
    errors: list[BaseException] = []
    unauthenticated: list[str | bytes] = []
    start = threading.Barrier(6)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        mine = list(headers)
        rng.shuffle(mine)
        start.wait()
        try:
            for _ in range(10):
                for header in mine:
                    if manager.load_header(header) is None:
                        unauthenticated.append(header)
                    if seed == 0 and rng.random() < 0.01:  # a cache emptied mid-flight
                        manager.forget_cached()
        except Exception as exc:  # reported below: a thread's exception is otherwise only printed
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert unauthenticated == []
    assert manager.cached_entries() <= 2 * manager.CACHE_SIZE  # each insert is followed by a trim
    assert manager.load_header(b"saml_session=forged; theme=t000") is None


@pytest.mark.parametrize("header_type", [str, bytes])
def test_a_cached_header_another_request_drops_mid_refresh_is_still_served(
    settings_factory, header_type: type
) -> None:
    """Two requests with the same ``Cookie`` header when its activity refresh falls due: the other
    one empties the cache between this one's lookup and its clean-up (here, deterministically, at
    the clock read in between). This request still gets its session and the refreshed cookie."""
    settings = settings_factory(session_idle_timeout=7200, session_max_age=86400)
    now = [START]
    meddle = [False]

    def clock() -> float:
        if meddle[0]:
            manager.forget_cached()  # what the concurrent request did
        return now[0]

    manager = CookieSessionManager(
        settings, CookieCodec(settings.secret_key, audience=settings.sp_entity_id), clock=clock
    )
    _, set_cookie = manager.create(SAMLUser(email="a@contoso.com", name_id="a@contoso.com"))
    text = set_cookie.split(";")[0] + "; theme=dark"
    header = text if header_type is str else text.encode()
    first = manager.load_header(header)
    assert first is not None and first[1] is None and manager.cached_entries() >= 1  # remembered
    now[0] = START + 61  # past touch_every (60 s): this request records activity
    meddle[0] = True
    again = manager.load_header(header)
    assert again is not None and again[0].user.email == "a@contoso.com"
    assert again[1] is not None and again[1].startswith(f"{manager.name}=")  # the refreshed cookie
    assert again[0].seen == START + 61


def test_server_sessions_count_their_id_cache(settings_factory, clock: Any) -> None:
    settings = settings_factory(session_store="server")
    codec = CookieCodec(settings.secret_key, audience=settings.sp_entity_id)
    store = MemorySessionStore(clock=clock)
    manager = ServerSessionManager(settings, codec, store, clock=clock)
    assert manager.cached_entries() == 0
    _, set_cookie = manager.create(SAMLUser(email="a@contoso.com", name_id="a@contoso.com"))
    assert manager.load_header(set_cookie.split(";")[0]) is not None
    assert manager.cached_entries() == 1
    manager.forget_cached()
    assert manager.cached_entries() == 0


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_cache_still_authenticates(settings_factory, size: int) -> None:
    manager = _manager(settings_factory(), itertools.count().__next__)
    manager.CACHE_SIZE = size
    _, set_cookie = manager.create(SAMLUser(email="a@contoso.com", name_id="a@contoso.com"))
    for _ in range(3):
        assert manager.load_header(set_cookie.split(";")[0] + "; x=1") is not None
    assert manager.cached_entries() <= 2 * size
