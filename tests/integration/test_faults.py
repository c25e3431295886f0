"""Redis going away and coming back, under both adapters, with a real redis-server.

Fail closed at the ACS (503, never an accepted-but-unrecorded assertion); cookie
sessions keep working; server sessions answer 503, not a login redirect; the
middleware reconnects by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.redisserver import RedisServer

pytestmark = pytest.mark.needs("redis-server")

JSON = {"accept": "application/json"}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory=tmp_path)
    server.start()
    yield server
    server.stop()


def test_cookie_sessions_survive_an_outage_and_the_acs_fails_closed(
    make_app, browser_factory, redis_server: RedisServer, caplog
) -> None:
    app, _ = make_app(store_url=redis_server.url)
    signed_in, late = browser_factory(app), browser_factory(app)
    assert signed_in.login().status_code == 303
    form = late.idp_form(late.start("/"))

    redis_server.stop()
    caplog.set_level(logging.ERROR, logger="saml_middleware")
    refused = late.post_acs(*form)
    assert (
        refused.status_code == 503
        and "Sign-in is unavailable" in refused.text
        and "Reference" in refused.text
    )
    assert not any(c.startswith("saml_session=") for c in refused.headers.get_list("set-cookie"))
    assert any(
        "store unavailable" in r.getMessage() and "Connection" in r.getMessage() for r in caplog.records
    )
    assert signed_in.get("/").json()["user"] == "b.simon@contoso.com"  # no Redis needed

    redis_server.start()  # same port: the middleware reconnects by itself
    assert late.login().status_code == 303
    assert late.get("/").json()["user"] == "b.simon@contoso.com"


def test_server_sessions_answer_503_while_redis_is_down_and_resume_after(
    make_app, browser_factory, redis_server: RedisServer
) -> None:
    app, seen = make_app(store_url=redis_server.url, session_store="server")
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    assert browser.get("/").status_code == 200

    redis_server.stop(save=True)  # a restart that keeps the data (RDB/AOF in production)
    calls = len(seen.calls)
    page = browser.get("/")
    assert page.status_code == 503 and "location" not in page.headers  # not treated as logged out
    assert browser.app.get("/api", headers=JSON).status_code == 503
    assert browser.get("/saml/logout").status_code == 503
    assert len(seen.calls) == calls

    redis_server.start()
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def test_a_redis_restart_without_persistence_ends_server_sessions_cleanly(
    make_app, browser_factory, redis_server: RedisServer
) -> None:
    app, _ = make_app(store_url=redis_server.url, session_store="server")
    browser = browser_factory(app)
    browser.login()
    redis_server.stop()
    redis_server.start()
    assert browser.get("/").status_code == 302  # the session is gone: sign in again, no error
    assert browser.login().status_code == 303


def test_a_redis_restart_during_logins_loses_no_completed_login(
    make_app, browser_factory, redis_server: RedisServer
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    app, _ = make_app(store_url=redis_server.url)
    browsers = [browser_factory(app) for _ in range(60)]
    started = threading.Event()

    def login(i: int) -> int:
        if i == 10:
            started.set()
        return browsers[i].login(f"/item/{i}").status_code

    with ThreadPoolExecutor(6) as pool:
        results = pool.map(login, range(60))
        started.wait(30)
        redis_server.stop()
        redis_server.start()
        statuses = list(results)
    assert set(statuses) <= {303, 503}
    for browser, status in zip(browsers, statuses, strict=True):
        expected = 200 if status == 303 else 302  # every completed login works; refused ones left no session
        assert browser.get("/").status_code == expected
    assert statuses.count(303) >= 30
