"""Sentinel failover under two app instances doing logins (real redis-server and sentinels).

A crashed master (SIGKILL) and a hung one (SIGSTOP) are replaced by the replica through the
sentinels; logins recover without restarting the apps, sessions written before survive, a
response already used is still refused, and the old master, back as a replica, loses no session
written meanwhile. The 503 window is measured and printed (``-s``), not asserted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, Settings
from saml_middleware.devidp import DevIdP

from ..support.asgiclient import asgi_client
from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app
from ..support.redisha import SentinelSet, poll

pytestmark = pytest.mark.needs("redis-server")


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    ha = SentinelSet(tmp_path)
    ha.start()
    yield ha
    ha.stop()


class Instances:
    """Two SAMLMiddleware objects on one store, like two containers behind a load balancer."""

    def __init__(self, settings: Settings, idp: DevIdP, clock: Clock) -> None:
        self.apps = [SAMLMiddleware(asgi_app(Seen()), settings=settings, clock=clock) for _ in range(2)]
        self.idp = idp
        self.clients: list[Any] = []
        self.count = 0

    def browser(self, index: int) -> Browser:
        app, idp = asgi_client(self.apps[index], APP), asgi_client(self.idp.app, IDP)
        self.clients += [app, idp]
        return Browser(app, idp, self.idp)

    def login(self) -> tuple[int, Browser]:
        """One login on the next instance (round robin): its status and the browser."""
        self.count += 1
        browser = self.browser(self.count % 2)
        return browser.login().status_code, browser

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def instances(sentinels: SentinelSet, settings_factory: Any, idp: DevIdP, clock: Clock) -> Iterator[Any]:
    made: list[Instances] = []

    def make(url: str) -> Instances:
        settings = settings_factory(store_url=url, session_store="server")
        made.append(Instances(settings, idp, clock))
        return made[-1]

    yield make
    for one in made:
        one.close()


def _traffic_until_recovered(
    apps: Instances, signed_in: list[Browser], timeout: float
) -> list[tuple[float, int]]:
    """Logins every 0.2 s until one succeeds after a failure (or ``timeout``): ``(seconds, status)``."""
    started, timeline, failed = time.monotonic(), [], False
    while time.monotonic() - started < timeout:
        status, browser = apps.login()
        timeline.append((round(time.monotonic() - started, 2), status))
        assert status in (303, 503), status  # fails closed, never a 400 or a 500
        if status == 303:
            signed_in.append(browser)
            if failed:
                return timeline
        failed = failed or status == 503
        time.sleep(0.2)
    pytest.fail(f"logins did not recover within {timeout} s: {timeline}")


def _report(what: str, timeline: list[tuple[float, int]]) -> None:
    errors = [t for t, status in timeline if status == 503]
    print(f"\n{what}: {len(errors)} logins answered 503 between {errors[0]}s and {errors[-1]}s: {timeline}")


def test_killed_master_logins_recover_sessions_survive_replay_refused(
    sentinels: SentinelSet, instances: Any
) -> None:
    apps = instances(sentinels.url + "?wait_replicas=1&wait_timeout=500")
    alice = apps.browser(0)
    action, stolen_form = alice.idp_form(alice.start())
    stolen_cookies = dict(alice.app.cookies)  # the login cookie, before the ACS consumes it
    assert alice.post_acs(action, stolen_form).status_code == 303
    signed_in = [alice]

    old = sentinels.master_port()
    sentinels.node(old).kill()
    assert poll(lambda: sentinels.master_port() != old, 20), "the sentinels did not fail over"
    # WAIT 1 needs a replica: until the old master is back (as a replica) logins fail closed
    sentinels.node(old).start()
    timeline = _traffic_until_recovered(apps, signed_in, 45)
    _report("kill + restart of the master (wait_replicas=1)", timeline)

    for browser in signed_in:  # sessions written before and after the failover, read on the other instance
        other = apps.browser(1)
        other.app.cookies.update(browser.app.cookies)
        assert other.get("/").status_code == 200
    attacker = apps.browser(1)
    attacker.app.cookies.update(stolen_cookies)
    replayed = attacker.post_acs(action, stolen_form)
    assert replayed.status_code == 400 and "saml_session" not in replayed.headers.get("set-cookie", "")


def test_paused_master_is_replaced_and_never_takes_writes_that_are_lost(
    sentinels: SentinelSet, instances: Any
) -> None:
    apps = instances(sentinels.url)
    signed_in: list[Browser] = []
    assert apps.login()[0] == 303
    old = sentinels.master_port()
    sentinels.node(old).pause()
    timeline = _traffic_until_recovered(apps, signed_in, 30)
    _report("SIGSTOP of the master", timeline)
    assert sentinels.master_port() != old

    sentinels.node(old).resume()  # back, still believing it is the master, until the sentinels demote it
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, browser = apps.login()
        assert status == 303
        signed_in.append(browser)
        if sentinels.node(old).client().info("replication")["role"] == "slave":
            break
        time.sleep(0.3)
    assert sentinels.node(old).client().info("replication")["role"] == "slave"
    for browser in signed_in:  # every session written while the old master came back is still there
        other = apps.browser(0)
        other.app.cookies.update(browser.app.cookies)
        assert other.get("/").status_code == 200


def test_sentinel_and_server_passwords_are_separate(tmp_path: Path, env, monkeypatch, capsys) -> None:
    from saml_middleware.cli import main

    ha = SentinelSet(tmp_path, password="server/pw#1", sentinel_password="sentinel?pw@2")
    ha.start()
    try:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in ha.sentinels)
        good = f"redis+sentinel://:server/pw#1@{hosts}/mymaster/0?sentinel_password=sentinel%3Fpw%402"
        monkeypatch.setenv("SAML_STORE_URL", good)
        assert main(["check"]) == 0
        assert "pw#1" not in capsys.readouterr().err
        for wrong, reason in (
            (good.replace("server/pw#1", "server/pw#9"), ": auth: "),  # the servers refuse it
            (
                good.replace("sentinel%3Fpw%402", "nope"),
                ": the store does not answer (no_master",
            ),  # sentinels do
        ):
            monkeypatch.setenv("SAML_STORE_URL", wrong)
            assert main(["check"]) == 1
            err = capsys.readouterr().err
            assert reason in err and "pw#9" not in err and "pw#1" not in err
    finally:
        ha.stop()
