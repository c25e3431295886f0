"""``saml-middleware sessions revoke EMAIL`` against a real redis-server."""

from __future__ import annotations

from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.cli import main

from ..support.harness import Seen, asgi_app, wsgi_app
from ..support.redisserver import RedisServer


def test_revoke_needs_server_sessions_in_redis(env, monkeypatch, capsys) -> None:
    assert main(["sessions", "revoke", "b.simon@contoso.com"]) == 1
    assert "needs SAML_SESSION_STORE=server and SAML_STORE_URL=redis://" in capsys.readouterr().err
    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    assert main(["sessions", "revoke", "b.simon@contoso.com"]) == 1  # memory:// lives in the app process


def test_revoke_reports_an_unreachable_store(env, monkeypatch, capsys) -> None:
    from ..support.redisserver import free_port

    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    monkeypatch.setenv("SAML_STORE_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert main(["sessions", "revoke", "b.simon@contoso.com"]) == 1
    err = capsys.readouterr().err
    assert "cannot revoke" in err and "hunter2" not in err


@pytest.mark.needs("redis-server")
def test_revoke_ends_every_session_of_the_user(
    env, monkeypatch, capsys, redis_server: RedisServer, browser_factory, idp, adapter, clock
) -> None:
    redis_server.flush()
    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    monkeypatch.setenv("SAML_STORE_URL", redis_server.url)
    # settings from the environment, like the command; the dev IdP's clock is frozen
    if adapter == "asgi":
        app: Any = SAMLMiddleware(asgi_app(Seen()), clock=clock)
    else:
        app = SAMLWSGIMiddleware(wsgi_app(Seen()), clock=clock)
    laptop, phone, other = browser_factory(app), browser_factory(app), browser_factory(app)
    for browser, email in ((laptop, "b.simon@contoso.com"), (phone, "b.simon@contoso.com"), (other, None)):
        done = browser.login(email=email) if email else browser.login(email=idp.users[1].email)
        assert done.status_code == 303
        assert browser.get("/").status_code == 200
    assert main(["sessions", "revoke", "B.Simon@contoso.com"]) == 0
    assert capsys.readouterr().out.strip() == "ended 2 sessions of B.Simon@contoso.com"
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302
    assert other.get("/").status_code == 200
    assert main(["sessions", "revoke", "b.simon@contoso.com"]) == 0
    assert "ended 0 sessions" in capsys.readouterr().out
