"""The SQL registry owns its schema: it creates it, upgrades an older one, refuses a newer one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from saml_middleware.connections import Connection, DomainTaken
from saml_middleware.connections.sql import SQLRegistry
from saml_middleware.connections.sqlschema import CONNECTIONS, META, SCHEMA_VERSION, migrate, schema_version
from saml_middleware.errors import ConfigError

from .backends import SQL


@pytest.fixture(params=SQL)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'connections.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    from saml_middleware.connections.sql import engine_url

    e = sa.create_engine(engine_url(url))
    yield e
    e.dispose()


def _v1_row(cid: str, domains: list[str]) -> dict[str, object]:
    record = Connection(cid, domains=tuple(domains)).to_dict()
    return {
        "id": cid,
        "name": cid,
        "tenant": cid,
        "enabled": True,
        "updated_at": 0.0,
        "data": json.dumps(record),
    }


def test_an_empty_database_gets_the_current_schema(url: str, engine: sa.Engine) -> None:
    SQLRegistry(url).dispose()
    with engine.connect() as db:
        assert schema_version(db) == SCHEMA_VERSION
        assert {"saml_connection_domains", "saml_connection_hosts"} <= set(sa.inspect(db).get_table_names())


def test_a_version_1_database_is_upgraded_with_its_connections_kept(url: str, engine: sa.Engine) -> None:
    with engine.begin() as db:  # what release 1 of the schema left behind
        migrate(db, upto=1)
        db.execute(sa.insert(CONNECTIONS), [_v1_row("acme", ["acme.com"]), _v1_row("globex", ["globex.com"])])
    with engine.connect() as db:
        assert schema_version(db) == 1 and not sa.inspect(db).has_table("saml_connection_domains")
    registry = SQLRegistry(url)
    try:
        assert sorted(c.id for c in registry.all()) == ["acme", "globex"]
        with pytest.raises(DomainTaken, match=r"domain acme\.com belongs to connection acme"):
            registry.put(Connection("rival", domains=("acme.com",)))  # enforced by the new tables
        with engine.connect() as db:
            assert schema_version(db) == SCHEMA_VERSION
    finally:
        registry.dispose()


def test_an_upgrade_that_would_break_uniqueness_is_refused_listing_the_clashes(
    url: str, engine: sa.Engine
) -> None:
    with engine.begin() as db:
        migrate(db, upto=1)
        db.execute(sa.insert(CONNECTIONS), [_v1_row("acme", ["acme.com"]), _v1_row("copy", ["acme.com"])])
    with pytest.raises(ConfigError, match=r"domain acme\.com belongs to both acme and copy"):
        SQLRegistry(url)
    with engine.connect() as db:
        assert schema_version(db) == 1  # the failed upgrade left nothing behind


def test_a_database_from_a_newer_release_is_refused(url: str, engine: sa.Engine) -> None:
    SQLRegistry(url).dispose()
    with engine.begin() as db:
        db.execute(sa.update(META).where(META.c.name == "schema").values(value=SCHEMA_VERSION + 1))
    with pytest.raises(ConfigError, match="upgrade saml-middleware"):
        SQLRegistry(url)


def test_two_databases_never_share_a_version(tmp_path: Path) -> None:
    one, two = (SQLRegistry(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    assert one.version() != two.version()  # a recreated database is never taken for the old one
    one.dispose()
    two.dispose()


def test_an_in_memory_sqlite_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="in-memory SQLite"):
        SQLRegistry("sqlite://")
