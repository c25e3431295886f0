"""Rotating ``SAML_SECRET_KEY`` during a rolling restart: two instances behind a load balancer.

Two middleware objects (two app instances) share one replay cache and one session store; a
round-robin balancer sends each request to the next one, so a login starts on one instance
and lands at the ACS of the other, and each request of a signed-in browser alternates. Every
instance is "restarted" (rebuilt with a new key list) one at a time, as a rolling restart does.

The safe order of docs/deployment.md (add the new key second everywhere, then move it first
everywhere, wait ``SAML_SESSION_MAX_AGE``, then drop the old key) gives no 401 and no 400 at
any step. The order the docs warn against (the new key first on one instance while another
still has only the old key; the old key dropped before every instance signs with the new one)
does give them: the test shows the warning is true.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.devidp import DevIdP
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

from ..support.asgiclient import asgi_client
from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app, wsgi_app

OLD, NEW = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
MAX_AGE = 3600
API = {"accept": "application/json"}


class Balancer:
    """Round robin over the instances (ASGI or WSGI); ``instances[i] = ...`` is a restart."""

    def __init__(self, instances: list[Any]) -> None:
        self.instances = instances
        self.turn = 0

    def pick(self) -> Any:
        instance = self.instances[self.turn % len(self.instances)]
        self.turn += 1
        return instance


def asgi_balancer(lb: Balancer) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await lb.pick()(scope, receive, send)

    return app


def wsgi_balancer(lb: Balancer) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return lb.pick()(environ, start_response)

    return app


class Cluster:
    """Two instances sharing a store, a balancer in front, and browsers that log in through it."""

    def __init__(
        self, adapter: str, settings_factory: Callable[..., Any], clock: Clock, idp: DevIdP, kind: str
    ):
        self.adapter, self.settings_factory, self.clock, self.idp, self.kind = (
            adapter,
            settings_factory,
            clock,
            idp,
            kind,
        )
        self.replay, self.store = MemoryReplayCache(clock=clock), MemorySessionStore(clock=clock)
        self.lb = Balancer([self.instance(OLD), self.instance(OLD)])
        front = asgi_balancer(self.lb) if adapter == "asgi" else wsgi_balancer(self.lb)
        self.front = front
        self.clients: list[httpx.Client] = []
        self.browsers: list[tuple[Browser, float]] = []  # each with its login time
        self.statuses: list[tuple[str, int]] = []

    def instance(self, *keys: str) -> Any:
        settings = self.settings_factory(
            secret_key=keys, session_store=self.kind, session_max_age=MAX_AGE, session_idle_timeout=MAX_AGE
        )
        options = {"clock": self.clock, "replay": self.replay, "session_store": self.store}
        if self.adapter == "asgi":
            return SAMLMiddleware(asgi_app(Seen()), settings=settings, **options)
        return SAMLWSGIMiddleware(wsgi_app(Seen()), settings=settings, **options)

    def restart(self, index: int, *keys: str) -> None:
        self.lb.instances[index] = self.instance(*keys)

    def browser(self) -> Browser:
        if self.adapter == "asgi":
            app_client = asgi_client(self.front, APP)
        else:
            transport = httpx.WSGITransport(app=self.front)
            app_client = httpx.Client(transport=transport, base_url=APP, follow_redirects=False)
        idp_client = asgi_client(self.idp.app, IDP)
        self.clients += [app_client, idp_client]
        return Browser(app_client, idp_client, self.idp)

    def sign_in(self, browser: Browser) -> int:
        """A whole login through the balancer: the ACS status (303, or the refusal)."""
        start = browser.get("/")
        self.statuses.append(("login redirect", start.status_code))
        if start.status_code != 302:
            return start.status_code
        done = browser.post_acs(*browser.idp_form(start))
        self.statuses.append(("acs", done.status_code))
        return done.status_code

    def traffic(self, new_users: int = 2, requests: int = 4) -> None:
        """New users sign in; every signed-in browser (whose session has not simply expired)
        makes ``requests`` API calls, alternating between the instances."""
        for _ in range(new_users):
            browser = self.browser()
            if self.sign_in(browser) == 303:
                self.browsers.append((browser, self.clock()))
        live = [(b, t) for b, t in self.browsers if self.clock() < t + MAX_AGE]
        for browser, _ in live:
            for _ in range(requests):
                self.statuses.append(("api", browser.app.get("/api", headers=API).status_code))
            self.clock.advance(1)
        self.browsers = live

    def failures(self) -> list[tuple[str, int]]:
        return [(what, status) for what, status in self.statuses if status in (400, 401, 403)]

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(params=["cookie", "server"])
def cluster(request, adapter, settings_factory, clock, idp) -> Iterator[Cluster]:
    made = Cluster(adapter, settings_factory, clock, idp, request.param)
    yield made
    made.close()


def test_the_documented_order_gives_no_401_and_no_400(cluster: Cluster) -> None:
    cluster.traffic(new_users=4)
    steps = [
        (0, (OLD, NEW)),  # 1. the new key second, one instance after the other
        (1, (OLD, NEW)),
        (0, (NEW, OLD)),  # 2. then first, one instance after the other
        (1, (NEW, OLD)),
    ]
    for index, keys in steps:
        cluster.restart(index, *keys)
        cluster.traffic()
        assert cluster.failures() == [], f"after restarting instance {index} with {keys}"
    # wait SAML_SESSION_MAX_AGE: users keep coming; every cookie signed with the old key expires
    for _ in range(4):
        cluster.clock.advance(MAX_AGE / 4)
        cluster.traffic()
    assert len(cluster.browsers) >= 4
    for index in (0, 1):  # 3. drop the old key, one instance after the other
        cluster.restart(index, NEW)
        cluster.traffic()
        assert cluster.failures() == [], f"after dropping the old key on instance {index}"
    api = [s for what, s in cluster.statuses if what == "api"]
    assert len(api) > 100 and set(api) == {200}
    assert {s for what, s in cluster.statuses if what == "acs"} == {303}


def test_the_new_key_first_on_one_instance_breaks_logins_and_sessions(cluster: Cluster, caplog) -> None:
    """The warning of docs/deployment.md: an instance signing with a key another does not know."""
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    cluster.traffic(new_users=2)
    cluster.restart(0, NEW, OLD)  # the unsafe step 1: new key first while instance 1 has only the old
    cluster.lb.turn = 0  # the login starts on instance 0 (new key) and posts to instance 1
    refused = cluster.sign_in(cluster.browser())
    assert refused == 400  # instance 1 cannot read the login cookie instance 0 signed
    assert any("refused reason=in_response_to" in r.getMessage() for r in caplog.records)
    signed_in = cluster.browser()
    cluster.lb.turn = 1  # starts on instance 1, ACS on instance 0: the session is signed with the new key
    assert cluster.sign_in(signed_in) == 303
    answers = [signed_in.app.get("/api", headers=API).status_code for _ in range(4)]
    assert 401 in answers and 200 in answers  # signed out on every other request


def test_dropping_the_old_key_too_early_signs_users_out(cluster: Cluster) -> None:
    cluster.restart(0, OLD, NEW)
    cluster.restart(1, OLD, NEW)  # step 1 done; step 2 skipped: everyone still signs with the old key
    cluster.traffic(new_users=2)
    assert cluster.failures() == []
    cluster.restart(0, NEW)  # the old key dropped on one instance
    for browser, _ in cluster.browsers:
        answers = [browser.app.get("/api", headers=API).status_code for _ in range(2)]
        assert sorted(answers) == [200, 401]
