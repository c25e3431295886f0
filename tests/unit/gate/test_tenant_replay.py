"""Each connection's replay cache: its own namespace when the store can make one (``scoped``),
else the shared cache with its keys prefixed; either way the refusal lives in the store, so it
survives the connection's gate being rebuilt or evicted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from saml_middleware import Settings
from saml_middleware.connections import Connection, MemoryRegistry
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.tenantpool import ConnectionReplay
from saml_middleware.gate.tenants import TenantGate

from ...support.harness import APP, Clock
from ...support.store_factories import NamespacedReplay
from ...support.tenants import LiveLookup

ENTITY = f"{APP}/saml/metadata"


def make_gate(factory: str, idp: DevIdP) -> tuple[TenantGate, list[Connection]]:
    """Two connections over ``SAML_STORE_URL=python:tests.support.store_factories:<factory>``."""
    records = [Connection(cid, idp_metadata=idp.metadata_xml().decode()) for cid in ("acme", "beta")]
    store_url = f"python:tests.support.store_factories:{factory}"
    settings = Settings(base_url=APP, secret_key=("k" * 32,), store_url=store_url)
    return TenantGate(settings, LiveLookup(MemoryRegistry(records)), pool_size=1, clock=Clock()), records


@pytest.mark.parametrize("factory", ["namespaced", "plain"])
def test_a_replay_is_refused_per_connection_even_after_its_gate_is_rebuilt(factory: str, idp: DevIdP) -> None:
    gate, (acme, beta) = make_gate(factory, idp)
    key = f"{APP}/saml/c/acme/metadata|assertion|_abc"
    assert gate.pool.gate(acme).sp.replay.add(key, 2e9)
    assert gate.pool.gate(beta).sp.replay.add(key, 2e9)  # the same ID at beta: beta's own business
    assert gate.pool.cached("acme") is None  # pool_size=1: acme's gate evicted
    assert not gate.pool.gate(acme).sp.replay.add(key, 2e9)  # rebuilt: still refused
    assert not gate.pool.gate(replace(acme, name="Renamed", updated_at=1.0)).sp.replay.add(key, 2e9)


def test_a_store_that_makes_namespaces_gives_each_connection_its_own(idp: DevIdP) -> None:
    gate, (acme, beta) = make_gate("namespaced", idp)
    a, b = gate.pool.gate(acme).sp.replay, gate.pool.gate(beta).sp.replay
    assert isinstance(a, NamespacedReplay) and isinstance(b, NamespacedReplay)
    assert (a.namespace, b.namespace) == (f"{ENTITY}|c/acme", f"{ENTITY}|c/beta")
    assert a.spaces is b.spaces  # made from the one store the deployment opened


def test_a_store_without_namespaces_is_shared_with_prefixed_keys(idp: DevIdP) -> None:
    gate, (acme, _) = make_gate("plain", idp)
    own = gate.pool.gate(acme).sp.replay
    assert isinstance(own, ConnectionReplay) and own.prefix == "c/acme|"
