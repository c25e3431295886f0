"""One suite, every registry: memory, SQLite, PostgreSQL (a real server) and the JSON file.

Whatever ``SAML_CONNECTIONS`` names, an operator gets the same records back, the same
"a domain belongs to one connection" guarantee, and a version that tells the refreshing
lookup when (and only when) something changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from saml_middleware.connections import (
    Connection,
    DomainTaken,
    ReadOnlyRegistry,
    RefreshingLookup,
)

from ...support.harness import Clock
from .backends import KINDS, WRITABLE, Backend

CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----"
ACME = Connection(
    "acme",
    name="Acme Corp",
    tenant="tenant-0017",
    domains=("acme.com", "acme.co.uk"),
    hosts=("acme.app.example.com",),
    idp_sso_url="https://login.microsoftonline.com/t/saml2",
    idp_entity_id="https://sts.windows.net/t/",
    idp_cert=(CERT, CERT.replace("fake", "next")),
    settings={"allow_idp_initiated": True, "attribute_map": {"country": "Country"}},
)
GLOBEX = Connection("globex", name="Globex", domains=("globex.com",), idp_metadata_url="https://idp/md")


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path, request)
    yield b
    b.close()


@pytest.fixture(params=WRITABLE)
def writable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path, request)
    yield b
    b.close()


def _same(a: Connection, b: Connection) -> bool:
    """Equal but for ``updated_at``, which registries stamp."""
    return {**a.to_dict(), "updated_at": 0} == {**b.to_dict(), "updated_at": 0}


def test_every_field_of_a_connection_comes_back_as_it_was_put(backend: Backend) -> None:
    backend.put(ACME)
    backend.put(GLOBEX)
    got = backend.registry.get("acme")
    assert got is not None and _same(got, ACME)
    assert sorted(c.id for c in backend.registry.all()) == ["acme", "globex"]
    assert backend.registry.get("nobody") is None


def test_the_version_changes_with_every_write_and_only_then(backend: Backend) -> None:
    first = backend.registry.version()
    assert backend.registry.version() == first
    backend.put(ACME)
    second = backend.registry.version()
    assert second != first and backend.registry.version() == second
    backend.put(ACME.__class__(**{**ACME.to_dict(), "enabled": False, "domains": ("acme.com",)}))
    third = backend.registry.version()
    assert third != second and backend.registry.get("acme").enabled is False
    assert backend.remove("acme") is True
    assert backend.registry.version() != third and backend.registry.get("acme") is None


def test_removing_what_is_not_there_says_so_and_changes_nothing(writable: Backend) -> None:
    writable.put(GLOBEX)
    version = writable.registry.version()
    assert writable.registry.remove("acme") is False
    assert writable.registry.version() == version


def test_a_domain_belongs_to_one_connection(writable: Backend) -> None:
    writable.put(ACME)
    rival = Connection("rival", domains=("example.org", "ACME.com"))
    with pytest.raises(DomainTaken, match=r"domain acme\.com belongs to connection acme"):
        writable.registry.put(rival)
    assert writable.registry.get("rival") is None  # nothing half-written
    assert writable.registry.all()[0].domains == ACME.domains


def test_a_host_belongs_to_one_connection(writable: Backend) -> None:
    writable.put(ACME)
    with pytest.raises(DomainTaken, match=r"host acme\.app\.example\.com belongs to connection acme"):
        writable.registry.put(Connection("rival", hosts=("acme.app.example.com",)))


def test_a_connection_may_give_up_a_domain_which_another_may_then_take(writable: Backend) -> None:
    writable.put(ACME)
    writable.put(Connection("acme", domains=("acme.com",)))  # acme.co.uk released
    writable.put(Connection("acme-uk", domains=("acme.co.uk",)))
    assert writable.registry.get("acme-uk").domains == ("acme.co.uk",)
    writable.registry.remove("acme")
    writable.put(Connection("successor", domains=("acme.com",), hosts=("acme.app.example.com",)))
    assert writable.registry.get("successor").domains == ("acme.com",)


def test_importing_several_is_all_or_nothing(writable: Backend) -> None:
    writable.put(GLOBEX)
    batch = [ACME, Connection("third", domains=("third.com", "globex.com"))]
    with pytest.raises(DomainTaken, match=r"domain globex\.com belongs to connection globex"):
        writable.registry.put_many(batch)  # type: ignore[attr-defined]
    assert [c.id for c in writable.registry.all()] == ["globex"]
    writable.registry.put_many([ACME, Connection("third", domains=("third.com",))])  # type: ignore[attr-defined]
    assert sorted(c.id for c in writable.registry.all()) == ["acme", "globex", "third"]


def test_a_file_registry_refuses_writes_and_says_where_to_change_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = Backend("file", tmp_path, request)
    with pytest.raises(ReadOnlyRegistry, match="read-only: edit the file"):
        backend.registry.put(ACME)
    with pytest.raises(ReadOnlyRegistry):
        backend.registry.remove("acme")


def test_a_change_is_live_in_the_lookup_within_the_refresh_interval(backend: Backend) -> None:
    clock = Clock()
    lookup = RefreshingLookup(backend.registry, 5, clock=clock)
    assert len(lookup) == 0
    backend.put(ACME)
    clock.advance(4.9)
    assert lookup.by_email("alice@acme.com") is None  # not yet checked: nothing blocks a request
    clock.advance(0.1)
    assert lookup.by_email("alice@acme.com").id == "acme"
    assert lookup.by_host("ACME.app.example.com").id == "acme" and lookup.get("acme").tenant == "tenant-0017"
    backend.remove("acme")
    clock.advance(5)
    assert lookup.by_domain("acme.com") is None and lookup.all() == []


def test_a_failing_registry_keeps_the_last_good_index_and_logs_once(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.put(ACME)
    clock = Clock()
    lookup = RefreshingLookup(backend.registry, 5, clock=clock)
    broken = {"fail": True}
    real_version = backend.registry.version

    def version() -> str:
        if broken["fail"]:
            raise ConnectionError("postgresql://saml:hunter2@10.0.0.5/app: connection refused")
        return real_version()

    backend.registry.version = version  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR, logger="saml_middleware.connections")
    for _ in range(3):
        clock.advance(5)
        assert lookup.by_domain("acme.com").id == "acme"
    failures = [r for r in caplog.records if "failed; keeping the last 1 connections" in r.getMessage()]
    assert len(failures) == 1 and "hunter2" not in caplog.text
    broken["fail"] = False
    backend.put(GLOBEX)
    clock.advance(5)
    assert lookup.by_domain("globex.com").id == "globex"


def test_an_import_may_move_a_domain_from_one_record_to_another(writable: Backend) -> None:
    writable.put(Connection("old", domains=("acme.com",)))
    writable.put(Connection("new"))
    moved = [Connection("new", domains=("acme.com",)), Connection("old", domains=("old.acme.com",))]
    writable.registry.put_many(moved)  # type: ignore[attr-defined]
    assert writable.registry.get("new").domains == ("acme.com",)
    assert writable.registry.get("old").domains == ("old.acme.com",)
