"""The per-connection gates: built on first use, rebuilt when the record changes, evicted when
unused, sharing one session manager, one replay cache (keys per connection) and one metrics registry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from saml_middleware import Settings
from saml_middleware.connections import Connection
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.tenants import TenantGate
from saml_middleware.stores import MemoryReplayCache

from ...support.harness import APP, Clock
from ...support.tenants import LiveLookup


@pytest.fixture
def metadata(idp: DevIdP) -> str:
    return idp.metadata_xml().decode()


def make_gate(connections: list[Connection], *, pool_size: int = 2) -> tuple[TenantGate, LiveLookup]:
    from saml_middleware.connections import MemoryRegistry

    lookup = LiveLookup(MemoryRegistry(connections))
    settings = Settings(base_url=APP, secret_key=("k" * 32,))
    return TenantGate(
        settings, lookup, pool_size=pool_size, replay=MemoryReplayCache(), clock=Clock()
    ), lookup


def test_gates_are_built_on_first_use_rebuilt_on_change_and_evicted(metadata: str) -> None:
    records = [Connection(f"c{i}", domains=(f"c{i}.example",), idp_metadata=metadata) for i in range(3)]
    gate, _ = make_gate(records)
    assert len(gate.pool) == 0  # nothing parsed at start
    first = gate.pool.gate(records[0])
    assert gate.pool.gate(records[0]) is first and len(gate.pool) == 1
    changed = replace(records[0], name="Renamed", updated_at=1.0)
    rebuilt = gate.pool.gate(changed)
    assert rebuilt is not first and rebuilt.settings.sp_entity_id == f"{APP}/saml/c/c0/metadata"
    gate.pool.gate(records[1])
    gate.pool.gate(records[2])  # pool_size=2: c0, used least recently, goes
    assert gate.pool.cached("c0") is None and gate.pool.cached("c2") is not None


def test_every_connection_gate_shares_the_sessions_and_metrics_but_not_the_replay_keys(metadata: str) -> None:
    records = [Connection(f"c{i}", idp_metadata=metadata) for i in range(2)]
    gate, _ = make_gate(records)
    a, b = (gate.pool.gate(r) for r in records)
    assert a.sessions is b.sessions is gate.sessions
    assert a.ops.metrics is b.ops.metrics is gate.ops.metrics
    assert a.sp.replay.add("_same_id", 2e9) and b.sp.replay.add("_same_id", 2e9)
    assert not a.sp.replay.add("_same_id", 2e9)


def test_a_broken_connection_answers_503_for_itself_only(metadata: str) -> None:
    from saml_middleware.http import HTTPRequest

    broken = Connection("broken", idp_metadata="<not-metadata/>")
    fine = Connection("fine", idp_metadata=metadata)
    gate, _ = make_gate([broken, fine])
    answer = gate.handle_endpoint(HTTPRequest("GET", "/saml/c/broken/login"))
    assert answer.status == 503 and b"not working at the moment" in answer.body
    assert gate.handle_endpoint(HTTPRequest("GET", "/saml/c/fine/login")).status == 302
