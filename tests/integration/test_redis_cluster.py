"""Redis Cluster (three real masters), readiness vs liveness, and what ``check`` says about a store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.crc import key_slot

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.cli import main
from saml_middleware.stores.redis import key_prefix

from ..support.asgiclient import asgi_client
from ..support.harness import APP, IDP, Browser, Seen, asgi_app, wsgi_app
from ..support.redisha import ClusterSet, Node
from ..support.redisserver import RedisServer

pytestmark = pytest.mark.needs("redis-server")
ENTITY = "http://app.test/saml/metadata"  # the `env` fixture's SP
EMAIL = "b.simon@contoso.com"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    nodes = ClusterSet(tmp_path_factory.mktemp("cluster"))
    nodes.start()
    yield nodes
    nodes.stop()


def _owner(cluster: ClusterSet, namespace: str) -> Node:
    slot = key_slot(key_prefix(namespace).encode())
    for node in cluster.nodes:
        for start, end, *_ in node.client().cluster("slots"):
            if start <= slot <= end and int(_[0][1]) == node.port:
                return node
    raise AssertionError("no owner")


def _browser(app: Any, idp: Any, clients: list[Any]) -> Browser:
    pair = asgi_client(app, APP), asgi_client(idp.app, IDP)
    clients.extend(pair)
    return Browser(*pair, idp)


def test_any_node_will_do_and_revoke_works(cluster, env, monkeypatch, capsys, idp, clock, clients) -> None:
    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    browsers = []
    for node in cluster.nodes:  # the owner of the SP's slot and the two others
        monkeypatch.setenv("SAML_STORE_URL", cluster.url(node))
        app = SAMLMiddleware(asgi_app(Seen()), clock=clock)
        browser = _browser(app, idp, clients)
        assert browser.login().status_code == 303
        assert browser.get("/").status_code == 200
        assert browser.app.get("/saml/ready").json() == {"status": "ready"}
        browsers.append(browser)
    assert main(["check"]) == 0
    assert main(["sessions", "revoke", EMAIL]) == 0
    assert capsys.readouterr().out.strip().endswith(f"ended 3 sessions of {EMAIL}")
    assert [b.get("/").status_code for b in browsers] == [302, 302, 302]


def test_namespaces_spread_over_the_nodes(cluster: ClusterSet) -> None:
    owners = {_owner(cluster, f"https://app.example.com/saml/c/tenant{i}/metadata").port for i in range(12)}
    assert len(owners) >= 2  # one hash tag per connection: tenants do not all land on one node


def test_a_cluster_node_given_as_plain_redis_is_named(
    cluster, env, monkeypatch, capsys, clock, clients
) -> None:
    owner = _owner(cluster, ENTITY)
    other = next(n for n in cluster.nodes if n is not owner)
    monkeypatch.setenv("SAML_STORE_URL", f"redis://127.0.0.1:{other.port}/0")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "moved" in err and "use redis+cluster://" in err
    app = SAMLMiddleware(asgi_app(Seen()), clock=clock)
    client = asgi_client(app, APP)
    clients.append(client)
    ready = client.get("/saml/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "unavailable", "reason": "moved"}


def test_liveness_stays_fast_while_the_store_hangs(tmp_path: Path, settings_factory, clock, clients) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        settings = settings_factory(store_url=server.url)
        app = SAMLMiddleware(asgi_app(Seen()), settings=settings, clock=clock)
        client = asgi_client(app, APP)
        wsgi = httpx.Client(
            transport=httpx.WSGITransport(app=SAMLWSGIMiddleware(wsgi_app(Seen()), settings=settings)),
            base_url=APP,
        )
        clients.extend([client, wsgi])
        assert client.get("/saml/ready").status_code == 200 and wsgi.get("/saml/ready").status_code == 200
        assert server.process is not None
        server.process.send_signal(19)  # SIGSTOP: Redis hangs
        try:
            started = time.monotonic()
            health = client.get("/saml/health")
            took = time.monotonic() - started
            assert health.status_code == 200 and health.json() == {"status": "ok"} and took < 0.5
            started = time.monotonic()
            assert wsgi.get("/saml/health").status_code == 200 and time.monotonic() - started < 0.5
            assert wsgi.get("/saml/ready").json() == {"status": "unavailable", "reason": "timeout"}
            started = time.monotonic()
            ready = client.get("/saml/ready")
            assert ready.status_code == 503 and ready.json()["reason"] == "timeout"
            assert time.monotonic() - started < 1.5  # the readiness deadline, not the 2 s socket time-out
        finally:
            server.process.send_signal(18)  # SIGCONT
        assert client.get("/saml/ready").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("policy", ["volatile-ttl", "allkeys-lru"])
def test_check_warns_when_replay_keys_may_be_evicted(env, monkeypatch, capsys, redis_server, policy) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.config_set("maxmemory-policy", policy)
    try:
        monkeypatch.setenv("SAML_STORE_URL", redis_server.url)
        assert main(["check"]) == 0
        err = capsys.readouterr().err
        assert f"maxmemory-policy is {policy}" in err and "noeviction" in err
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
    assert main(["check"]) == 0
    assert "maxmemory-policy" not in capsys.readouterr().err
