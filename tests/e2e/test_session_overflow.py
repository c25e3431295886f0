"""Cookie sessions that no longer fit (4 KB): an Entra member of 150 groups, through both adapters.

Never a silent loss: the session goes to the server store (``SAML_SESSION_OVERFLOW=auto`` with
a shared store, or ``server``), the login is refused with ``session_too_large`` (``auto`` with
``memory://``, or ``refuse``), or the attributes left out are named in the log (``trim``).
``SAML_SESSION_CLAIMS`` keeps only what the app needs, so the cookie fits again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.devidp import DevIdP, with_groups
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app, wsgi_app
from ..support.redisserver import RedisServer

GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TENANT = "http://schemas.microsoft.com/identity/claims/tenantid"
MEGAN = "megan.bowen@contoso.com"  # has a role, a group and a country


@pytest.fixture
def entra(idp: DevIdP, idp_keys: tuple[str, str], clock: Clock) -> DevIdP:
    """The dev IdP releasing 150 more group ids for every user: Entra's most before its overage claim."""
    return DevIdP(
        IDP,
        key_pem=idp_keys[0],
        cert_pem=idp_keys[1],
        clock=clock,
        users=with_groups(idp.users, 150),
        sp_acs_url=f"{APP}/saml/acs",
        sp_entity_id=f"{APP}/saml/metadata",
    )


@pytest.fixture
def build(adapter: str, clock: Clock, settings_factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(store: Any = None, **overrides: Any) -> Any:
        options: dict[str, Any] = {"clock": clock, "replay": MemoryReplayCache(clock=clock)}
        if store is not None:
            options["session_store"] = store
        settings = settings_factory(**overrides)
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(Seen()), settings=settings, **options)
        return SAMLWSGIMiddleware(wsgi_app(Seen()), settings=settings, **options)

    return make


def _signed_in(browser: Browser, email: str = MEGAN) -> dict[str, Any]:
    done = browser.login(email=email)
    assert done.status_code == 303, done.text
    me = browser.get("/").json()
    assert me["user"] == email
    return dict(me["attributes"])


def test_default_with_a_memory_store_refuses_rather_than_lose_the_groups(
    build, browser_factory, entra, caplog: pytest.LogCaptureFixture
) -> None:
    app = build()  # SAML_SESSION_OVERFLOW=auto, SAML_STORE_URL=memory://
    browser = browser_factory(app, entra)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser.login(email=MEGAN)
    assert refused.status_code == 403
    assert "Too much to keep in a session" in refused.text and "Reference" in refused.text
    assert not any(c.startswith("saml_session=") for c in refused.headers.get_list("set-cookie"))
    records = [
        r.getMessage()
        for r in caplog.records
        if r.name == "saml_middleware" and "session_too_large" in r.getMessage()
    ]
    assert len(records) == 1
    assert re.search(r"would be \d{4} bytes \(\d+ attributes, 1[56]\d values\)", records[0])
    assert MEGAN in records[0] and "SAML_SESSION_CLAIMS" in records[0]
    assert browser.get("/").status_code == 302  # not signed in, and no half-empty session


def test_default_with_redis_keeps_the_session_in_the_store(
    build, browser_factory, entra, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.flush()
    app = build(store_url=redis_server.url)  # SAML_SESSION_OVERFLOW=auto: a shared store holds it
    caplog.set_level(logging.INFO, logger="saml_middleware")
    laptop, phone = browser_factory(app, entra), browser_factory(app, entra)
    attributes = _signed_in(laptop)
    assert len(attributes[GROUPS]) == 151 and attributes["groups"] == attributes[GROUPS]
    assert attributes["roles"] == ["Admin"] and attributes["object_id"] == attributes[OID]
    assert attributes["tenant_id"] == attributes[TENANT]
    cookie = laptop.app.cookies["saml_session"]
    assert cookie.startswith("~") and len(cookie) < 100  # a signed id, not the groups
    assert _signed_in(phone) == attributes
    for _ in range(3):
        assert laptop.get("/reports").json()["attributes"] == attributes
    warned = [r for r in caplog.records if "kept in the server store" in r.getMessage()]
    assert [r.levelno for r in warned] == [logging.WARNING, logging.INFO]  # loud once, then counted
    assert re.search(r"\d+ attributes, 1[56]\d values", warned[0].getMessage())
    # logout ends it in the store: a copied cookie is dead
    copied = dict(laptop.app.cookies)
    assert laptop.app.post("/saml/logout").status_code == 303
    thief = browser_factory(app, entra)
    thief.app.cookies.update(copied)
    assert thief.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_a_user_who_fits_keeps_a_cookie_session_beside_overflowed_ones(
    build, browser_factory, idp, entra, clock
) -> None:
    store = MemorySessionStore(clock=clock)
    app = build(store, session_overflow="server")
    small, big = browser_factory(app), browser_factory(app, entra)
    assert _signed_in(small)["groups"] == ["9a8b7c6d-5e4f-4a3b-8c2d-bb22cc33dd02"]
    assert not small.app.cookies["saml_session"].startswith("~") and len(store) == 0
    assert len(_signed_in(big)["groups"]) == 151 and len(store) == 1
    assert store.revoke(MEGAN) == 1  # an overflowed session can be revoked; a cookie one lives on
    assert big.get("/").status_code == 302 and small.get("/").status_code == 200


def test_session_claims_keep_the_cookie_small(build, browser_factory, entra, clock) -> None:
    store = MemorySessionStore(clock=clock)
    app = build(store, session_overflow="server", session_claims=("roles", "object_id", TENANT))
    browser = browser_factory(app, entra)
    attributes = _signed_in(browser)
    assert attributes == {
        ROLE: ["Admin"],
        "roles": ["Admin"],
        OID: attributes["object_id"],
        "object_id": attributes[OID],
        TENANT: attributes["tenant_id"],
        "tenant_id": attributes[TENANT],
    }
    assert len(store) == 0 and not browser.app.cookies["saml_session"].startswith("~")
    assert len(browser.app.cookies["saml_session"]) < 4000


def test_session_claims_apply_to_server_sessions_too(build, browser_factory, entra, clock) -> None:
    app = build(MemorySessionStore(clock=clock), session_store="server", session_claims=("groups",))
    attributes = _signed_in(browser_factory(app, entra))
    assert sorted(attributes) == sorted([GROUPS, "groups"]) and len(attributes["groups"]) == 151


def test_trim_leaves_out_the_largest_attributes_and_names_them(
    build, browser_factory, entra, caplog: pytest.LogCaptureFixture
) -> None:
    app = build(session_overflow="trim")
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    attributes = _signed_in(browser_factory(app, entra))
    assert GROUPS not in attributes and "groups" not in attributes
    assert attributes["roles"] == ["Admin"] and attributes["country"] == ["GB"]  # the rest is kept
    [record] = [r.getMessage() for r in caplog.records if "SAML_SESSION_OVERFLOW=trim" in r.getMessage()]
    assert f"left out 2 attributes (SAML_SESSION_OVERFLOW=trim): {GROUPS}, groups" in record
    assert re.search(r"\d+ attributes, 1[56]\d values", record)


def test_refuse_is_refused_even_with_a_store(build, browser_factory, entra, clock) -> None:
    store = MemorySessionStore(clock=clock)
    app = build(store, session_overflow="refuse", store_url="redis://127.0.0.1:1/0")
    assert browser_factory(app, entra).login(email=MEGAN).status_code == 403
    assert len(store) == 0


def test_about_a_hundred_group_ids_no_longer_fit(build, browser_factory, idp, idp_keys, clock) -> None:
    """The issue's figure: past about 100 Entra group ids a cookie session no longer fits."""
    statuses = {}
    for count in (85, 120):
        users = with_groups(idp.users, count)
        many = DevIdP(IDP, key_pem=idp_keys[0], cert_pem=idp_keys[1], clock=clock, users=users)
        statuses[count] = browser_factory(build(), many).login(email=MEGAN).status_code
    assert statuses == {85: 303, 120: 403}


class LoopWatch(MemorySessionStore):
    """Records, for each read, whether it ran on an event loop (it must not: it may wait on Redis)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.on_loop: list[bool] = []

    def get(self, sid: str) -> bytes | None:
        import asyncio

        try:
            asyncio.get_running_loop()
            self.on_loop.append(True)
        except RuntimeError:
            self.on_loop.append(False)
        return super().get(sid)


def test_an_overflowed_session_is_never_read_on_the_event_loop(build, browser_factory, entra, clock) -> None:
    """ASGI runs the store read in a worker thread, as for server sessions (WSGI has no loop)."""
    store = LoopWatch(clock)
    app = build(store, session_overflow="server")
    browser = browser_factory(app, entra)
    _signed_in(browser)
    browser.get("/again")
    assert store.on_loop and not any(store.on_loop)


def test_idp_initiated_logout_ends_overflowed_sessions_in_every_browser(
    build, browser_factory, entra, clock
) -> None:
    from urllib.parse import urlsplit

    from saml_middleware.sessions.record import decode_record

    store = MemorySessionStore(clock=clock)
    app = build(store, session_overflow="server")
    laptop, phone = browser_factory(app, entra), browser_factory(app, entra)
    _signed_in(laptop)
    _signed_in(phone)
    sid, (_, record, _) = next(iter(store._records.items()))
    session = decode_record(sid, record)
    assert session is not None and session.user.session_index and len(store) == 2
    url = urlsplit(entra.logout_request_url(MEGAN, session.user.session_index))
    assert laptop.app.get(f"{url.path}?{url.query}").status_code == 302
    assert len(store) == 1  # the session the IdP named, whichever browser holds it
    assert [laptop.get("/").status_code, phone.get("/").status_code].count(302) == 1
