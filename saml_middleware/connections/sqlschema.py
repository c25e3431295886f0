"""The SQL registry's tables, and the migrations that create and upgrade them.

The product owns its schema: opening a registry creates the tables in an empty
database and upgrades an older one, in one transaction, recording the schema version
in the ``saml_connections_meta`` table (row ``schema``). Nobody runs DDL by hand.

* version 1: ``saml_connections`` (one row per connection, the record as JSON) and
  ``saml_connections_meta`` (``schema``, ``changes`` (bumped by every write, in the
  writing transaction: the registry's cheap ``version()``) and ``generation`` (a random
  number telling one database from another, so a recreated database never looks unchanged)).
* version 2: ``saml_connection_domains`` and ``saml_connection_hosts``, whose primary
  keys make "a domain (a host) belongs to one connection" hold across every instance,
  atomically, whatever the timing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DB

from ..errors import ConfigError

__all__ = ["CONNECTIONS", "DOMAINS", "HOSTS", "META", "SCHEMA_VERSION", "migrate", "schema_version"]

_md = sa.MetaData()
META = sa.Table(
    "saml_connections_meta",
    _md,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
CONNECTIONS = sa.Table(
    "saml_connections",
    _md,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tenant", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)
DOMAINS = sa.Table(
    "saml_connection_domains",
    _md,
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("connection_id", sa.String(63), sa.ForeignKey("saml_connections.id"), nullable=False),
)
HOSTS = sa.Table(
    "saml_connection_hosts",
    _md,
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("connection_id", sa.String(63), sa.ForeignKey("saml_connections.id"), nullable=False),
)


def _v1(db: DB) -> None:
    META.create(db, checkfirst=True)
    CONNECTIONS.create(db, checkfirst=True)
    db.execute(sa.insert(META), [{"name": "changes", "value": 0}, {"name": "generation", "value": 0}])
    db.execute(sa.update(META).where(META.c.name == "generation").values(value=secrets.randbelow(2**53) + 1))


def _v2(db: DB) -> None:
    """Index every connection's domains and hosts; refuse a database where two share one."""
    DOMAINS.create(db, checkfirst=True)
    HOSTS.create(db, checkfirst=True)
    owners: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for cid, data in db.execute(sa.select(CONNECTIONS.c.id, CONNECTIONS.c.data)):
        record = json.loads(data)
        for kind in ("domain", "host"):
            for value in record.get(kind + "s", ()):
                other = owners.setdefault((kind, value), cid)
                if other != cid:
                    problems.append(f"{kind} {value} belongs to both {other} and {cid}")
    if problems:
        raise ConfigError(["cannot upgrade the connections schema to version 2:", *problems])
    for (kind, value), cid in owners.items():
        table = DOMAINS if kind == "domain" else HOSTS
        db.execute(sa.insert(table).values({kind: value, "connection_id": cid}))


#: the migrations, in order: ``MIGRATIONS[n]`` brings a database from version n to n + 1
MIGRATIONS: tuple[Callable[[DB], None], ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: DB) -> int:
    """The schema version recorded in ``db`` (0 for an empty database)."""
    if not sa.inspect(db).has_table(META.name):
        return 0
    found = db.execute(sa.select(META.c.value).where(META.c.name == "schema")).scalar()
    return int(found or 0)


def migrate(db: DB, upto: int = SCHEMA_VERSION) -> int:
    """Bring ``db`` (inside a transaction) to schema version ``upto``; returns the version found.

    :raises ConfigError: the database is newer than this release knows, or cannot be upgraded.
    """
    if db.dialect.name == "postgresql":  # instances starting together upgrade one at a time
        db.execute(sa.text("SELECT pg_advisory_xact_lock(7140021865)"))
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise ConfigError(
            [
                f"the connections database has schema version {found}; this release of "
                f"saml-middleware knows up to {SCHEMA_VERSION}: upgrade saml-middleware"
            ]
        )
    for step in range(found, upto):
        MIGRATIONS[step](db)
        if step == 0:
            db.execute(sa.insert(META).values(name="schema", value=1))
        else:
            db.execute(sa.update(META).where(META.c.name == "schema").values(value=step + 1))
    return found
