"""``saml-middleware sessions list|revoke`` with only the store's address: a real redis-server.

Sessions are made by real logins (both adapters) or written as the app writes them (connections'
namespaces); the commands then run with nothing but ``SAML_STORE_URL`` and ``SAML_BASE_URL`` (or
``--entity-id``) in the environment: no secret key, no IdP.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLUser, SAMLWSGIMiddleware
from saml_middleware.cli import main
from saml_middleware.sessions.record import encode_record
from saml_middleware.sessions.session import Session
from saml_middleware.stores.redis import RedisReplayCache, connect
from saml_middleware.stores.redissessions import RedisSessionStore

from ..support.harness import APP, Clock, Seen, asgi_app, wsgi_app
from ..support.redisserver import RedisServer

MAIN = f"{APP}/saml/metadata"


@pytest.fixture
def store_only(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> RedisServer:
    """An environment with the store's address and the base URL only."""
    redis_server.flush()
    for name in list(os.environ):
        if name.startswith("SAML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAML_STORE_URL", redis_server.url)
    monkeypatch.setenv("SAML_BASE_URL", APP)
    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    return redis_server


def _put(redis_server: RedisServer, namespace: str, email: str, sid: str, clock: Clock, **user: Any) -> None:
    store = RedisSessionStore(connect(redis_server.url), namespace, index_ttl=3600, clock=clock)
    person = SAMLUser(email, email, attributes={"groups": ["g1"]}, **user)
    session = Session(sid, person, clock() - 60, clock() - 5, "tok", stored=True)
    store.put(sid, email, encode_record(session), clock() + 600)


def test_list_and_revoke_need_only_the_store(
    store_only: RedisServer, settings_factory, browser_factory, adapter, clock, capsys
) -> None:
    settings = settings_factory(session_store="server", store_url=store_only.url)
    if adapter == "asgi":
        app: Any = SAMLMiddleware(asgi_app(Seen()), settings=settings, clock=clock)
    else:
        app = SAMLWSGIMiddleware(wsgi_app(Seen()), settings=settings, clock=clock)
    laptop, phone = browser_factory(app), browser_factory(app)
    for browser in (laptop, phone):
        assert browser.login().status_code == 303
    assert "SAML_SECRET_KEY" not in os.environ and "SAML_IDP_METADATA_FILE" not in os.environ
    assert main(["sessions", "list", "B.Simon@contoso.com"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"2 sessions of B.Simon@contoso.com under {MAIN}"
    assert len(out) == 3 and all("signed in 2025-06-15T15:06:40Z" in line for line in out[1:])
    assert all("connection=- tenant=-" in line for line in out[1:])
    assert main(["sessions", "revoke", "b.simon@contoso.com"]) == 0
    assert capsys.readouterr().out.strip() == "ended 2 sessions of b.simon@contoso.com"
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302


def test_a_connections_sessions_are_listed_and_ended_by_connection(
    store_only: RedisServer, make_tenant_app, tenant_browser, capsys
) -> None:
    """Real logins through two connections (acme: contoso.com, beta: fabrikam.com) into one Redis;
    ``--connection`` then lists and ends one connection's sessions only, with the store alone."""
    app, _, tenants = make_tenant_app(session_store="server", store_url=store_only.url)
    browsers = {}
    for email in ("b.simon@contoso.com", "adele.vance@contoso.com", "kim@fabrikam.com"):
        browsers[email] = browser = tenant_browser(app, tenants)
        landed = browser.login(browser.get(f"/saml/login?email={email}"), email)
        assert landed.status_code == 303
    assert main(["sessions", "list", "b.simon@contoso.com", "--connection", "acme"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"1 session of b.simon@contoso.com under {MAIN}"
    assert "connection=acme tenant=contoso-tenant" in out[1]
    assert main(["sessions", "list", "b.simon@contoso.com", "--connection", "beta"]) == 0
    assert capsys.readouterr().out.startswith("0 sessions of b.simon@contoso.com")
    assert main(["sessions", "revoke", "--connection", "acme", "--yes"]) == 0
    assert capsys.readouterr().out.strip() == f"ended 2 sessions under {MAIN} (connection acme)"
    for email in ("b.simon@contoso.com", "adele.vance@contoso.com"):
        assert browsers[email].get("/").status_code == 302  # signed out: back to sign-in
    assert browsers["kim@fabrikam.com"].get("/").status_code == 200  # beta untouched
    assert main(["sessions", "revoke", "kim@fabrikam.com", "--connection", "acme"]) == 0
    assert capsys.readouterr().out.strip() == "ended 0 sessions of kim@fabrikam.com (connection acme)"
    assert browsers["kim@fabrikam.com"].get("/").status_code == 200


def test_revoke_all_asks_first_and_keeps_replay_protection(
    store_only: RedisServer, clock: Clock, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        _put(store_only, MAIN, f"user{i}@contoso.com", f"s{i}", clock)
    replay = RedisReplayCache(connect(store_only.url), MAIN, clock=clock)
    assert replay.add("assertion-1", clock() + 600)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert main(["sessions", "revoke", "--all"]) == 1
    assert "nothing ended" in capsys.readouterr().err
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "yes")
    assert main(["sessions", "revoke", "--all"]) == 0
    assert asked == [f"End every session under {MAIN}? Type 'yes' to go on: "]
    assert capsys.readouterr().out.strip() == f"ended 30 sessions under {MAIN}"
    assert replay.add("assertion-1", clock() + 600) is False  # a revocation never reopens a replay
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked despite --yes"))
    assert main(["sessions", "revoke", "--all", "--yes"]) == 0
    assert "ended 0 sessions" in capsys.readouterr().out


def test_the_namespace_can_be_given_without_a_base_url(
    store_only: RedisServer, clock: Clock, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(store_only, "https://other.example.com/sso", "bo@contoso.com", "x1", clock)
    monkeypatch.delenv("SAML_BASE_URL")
    assert main(["sessions", "list", "bo@contoso.com"]) == 1
    assert "needs SAML_BASE_URL (or --entity-id" in capsys.readouterr().err
    assert main(["sessions", "list", "bo@contoso.com", "--entity-id", "https://other.example.com/sso"]) == 0
    assert capsys.readouterr().out.startswith("1 session of bo@contoso.com")
    monkeypatch.setenv("SAML_SP_ENTITY_ID", "https://other.example.com/sso")
    assert main(["sessions", "revoke", "bo@contoso.com"]) == 0
    assert "ended 1 session of" in capsys.readouterr().out


def test_mistakes_are_refused_with_a_reason(store_only: RedisServer, capsys, monkeypatch) -> None:
    assert main(["sessions", "revoke"]) == 1
    assert "needs an EMAIL, --connection ID or --all" in capsys.readouterr().err
    assert main(["sessions", "revoke", "a@b.c", "--all"]) == 1
    assert "either an EMAIL or --all" in capsys.readouterr().err
    assert main(["sessions", "list", "a@b.c", "--connection", "Acme Corp"]) == 1
    assert "a connection id is a slug" in capsys.readouterr().err
    monkeypatch.setenv("SAML_STORE_URL", "memory://")
    assert main(["sessions", "list", "a@b.c"]) == 1
    assert "a memory:// store lives inside each app process" in capsys.readouterr().err
