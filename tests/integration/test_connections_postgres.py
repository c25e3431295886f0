"""Two instances on one PostgreSQL: what one adds, the other routes to within
``SAML_CONNECTIONS_REFRESH``; a domain stays with one connection whoever asks, and when.

The second instance is a real second process (``saml-middleware connections ...``), the first
this test's ``RefreshingLookup`` on a frozen clock: no timed assertions.
"""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from saml_middleware.connections import Connection, DomainTaken, RefreshingLookup, RegistryUnavailable
from saml_middleware.connections.sql import SQLRegistry

from ..support.harness import Clock
from ..support.postgres import PostgresServer
from ..support.servers import CLI

pytestmark = pytest.mark.needs("postgresql")


def other_instance(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
    return subprocess.run(
        [*CLI, "connections", *argv],
        env={**env, "SAML_CONNECTIONS": url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_connection_added_on_one_instance_is_routed_on_the_other_within_the_refresh(
    postgres_url: str,
) -> None:
    clock = Clock()
    registry = SQLRegistry(postgres_url)
    here = RefreshingLookup(registry, 5, clock=clock)
    try:
        assert len(here) == 0
        done = other_instance(postgres_url, "add", "acme", "--domain", "acme.com", "--host", "acme.app.test",
                              "--metadata-url", "https://idp.example/md")  # fmt: skip
        assert done.returncode == 0, done.stderr
        clock.advance(5)
        assert here.by_email("alice@acme.com").id == "acme" and here.by_host("acme.app.test").id == "acme"

        assert other_instance(postgres_url, "disable", "acme").returncode == 0
        clock.advance(5)
        assert here.get("acme").enabled is False
        assert other_instance(postgres_url, "remove", "acme").returncode == 0
        clock.advance(5)
        assert here.by_domain("acme.com") is None
    finally:
        registry.dispose()


def test_a_domain_taken_on_one_instance_is_refused_on_the_other(postgres_url: str) -> None:
    registry = SQLRegistry(postgres_url)
    try:
        registry.put(Connection("acme", domains=("acme.com",)))
        done = other_instance(postgres_url, "add", "rival", "--domain", "acme.com")
        assert done.returncode == 1 and "domain acme.com belongs to connection acme" in done.stderr
        assert [c.id for c in registry.all()] == ["acme"]
    finally:
        registry.dispose()


def test_instances_racing_for_one_domain_leave_it_to_exactly_one(postgres_url: str) -> None:
    instances = [SQLRegistry(postgres_url) for _ in range(2)]
    start = threading.Barrier(8)
    outcome: dict[str, str] = {}

    def claim(number: int) -> None:
        registry = instances[number % 2]
        start.wait()
        try:
            registry.put(Connection(f"claimant-{number}", domains=("contested.com",)))
            outcome[f"claimant-{number}"] = "won"
        except DomainTaken:
            outcome[f"claimant-{number}"] = "refused"

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        winners = [cid for cid, result in outcome.items() if result == "won"]
        assert len(outcome) == 8 and len(winners) == 1
        assert [c.id for c in instances[0].all()] == winners
    finally:
        for r in instances:
            r.dispose()


def test_a_wrong_password_is_reported_without_the_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace(postgres_server.password, "wrong-pw-5521")
    with pytest.raises(RegistryUnavailable) as refused:
        SQLRegistry(url)
    assert "password authentication failed" in str(refused.value)
    assert "wrong-pw-5521" not in str(refused.value)
