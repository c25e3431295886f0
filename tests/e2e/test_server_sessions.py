"""Server-side sessions (SAML_SESSION_STORE=server) and store outages, through both adapters."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.devidp import DevIdP
from saml_middleware.errors import StoreUnavailable
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

from ..support.harness import HTML, IDP, Seen, asgi_app, wsgi_app


class Outage:
    """Wraps a store; while ``down`` every call raises StoreUnavailable, as the Redis stores do."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("redis 127.0.0.1:1: Connection refused")
            return method(*args, **kwargs)

        return call


@pytest.fixture
def build(adapter, clock, settings_factory):
    def make(**overrides: Any) -> tuple[Any, Outage, Outage, Seen]:
        seen = Seen()
        replay, store = Outage(MemoryReplayCache(clock=clock)), Outage(MemorySessionStore(clock=clock))
        options = {"clock": clock, "replay": replay, "session_store": store}
        settings = settings_factory(**{"session_store": "server", **overrides})
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, **options), replay, store, seen
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, **options), replay, store, seen

    return make


def test_cookie_carries_only_a_signed_id(build, browser_factory) -> None:
    app, _, store, _ = build()
    browser = browser_factory(app)
    done = browser.login()
    assert done.status_code == 303
    value = browser.app.cookies["saml_session"]
    assert len(value) < 100 and "simon" not in value
    me = browser.get("/").json()
    assert me["user"] == "b.simon@contoso.com" and me["attributes"]["given_name"] == ["B."]
    assert len(store.inner) == 1


def test_many_group_claims_fit_without_a_4kb_limit(build, browser_factory, idp, idp_keys, clock) -> None:
    groups = tuple(str(uuid.UUID(int=i)) for i in range(1, 301))
    many = replace(idp.get_user("b.simon@contoso.com"), groups=groups)
    big_idp = DevIdP(IDP, key_pem=idp_keys[0], cert_pem=idp_keys[1], clock=clock, users=[many])
    app, *_ = build()
    browser = browser_factory(app, big_idp)
    assert browser.login().status_code == 303
    attributes = browser.get("/").json()["attributes"]
    assert len(next(v for k, v in attributes.items() if k.endswith("groups"))) == 300


def test_logout_deletes_the_session_so_a_copied_cookie_is_dead(build, browser_factory) -> None:
    app, _, store, _ = build()
    browser = browser_factory(app)
    browser.login()
    copied = dict(browser.app.cookies)
    assert browser.app.post("/saml/logout").status_code == 303
    assert len(store.inner) == 0
    thief = browser_factory(app)
    thief.app.cookies.update(copied)
    assert thief.get("/").status_code == 302


def test_revoke_ends_every_session_of_the_user(build, browser_factory) -> None:
    app, _, store, _ = build()
    laptop, phone = browser_factory(app), browser_factory(app)
    laptop.login()
    phone.login()
    assert store.revoke("B.Simon@contoso.com") == 2
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302


def test_idle_and_max_age_are_enforced(build, browser_factory, clock) -> None:
    app, *_ = build(session_idle_timeout=600, session_max_age=1500)
    browser = browser_factory(app)
    browser.login()
    clock.advance(500)
    assert browser.get("/").status_code == 200  # activity recorded in the store
    clock.advance(500)
    assert browser.get("/").status_code == 200
    clock.advance(601)
    assert browser.get("/").status_code == 302
    browser.login()
    for _ in range(2):
        clock.advance(550)
        assert browser.get("/").status_code == 200
    clock.advance(550)
    assert browser.get("/").status_code == 302  # max age, although active


def test_store_down_means_503_not_logged_out(build, browser_factory, caplog) -> None:
    app, _, store, seen = build()
    browser = browser_factory(app)
    browser.login()
    store.down = True
    caplog.set_level(logging.ERROR, logger="saml_middleware")
    page = browser.get("/reports")
    assert page.status_code == 503 and "try again" in page.text and "set-cookie" not in page.headers
    assert page.headers["retry-after"] == "5"
    api = browser.app.get("/api", headers={"accept": "application/json"})
    assert api.status_code == 503 and api.json() == {"error": "store_unavailable"}
    assert browser.app.post("/saml/logout").status_code == 503
    assert any("session store unavailable" in r.getMessage() for r in caplog.records)
    assert [c["path"] for c in seen.calls] == []
    store.down = False
    assert browser.get("/reports").json()["user"] == "b.simon@contoso.com"


def test_anonymous_requests_need_no_store(build, browser_factory) -> None:
    app, _, store, _ = build()
    store.down = True
    assert browser_factory(app).get("/").status_code == 302


def test_replay_cache_down_at_acs_is_503_with_a_logged_reference(
    make_app, browser_factory, adapter, clock, settings_factory, caplog
) -> None:
    replay = Outage(MemoryReplayCache(clock=clock))
    seen = Seen()
    settings = settings_factory()
    if adapter == "asgi":
        app: Any = SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock, replay=replay)
    else:
        app = SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock, replay=replay)
    signed_in, late = browser_factory(app), browser_factory(app)
    signed_in.login()
    form = late.idp_form(late.start("/"))
    replay.down = True
    caplog.set_level(logging.ERROR, logger="saml_middleware")
    refused = late.post_acs(*form)
    assert refused.status_code == 503 and "Sign-in is unavailable" in refused.text
    assert not any(c.startswith("saml_session=") for c in refused.headers.get_list("set-cookie"))
    assert any("store unavailable" in r.getMessage() for r in caplog.records)
    # cookie sessions need no store: the signed-in user keeps working
    assert signed_in.get("/", headers=HTML).json()["user"] == "b.simon@contoso.com"
    replay.down = False
    assert late.login().status_code == 303
