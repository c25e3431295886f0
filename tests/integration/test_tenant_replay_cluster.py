"""Many tenants on a real Redis Cluster (three masters): each connection's replay keys carry
their own hash tag (namespace ``{SP entity ID}|c/{id}``), so tenants spread over the slots and
nodes, on the ONE client the deployment opened; replay refusal holds per connection through
the TenantGate, and one connection's keys never meet another's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from redis.crc import key_slot

from saml_middleware.gate.tenants import TenantGate
from saml_middleware.stores.redis import RedisReplayCache, key_prefix

from ..support.redisha import ClusterSet, Node
from ..support.tenants import TenantBrowser

pytestmark = pytest.mark.needs("redis-server")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    nodes = ClusterSet(tmp_path_factory.mktemp("tenant-cluster"))
    nodes.start()
    yield nodes
    nodes.stop()


def _owner(cluster: ClusterSet, key: str) -> Node:
    slot = key_slot(key.encode())
    for node in cluster.nodes:
        for start, end, master, *_ in node.client().cluster("slots"):
            if start <= slot <= end and int(master[1]) == node.port:
                return node
    raise AssertionError("no owner")


def _replay_keys(cluster: ClusterSet) -> dict[str, int]:
    """Every replay key in the cluster, with the port of the node holding it."""
    return {
        key.decode(): node.port
        for node in cluster.nodes
        for key in node.client().scan_iter(match="saml-middleware:*:replay:*")
    }


def _tenant_gate(app: Any) -> TenantGate:
    gate = app.gate
    assert isinstance(gate, TenantGate)
    return gate


def test_each_connection_has_its_own_slot_on_the_shared_client(
    cluster: ClusterSet, make_tenant_app: Any, tenant_browser: Any
) -> None:
    app, _, _ = make_tenant_app(store_url=cluster.url(cluster.nodes[0]))
    gate = _tenant_gate(app)
    same = "_same_assertion_id_" + secrets.token_hex(8)  # the cluster outlives one test
    deployment = gate.settings.sp_entity_id
    caches = {f"t{i}": gate.pool.replay_of(f"t{i}") for i in range(12)}
    assert all(isinstance(c, RedisReplayCache) for c in caches.values())
    # one client (one connection pool) for every connection: 10,000 tenants never open 10,000 pools
    assert len({id(c.client) for c in caches.values() if isinstance(c, RedisReplayCache)}) == 1
    for cache in caches.values():
        assert cache.add(same, 4e9)  # the same ID: each connection's own business
    held = _replay_keys(cluster)
    mine = {k: port for k, port in held.items() if k.endswith(":replay:" + same)}
    assert len(mine) == 12  # twelve keys, none colliding
    prefixes = {cid: key_prefix(f"{deployment}|c/{cid}") for cid in caches}
    assert {k.split(":replay:")[0] + ":" for k in mine} == set(prefixes.values())
    assert prefixes["t0"] != key_prefix(deployment)  # not the deployment's own namespace either
    assert len({key_slot(p.encode()) for p in prefixes.values()}) == 12
    assert len(set(mine.values())) >= 2  # spread over the nodes, whichever node the URL named
    for prefix in prefixes.values():
        assert mine[prefix + "replay:" + same] == _owner(cluster, prefix).port
    assert not any(c.add(same, 4e9) for c in caches.values())  # each refuses its own


def test_replay_refusal_holds_per_connection_through_the_tenant_gate(
    cluster: ClusterSet, make_tenant_app: Any, tenant_browser: Any
) -> None:
    app, _, tenants = make_tenant_app(store_url=cluster.url())
    gate = _tenant_gate(app)
    browser: TenantBrowser = tenant_browser(app, tenants)
    before = set(_replay_keys(cluster))
    action, fields = browser.at_idp(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    assert browser.post(action, fields).status_code == 303
    assert browser.get("/").json()["connection"] == "beta"
    new = {k: port for k, port in _replay_keys(cluster).items() if k not in before}
    beta = key_prefix(f"{gate.settings.sp_entity_id}|c/beta") + "replay:"
    entity = tenants.registry.get("beta")
    assert entity is not None
    # the assertion ID and the login request ID, both in beta's namespace, on the node owning its slot
    assert len(new) == 2 and all(k.startswith(beta) for k in new)
    assert set(new.values()) == {_owner(cluster, beta).port}
    (assertion_key,) = [k[len(beta) :] for k in new if "|assertion|" in k]
    assert assertion_key.startswith(f"{gate.pool.gate(entity).settings.sp_entity_id}|assertion|")
    assert browser.post(action, fields).status_code == 400  # replayed at beta: refused
    assert not gate.pool.replay_of("beta").add(assertion_key, 4e9)
    assert gate.pool.replay_of("acme").add(assertion_key, 4e9)  # acme's cache never saw it


def test_every_connection_gate_uses_the_one_client(cluster: ClusterSet, make_tenant_app: Any) -> None:
    """The per-connection caches come from the store the TenantGate opened once."""
    app, _, tenants = make_tenant_app(store_url=cluster.url())
    gate = _tenant_gate(app)
    acme = tenants.registry.get("acme")
    beta = tenants.registry.get("beta")
    assert acme is not None and beta is not None
    a, b = gate.pool.gate(acme).sp.replay, gate.pool.gate(beta).sp.replay
    assert isinstance(a, RedisReplayCache) and isinstance(b, RedisReplayCache)
    assert a.client is b.client and a.prefix != b.prefix
